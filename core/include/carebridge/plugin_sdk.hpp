// carebridge plugin SDK: a header-only C++ layer over plugin_abi.h that makes
// writing an adapter plugin pleasant and keeps it safe:
//
//   class MyAdapter : public cb::sdk::Adapter {
//    public:
//     MyAdapter(cb::sdk::Host host, const cb::sdk::Config& config);
//     void start() override;                                   // listeners, timers
//     void deliver(const cb::sdk::Delivery& d, cb::sdk::DeliveryDone&& done) override;
//     void stop() override;
//   };
//   CB_PLUGIN(MyAdapter, "my-system", "1.0.0", "Speaks to My System",
//             CB_CAP_INBOUND | CB_CAP_OUTBOUND, kMyKeys)
//
// A protocol that is not HTTPS and must terminate TLS itself reads the
// instance's [adapter.tls] with host.tlsSettings() (never certificate keys
// of its own) and, with OpenSSL, enforces pins with carebridge/tls_pins.hpp.
//
// Everything here compiles into the plugin, not the daemon: only the C ABI
// crosses the boundary. Every entry point catches exceptions and turns them
// into error codes, so an exception can never unwind into the host.
// plugins/example is the annotated template to copy.
#pragma once

#include "carebridge/plugin_abi.h"

#include <atomic>
#include <cctype>
#include <cstddef>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cb::sdk {

inline std::string_view view(cb_bytes b) { return b.data != nullptr ? std::string_view(b.data, b.len) : std::string_view(); }
inline cb_bytes bytes(std::string_view s) { return cb_bytes{s.data(), s.size()}; }

/// Thrown by an adapter's constructor or start() to refuse, with a message
/// that names the setting at fault; turned into CB_ERROR for the host.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The adapter instance's settings, already validated by the host against the
/// plugin's declared keys (so a missing required key never reaches here).
class Config {
 public:
  Config() = default;
  Config(const cb_config_value* values, uint32_t count) {
    for (uint32_t i = 0; i < count; ++i) values_[std::string(view(values[i].key))] = std::string(view(values[i].value));
  }
  bool has(const std::string& key) const { return values_.count(key) != 0; }
  std::string str(const std::string& key) const {
    auto it = values_.find(key);
    if (it == values_.end()) throw ConfigError("setting '" + key + "' is missing");
    return it->second;
  }
  std::int64_t integer(const std::string& key) const {
    const std::string s = str(key);
    try {
      std::size_t used = 0;
      const long long v = std::stoll(s, &used);
      if (used != s.size()) throw std::invalid_argument(s);
      return v;
    } catch (const std::logic_error&) {
      throw ConfigError("setting '" + key + "' must be an integer");
    }
  }
  bool boolean(const std::string& key) const { return str(key) == "true"; }
  std::chrono::milliseconds duration(const std::string& key) const { return std::chrono::milliseconds(integer(key)); }
  const std::map<std::string, std::string>& all() const { return values_; }

 private:
  std::map<std::string, std::string> values_;
};

enum class SubmitResult { Stored = CB_SUBMIT_STORED, Duplicate = CB_SUBMIT_DUPLICATE, Refused = CB_SUBMIT_REFUSED,
                          Unavailable = CB_SUBMIT_UNAVAILABLE };

/// A record received from a partner, to hand to the daemon.
struct InboundRecord {
  std::string_view sender_message_id;
  std::string_view content_type;
  std::string_view subject;
  std::string_view record_type;
  std::string_view payload;
};

/// One inbound HTTPS request; respond exactly once (from any thread). If an
/// exchange is destroyed without a response, it answers 500 so the sender
/// retries rather than waiting. Move-only.
class HttpExchange {
 public:
  HttpExchange(const cb_host_api* api, cb_http_exchange* ex, const cb_http_request* req) : api_(api), ex_(ex), req_(req) {}
  HttpExchange(HttpExchange&& o) noexcept : api_(o.api_), ex_(std::exchange(o.ex_, nullptr)), req_(o.req_) {}
  HttpExchange& operator=(HttpExchange&& o) noexcept {
    if (this != &o) {
      abandon();
      api_ = o.api_;
      ex_ = std::exchange(o.ex_, nullptr);
      req_ = o.req_;
    }
    return *this;
  }
  HttpExchange(const HttpExchange&) = delete;
  HttpExchange& operator=(const HttpExchange&) = delete;
  ~HttpExchange() { abandon(); }

