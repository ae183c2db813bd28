// Pooled HTTP/1.1 client over mutual TLS, after Beast's
// http_client_async_ssl example (SNI, verify_peer, host name verification),
// with a keep-alive pool per origin (RFC 6454 section 4: scheme, host, port).
//
// Retry policy: a request whose reused connection turns out to have been
// closed by the server (EOF, reset, broken pipe) before any byte of a response
// arrived is sent again, once, on a fresh connection. RFC 9112 section 9.3.1
// only allows automatic retries of idempotent requests; carebridge's POSTs are
// idempotent in effect because partners deduplicate deliveries by message id,
// so the worst case of a resend is a duplicate the receiver discards. Once any
// response byte has arrived, nothing is retried here: the caller decides.

#include "net/https_client.h"

#include "common/log.h"
#include "net/tls_session.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace cb::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace urls = boost::urls;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kResponseHeaderLimit = 64 * 1024;
// Connections of one origin in their TCP and TLS handshakes at once (see
// ClientCore::openForQueueLocked).
constexpr std::size_t kMaxOpeningPerOrigin = 2;
// How long after a full handshake its TLS session may be resumed by new
// connections to the same origin (RFC 8446 section 2.2). A resumed
// handshake skips certificate verification, so this bounds how stale that
// verification may be, like a pooled connection kept open; CA, CRL and pin
// changes make a new TLS context and so a new client with no sessions.
constexpr std::chrono::minutes kResumeWithin{5};

std::string lowerAscii(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool hasControlBytes(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return true;
  }
  return false;
}

bool isToken(std::string_view s) {
  // RFC 9110 section 5.6.2 tchar.
  static constexpr std::string_view kExtra = "!#$%&'*+-.^_`|~";
  if (s.empty()) return false;
  for (char c : s) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!alnum && kExtra.find(c) == std::string_view::npos) return false;
  }
  return true;
}

/// Where a request goes, from its URL.
struct Origin {
  bool tls = true;
  std::string host;         ///< name or IP literal, without brackets
  std::uint16_t port = 443;
  bool ip_literal = false;
  std::string key;          ///< "https://host:port", the pool key and the name used in messages
  std::string host_header;  ///< RFC 9110 section 7.2
};

struct ParsedUrl {
  Origin origin;
  std::string target;  ///< origin-form (RFC 9112 section 3.2.1)
};

Result<ParsedUrl> parseUrl(const std::string& url) {
  auto parsed = urls::parse_uri(url);
  if (!parsed) return fail("URL '" + url + "' is not an absolute URI: " + parsed.error().message());
  const urls::url_view u = *parsed;
  ParsedUrl out;
  if (u.scheme_id() == urls::scheme::https) {
    out.origin.tls = true;
  } else if (u.scheme_id() == urls::scheme::http) {
    out.origin.tls = false;
  } else {
    return fail("URL '" + url + "' must use https:// (or http:// to a loopback address)");
  }
  // Credentials in a URL would end up in logs and config files (RFC 3986 section 7.5).
  if (u.has_userinfo()) return fail("URL '" + url + "' must not contain user information");
  switch (u.host_type()) {
    case urls::host_type::ipv4:
      out.origin.host = u.host_ipv4_address().to_string();
      out.origin.ip_literal = true;
      break;
    case urls::host_type::ipv6:
      out.origin.host = u.host_ipv6_address().to_string();
      out.origin.ip_literal = true;
      break;
    case urls::host_type::name:
      out.origin.host = lowerAscii(u.host_name());
      // A DNS name (RFC 1123 section 2.1); percent-decoding must not smuggle
      // anything else into the resolver, SNI or the Host header.
      for (char c : out.origin.host) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
        if (!ok) return fail("URL '" + url + "' has a host that is not a DNS name or IP address");
      }
      break;
    default:
      return fail("URL '" + url + "' has no usable host");
  }
  if (out.origin.host.empty()) return fail("URL '" + url + "' has an empty host");
  const std::uint16_t default_port = out.origin.tls ? 443 : 80;
  out.origin.port = default_port;
  if (u.has_port() && !u.port().empty()) {
    if (u.port_number() == 0) return fail("URL '" + url + "' has a port outside 1-65535");
    out.origin.port = u.port_number();
  }
  if (!out.origin.tls) {
    error_code ec;
    const auto address = asio::ip::make_address(out.origin.host, ec);
    const bool loopback = ec ? out.origin.host == "localhost" : address.is_loopback();
    if (!loopback) return fail("URL '" + url + "' uses plain http:// to a non-loopback host; use https://");
  }
  const auto path = u.encoded_path();
  out.target = path.empty() ? std::string("/") : std::string(path.data(), path.size());
  if (u.has_query()) {
    const auto query = u.encoded_query();
    out.target += '?';
    out.target.append(query.data(), query.size());
  }
  const std::string bracketed =
      u.host_type() == urls::host_type::ipv6 ? "[" + out.origin.host + "]" : out.origin.host;
  const std::string port_text = std::to_string(out.origin.port);
  out.origin.key = (out.origin.tls ? "https://" : "http://") + bracketed + ":" + port_text;
  out.origin.host_header = out.origin.port == default_port ? bracketed : bracketed + ":" + port_text;
  return out;
}

