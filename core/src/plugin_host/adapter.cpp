#include "plugin_host/adapter.h"

#include "common/log.h"
#include "common/metrics.h"
#include "net/https_client.h"
#include "net/tls.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <cstring>
#include <optional>

// The opaque handle plugins hold for their host side (plugin_abi.h).
struct cb_host_instance {
  cb::plugin_host::Adapter* adapter;
};

// One inbound HTTP exchange handed to a plugin. OWNERSHIP: created by the
// listener's handler, deleted by http_respond() (or when the adapter stops
// without the plugin having answered).
struct cb_http_exchange {
  std::shared_ptr<cb::plugin_host::Adapter> adapter;
  cb::net::HttpRequest request;
  std::vector<cb_http_header> headers;
  cb_http_request view{};
  cb::net::Responder respond;
};

namespace cb::plugin_host {

namespace asio = boost::asio;

struct Adapter::Internals {
  Internals(asio::io_context& io_, AdapterEvents& events_, const Clock& clock_) : io(io_), events(events_), clock(clock_) {}

  asio::io_context& io;
  AdapterEvents& events;
  const Clock& clock;
  cb_host_instance handle{};
  cb_instance* instance = nullptr;
  std::shared_ptr<spdlog::logger> logger;
  std::shared_ptr<net::TlsContext> server_tls;
  std::shared_ptr<net::TlsContext> client_tls;
  std::unique_ptr<net::HttpsClient> client;
  std::mutex client_mutex;

  // [adapter.tls] as handed to plugins by tls_settings(): strings fixed at
  // create() and never changed, so the views given out stay valid until the
  // instance is destroyed (plugin_abi.h OWNERSHIP note).
  struct TlsView {
    std::string certificate, private_key, ca, crl, server_name;
    std::vector<std::string> pins;
    std::vector<cb_bytes> pin_bytes;
  };
  std::optional<TlsView> tls_view;

  std::mutex mutex;
  std::condition_variable idle;
  std::size_t outstanding = 0;  // calls into or from the plugin not yet answered
  bool accepting = true;        // false once stop() began: no new timers, submits, listeners
  std::vector<std::unique_ptr<net::HttpsServer>> servers;
  std::set<std::shared_ptr<asio::steady_timer>> timers;

