// HTTP/1.1 server over mutual TLS, after Beast's advanced_server_flex example:
// one strand per connection, timeouts through tcp_stream::expires_after, a
// request parser per message with body and header limits, and a reused
// flat_buffer per connection.

#include "net/https_server.h"

#include "common/log.h"
#include "net/tls_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace cb::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr std::size_t kReadChunk = 16 * 1024;
// Bounds of the "lingering close" after an error response (closeGracefully).
constexpr std::chrono::milliseconds kDrainTime{2000};
constexpr std::size_t kDrainBytes = 1 << 20;
constexpr std::chrono::milliseconds kShutdownTime{1000};
constexpr std::chrono::milliseconds kAcceptRetry{100};

std::string endpointText(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  return (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" + std::to_string(ep.port());
}

/// IMF-fixdate (RFC 9110 section 5.6.7), built by hand so the process locale
/// cannot change day or month names; cached per thread for the current second.
std::string_view httpDate() {
  thread_local std::time_t cached = -1;
  thread_local char text[40];
  const std::time_t now = std::time(nullptr);
  if (now != cached) {
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7], tm.tm_mday,
                  kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    cached = now;
  }
  return text;
}

bool iequals(std::string_view a, std::string_view b) { return beast::iequals(a, b); }

bool hasControlBytes(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return true;
  }
  return false;
}

class Session;

/// State shared by the listener and its connections. Connections hold it by
/// shared_ptr, so it outlives the HttpsServer object while they finish.
struct ServerState : std::enable_shared_from_this<ServerState> {
  ServerState(asio::io_context& io_context, ServerOptions opts, HttpHandler h)
      : io(io_context),
        options(std::move(opts)),
        handler(std::move(h)),
        acceptor(asio::make_strand(io_context)),
        accept_retry(acceptor.get_executor()),
        log(cb::log::get(options.log_name)) {
    if (options.tls) {
      // Asio's stream needs an asio::ssl::context; this one wraps (and holds
      // a reference on) the SSL_CTX that the TlsContext owns.
      auto* native = static_cast<SSL_CTX*>(options.tls->native());
      SSL_CTX_up_ref(native);
      ssl.emplace(native);
    }
  }

  void doAccept();
  void onAccept(const error_code& ec, tcp::socket socket);
  void registerSession(const std::shared_ptr<Session>& session);
  void unregisterSession(Session* session);
  void stop();
  void reportRefusal(const TlsRefusal& refusal);

  asio::io_context& io;
  const ServerOptions options;
  const HttpHandler handler;
  std::optional<asio::ssl::context> ssl;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry;
  std::shared_ptr<spdlog::logger> log;
  std::string listen_text;
  std::atomic<std::size_t> connections{0};
  std::atomic<bool> stopped{false};
  std::atomic<std::int64_t> last_full_warning{0};

  std::mutex mutex;
  bool stopping = false;                                          // guarded by mutex
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;  // guarded by mutex
};

/// Completes one exchange at most once. Held by every copy of the Responder
/// handed to the handler; if the last copy goes away unused, the connection
/// answers 500 and closes rather than hanging until the handler timeout.
class ResponderState {
 public:
  ResponderState(std::weak_ptr<Session> session, std::uint64_t generation)
      : session_(std::move(session)), generation_(generation) {}
  ResponderState(const ResponderState&) = delete;
  ResponderState& operator=(const ResponderState&) = delete;
  ~ResponderState();
  void respond(HttpResponse response);

 private:
  std::weak_ptr<Session> session_;
  const std::uint64_t generation_;
  std::atomic<bool> done_{false};
};