/// One request from request() to its callback.
struct Exchange {
  http::request<http::string_body> message;
  ClientCallback callback;
  Clock::time_point deadline;
  std::chrono::milliseconds timeout{0};
  bool close_after = false;  ///< the caller asked for "Connection: close"
  bool head = false;
  bool retried = false;      ///< touched only by the connection running it
  std::atomic<bool> done{false};
  std::optional<asio::steady_timer> queue_timer;  ///< guarded by ClientCore::mutex

  /// Runs the callback unless it already ran: exactly once, whatever races
  /// (timeout, stop, completion) end the exchange.
  void finish(ClientResult result, spdlog::logger& log) {
    if (done.exchange(true)) return;
    ClientCallback cb = std::move(callback);
    try {
      cb(std::move(result));
    } catch (const std::exception& e) {
      log.error("HTTP client callback threw: {}", e.what());
    } catch (...) {
      log.error("HTTP client callback threw a non-standard exception");
    }
  }
};

ClientResult failure(TransportFailure::Kind kind, std::string message) {
  ClientResult r;
  r.failure = TransportFailure{kind, std::move(message)};
  return r;
}

class Connection;

/// Connections and queued requests of one origin, guarded by ClientCore::mutex.
struct Pool {
  Origin origin;
  std::string verify_name;
  std::vector<std::shared_ptr<Connection>> idle;  ///< most recently used last
  std::deque<std::shared_ptr<Exchange>> queue;
  std::size_t open = 0;                           ///< idle + busy + connecting
  std::size_t connecting = 0;                     ///< opened for the queue, not yet connected
  /// The session of the latest full handshake with this origin, and when it
  /// arrived; new connections resume it within kResumeWithin.
  std::shared_ptr<SSL_SESSION> session;
  Clock::time_point session_at;
};

struct ClientCore : std::enable_shared_from_this<ClientCore> {
  ClientCore(asio::io_context& io_context, ClientOptions opts)
      : io(io_context), options(std::move(opts)), log(cb::log::get(options.log_name)) {
    if (options.max_connections_per_origin == 0) options.max_connections_per_origin = 1;
    if (options.tls) {
      auto* native = static_cast<SSL_CTX*>(options.tls->native());
      SSL_CTX_up_ref(native);  // released by the asio::ssl::context wrapper
      ssl.emplace(native);
    }
  }

  void submit(const std::shared_ptr<Pool>& pool, const std::shared_ptr<Exchange>& exchange);
  /// A connection finished an exchange (or, `was_connecting`, opened for
  /// the queue): it takes the next queued request or goes idle.
  void release(const std::shared_ptr<Connection>& conn, bool reusable, bool was_connecting = false);
  void connected(const std::shared_ptr<Connection>& conn);
  void connectFailed(const std::shared_ptr<Connection>& conn, ClientResult failure);
  void keepSession(Pool& pool, SSL_SESSION* session);
  std::shared_ptr<SSL_SESSION> sessionFor(Pool& pool);
  void retryFresh(const std::shared_ptr<Connection>& conn, const std::shared_ptr<Exchange>& exchange);
  bool retireIdle(const std::shared_ptr<Connection>& conn, std::uint64_t epoch);
  void expireQueued(const std::shared_ptr<Pool>& pool, const std::shared_ptr<Exchange>& exchange);
  void stop();
  std::shared_ptr<Pool> poolFor(const Origin& origin);
  void postFinish(std::shared_ptr<Exchange> exchange, ClientResult result) {
    asio::post(io, [self = shared_from_this(), exchange = std::move(exchange), r = std::move(result)]() mutable {
      exchange->finish(std::move(r), *self->log);
    });
  }