  std::string_view method() const { return view(req_->method); }
  std::string_view target() const { return view(req_->target); }
  std::string_view body() const { return view(req_->body); }
  std::string_view peerCommonName() const { return view(req_->peer_common_name); }
  /// Case-insensitive header lookup (RFC 9110 section 5.1).
  std::optional<std::string_view> header(std::string_view name) const {
    for (std::size_t i = 0; i < req_->header_count; ++i) {
      std::string_view n = view(req_->headers[i].name);
      if (n.size() == name.size() && equalsIgnoreCase(n, name)) return view(req_->headers[i].value);
    }
    return std::nullopt;
  }

  void respond(unsigned status, std::string_view content_type, std::string_view body,
               const std::vector<std::pair<std::string, std::string>>& extra_headers = {}) {
    if (ex_ == nullptr) return;
    std::vector<cb_http_header> headers;
    headers.reserve(extra_headers.size() + 1);
    if (!content_type.empty()) headers.push_back({bytes("Content-Type"), bytes(content_type)});
    for (const auto& [n, v] : extra_headers) headers.push_back({bytes(n), bytes(v)});
    cb_http_response r{};
    r.struct_size = sizeof r;
    r.status = status;
    r.headers = headers.data();
    r.header_count = headers.size();
    r.body = bytes(body);
    api_->http_respond(std::exchange(ex_, nullptr), &r);
  }
  bool responded() const { return ex_ == nullptr; }

 private:
  static bool equalsIgnoreCase(std::string_view a, std::string_view b) {
    for (std::size_t i = 0; i < a.size(); ++i) {
      char x = a[i], y = b[i];
      if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
      if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
      if (x != y) return false;
    }
    return true;
  }
  void abandon() {
    if (ex_ != nullptr) respond(500, "text/plain", "request abandoned by adapter\n");
  }
  const cb_host_api* api_;
  cb_http_exchange* ex_;
  const cb_http_request* req_;
};

/// The outcome of an outbound HTTPS request.
struct HttpResult {
  unsigned status = 0;  ///< 0 when there was no HTTP response (see error)
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string error;
  bool timed_out = false;
  bool tls_refused = false;
  std::optional<std::string> header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n.size() == name.size()) {
        bool same = true;
        for (std::size_t i = 0; i < n.size() && same; ++i) {
          same = std::tolower(static_cast<unsigned char>(n[i])) == std::tolower(static_cast<unsigned char>(name[i]));
        }
        if (same) return v;
      }
    }
    return std::nullopt;
  }
};

struct HttpRequestSpec {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{0};  ///< 0 = host default
};

/// The instance's `[adapter.tls]`, for a plugin that terminates TLS itself
/// (plugin_abi.h, cb_tls_settings: what the host has already checked and
/// what the plugin must enforce to match the host's HTTPS). Paths are
/// absolute. With OpenSSL, carebridge/tls_pins.hpp enforces `pins`.
struct TlsSettings {
  std::string certificate;  ///< PEM: our certificate, then intermediates
  std::string private_key;  ///< PEM: its unencrypted key
  std::string ca;           ///< PEM: trust anchors for the peer
  std::string crl;          ///< PEM CRLs of every CA in the peer's chain; empty = no CRL check
  std::string server_name;  ///< client: name to verify and send as SNI; empty = the endpoint's host
  std::vector<std::string> pins;  ///< "sha256/<base64>"; empty = no pinning
};

/// The host's services for one adapter instance. Cheap to copy.
class Host {
 public:
  Host() = default;
  Host(const cb_host_api* api, cb_host_instance* host) : api_(api), host_(host) {}

  /// Logs as plugin.<instance>. Never log record content or people's identifiers.
  void log(cb_log_level level, std::string_view message) const { api_->log(host_, level, bytes(message)); }
  void info(std::string_view m) const { log(CB_LOG_INFO, m); }
  void warn(std::string_view m) const { log(CB_LOG_WARN, m); }
  void error(std::string_view m) const { log(CB_LOG_ERROR, m); }
  void debug(std::string_view m) const { log(CB_LOG_DEBUG, m); }