/// One accepted connection. Every member is touched only on the connection's
/// strand (the executor of its socket), except through post().
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<ServerState> state, tcp::socket socket)
      : state_(std::move(state)), limits_(state_->options.limits), handler_timer_(socket.get_executor()) {
    error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    remote_ = ec ? std::string("unknown") : endpointText(remote);
    peer_.remote_address = remote_;  // the rest of peer_ comes from the TLS handshake
    socket.set_option(tcp::no_delay(true), ec);  // small responses must not wait for Nagle (RFC 1122 4.2.3.4)
    if (state_->ssl) {
      tls_.emplace(std::move(socket), *state_->ssl);
    } else {
      plain_.emplace(std::move(socket));
    }
    ++state_->connections;
  }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  ~Session() {
    state_->unregisterSession(this);
    --state_->connections;
  }

  void markStopping() { stopping_ = true; }

  void postStop() {
    asio::post(executor(), [self = shared_from_this()] { self->onServerStop(); });
  }

  void start() {
    asio::dispatch(executor(), [self = shared_from_this()] { self->begin(); });
  }

  /// Posted by HttpsServer::stop(): a connection waiting for its next request
  /// closes now; one with a request in progress closes after responding.
  void onServerStop() {
    stopping_ = true;
    if (idle_) tcp().cancel();
  }

  void postResponse(std::uint64_t generation, HttpResponse response) {
    asio::post(executor(), [self = shared_from_this(), generation, r = std::move(response)]() mutable {
      self->complete(generation, std::move(r));
    });
  }

  void postAbandoned(std::uint64_t generation) {
    asio::post(executor(), [self = shared_from_this(), generation] {
      if (!self->awaitingHandler(generation)) return;
      self->state_->log->error("handler for a request from {} dropped its responder without responding; answering 500",
                               self->remote_);
      self->complete(generation, plainResponse(500, "internal error: the request was not answered\n"));
    });
  }

 private:
  using TlsStream = beast::ssl_stream<beast::tcp_stream>;

  static HttpResponse plainResponse(unsigned status, std::string text) {
    return HttpResponse{status, {{"Content-Type", "text/plain; charset=utf-8"}}, std::move(text)};
  }

  asio::any_io_executor executor() { return handler_timer_.get_executor(); }
  beast::tcp_stream& tcp() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }

  /// Calls f with the connection's stream (TLS or plain): both kinds share the
  /// HTTP code below, instantiated once per stream type.
  template <class F>
  void withStream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*plain_);
    }
  }

  bool awaitingHandler(std::uint64_t generation) const { return awaiting_ && generation == generation_; }

  void begin() {
    state_->registerSession(shared_from_this());
    if (stopping_) return closeNow();
    if (!tls_) return readRequest();
    detail::attachVerifyNote(tls_->native_handle(), &note_);
    tcp().expires_after(limits_.handshake_timeout);
    tls_->async_handshake(asio::ssl::stream_base::server,
                          [self = shared_from_this()](const error_code& ec) { self->onHandshake(ec); });
  }

  void onHandshake(const error_code& ec) {
    if (ec) {
      if (ec == beast::error::timeout) {
        state_->log->debug("TLS handshake from {} timed out", remote_);
      } else if (detail::isTlsLayerError(ec) && ec != asio::ssl::error::stream_truncated) {
        const auto failure = detail::describeTlsFailure(tls_->native_handle(), ec, note_);
        state_->reportRefusal(TlsRefusal{remote_, failure.reason, note_.leaf_subject});
      } else {
        state_->log->debug("TLS handshake from {} ended: {}", remote_, ec.message());
      }
      return closeNow();
    }
    peer_ = detail::peerIdentity(tls_->native_handle());
    peer_.remote_address = remote_;
    readRequest();
  }

  void readRequest() {
    if (stopping_) return closeGracefully(false);
    parser_.emplace();
    parser_->body_limit(limits_.body_limit);
    parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(limits_.header_limit, UINT32_MAX)));
    if (buffer_.size() > 0) {
      // Bytes of the next request arrived with the last one (pipelining).
      tcp().expires_after(limits_.read_timeout);
      return readHeader();
    }
    // Waiting for the first byte of a request is "idle" (idle_timeout on a
    // kept-alive connection); from the first byte, read_timeout applies. The
    // first request of a connection has read_timeout from the handshake on.
    idle_ = true;
    tcp().expires_after(requests_ == 0 ? limits_.read_timeout : limits_.idle_timeout);
    withStream([this](auto& stream) {
      stream.async_read_some(buffer_.prepare(kReadChunk),
                             [self = shared_from_this()](const error_code& ec, std::size_t n) {
                               self->onFirstBytes(ec, n);
                             });
    });
  }

  void onFirstBytes(const error_code& ec, std::size_t n) {
    idle_ = false;
    if (ec) {
      if (ec == beast::error::timeout) state_->log->debug("closing connection from {} after idling", remote_);
      return closeNow();
    }
    buffer_.commit(n);
    if (requests_ > 0) tcp().expires_after(limits_.read_timeout);
    readHeader();
  }

  void readHeader() {
    withStream([this](auto& stream) {
      http::async_read_header(stream, buffer_, *parser_,
                              [self = shared_from_this()](const error_code& ec, std::size_t) {
                                self->onHeader(ec);
                              });
    });
  }

  void onHeader(const error_code& ec) {
    if (ec) return onReadError(ec);
    const auto& msg = parser_->get();
    // RFC 9110 section 10.1.1: a client that sent "Expect: 100-continue" may
    // wait for the interim response before sending the body. An oversized
    // Content-Length already failed above with body_limit (413).
    if (msg.version() >= 11 && !parser_->is_done() && iequals(msg[http::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      withStream([this](auto& stream) {
        asio::async_write(stream, asio::buffer(kContinue.data(), kContinue.size()),
                          [self = shared_from_this()](const error_code& wec, std::size_t) {
                            if (wec) return self->closeNow();
                            self->readBody();
                          });
      });
      return;
    }
    readBody();
  }

  void readBody() {
    if (parser_->is_done()) return onRequest();
    withStream([this](auto& stream) {
      http::async_read(stream, buffer_, *parser_, [self = shared_from_this()](const error_code& ec, std::size_t) {
        if (ec) return self->onReadError(ec);
        self->onRequest();
      });
    });
  }

  void onReadError(const error_code& ec) {
    if (ec == http::error::body_limit) {
      return respondAndClose(413, "request body exceeds " + std::to_string(limits_.body_limit) + " bytes\n");
    }
    if (ec == http::error::header_limit) {
      return respondAndClose(431, "request header exceeds " + std::to_string(limits_.header_limit) + " bytes\n");
    }
    if (ec == beast::error::timeout) {
      state_->log->debug("request from {} did not arrive within the read timeout; closing", remote_);
      return closeNow();
    }
    if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      state_->log->debug("malformed request from {}: {}", remote_, ec.message());
      return respondAndClose(400, "malformed HTTP request: " + ec.message() + "\n");
    }
    // The peer went away (EOF, reset, TLS close): nothing to answer.
    closeNow();
  }

  void onRequest() {
    idle_ = false;
    ++requests_;
    auto& msg = parser_->get();
    keep_alive_ = msg.keep_alive();
    version_ = msg.version();
    head_ = msg.method() == http::verb::head;
    tcp().expires_never();  // no I/O while the handler works; handler_timeout applies instead
    if (stopping_) {
      HttpResponse busy = plainResponse(503, "server is stopping; retry\n");
      busy.headers.push_back({"Retry-After", "1"});
      return writeResponse(std::move(busy), true, false);
    }

    HttpRequest request;
    request.method = std::string(msg.method_string());
    request.target = std::string(msg.target());
    for (const auto& field : msg) {
      request.headers.push_back(HttpHeader{std::string(field.name_string()), std::string(field.value())});
    }
    request.body = std::move(msg.body());
    request.peer = peer_;
    parser_.reset();

    const std::uint64_t generation = ++generation_;
    awaiting_ = true;
    handler_timer_.expires_after(limits_.handler_timeout);
    handler_timer_.async_wait([self = shared_from_this(), generation](const error_code& ec) {
      if (!ec) self->onHandlerTimeout(generation);
    });
    auto responder_state = std::make_shared<ResponderState>(weak_from_this(), generation);
    Responder responder = [responder_state](HttpResponse response) { responder_state->respond(std::move(response)); };
    responder_state.reset();
    try {
      state_->handler(std::move(request), std::move(responder));
    } catch (const std::exception& e) {
      state_->log->error("handler threw for a request from {}: {}; answering 500", remote_, e.what());
      complete(generation, plainResponse(500, "internal error\n"));
    } catch (...) {
      state_->log->error("handler threw a non-standard exception for a request from {}; answering 500", remote_);
      complete(generation, plainResponse(500, "internal error\n"));
    }
  }

  void onHandlerTimeout(std::uint64_t generation) {
    if (!awaitingHandler(generation)) return;
    state_->log->warn("handler did not answer a request from {} within {} ms; answering 503", remote_,
                      limits_.handler_timeout.count());
    awaiting_ = false;
    HttpResponse busy = plainResponse(503, "the request was not answered in time; retry\n");
    busy.headers.push_back({"Retry-After", "5"});
    writeResponse(std::move(busy), true, false);
  }

  void complete(std::uint64_t generation, HttpResponse response) {
    if (!awaitingHandler(generation) || closed_) return;
    awaiting_ = false;
    handler_timer_.cancel();
    writeResponse(std::move(response), false, false);
  }

  void respondAndClose(unsigned status, std::string text) {
    keep_alive_ = false;
    writeResponse(plainResponse(status, std::move(text)), true, true);
  }

  void writeResponse(HttpResponse r, bool force_close, bool drain) {
    if (r.status < 200 || r.status > 599) {
      state_->log->error("handler answered a request from {} with invalid status {}; sending 500", remote_, r.status);
      r = plainResponse(500, "internal error\n");
    }
    response_ = {};
    response_.version(version_ == 10 ? 10 : 11);
    response_.result(r.status);
    bool keep = keep_alive_ && !force_close && !stopping_;
    bool has_date = false;
    for (const auto& h : r.headers) {
      // Framing and connection management are this server's job (RFC 9112
      // sections 6 and 9); a handler cannot set them.
      if (iequals(h.name, "Content-Length") || iequals(h.name, "Transfer-Encoding") || iequals(h.name, "Keep-Alive")) {
        continue;
      }
      if (iequals(h.name, "Connection")) {
        if (h.value.find("close") != std::string::npos) keep = false;
        continue;
      }
      if (h.name.empty() || hasControlBytes(h.name) || hasControlBytes(h.value)) {
        state_->log->error("handler set a response header with control characters; dropped it");
        continue;
      }
      if (iequals(h.name, "Date")) has_date = true;
      response_.insert(h.name, h.value);
    }
    if (!has_date) response_.set(http::field::date, httpDate());
    response_.keep_alive(keep);
    const bool no_content = r.status == 204 || r.status == 304;
    if (head_) {
      response_.content_length(r.body.size());  // RFC 9110 section 9.3.2: headers as for GET, no content
    } else if (!no_content) {
      response_.body() = std::move(r.body);
      response_.prepare_payload();
    }
    // A response the client does not accept within read_timeout is abandoned.
    tcp().expires_after(limits_.read_timeout);
    withStream([this, keep, drain](auto& stream) {
      http::async_write(stream, response_,
                        [self = shared_from_this(), keep, drain](const error_code& ec, std::size_t) {
                          self->onWrite(ec, keep, drain);
                        });
    });
  }

  void onWrite(const error_code& ec, bool keep, bool drain) {
    if (ec) {
      state_->log->debug("writing a response to {} failed: {}", remote_, ec.message());
      return closeNow();
    }
    if (!keep) return closeGracefully(drain);
    readRequest();
  }

  /// Ends the connection after a final response. With `drain` (error
  /// responses where part of the request may be unread), what the client
  /// still sends is read and discarded for a short while: closing a socket
  /// with unread input makes the kernel send RST, which can destroy the
  /// response before the client reads it (RFC 9112 section 9.6).
  void closeGracefully(bool drain) {
    tcp().expires_after(drain ? std::min<std::chrono::milliseconds>(limits_.read_timeout, kDrainTime)
                              : std::min<std::chrono::milliseconds>(limits_.handshake_timeout, kShutdownTime));
    buffer_.consume(buffer_.size());
    if (!tls_) {
      // The FIN tells the client we are done; then wait for its FIN.
      error_code ignored;
      tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
      return drain ? drainTcp() : closeNow();
    }
    // Send close_notify (RFC 8446 section 6.1) and wait for the peer's. If
    // the peer is still sending request data, OpenSSL fails the shutdown;
    // the rest is then discarded below the TLS layer.
    tls_->async_shutdown([self = shared_from_this(), drain](const error_code& ec) {
      if (ec && drain && ec != beast::error::timeout && ec != asio::error::eof &&
          ec != asio::ssl::error::stream_truncated) {
        error_code ignored;
        self->tcp().socket().shutdown(tcp::socket::shutdown_send, ignored);
        return self->drainTcp();
      }
      self->closeNow();
    });
  }

  void drainTcp() {
    tcp().async_read_some(buffer_.prepare(kReadChunk), [self = shared_from_this()](const error_code& ec, std::size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > kDrainBytes) return self->closeNow();
      self->drainTcp();
    });
  }

  void closeNow() {
    if (closed_) return;
    closed_ = true;
    idle_ = false;
    handler_timer_.cancel();
    error_code ignored;
    tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp().close();
  }

  std::shared_ptr<ServerState> state_;
  const ServerLimits& limits_;
  asio::steady_timer handler_timer_;
  std::optional<TlsStream> tls_;
  std::optional<beast::tcp_stream> plain_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  detail::VerifyNote note_;
  PeerIdentity peer_;
  std::string remote_;
  std::uint64_t generation_ = 0;
  std::uint64_t requests_ = 0;
  std::size_t drained_ = 0;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_ = false;
  bool awaiting_ = false;
  bool idle_ = false;
  bool stopping_ = false;
  bool closed_ = false;
};