  // Called with mutex held.
  std::shared_ptr<Connection> openLocked(const std::shared_ptr<Pool>& pool);
  /// Connections opened for a pool's queue, to start outside the lock with
  /// the deadline of the newest request waiting (whose arrival opened them).
  struct Opened {
    std::vector<std::shared_ptr<Connection>> connections;
    Clock::time_point deadline;
    std::chrono::milliseconds timeout{0};
    void start() const;
  };
  Opened openForQueueLocked(const std::shared_ptr<Pool>& pool);
  std::shared_ptr<Exchange> popQueuedLocked(Pool& pool);
  void forgetLocked(Pool& pool, Connection* conn);

  asio::io_context& io;
  ClientOptions options;
  std::shared_ptr<spdlog::logger> log;
  std::optional<asio::ssl::context> ssl;

  std::mutex mutex;
  bool stopped = false;                                                  // guarded by mutex
  std::map<std::string, std::shared_ptr<Pool>> pools;                   // guarded by mutex
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections;  // guarded by mutex
};

/// One connection to an origin; runs one exchange at a time on its strand.
class Connection : public std::enable_shared_from_this<Connection>, private detail::SessionSink {
 public:
  Connection(std::shared_ptr<ClientCore> core, std::shared_ptr<Pool> pool)
      : core_(std::move(core)),
        pool_(std::move(pool)),
        strand_(asio::make_strand(core_->io)),
        resolver_(strand_),
        timer_(strand_) {
    if (pool_->origin.tls) {
      tls_.emplace(strand_, *core_->ssl);
    } else {
      plain_.emplace(strand_);
    }
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Pool& pool() { return *pool_; }
  const std::shared_ptr<Pool>& poolPtr() const { return pool_; }
  std::uint64_t idle_epoch = 0;  // guarded by ClientCore::mutex

  /// Runs `exchange` on this connection (thread-safe).
  void run(std::shared_ptr<Exchange> exchange) {
    asio::post(strand_, [self = shared_from_this(), exchange = std::move(exchange)]() mutable {
      self->timer_.cancel();
      self->current_ = std::move(exchange);
      if (self->closed_ || self->aborted_) {
        return self->fail(TransportFailure::Kind::Cancelled, "request to " + self->pool_->origin.key + " cancelled");
      }
      self->deadline_ = self->current_->deadline;
      self->timeout_ = self->current_->timeout;
      if (self->connected_) return self->write();
      self->connect();
    });
  }

  /// Connects (and shakes hands) for the pool's queue without a request of
  /// its own: once connected it takes the oldest queued request, if one is
  /// still waiting (ClientCore::connected). `deadline` and `timeout` are
  /// those of the request whose arrival opened it (thread-safe).
  void start(Clock::time_point deadline, std::chrono::milliseconds timeout) {
    asio::post(strand_, [self = shared_from_this(), deadline, timeout] {
      self->deadline_ = deadline;
      self->timeout_ = timeout;
      if (self->closed_ || self->aborted_) return self->failCancelled();
      self->connect();
    });
  }

  /// Starts the idle timer after the connection went back to the pool.
  void idleFrom(std::uint64_t epoch) {
    timer_.expires_after(core_->options.idle_timeout);
    timer_.async_wait([self = shared_from_this(), epoch](const error_code& ec) {
      if (ec) return;
      if (self->core_->retireIdle(self, epoch)) self->closeNow();
    });
  }

  /// Cancels whatever the connection is doing and closes it (thread-safe).
  void abort() {
    asio::post(strand_, [self = shared_from_this()] {
      self->aborted_ = true;
      self->resolver_.cancel();
      self->timer_.cancel();
      self->closeNow();
    });
  }

  void closeNow() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    tcp().close();
  }

 private:
  using TlsStream = beast::ssl_stream<beast::tcp_stream>;

  beast::tcp_stream& tcp() { return tls_ ? beast::get_lowest_layer(*tls_) : *plain_; }