  std::int64_t nowUnixMs() const { return api_->now_unix_ms(host_); }
  void count(std::string_view event, std::int64_t delta = 1) const { api_->count(host_, bytes(event), delta); }

  using SubmitCallback = std::function<void(SubmitResult, std::string_view message_id, std::string_view reason)>;
  /// Hands a record to the daemon; `cb` runs once the record is committed
  /// (acknowledge the sender then, not before) or refused.
  bool submit(const InboundRecord& r, SubmitCallback cb) const {
    cb_inbound_record rec{};
    rec.struct_size = sizeof rec;
    rec.sender_message_id = bytes(r.sender_message_id);
    rec.content_type = bytes(r.content_type);
    rec.subject = bytes(r.subject);
    rec.record_type = bytes(r.record_type);
    rec.payload = bytes(r.payload);
    auto* heap = new SubmitCallback(std::move(cb));
    if (api_->submit(host_, &rec, &Host::submitDone, heap) != 0) {
      delete heap;
      return false;
    }
    return true;
  }

  using HttpHandler = std::function<void(HttpExchange)>;
  /// Listens with the instance's TLS settings. Throws ConfigError on failure.
  /// OWNERSHIP: the handler lives as long as this Host's instance.
  void serveHttps(std::string_view listen, HttpHandler handler, std::uint64_t body_limit = 0,
                  std::chrono::milliseconds read_timeout = std::chrono::milliseconds(0)) {
    handlers_.push_back(std::make_shared<HandlerBox>(HandlerBox{api_, std::move(handler)}));
    cb_http_serve_options o{};
    o.struct_size = sizeof o;
    o.listen = bytes(listen);
    o.body_limit = body_limit;
    o.read_timeout_ms = read_timeout.count();
    char buf[512];
    cb_error_buf err{buf, sizeof buf, 0};
    if (api_->http_serve(host_, &o, &Host::httpHandler, handlers_.back().get(), &err) != 0) {
      throw ConfigError(std::string(buf, err.len));
    }
  }

  using HttpCallback = std::function<void(const HttpResult&)>;
  /// Sends an HTTPS request with the instance's certificates; `cb` runs once.
  bool request(const HttpRequestSpec& spec, HttpCallback cb) const {
    std::vector<cb_http_header> headers;
    headers.reserve(spec.headers.size());
    for (const auto& [n, v] : spec.headers) headers.push_back({bytes(n), bytes(v)});
    cb_http_client_request r{};
    r.struct_size = sizeof r;
    r.method = bytes(spec.method);
    r.url = bytes(spec.url);
    r.headers = headers.data();
    r.header_count = headers.size();
    r.body = bytes(spec.body);
    r.timeout_ms = spec.timeout.count();
    auto* heap = new HttpCallback(std::move(cb));
    if (api_->http_request(host_, &r, &Host::httpDone, heap) != 0) {
      delete heap;
      return false;
    }
    return true;
  }

  /// Runs `fn` once after `delay` on a host thread; dropped (never run) if
  /// the instance stops first.
  bool after(std::chrono::milliseconds delay, std::function<void()> fn) const {
    auto* heap = new std::function<void()>(std::move(fn));
    if (api_->timer_once(host_, delay.count(), &Host::timerFired, heap) != 0) {
      delete heap;
      return false;
    }
    return true;
  }

  /// The instance's `[adapter.tls]`, or nullopt when it has none. Throws
  /// ConfigError when the host predates plugin ABI 1.1 (cannot happen for a
  /// plugin built with this SDK, which the host refuses, but a copied
  /// struct table could).
  std::optional<TlsSettings> tlsSettings() const {
    if (api_->struct_size < offsetof(cb_host_api, tls_settings) + sizeof(api_->tls_settings) ||
        api_->tls_settings == nullptr) {
      throw ConfigError("this carebridged does not hand [adapter.tls] to plugins (plugin ABI 1.1 needed)");
    }
    cb_tls_settings t{};
    t.struct_size = sizeof t;
    if (api_->tls_settings(host_, &t) != 0) throw ConfigError("the host refused to describe [adapter.tls]");
    if (t.configured == 0) return std::nullopt;
    TlsSettings out{std::string(view(t.certificate)), std::string(view(t.private_key)), std::string(view(t.ca)),
                    std::string(view(t.crl)), std::string(view(t.server_name)), {}};
    for (std::size_t i = 0; i < t.pin_count; ++i) out.pins.emplace_back(view(t.pins[i]));
    return out;
  }