ResponderState::~ResponderState() {
  if (done_.exchange(true)) return;
  if (auto session = session_.lock()) session->postAbandoned(generation_);
}

void ResponderState::respond(HttpResponse response) {
  if (done_.exchange(true)) return;  // exactly once: later calls are ignored
  if (auto session = session_.lock()) session->postResponse(generation_, std::move(response));
}

void ServerState::doAccept() {
  acceptor.async_accept(asio::make_strand(io), [self = shared_from_this()](const error_code& ec, tcp::socket socket) {
    self->onAccept(ec, std::move(socket));
  });
}

void ServerState::onAccept(const error_code& ec, tcp::socket socket) {
  if (ec) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    // Out of descriptors or memory: back off briefly instead of spinning.
    log->warn("accepting on {} failed: {}", listen_text, ec.message());
    accept_retry.expires_after(kAcceptRetry);
    accept_retry.async_wait([self = shared_from_this()](const error_code& wec) {
      if (!wec && self->acceptor.is_open()) self->doAccept();
    });
    return;
  }
  if (connections.load() >= options.limits.max_connections) {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
    if (last_full_warning.exchange(now) != now) {
      log->warn("{} has {} connections (max_connections); closing new ones", listen_text, connections.load());
    }
    error_code ignored;
    socket.close(ignored);
  } else {
    std::make_shared<Session>(shared_from_this(), std::move(socket))->start();
  }
  doAccept();
}