  template <class F>
  void withStream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*plain_);
    }
  }

  const std::string& origin() const { return pool_->origin.key; }

  void keepSession(SSL_SESSION* session) override { core_->keepSession(*pool_, session); }

  void connect() {
    const auto& o = pool_->origin;
    if (o.ip_literal) {
      const tcp::endpoint ep(asio::ip::make_address(o.host), o.port);
      return connectTo(std::vector<tcp::endpoint>{ep});
    }
    // The resolver has no deadline of its own; the timer bounds it.
    timer_.expires_at(deadline_);
    timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec) self->resolver_.cancel();
    });
    resolver_.async_resolve(o.host, std::to_string(o.port),
                            [self = shared_from_this()](const error_code& ec, tcp::resolver::results_type results) {
                              self->timer_.cancel();
                              if (ec) {
                                if (self->aborted_) return self->failCancelled();
                                if (Clock::now() >= self->deadline_) return self->failTimeout("resolving");
                                return self->fail(TransportFailure::Kind::Connect,
                                                  "cannot resolve " + self->origin() + ": " + ec.message());
                              }
                              self->connectTo(std::vector<tcp::endpoint>(results.begin(), results.end()));
                            });
  }

  void connectTo(std::vector<tcp::endpoint> endpoints) {
    tcp().expires_at(deadline_);
    tcp().async_connect(endpoints, [self = shared_from_this()](const error_code& ec, const tcp::endpoint&) {
      self->onConnect(ec);
    });
  }

  void onConnect(const error_code& ec) {
    if (ec) {
      if (aborted_) return failCancelled();
      if (ec == beast::error::timeout) return failTimeout("connecting");
      return fail(TransportFailure::Kind::Connect, "cannot connect to " + origin() + ": " + ec.message());
    }
    error_code ignored;
    tcp().socket().set_option(tcp::no_delay(true), ignored);
    if (!tls_) return onConnected();
    SSL* ssl = tls_->native_handle();
    detail::attachVerifyNote(ssl, &note_);
    detail::attachSessionSink(ssl, this);
    if (auto prepared = detail::prepareClientSession(ssl, pool_->verify_name); !prepared) {
      return fail(TransportFailure::Kind::TlsVerification,
                  "TLS with " + origin() + " not attempted: " + prepared.error().message);
    }
    if (auto session = core_->sessionFor(*pool_)) {
      // A copy per connection: OpenSSL marks a connection's session not
      // resumable when the connection ends without close_notify, which
      // must not spoil the one the pool keeps.
      if (SSL_SESSION* copy = SSL_SESSION_dup(session.get())) {
        SSL_set_session(ssl, copy);  // takes its own reference
        SSL_SESSION_free(copy);
      }
    }
    tls_->async_handshake(asio::ssl::stream_base::client,
                          [self = shared_from_this()](const error_code& hec) { self->onHandshake(hec); });
  }

  void onHandshake(const error_code& ec) {
    if (ec) {
      if (aborted_) return failCancelled();
      if (ec == beast::error::timeout) return failTimeout("in the TLS handshake");
      return failTls(ec, "TLS handshake with ");
    }
    onConnected();
  }

  void onConnected() {
    connected_ = true;
    if (current_) return write();
    core_->connected(shared_from_this());
  }

  void write() {
    tcp().expires_at(current_->deadline);
    withStream([this](auto& stream) {
      http::async_write(stream, current_->message, [self = shared_from_this()](const error_code& ec, std::size_t) {
        if (ec) return self->onTransportError(ec, false);
        self->read();
      });
    });
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(core_->options.response_body_limit);
    parser_->header_limit(kResponseHeaderLimit);
    if (current_->head) parser_->skip(true);  // RFC 9110 section 9.3.2: no content follows
    withStream([this](auto& stream) {
      http::async_read(stream, buffer_, *parser_, [self = shared_from_this()](const error_code& ec, std::size_t) {
        self->onRead(ec);
      });
    });
  }

  void onRead(const error_code& ec) {
    if (ec) {
      if (ec == http::error::body_limit) {
        return fail(TransportFailure::Kind::Protocol, "response from " + origin() + " exceeds " +
                                                          std::to_string(core_->options.response_body_limit) +
                                                          " bytes (response_body_limit)");
      }
      const bool http_error = ec.category() == http::make_error_code(http::error::bad_method).category();
      if (http_error && ec != http::error::end_of_stream && ec != http::error::partial_message) {
        return fail(TransportFailure::Kind::Protocol, "malformed response from " + origin() + ": " + ec.message());
      }
      return onTransportError(ec, parser_->got_some());
    }
    auto& msg = parser_->get();
    // Interim responses (RFC 9110 section 15.2) precede the final one.
    if (msg.result_int() >= 100 && msg.result_int() < 200 && msg.result() != http::status::switching_protocols) {
      return read();
    }
    ClientResult result;
    HttpResponse response;
    response.status = msg.result_int();
    for (const auto& field : msg) {
      response.headers.push_back(HttpHeader{std::string(field.name_string()), std::string(field.value())});
    }
    response.body = std::move(msg.body());
    result.response = std::move(response);
    const bool reusable = msg.keep_alive() && !current_->close_after && buffer_.size() == 0;
    parser_.reset();
    ++exchanges_;
    finish(std::move(result), reusable);
  }

  void onTransportError(const error_code& ec, bool received) {
    if (aborted_) return failCancelled();
    if (ec == beast::error::timeout) return failTimeout("waiting for the response");
    // A pooled connection the server closed while it idled: nothing of a
    // response arrived, so the request is sent again once on a new
    // connection (see the retry policy at the top of this file).
    if (!received && exchanges_ > 0 && !current_->retried) {
      core_->log->debug("connection to {} was closed by the server ({}); retrying on a new connection", origin(),
                        ec.message());
      current_->retried = true;
      closeNow();
      return core_->retryFresh(shared_from_this(), std::move(current_));
    }
    if (tls_ && detail::isTlsLayerError(ec) && ec != asio::ssl::error::stream_truncated) {
      return failTls(ec, "TLS exchange with ");
    }
    fail(TransportFailure::Kind::Connect,
         "connection to " + origin() + " lost " + (received ? "during" : "before") + " the response: " + ec.message());
  }

  void failTls(const error_code& ec, const char* what) {
    const auto f = detail::describeTlsFailure(tls_->native_handle(), ec, note_);
    if (f.certificate) {
      core_->log->warn("{}{} failed certificate verification: {}", what, origin(), f.reason);
      return fail(TransportFailure::Kind::TlsVerification, what + origin() + " failed: " + f.reason);
    }
    if (ec == asio::ssl::error::stream_truncated || !detail::isTlsLayerError(ec)) {
      return fail(TransportFailure::Kind::Connect, what + origin() + " failed: " + f.reason);
    }
    fail(TransportFailure::Kind::Protocol, what + origin() + " failed: " + f.reason);
  }

  void failTimeout(const char* stage) {
    fail(TransportFailure::Kind::Timeout, "no response from " + origin() + " within " +
                                              std::to_string(timeout_.count()) + " ms (timed out " + stage +
                                              ")");
  }

  void failCancelled() {
    fail(TransportFailure::Kind::Cancelled, "request to " + origin() + " cancelled: the client stopped");
  }

  void fail(TransportFailure::Kind kind, std::string message) {
    core_->log->debug("request failed: {}", message);
    closeNow();
    // Opened for the queue and failed before it took a request: the failure
    // goes to the oldest request waiting, as if it had opened it.
    if (!current_) return core_->connectFailed(shared_from_this(), failure(kind, std::move(message)));
    finish(failure(kind, std::move(message)), false);
  }

  /// Gives the connection back (or closes it) before running the callback, so
  /// a callback that sends the next request finds the connection idle.
  void finish(ClientResult result, bool reusable) {
    auto exchange = std::move(current_);
    if (!reusable) closeNow();
    core_->release(shared_from_this(), reusable && !closed_);
    if (exchange) exchange->finish(std::move(result), *core_->log);
  }

  std::shared_ptr<ClientCore> core_;
  std::shared_ptr<Pool> pool_;
  asio::strand<asio::io_context::executor_type> strand_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;  ///< resolve deadline, then idle timeout
  std::optional<TlsStream> tls_;
  std::optional<beast::tcp_stream> plain_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  std::shared_ptr<Exchange> current_;
  Clock::time_point deadline_;          ///< of connecting: the request's, or the one that opened it
  std::chrono::milliseconds timeout_{0};  ///< the same request's timeout, for messages
  detail::VerifyNote note_;
  std::uint64_t exchanges_ = 0;
  bool connected_ = false;
  bool closed_ = false;
  bool aborted_ = false;
};