  const cb_host_api* api() const { return api_; }
  cb_host_instance* handle() const { return host_; }

 private:
  struct HandlerBox {
    const cb_host_api* api;
    HttpHandler handler;
  };

  static void submitDone(void* user, int result, cb_bytes id, cb_bytes reason) noexcept {
    std::unique_ptr<SubmitCallback> cb(static_cast<SubmitCallback*>(user));
    try {
      (*cb)(static_cast<SubmitResult>(result), view(id), view(reason));
    } catch (...) {
      // An exception must not unwind into the host; the sender times out and retries.
    }
  }
  static void httpHandler(void* user, cb_http_exchange* ex, const cb_http_request* req) noexcept {
    auto* box = static_cast<HandlerBox*>(user);
    HttpExchange exchange(box->api, ex, req);
    try {
      box->handler(std::move(exchange));
    } catch (...) {
      // `exchange` was moved into the handler; if the handler threw before
      // responding, its copy's destructor already answered 500.
    }
  }
  static void httpDone(void* user, const cb_http_result* r) noexcept {
    std::unique_ptr<HttpCallback> cb(static_cast<HttpCallback*>(user));
    HttpResult out;
    out.status = r->status;
    for (std::size_t i = 0; i < r->header_count; ++i) {
      out.headers.emplace_back(std::string(view(r->headers[i].name)), std::string(view(r->headers[i].value)));
    }
    out.body = std::string(view(r->body));
    out.error = std::string(view(r->error));
    out.timed_out = r->timed_out != 0;
    out.tls_refused = r->tls_refused != 0;
    try {
      (*cb)(out);
    } catch (...) {
    }
  }
  static void timerFired(void* user, int32_t cancelled) noexcept {
    std::unique_ptr<std::function<void()>> fn(static_cast<std::function<void()>*>(user));
    if (cancelled != 0) return;
    try {
      (*fn)();
    } catch (...) {
    }
  }

  const cb_host_api* api_ = nullptr;
  cb_host_instance* host_ = nullptr;
  std::vector<std::shared_ptr<HandlerBox>> handlers_;
};

/// A record to deliver. The views stay valid until the DeliveryDone is used.
struct Delivery {
  std::string_view message_id;  ///< stable across attempts; send it so the partner can detect redelivery
  std::string_view destination;
  std::string_view content_type;
  std::string_view record_type;
  std::string_view payload;
  std::uint32_t attempt = 1;
};

/// Reports a delivery's outcome exactly once, from any thread. Destroying it
/// unreported reports a retry, so a forgotten path never loses a record.
class DeliveryDone {
 public:
  DeliveryDone(cb_delivery_done_fn fn, void* token) : fn_(fn), token_(token) {}
  DeliveryDone(DeliveryDone&& o) noexcept : fn_(o.fn_), token_(std::exchange(o.token_, nullptr)) {}
  DeliveryDone& operator=(DeliveryDone&&) = delete;
  DeliveryDone(const DeliveryDone&) = delete;
  DeliveryDone& operator=(const DeliveryDone&) = delete;
  ~DeliveryDone() { retry("adapter dropped the delivery without reporting"); }

  void ok(std::string_view remote_id = {}) { report(CB_OK, {}, 0, remote_id); }
  /// Temporary failure: the host retries with backoff (or not before `after`).
  void retry(std::string_view reason, std::chrono::milliseconds after = std::chrono::milliseconds(0)) {
    report(CB_RETRY, reason, after.count(), {});
  }
  /// Permanent failure: the record goes to the dead-letter queue.
  void fail(std::string_view reason) { report(CB_ERROR, reason, 0, {}); }
  bool reported() const { return token_ == nullptr; }