void ServerState::registerSession(const std::shared_ptr<Session>& session) {
  std::lock_guard lock(mutex);
  if (stopping) session->markStopping();
  sessions.emplace(session.get(), session);
}

void ServerState::unregisterSession(Session* session) {
  std::lock_guard lock(mutex);
  sessions.erase(session);
}

void ServerState::stop() {
  if (stopped.exchange(true)) return;
  asio::post(acceptor.get_executor(), [self = shared_from_this()] {
    error_code ignored;
    self->acceptor.close(ignored);
    self->accept_retry.cancel();
  });
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard lock(mutex);
    stopping = true;
    for (auto& [ptr, weak] : sessions) {
      if (auto s = weak.lock()) open.push_back(std::move(s));
    }
  }
  for (auto& s : open) s->postStop();
  log->info("stopped listening on {}", listen_text);
}

void ServerState::reportRefusal(const TlsRefusal& refusal) {
  // The peer subject is not logged: a client certificate may name a person.
  log->warn("TLS handshake from {} refused: {}", refusal.remote_address, refusal.reason);
  if (!options.on_tls_refused) return;
  try {
    options.on_tls_refused(refusal);
  } catch (const std::exception& e) {
    log->error("on_tls_refused callback threw: {}", e.what());
  }
}

class BeastHttpsServer final : public HttpsServer {
 public:
  BeastHttpsServer(std::shared_ptr<ServerState> state, std::uint16_t port) : state_(std::move(state)), port_(port) {}
  BeastHttpsServer(const BeastHttpsServer&) = delete;
  BeastHttpsServer& operator=(const BeastHttpsServer&) = delete;
  ~BeastHttpsServer() override { state_->stop(); }
  std::uint16_t port() const override { return port_; }
  void stop() override { state_->stop(); }
  std::size_t connectionCount() const override { return state_->connections.load(); }