std::shared_ptr<Connection> ClientCore::openLocked(const std::shared_ptr<Pool>& pool) {
  ++pool->open;
  auto conn = std::make_shared<Connection>(shared_from_this(), pool);
  connections.emplace(conn.get(), conn);
  return conn;
}

std::shared_ptr<Exchange> ClientCore::popQueuedLocked(Pool& pool) {
  while (!pool.queue.empty()) {
    auto next = std::move(pool.queue.front());
    pool.queue.pop_front();
    if (next->queue_timer) next->queue_timer->cancel();
    if (!next->done.load()) return next;
  }
  return nullptr;
}

void ClientCore::forgetLocked(Pool& pool, Connection* conn) {
  --pool.open;
  connections.erase(conn);
  std::erase_if(pool.idle, [conn](const std::shared_ptr<Connection>& c) { return c.get() == conn; });
}

// Requests that find no idle connection wait in the pool's queue and are
// not tied to the connection their arrival opens: whichever connection is
// free first takes the oldest, a pooled one finishing its exchange (about
// 0.1 ms on loopback) or the new one finishing its handshake (about 1 ms
// of CPU per side with OpenSSL 3.0, far more while many open at once). A
// connection is opened only while more requests wait than connections are
// being opened for them, at most kMaxOpeningPerOrigin at a time and
// max_connections_per_origin in all. Opening every connection at once when
// a burst arrives (64 in the pipeline benchmark at start) made each
// handshake wait for the CPU behind the others, so the queue grew faster
// than connections opened; a few at a time reach the connections the load
// needs within a few handshakes.
ClientCore::Opened ClientCore::openForQueueLocked(const std::shared_ptr<Pool>& pool) {
  Opened opened;
  if (stopped || pool->queue.empty()) return opened;
  opened.deadline = pool->queue.back()->deadline;
  opened.timeout = pool->queue.back()->timeout;
  while (pool->queue.size() > pool->connecting && pool->connecting < kMaxOpeningPerOrigin &&
         pool->open < options.max_connections_per_origin) {
    ++pool->connecting;
    opened.connections.push_back(openLocked(pool));
  }
  return opened;
}