  void begin() {
    std::lock_guard lock(mutex);
    ++outstanding;
  }
  void end() {
    std::lock_guard lock(mutex);
    if (--outstanding == 0) idle.notify_all();
  }
};

namespace {

std::string_view view(cb_bytes b) { return b.data != nullptr ? std::string_view(b.data, b.len) : std::string_view(); }
cb_bytes bytes(std::string_view s) { return cb_bytes{s.data(), s.size()}; }

void writeError(cb_error_buf* err, std::string_view msg) {
  if (err == nullptr || err->data == nullptr) return;
  const std::size_t n = std::min(msg.size(), err->cap);
  std::memcpy(err->data, msg.data(), n);
  err->len = n;
}

Adapter& adapterOf(cb_host_instance* h) { return *h->adapter; }

// ---- The host services table (cb_host_api). Every function is noexcept:
// an exception must never unwind into plugin code.

void hostLog(cb_host_instance* h, int32_t level, cb_bytes message) noexcept {
  try {
    auto& lg = adapterOf(h).internals().logger;
    const auto text = view(message);
    switch (level) {
      case CB_LOG_TRACE: lg->trace("{}", text); break;
      case CB_LOG_DEBUG: lg->debug("{}", text); break;
      case CB_LOG_INFO: lg->info("{}", text); break;
      case CB_LOG_WARN: lg->warn("{}", text); break;
      default: lg->error("{}", text); break;
    }
  } catch (...) {
  }
}

int64_t hostNow(cb_host_instance* h) noexcept { return adapterOf(h).internals().clock.nowUnixMs(); }

int32_t hostSubmit(cb_host_instance* h, const cb_inbound_record* rec, cb_submit_done_fn done, void* user) noexcept {
  try {
    if (rec == nullptr || done == nullptr || rec->struct_size < offsetof(cb_inbound_record, payload) + sizeof(cb_bytes)) {
      return 1;
    }
    Adapter& a = adapterOf(h);
    auto& in = a.internals();
    {
      std::lock_guard lock(in.mutex);
      // Stopping: not accepted, and `done` is not called (plugin_abi.h).
      if (!in.accepting) return 2;
      ++in.outstanding;
    }
    InboundSubmission s;
    s.sender_message_id = std::string(view(rec->sender_message_id));
    s.content_type = std::string(view(rec->content_type));
    s.subject = std::string(view(rec->subject));
    s.record_type = std::string(view(rec->record_type));
    s.payload = std::string(view(rec->payload));
    auto self = a.shared_from_this();
    in.events.submit(a, std::move(s), [self, done, user](SubmitReply reply) {
      // Never call plugin code on the store's completion thread: post to I/O.
      auto& internals = self->internals();
      asio::post(internals.io, [self, done, user, reply = std::move(reply)] {
        try {
          done(user, reply.result, bytes(reply.message_id), bytes(reply.reason));
        } catch (...) {
        }
        self->internals().end();
      });
    });
    return 0;
  } catch (...) {
    return 1;
  }
}

void hostHttpRespond(cb_http_exchange* ex, const cb_http_response* r) noexcept {
  if (ex == nullptr) return;
  std::unique_ptr<cb_http_exchange> owned(ex);
  try {
    net::HttpResponse resp;
    if (r != nullptr) {
      resp.status = r->status;
      for (std::size_t i = 0; i < r->header_count; ++i) {
        resp.headers.push_back({std::string(view(r->headers[i].name)), std::string(view(r->headers[i].value))});
      }
      resp.body = std::string(view(r->body));
    } else {
      resp.status = 500;
    }
    owned->respond(std::move(resp));
  } catch (...) {
  }
  owned->adapter->internals().end();
}

int32_t hostHttpServe(cb_host_instance* h, const cb_http_serve_options* o, cb_http_handler_fn handler, void* user,
                      cb_error_buf* err) noexcept {
  try {
    Adapter& a = adapterOf(h);
    auto& in = a.internals();
    if (o == nullptr || handler == nullptr) {
      writeError(err, "http_serve: options and handler are required");
      return 1;
    }
    if (!in.server_tls) {
      writeError(err, "adapter '" + a.name() +
                          "' has no [adapter.tls] section: partner listeners accept mutual TLS only");
      return 1;
    }
    auto ep = net::parseEndpoint(view(o->listen));
    if (!ep) {
      writeError(err, "adapter '" + a.name() + "': listen: " + ep.error().message);
      return 1;
    }
    net::ServerOptions so;
    so.listen = *ep;
    so.tls = in.server_tls;
    so.log_name = "plugin." + a.name();
    if (o->body_limit != 0) so.limits.body_limit = o->body_limit;
    if (o->read_timeout_ms > 0) so.limits.read_timeout = std::chrono::milliseconds(o->read_timeout_ms);
    std::weak_ptr<Adapter> weak = a.shared_from_this();
    so.on_tls_refused = [weak](const net::TlsRefusal& refusal) {
      if (auto self = weak.lock()) self->internals().events.tlsRefused(*self, refusal);
    };
    auto server = net::HttpsServer::start(
        in.io, so, [weak, handler, user](net::HttpRequest&& req, net::Responder respond) {
          auto self = weak.lock();
          if (!self) {
            respond(net::HttpResponse{503, {{"Content-Type", "text/plain"}}, "adapter stopped\n"});
            return;
          }
          auto& internals = self->internals();
          {
            std::lock_guard lock(internals.mutex);
            if (!internals.accepting) {
              respond(net::HttpResponse{503, {{"Content-Type", "text/plain"}, {"Retry-After", "5"}},
                                        "carebridged is stopping; retry later\n"});
              return;
            }
            ++internals.outstanding;
          }
          auto* ex = new cb_http_exchange();
          ex->adapter = self;
          ex->request = std::move(req);
          ex->respond = std::move(respond);
          for (const auto& hd : ex->request.headers) ex->headers.push_back({bytes(hd.name), bytes(hd.value)});
          ex->view.struct_size = sizeof(cb_http_request);
          ex->view.method = bytes(ex->request.method);
          ex->view.target = bytes(ex->request.target);
          ex->view.headers = ex->headers.data();
          ex->view.header_count = ex->headers.size();
          ex->view.body = bytes(ex->request.body);
          ex->view.peer_common_name = bytes(ex->request.peer.common_name);
          ex->view.peer_subject = bytes(ex->request.peer.subject);
          try {
            handler(user, ex, &ex->view);
          } catch (...) {
            // A plugin written without the SDK threw: the exchange may or may
            // not have been answered; the listener's handler timeout closes it.
          }
        });
    if (!server) {
      writeError(err, "adapter '" + a.name() + "': " + server.error().message);
      return 1;
    }
    std::lock_guard lock(in.mutex);
    in.servers.push_back(std::move(*server));
    return 0;
  } catch (const std::exception& e) {
    writeError(err, e.what());
    return 1;
  }
}

int32_t hostHttpRequest(cb_host_instance* h, const cb_http_client_request* r, cb_http_response_fn done,
                        void* user) noexcept {
  try {
    Adapter& a = adapterOf(h);
    auto& in = a.internals();
    if (r == nullptr || done == nullptr) return 1;
    {
      std::lock_guard lock(in.client_mutex);
      if (!in.client) {
        net::ClientOptions co;
        co.tls = in.client_tls;
        co.log_name = "plugin." + a.name();
        // As many kept-alive connections as deliveries may be in flight to
        // this partner, so deliveries never queue behind each other for a
        // connection (a full TLS handshake costs ~1.7 ms of CPU; reuse them).
        co.max_connections_per_origin = std::max<std::size_t>(co.max_connections_per_origin, a.delivery().max_in_flight);
        in.client = net::HttpsClient::create(in.io, co);
      }
    }
    net::ClientRequest req;
    req.method = std::string(view(r->method));
    req.url = std::string(view(r->url));
    for (std::size_t i = 0; i < r->header_count; ++i) {
      req.headers.push_back({std::string(view(r->headers[i].name)), std::string(view(r->headers[i].value))});
    }
    req.body = std::string(view(r->body));
    if (r->timeout_ms > 0) req.timeout = std::chrono::milliseconds(r->timeout_ms);
    in.begin();
    auto self = a.shared_from_this();
    in.client->request(std::move(req), [self, done, user](net::ClientResult res) {
      cb_http_result out{};
      out.struct_size = sizeof out;
      std::vector<cb_http_header> headers;
      std::string error;
      if (res.response) {
        out.status = res.response->status;
        for (const auto& hd : res.response->headers) headers.push_back({bytes(hd.name), bytes(hd.value)});
        out.headers = headers.data();
        out.header_count = headers.size();
        out.body = bytes(res.response->body);
      } else if (res.failure) {
        error = res.failure->message;
        out.timed_out = res.failure->kind == net::TransportFailure::Kind::Timeout ? 1 : 0;
        out.tls_refused = res.failure->kind == net::TransportFailure::Kind::TlsVerification ? 1 : 0;
      }
      out.error = bytes(error);
      try {
        done(user, &out);
      } catch (...) {
      }
      self->internals().end();
    });
    return 0;
  } catch (...) {
    return 1;
  }
}

int32_t hostTimerOnce(cb_host_instance* h, int64_t delay_ms, cb_timer_fn fn, void* user) noexcept {
  try {
    Adapter& a = adapterOf(h);
    auto& in = a.internals();
    if (fn == nullptr) return 1;
    auto timer = std::make_shared<asio::steady_timer>(in.io, std::chrono::milliseconds(std::max<int64_t>(0, delay_ms)));
    {
      std::lock_guard lock(in.mutex);
      if (!in.accepting) return 1;
      in.timers.insert(timer);
      ++in.outstanding;
    }
    auto self = a.shared_from_this();
    timer->async_wait([self, timer, fn, user](const boost::system::error_code& ec) {
      auto& internals = self->internals();
      bool cancelled = ec == asio::error::operation_aborted;
      {
        std::lock_guard lock(internals.mutex);
        internals.timers.erase(timer);
        cancelled = cancelled || !internals.accepting;
      }
      try {
        fn(user, cancelled ? 1 : 0);
      } catch (...) {
      }
      internals.end();
    });
    return 0;
  } catch (...) {
    return 1;
  }
}

void hostCount(cb_host_instance* h, cb_bytes name, int64_t delta) noexcept {
  try {
    if (delta <= 0) return;
    metrics::global()
        .counter("carebridge_plugin_events_total", "Events counted by adapter plugins",
                 {{"adapter", adapterOf(h).name()}, {"event", std::string(view(name))}})
        .inc(static_cast<std::uint64_t>(delta));
  } catch (...) {
  }
}

// ABI 1.1: the instance's [adapter.tls] for a plugin that terminates TLS
// itself. The host built its own contexts from the same settings before
// create(), so what is handed over is known to load (plugin_abi.h).
int32_t hostTlsSettings(cb_host_instance* h, cb_tls_settings* out) noexcept {
  try {
    if (h == nullptr || out == nullptr || out->struct_size < offsetof(cb_tls_settings, pin_count) + sizeof(size_t)) {
      return 1;
    }
    const auto& view = adapterOf(h).internals().tls_view;
    cb_tls_settings full{};
    full.struct_size = out->struct_size;  // the caller's size: it owns the struct
    if (view) {
      full.configured = 1;
      full.certificate = bytes(view->certificate);
      full.private_key = bytes(view->private_key);
      full.ca = bytes(view->ca);
      full.crl = bytes(view->crl);
      full.server_name = bytes(view->server_name);
      full.pins = view->pin_bytes.empty() ? nullptr : view->pin_bytes.data();
      full.pin_count = view->pin_bytes.size();
    }
    // Only what both sides know: members a newer plugin appended are left as
    // it initialised them.
    std::memcpy(out, &full, std::min<std::size_t>(out->struct_size, sizeof full));
    return 0;
  } catch (...) {
    return 1;
  }
}

const cb_host_api kHostApi = {sizeof(cb_host_api), CB_PLUGIN_ABI_MAJOR, CB_PLUGIN_ABI_MINOR, &hostLog, &hostNow,
                              &hostSubmit,         &hostHttpServe,      &hostHttpRespond,    &hostHttpRequest,
                              &hostTimerOnce,      &hostCount,          &hostTlsSettings};

// The plugin's done() for one delivery. OWNERSHIP: allocated by deliver(),
// freed by deliveryDone() when the plugin reports.
struct DeliveryToken {
  std::shared_ptr<Adapter> adapter;
  std::function<void(DeliveryReport)> report;
  DeliveryRequest request;  // keeps the payload alive while the plugin holds views of it
  cb_delivery view{};
  std::string destination;
};

void deliveryDone(void* token, const cb_delivery_result* r) noexcept {
  std::unique_ptr<DeliveryToken> t(static_cast<DeliveryToken*>(token));
  DeliveryReport rep;
  try {
    if (r != nullptr && r->struct_size >= offsetof(cb_delivery_result, retry_after_ms) + sizeof(int64_t)) {
      rep.status = r->status == CB_OK ? CB_OK : r->status == CB_ERROR ? CB_ERROR : CB_RETRY;
      rep.reason = std::string(view(r->reason));
      rep.retry_after_ms = r->retry_after_ms;
      if (r->struct_size >= sizeof(cb_delivery_result)) rep.remote_id = std::string(view(r->remote_id));
    } else {
      rep.status = CB_RETRY;
      rep.reason = "plugin reported a malformed delivery result";
    }
    t->report(std::move(rep));
  } catch (...) {
  }
  t->adapter->internals().end();
}

}  // namespace

Adapter::Adapter(std::shared_ptr<PluginLibrary> library, config::AdapterSettings settings, asio::io_context& io,
                 AdapterEvents& events, const Clock& clock)
    : library_(std::move(library)),
      settings_(std::move(settings)),
      internals_(std::make_unique<Internals>(io, events, clock)) {}

Result<std::shared_ptr<Adapter>> Adapter::create(std::shared_ptr<PluginLibrary> library,
                                                 const config::AdapterSettings& settings,
                                                 std::vector<std::pair<std::string, std::string>> resolved,
                                                 asio::io_context& io, AdapterEvents& events, const Clock& clock) {
  std::shared_ptr<Adapter> a(new Adapter(std::move(library), settings, io, events, clock));
  auto& in = *a->internals_;
  in.handle.adapter = a.get();
  in.logger = log::get("plugin." + settings.name);
  if (settings.tls) {
    auto server = net::makeServerTlsContext(*settings.tls);
    if (!server) return fail("adapter '" + settings.name + "' (" + settings.where.str() + "): " + server.error().message);
    auto client = net::makeClientTlsContext(*settings.tls);
    if (!client) return fail("adapter '" + settings.name + "' (" + settings.where.str() + "): " + client.error().message);
    in.server_tls = std::move(*server);
    in.client_tls = std::move(*client);
    Internals::TlsView v;
    // Absolute, so a plugin that resolves paths later (or on another
    // thread) reads the same files the host just loaded.
    auto absolute = [](const std::filesystem::path& p) {
      std::error_code ec;
      return p.empty() ? std::string() : std::filesystem::absolute(p, ec).lexically_normal().string();
    };
    v.certificate = absolute(settings.tls->certificate);
    v.private_key = absolute(settings.tls->private_key);
    v.ca = absolute(settings.tls->ca);
    v.crl = absolute(settings.tls->crl);
    v.server_name = settings.tls->server_name;
    v.pins = settings.tls->pins;
    in.tls_view = std::move(v);
    // After the move: the views point into the strings where they now live.
    for (const auto& pin : in.tls_view->pins) in.tls_view->pin_bytes.push_back(bytes(pin));
  }
  std::vector<cb_config_value> values;
  values.reserve(resolved.size());
  for (const auto& [k, v] : resolved) values.push_back({bytes(k), bytes(v)});
  char buf[1024];
  cb_error_buf err{buf, sizeof buf, 0};
  int32_t rc = CB_ERROR;
  try {
    rc = a->library_->api().create(&kHostApi, &in.handle, values.data(), static_cast<uint32_t>(values.size()),
                                   &in.instance, &err);
  } catch (...) {
    return fail("adapter '" + settings.name + "': plugin '" + a->library_->name() + "' threw from create()");
  }
  if (rc != CB_OK || in.instance == nullptr) {
    return fail("adapter '" + settings.name + "' (" + settings.where.str() + "): plugin '" + a->library_->name() +
                "' refused its settings: " + std::string(buf, err.len));
  }
  return a;
}

Adapter::~Adapter() {
  stop(std::chrono::milliseconds(2000));
}

Status Adapter::start() {
  auto& in = *internals_;
  char buf[1024];
  cb_error_buf err{buf, sizeof buf, 0};
  int32_t rc = CB_ERROR;
  try {
    rc = library_->api().start(in.instance, &err);
  } catch (...) {
    return fail("adapter '" + name() + "': plugin threw from start()");
  }
  if (rc != CB_OK) return fail("adapter '" + name() + "' did not start: " + std::string(buf, err.len));
  running_ = true;
  return {};
}

void Adapter::deliver(DeliveryRequest request, std::function<void(DeliveryReport)> report) {
  auto& in = *internals_;
  if (!library_->canDeliver() || !running_) {
    report(DeliveryReport{CB_RETRY, "adapter '" + name() + "' is not running", 0, {}});
    return;
  }
  {
    std::lock_guard lock(in.mutex);
    if (!in.accepting) {
      report(DeliveryReport{CB_RETRY, "adapter '" + name() + "' is stopping", 0, {}});
      return;
    }
    ++in.outstanding;
  }
  auto* token = new DeliveryToken{shared_from_this(), std::move(report), std::move(request), {}, name()};
  cb_delivery& d = token->view;
  d.struct_size = sizeof d;
  d.message_id = bytes(token->request.message_id);
  d.destination = bytes(token->destination);
  d.content_type = bytes(token->request.content_type);
  d.record_type = bytes(token->request.record_type);
  d.payload = bytes(*token->request.payload);
  d.attempt = token->request.attempt;
  try {
    library_->api().deliver(in.instance, &token->view, &deliveryDone, token);
  } catch (...) {
    // Only a plugin built without the SDK gets here; whether it already
    // reported is unknown, so the token is left to the plugin (the
    // scheduler's attempt timeout covers a report that never comes).
    in.logger->error("plugin threw from deliver(); the attempt will time out and be retried");
  }
}

std::vector<std::uint16_t> Adapter::listeningPorts() const {
  std::lock_guard lock(internals_->mutex);
  std::vector<std::uint16_t> ports;
  for (const auto& s : internals_->servers) ports.push_back(s->port());
  return ports;
}

void Adapter::stop(std::chrono::milliseconds drain) {
  if (stopped_.exchange(true)) return;
  auto& in = *internals_;
  std::vector<std::unique_ptr<net::HttpsServer>> servers;
  std::set<std::shared_ptr<asio::steady_timer>> timers;
  {
    std::lock_guard lock(in.mutex);
    in.accepting = false;
    servers.swap(in.servers);
    timers = in.timers;
  }
  // 1. No new connections; requests in progress may still be answered.
  for (auto& s : servers) s->stop();
  // 2. The plugin stops its own work and settles its deliveries.
  if (in.instance != nullptr) {
    try {
      library_->api().stop(in.instance);
    } catch (...) {
    }
  }
  running_ = false;
  // 3. Pending timers fire as cancelled (the plugin frees their state).
  for (auto& t : timers) t->cancel();
  // 4. Wait for every outstanding call to be answered.
  std::unique_lock lock(in.mutex);
  const bool drained = in.idle.wait_for(lock, drain, [&in] { return in.outstanding == 0; });
  lock.unlock();
  if (!drained) {
    {
      std::lock_guard clock(in.client_mutex);
      if (in.client) in.client->stop();
    }
    lock.lock();
    const bool late = in.idle.wait_for(lock, std::chrono::milliseconds(500), [&in] { return in.outstanding == 0; });
    lock.unlock();
    if (!late) {
      // Destroying the instance now could let a late callback touch freed
      // memory; keeping it costs a little memory until the process exits.
      in.logger->error("adapter '{}' still has {} unanswered calls after draining; its plugin instance is kept",
                       name(), in.outstanding);
      in.instance = nullptr;
      return;
    }
  }
  {
    std::lock_guard clock(in.client_mutex);
    if (in.client) in.client->stop();
  }
  if (in.instance != nullptr) {
    try {
      library_->api().destroy(in.instance);
    } catch (...) {
    }
    in.instance = nullptr;
  }
}

}  // namespace cb::plugin_host