 private:
  void report(cb_status status, std::string_view reason, std::int64_t after_ms, std::string_view remote_id) {
    void* t = std::exchange(token_, nullptr);
    if (t == nullptr) return;
    cb_delivery_result r{};
    r.struct_size = sizeof r;
    r.status = status;
    r.reason = bytes(reason);
    r.retry_after_ms = after_ms;
    r.remote_id = bytes(remote_id);
    fn_(t, &r);
  }
  cb_delivery_done_fn fn_;
  void* token_;
};

/// Base class of an adapter instance. Construct from (Host, const Config&);
/// throw ConfigError from the constructor or start() to refuse.
class Adapter {
 public:
  virtual ~Adapter() = default;
  virtual void start() {}
  /// Take `done` (move it into your completion handler) to report later, or
  /// report on it before returning. If deliver() throws before taking it, the
  /// SDK reports a retry carrying the exception's message.
  virtual void deliver(const Delivery&, DeliveryDone&& done) { done.fail("this adapter does not deliver records"); }
  virtual void stop() {}
};

namespace detail {

inline void writeError(cb_error_buf* err, std::string_view msg) {
  if (err == nullptr || err->data == nullptr) return;
  const std::size_t n = msg.size() < err->cap ? msg.size() : err->cap;
  std::memcpy(err->data, msg.data(), n);
  err->len = n;
}

template <class T>
int32_t create(const cb_host_api* api, cb_host_instance* host, const cb_config_value* values, uint32_t count,
               cb_instance** out, cb_error_buf* err) noexcept {
  try {
    Config config(values, count);
    auto* adapter = new T(Host(api, host), config);
    *out = reinterpret_cast<cb_instance*>(static_cast<Adapter*>(adapter));
    return CB_OK;
  } catch (const std::exception& e) {
    writeError(err, e.what());
  } catch (...) {
    writeError(err, "unknown exception in adapter constructor");
  }
  return CB_ERROR;
}

inline int32_t start(cb_instance* inst, cb_error_buf* err) noexcept {
  try {
    reinterpret_cast<Adapter*>(inst)->start();
    return CB_OK;
  } catch (const std::exception& e) {
    writeError(err, e.what());
  } catch (...) {
    writeError(err, "unknown exception in adapter start()");
  }
  return CB_ERROR;
}

inline void deliver(cb_instance* inst, const cb_delivery* d, cb_delivery_done_fn fn, void* token) noexcept {
  DeliveryDone done(fn, token);
  try {
    Delivery delivery{view(d->message_id), view(d->destination), view(d->content_type), view(d->record_type),
                      view(d->payload), d->attempt};
    // Passed as an rvalue reference, not by value: if the adapter throws
    // before moving it away, `done` still holds the token and the handlers
    // below report the exception's message.
    reinterpret_cast<Adapter*>(inst)->deliver(delivery, std::move(done));
  } catch (const std::exception& e) {
    // If the adapter threw before taking `done`, report here; once moved,
    // the adapter's copy reports (or retries on destruction).
    done.retry(std::string("adapter threw: ") + e.what());
  } catch (...) {
    done.retry("adapter threw a non-standard exception");
  }
}

inline void stop(cb_instance* inst) noexcept {
  try {
    reinterpret_cast<Adapter*>(inst)->stop();
  } catch (...) {
  }
}

inline void destroy(cb_instance* inst) noexcept {
  try {
    delete reinterpret_cast<Adapter*>(inst);
  } catch (...) {
  }
}

}  // namespace detail
}  // namespace cb::sdk

/// Defines the plugin's exported entry point. `keys` is a static array of
/// cb_config_key (may be empty via CB_NO_CONFIG_KEYS).
#define CB_PLUGIN(Type, name_, version_, description_, capabilities_, keys)                                   \
  extern "C" CB_PLUGIN_EXPORT const cb_plugin* cb_plugin_entry(uint16_t, uint16_t) {                          \
    static const cb_plugin plugin = {                                                                          \
        sizeof(cb_plugin), CB_PLUGIN_ABI_MAJOR, CB_PLUGIN_ABI_MINOR, name_, version_, description_,           \
        capabilities_, keys, static_cast<uint32_t>(sizeof(keys) / sizeof(keys[0])), &cb::sdk::detail::create<Type>, \
        &cb::sdk::detail::start, &cb::sdk::detail::deliver, &cb::sdk::detail::stop, &cb::sdk::detail::destroy}; \
    return &plugin;                                                                                            \
  }