void ClientCore::Opened::start() const {
  for (const auto& conn : connections) conn->start(deadline, timeout);
}

void ClientCore::submit(const std::shared_ptr<Pool>& pool, const std::shared_ptr<Exchange>& exchange) {
  std::shared_ptr<Connection> conn;
  Opened opened;
  bool queued = false;
  {
    std::lock_guard lock(mutex);
    if (stopped) {
      // fall through to the Cancelled callback below, outside the lock
    } else if (!pool->idle.empty()) {
      conn = std::move(pool->idle.back());
      pool->idle.pop_back();
      ++conn->idle_epoch;
    } else {
      // No idle connection: wait for one, bounded by the request's own deadline.
      pool->queue.push_back(exchange);
      exchange->queue_timer.emplace(io);
      exchange->queue_timer->expires_at(exchange->deadline);
      exchange->queue_timer->async_wait([weak_self = weak_from_this(), pool, weak = std::weak_ptr(exchange)](
                                            const error_code& ec) {
        if (ec) return;
        auto self = weak_self.lock();
        auto ex = weak.lock();
        if (self && ex) self->expireQueued(pool, ex);
      });
      queued = true;
      opened = openForQueueLocked(pool);
    }
  }
  if (queued) return opened.start();
  if (!conn) {
    return postFinish(exchange, failure(TransportFailure::Kind::Cancelled,
                                        "request to " + pool->origin.key + " cancelled: the client stopped"));
  }
  conn->run(exchange);
}

