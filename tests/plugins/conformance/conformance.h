#pragma once
// The plugin conformance suite's seam: what the suite needs to know about a
// plugin to check it (a PluginDriver), and what it gives the driver to work
// with (a Harness). The checks themselves are in conformance_test.cpp and
// are the same for every plugin; see README.md for adding a driver.

#include "plugin_host/adapter.h"
#include "support/test_support.h"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cb::conformance {

/// The settings of one adapter instance, as `[adapter.settings]` and
/// `[adapter.tls]` would give them. Values are typed as the TOML reader
/// types them: all digits is an integer, true/false a boolean, else a string.
struct AdapterSpec {
  std::map<std::string, std::string> settings;
  std::optional<net::TlsSettings> tls;
};

/// A configuration the plugin must refuse, and the setting its error must name.
struct BadSettings {
  AdapterSpec spec;
  std::string names;
};

/// What a sender learnt from the plugin about a record it sent.
enum class Ack {
  Accepted,    ///< the protocol's positive acknowledgement (2xx, AA, file archived)
  RetryLater,  ///< told to send again later (503, AR "resend later")
  Refused,     ///< told the record will never be taken (4xx/422, AE/AR, file in the error folder)
  Nothing,     ///< no answer yet
};
const char* toString(Ack a);

/// A record on its way in through the plugin's own protocol.
class SentRecord {
 public:
  virtual ~SentRecord() = default;
  /// Waits up to `timeout` for the plugin's answer; Nothing when none came.
  virtual Ack wait(std::chrono::milliseconds timeout) = 0;
};

/// The partner system an outbound adapter delivers to.
class Peer {
 public:
  enum class Behaviour {
    Accept,     ///< takes every record
    Transient,  ///< fails the next attempt in a way worth retrying (5xx, no ACK)
    Refuse,     ///< refuses the next record for good (4xx, AE/AR)
    Hang,       ///< takes the record and never answers
  };
  virtual ~Peer() = default;
  /// False when this peer cannot behave so (the check is skipped, saying why).
  virtual bool can(Behaviour) const { return true; }
  virtual void set(Behaviour) = 0;
  /// Goes away for good (connection refused, folder unmounted).
  virtual void goDown() = 0;
  /// Records the peer has seen (taken or not).
  virtual std::size_t seen() const = 0;
  /// Waits until the peer has seen `n` records.
  virtual bool waitSeen(std::size_t n, std::chrono::milliseconds timeout) const = 0;
};

/// What the suite lends a driver: a temp folder, the development
/// certificates, an io_context run by the suite's threads, and the lines
/// each adapter logged (as "plugin.<adapter name>").
class Harness {
 public:
  virtual ~Harness() = default;
  virtual const std::filesystem::path& dir() const = 0;
  virtual const std::filesystem::path& certs() const = 0;
  virtual boost::asio::io_context& io() = 0;
  virtual std::vector<std::string> logLines(const std::string& adapter) const = 0;
  /// `[adapter.tls]` with the development certificate `name` (server, carebridge, partner-a, ...).
  net::TlsSettings tls(const std::string& name) const;
};

/// A record to deliver: payload and content type the plugin can render.
struct OutboundRecord {
  std::string payload;
  std::string content_type;
  std::string record_type;
};

/// How the suite drives one plugin. Override what the plugin does; the
/// defaults say "this plugin does not do that", and those checks are skipped.
class PluginDriver {
 public:
  virtual ~PluginDriver() = default;
  /// The plugin's name: loads libcarebridge_<plugin>.so from the plugin folder.
  virtual std::string plugin() const = 0;
  /// False when the plugin's library is optional and not built here.
  virtual bool required() const { return true; }
  virtual bool receives() const { return false; }
  virtual bool delivers() const { return false; }

  /// Configurations the plugin itself must refuse (beyond unknown keys and
  /// wrong types, which the host refuses for every plugin).
  virtual std::vector<BadSettings> badSettings(Harness&) { return {}; }

  // ---- inbound
  virtual AdapterSpec inboundSpec(Harness&) { return {}; }
  /// Sends one record through the plugin's protocol to the started adapter.
  /// `id` is unique per test; use it as the sender's message id where the
  /// protocol has one. The payload must be what the host is expected to be
  /// handed, byte for byte.
  virtual std::unique_ptr<SentRecord> send(Harness&, plugin_host::Adapter&, const std::string& id,
                                           std::string& payload) {
    (void)id;
    (void)payload;
    return nullptr;
  }
  /// Sends something the protocol cannot carry as a record (a malformed
  /// frame, a wrong path, garbage); the adapter must survive it. nullptr: none.
  virtual std::unique_ptr<SentRecord> sendGarbage(Harness&, plugin_host::Adapter&) { return nullptr; }

  // ---- outbound
  virtual std::unique_ptr<Peer> startPeer(Harness&) { return nullptr; }
  virtual AdapterSpec outboundSpec(Harness&, Peer&) { return {}; }
  virtual OutboundRecord record(const std::string& message_id) {
    (void)message_id;
    return {};
  }
  /// The record delivered while the peer is set to Refuse; by default the
  /// usual one. A peer that cannot refuse at will (a folder) can instead
  /// give a record it is configured never to take.
  virtual OutboundRecord refusedRecord(const std::string& message_id) { return record(message_id); }
};

/// The registry the parameterised suite is instantiated over.
struct DriverEntry {
  std::string name;
  std::function<std::unique_ptr<PluginDriver>()> make;
};
std::vector<DriverEntry>& drivers();

/// Registers a driver at static initialisation:
///   CB_CONFORMANCE_DRIVER(mysystem, MySystemDriver)
struct DriverRegistration {
  DriverRegistration(std::string name, std::function<std::unique_ptr<PluginDriver>()> make);
};

#define CB_CONFORMANCE_DRIVER(name_, Type)                                                  \
  static const ::cb::conformance::DriverRegistration cb_conformance_driver_##name_{#name_, \
                                                                                  [] { return std::make_unique<Type>(); }}

}  // namespace cb::conformance
