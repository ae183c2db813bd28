#pragma once
// An asynchronous HTTP/1.1 server over mutual TLS (or plain HTTP on loopback
// for the admin listener when no TLS is configured).
//
// Lifetime and threads: the server runs on the io_context it is given (the
// daemon runs that context on a small thread pool). A handler is called on an
// I/O thread and must not block: it may finish the exchange later, from any
// thread, by calling the Responder exactly once. A connection keeps at most
// one request in flight (HTTP/1.1 without pipelining), so per-connection
// order is preserved. Destroy the server before its io_context; destroying it
// calls stop().

#include "net/http.h"

#include <chrono>
#include <functional>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace cb::net {

/// Completes one exchange. Copyable, callable from any thread; only the
/// first call has effect. If the last copy is destroyed uncalled, the client
/// gets 500 and the connection closes; if it is not called within
/// handler_timeout, the client gets 503 and later calls are ignored.
using Responder = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(HttpRequest&&, Responder)>;

/// Called when a TLS handshake is refused (no client certificate, wrong CA,
/// expired, revoked, pin mismatch). The reason is OpenSSL's verify error text.
struct TlsRefusal {
  std::string remote_address;
  std::string reason;
  std::string peer_subject;  ///< if a certificate was presented
};
using TlsRefusalHandler = std::function<void(const TlsRefusal&)>;

struct ServerLimits {
  std::size_t body_limit = 1 << 20;                    ///< larger bodies get 413 and the connection closes
  std::size_t header_limit = 16 * 1024;                ///< larger headers get 431
  std::chrono::milliseconds handshake_timeout{10000};  ///< TLS handshake must finish within
  std::chrono::milliseconds read_timeout{30000};       ///< a whole request must arrive within (and a response be taken);
                                                       ///< also the wait for a connection's first request
  std::chrono::milliseconds idle_timeout{60000};       ///< keep-alive connection closes after idling
  std::chrono::milliseconds handler_timeout{60000};    ///< a handler that never responds: 503 and close
  std::size_t max_connections = 1024;                  ///< further connections are accepted and closed at once
};

struct ServerOptions {
  Endpoint listen;
  std::shared_ptr<TlsContext> tls;  ///< nullptr: plain HTTP, refused unless `listen` is a loopback address
  ServerLimits limits;
  std::string log_name = "net";     ///< logger used for this listener's lines
  TlsRefusalHandler on_tls_refused;  ///< optional
  bool reuse_port = true;           ///< SO_REUSEPORT so a reload can bind before the old listener closes
};

class HttpsServer {
 public:
  /// Binds and starts accepting. Fails (with the endpoint named) if the
  /// address cannot be bound or plain HTTP is asked for on a non-loopback address.
  static Result<std::unique_ptr<HttpsServer>> start(boost::asio::io_context& io, ServerOptions options,
                                                    HttpHandler handler);
  virtual ~HttpsServer() = default;
  /// The bound port (useful when listening on port 0 in tests).
  virtual std::uint16_t port() const = 0;
  /// Stops accepting and closes idle connections; requests already being
  /// handled may still respond. Idempotent. Safe from any thread.
  virtual void stop() = 0;
  /// Number of open connections (for metrics). Safe from any thread.
  virtual std::size_t connectionCount() const = 0;
};

}  // namespace cb::net