void ClientCore::release(const std::shared_ptr<Connection>& conn, bool reusable, bool was_connecting) {
  std::shared_ptr<Exchange> next;
  Opened opened;
  bool idle = false;
  std::uint64_t epoch = 0;
  {
    std::lock_guard lock(mutex);
    const auto& pool = conn->poolPtr();
    if (was_connecting) --pool->connecting;
    if (stopped || !reusable) {
      forgetLocked(*pool, conn.get());
      opened = openForQueueLocked(pool);  // its slot is free for a request still waiting
    } else if ((next = popQueuedLocked(*pool))) {
      // Runs on this connection below; a connection that just opened makes
      // room for the next one to open if requests still wait.
      if (was_connecting) opened = openForQueueLocked(pool);
    } else {
      pool->idle.push_back(conn);
      epoch = ++conn->idle_epoch;
      idle = true;
    }
  }
  opened.start();
  if (next) conn->run(std::move(next));
  if (idle) conn->idleFrom(epoch);
}

void ClientCore::connected(const std::shared_ptr<Connection>& conn) { release(conn, true, true); }

void ClientCore::connectFailed(const std::shared_ptr<Connection>& conn, ClientResult result) {
  std::shared_ptr<Exchange> next;
  Opened opened;
  {
    std::lock_guard lock(mutex);
    const auto& pool = conn->poolPtr();
    --pool->connecting;
    forgetLocked(*pool, conn.get());
    if (!stopped) {
      next = popQueuedLocked(*pool);
      opened = openForQueueLocked(pool);
    }
  }
  opened.start();
  if (next) {
    next->finish(std::move(result), *log);
  } else if (result.failure) {
    log->debug("a connection opened for queued requests failed after they were served: {}", result.failure->message);
  }
}

void ClientCore::retryFresh(const std::shared_ptr<Connection>& conn, const std::shared_ptr<Exchange>& exchange) {
  std::shared_ptr<Connection> fresh;
  {
    std::lock_guard lock(mutex);
    const auto& pool = conn->poolPtr();
    forgetLocked(*pool, conn.get());
    // The stale connection's slot is free again, so the fresh one never
    // exceeds max_connections_per_origin.
    if (!stopped) fresh = openLocked(pool);
  }
  if (!fresh) {
    return exchange->finish(failure(TransportFailure::Kind::Cancelled,
                                    "request to " + conn->pool().origin.key + " cancelled: the client stopped"),
                            *log);
  }
  fresh->run(exchange);
}

void ClientCore::keepSession(Pool& pool, SSL_SESSION* session) {
  // Kept as a copy for the same reason as in Connection::onConnect: this
  // object stays the connection's session until it ends.
  std::shared_ptr<SSL_SESSION> kept(SSL_SESSION_dup(session), SSL_SESSION_free);
  SSL_SESSION_free(session);
  if (!kept) return;
  std::lock_guard lock(mutex);
  pool.session = std::move(kept);
  pool.session_at = Clock::now();
}

std::shared_ptr<SSL_SESSION> ClientCore::sessionFor(Pool& pool) {
  std::lock_guard lock(mutex);
  if (!pool.session) return nullptr;
  if (Clock::now() - pool.session_at > kResumeWithin || SSL_SESSION_is_resumable(pool.session.get()) != 1) {
    pool.session.reset();
    return nullptr;
  }
  return pool.session;
}

bool ClientCore::retireIdle(const std::shared_ptr<Connection>& conn, std::uint64_t epoch) {
  std::lock_guard lock(mutex);
  Pool& pool = conn->pool();
  const bool idle = std::find(pool.idle.begin(), pool.idle.end(), conn) != pool.idle.end();
  if (!idle || conn->idle_epoch != epoch) return false;  // reused (or already closed) meanwhile
  forgetLocked(pool, conn.get());
  return true;
}

void ClientCore::expireQueued(const std::shared_ptr<Pool>& pool, const std::shared_ptr<Exchange>& exchange) {
  bool opening = false;
  {
    std::lock_guard lock(mutex);
    auto it = std::find(pool->queue.begin(), pool->queue.end(), exchange);
    if (it == pool->queue.end()) return;  // dequeued just before the deadline
    pool->queue.erase(it);
    opening = pool->connecting > 0;
  }
  exchange->finish(failure(TransportFailure::Kind::Timeout,
                           "no response from " + pool->origin.key + " within " +
                               std::to_string(exchange->timeout.count()) + " ms (timed out waiting for " +
                               (opening ? "a connection to open)" : "a free connection)")),
                   *log);
}