 private:
  std::shared_ptr<ServerState> state_;
  std::uint16_t port_;
};

}  // namespace

Result<std::unique_ptr<HttpsServer>> HttpsServer::start(boost::asio::io_context& io, ServerOptions options,
                                                        HttpHandler handler) {
  const std::string listen = "'" + options.listen.host + ":" + std::to_string(options.listen.port) + "'";
  if (!handler) return fail("listener " + listen + " has no request handler");
  error_code ec;
  auto address = asio::ip::make_address(options.listen.host, ec);
  if (ec) {
    if (options.listen.host != "localhost") {
      return fail("listen address " + listen + " is not an IP address (use e.g. 127.0.0.1, 0.0.0.0 or [::1])");
    }
    address = asio::ip::address_v4::loopback();
  }
  const tcp::endpoint endpoint(address, options.listen.port);
  if (!options.tls && !address.is_loopback()) {
    return fail("listener " + listen + " has no TLS settings: plain HTTP is only allowed on a loopback address "
                "(127.0.0.1 or [::1]); add TLS settings or listen on loopback");
  }

  auto state = std::make_shared<ServerState>(io, std::move(options), std::move(handler));
  auto& acceptor = state->acceptor;
  const auto bindError = [&](const char* step) {
    return fail("cannot listen on " + endpointText(endpoint) + " (" + step + "): " + ec.message());
  };
  if (acceptor.open(endpoint.protocol(), ec)) return bindError("open");
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec)) return bindError("SO_REUSEADDR");
  if (state->options.reuse_port) {
    // SO_REUSEPORT (Linux 3.9+, socket(7)): a reloaded listener binds the same
    // port while the old one still accepts, so no connection is refused.
    const int one = 1;
    if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      ec.assign(errno, boost::system::system_category());
      return bindError("SO_REUSEPORT");
    }
  }
  if (acceptor.bind(endpoint, ec)) return bindError("bind");
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec)) return bindError("listen");
  const auto bound = acceptor.local_endpoint(ec);
  if (ec) return bindError("local_endpoint");
  state->listen_text = endpointText(bound);
  state->log->info("listening on {} ({})", state->listen_text,
                   state->ssl ? "HTTPS, client certificate required" : "plain HTTP, loopback only");
  // Accepting begins on the acceptor's strand like every later accept.
  asio::dispatch(acceptor.get_executor(), [state] { state->doAccept(); });
  return std::unique_ptr<HttpsServer>(std::make_unique<BeastHttpsServer>(state, bound.port()));
}

}  // namespace cb::net
