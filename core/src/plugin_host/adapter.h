#pragma once
// The host's side of one configured adapter instance: it owns the plugin's
// instance, implements the host services table (plugin_abi.h cb_host_api)
// for it, and turns the plugin's C callbacks into C++ calls.
//
// Lifecycle: create() -> start() -> deliver()* -> stop() -> destruction.
// The instance counts every call into the plugin that has not yet been
// answered (deliveries, submits, HTTP exchanges, client requests, timers),
// and stop() waits for them before the plugin's instance is destroyed, so no
// callback can reach freed memory.

#include "common/clock.h"
#include "common/result.h"
#include "config/config.h"
#include "net/https_server.h"
#include "plugin_host/plugin_library.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace cb::net {
class HttpsClient;
class TlsContext;
}  // namespace cb::net

namespace cb::plugin_host {

class Adapter;

/// A record an adapter received, as handed to the daemon.
struct InboundSubmission {
  std::string sender_message_id;
  std::string content_type;
  std::string subject;
  std::string record_type;
  std::string payload;
};

struct SubmitReply {
  int result = CB_SUBMIT_UNAVAILABLE;  ///< cb_submit_result
  std::string message_id;
  std::string reason;
};

/// What the daemon provides to adapters: where received records go, and
/// where certificate refusals are reported (for the audit trail).
class AdapterEvents {
 public:
  virtual ~AdapterEvents() = default;
  /// Stores a received record; `reply` runs once, after commit or refusal.
  virtual void submit(const Adapter& from, InboundSubmission record, std::function<void(SubmitReply)> reply) = 0;
  virtual void tlsRefused(const Adapter& at, const net::TlsRefusal& refusal) = 0;
};

/// One delivery handed to the plugin.
struct DeliveryRequest {
  std::string message_id;
  std::string content_type;
  std::string record_type;
  std::shared_ptr<const std::string> payload;
  std::uint32_t attempt = 1;
};

/// The plugin's answer.
struct DeliveryReport {
  cb_status status = CB_RETRY;
  std::string reason;
  std::int64_t retry_after_ms = 0;
  std::string remote_id;
};

class Adapter : public std::enable_shared_from_this<Adapter> {
 public:
  /// Builds the TLS contexts and the plugin's instance from validated
  /// settings (see PluginHost::resolveSettings). Does not start I/O.
  static Result<std::shared_ptr<Adapter>> create(std::shared_ptr<PluginLibrary> library,
                                                 const config::AdapterSettings& settings,
                                                 std::vector<std::pair<std::string, std::string>> resolved_settings,
                                                 boost::asio::io_context& io, AdapterEvents& events, const Clock& clock);
  ~Adapter();
  Adapter(const Adapter&) = delete;
  Adapter& operator=(const Adapter&) = delete;

  /// Starts the plugin (listeners, polling).
  Status start();

  /// Hands one delivery to the plugin; `report` runs exactly once, from any
  /// thread (also if the plugin throws, or is stopped before answering).
  void deliver(DeliveryRequest request, std::function<void(DeliveryReport)> report);

  /// Stops receiving, waits up to `drain` for outstanding calls, then
  /// destroys the plugin's instance. Idempotent.
  void stop(std::chrono::milliseconds drain);

  const std::string& name() const { return settings_.name; }
  const std::string& organisation() const { return settings_.organisation; }
  const config::DeliverySettings& delivery() const { return settings_.delivery; }
  const PluginLibrary& library() const { return *library_; }
  bool running() const { return running_.load(); }
  /// Bound ports of the plugin's HTTPS listeners (tests listen on port 0).
  std::vector<std::uint16_t> listeningPorts() const;

  // ---- Used by the C host-service trampolines (plugin_host/adapter.cpp).
  struct Internals;
  Internals& internals() { return *internals_; }

 private:
  Adapter(std::shared_ptr<PluginLibrary> library, config::AdapterSettings settings, boost::asio::io_context& io,
          AdapterEvents& events, const Clock& clock);

  std::shared_ptr<PluginLibrary> library_;
  config::AdapterSettings settings_;
  std::unique_ptr<Internals> internals_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stopped_{false};
};

}  // namespace cb::plugin_host