void ClientCore::stop() {
  std::vector<std::shared_ptr<Exchange>> queued;
  std::vector<std::shared_ptr<Connection>> open;
  {
    std::lock_guard lock(mutex);
    if (stopped) return;
    stopped = true;
    for (auto& [ptr, weak] : connections) {
      if (auto conn = weak.lock()) open.push_back(std::move(conn));
    }
    for (auto& [key, pool] : pools) {
      for (auto& exchange : pool->queue) {
        if (exchange->queue_timer) exchange->queue_timer->cancel();
        queued.push_back(std::move(exchange));
      }
      pool->queue.clear();
      for (auto& conn : pool->idle) connections.erase(conn.get());
      pool->open -= pool->idle.size();
      pool->idle.clear();
    }
  }
  // Busy connections finish their exchange with Cancelled when aborted (and
  // then leave the pool through release()); idle ones just close.
  for (auto& exchange : queued) {
    postFinish(std::move(exchange),
               failure(TransportFailure::Kind::Cancelled, "request cancelled: the client stopped"));
  }
  for (auto& conn : open) conn->abort();
}

std::shared_ptr<Pool> ClientCore::poolFor(const Origin& origin) {
  std::lock_guard lock(mutex);
  auto& pool = pools[origin.key];
  if (!pool) {
    pool = std::make_shared<Pool>();
    pool->origin = origin;
    const std::string& configured = options.tls ? options.tls->settings().server_name : std::string();
    pool->verify_name = configured.empty() ? origin.host : configured;
  }
  return pool;
}

class BeastHttpsClient final : public HttpsClient {
 public:
  BeastHttpsClient(asio::io_context& io, ClientOptions options)
      : core_(std::make_shared<ClientCore>(io, std::move(options))) {}
  BeastHttpsClient(const BeastHttpsClient&) = delete;
  BeastHttpsClient& operator=(const BeastHttpsClient&) = delete;
  ~BeastHttpsClient() override { core_->stop(); }

  void request(ClientRequest request, ClientCallback callback) override {
    auto exchange = std::make_shared<Exchange>();
    exchange->callback = std::move(callback);
    exchange->timeout = request.timeout;
    exchange->deadline = Clock::now() + request.timeout;
    const auto protocolError = [&](std::string message) {
      core_->postFinish(exchange, failure(TransportFailure::Kind::Protocol, std::move(message)));
    };

    auto parsed = parseUrl(request.url);
    if (!parsed) return protocolError(parsed.error().message);
    const Origin& origin = parsed->origin;
    if (origin.tls && !core_->ssl) {
      return protocolError("request to " + origin.key + " needs TLS settings, and this client has none");
    }
    if (!isToken(request.method)) return protocolError("request to " + origin.key + " has an invalid method");

    auto& msg = exchange->message;
    msg.version(11);
    const auto verb = http::string_to_verb(request.method);
    if (verb == http::verb::unknown) {
      msg.method_string(request.method);
    } else {
      msg.method(verb);
    }
    exchange->head = verb == http::verb::head;
    msg.target(parsed->target);
    msg.set(http::field::host, origin.host_header);
    for (const auto& h : request.headers) {
      if (!isToken(h.name) || hasControlBytes(h.value)) {
        return protocolError("request to " + origin.key + " has an invalid header field '" + h.name + "'");
      }
      // Framing, Host and connection management belong to this client (RFC 9112 sections 6 and 9).
      if (beast::iequals(h.name, "Host") || beast::iequals(h.name, "Content-Length") ||
          beast::iequals(h.name, "Transfer-Encoding") || beast::iequals(h.name, "Keep-Alive")) {
        continue;
      }
      if (beast::iequals(h.name, "Connection")) {
        if (lowerAscii(h.value).find("close") != std::string::npos) exchange->close_after = true;
        continue;
      }
      msg.insert(h.name, h.value);
    }
    msg.body() = std::move(request.body);
    msg.prepare_payload();
    msg.keep_alive(!exchange->close_after);

    core_->submit(core_->poolFor(origin), exchange);
  }

  void stop() override { core_->stop(); }

 private:
  std::shared_ptr<ClientCore> core_;
};

}  // namespace

std::unique_ptr<HttpsClient> HttpsClient::create(boost::asio::io_context& io, ClientOptions options) {
  return std::make_unique<BeastHttpsClient>(io, std::move(options));
}

}  // namespace cb::net
