#pragma once
// An asynchronous HTTP/1.1 client over mutual TLS with a keep-alive
// connection pool per origin (scheme, host, port). Used by outbound adapters
// (through the plugin host) to deliver to partner systems.
//
// A TLS handshake with a client certificate costs ~1.7 ms of CPU, a request
// on an open connection ~25 us, so connections are reused: at most
// `max_connections_per_origin` are opened, further requests queue for one.

#include "net/http.h"

#include <chrono>
#include <functional>
#include <memory>

namespace boost::asio {
class io_context;
}

namespace cb::net {

struct ClientRequest {
  std::string method = "POST";
  std::string url;  ///< "https://host:port/path?query" ("http://" only to loopback)
  std::vector<HttpHeader> headers;
  std::string body;
  std::chrono::milliseconds timeout{10000};  ///< connect + handshake + request + response
};

/// Why a request got no HTTP response at all.
struct TransportFailure {
  enum class Kind { Connect, TlsVerification, Timeout, Protocol, Cancelled } kind;
  std::string message;  ///< names the origin and the reason
};

/// Either an HTTP response (any status) or a transport failure.
struct ClientResult {
  std::optional<HttpResponse> response;
  std::optional<TransportFailure> failure;
};

using ClientCallback = std::function<void(ClientResult)>;

struct ClientOptions {
  std::shared_ptr<TlsContext> tls;  ///< required for https:// URLs
  std::size_t max_connections_per_origin = 8;
  std::size_t response_body_limit = 8 << 20;
  std::chrono::milliseconds idle_timeout{30000};  ///< pooled connections close after idling
  std::string log_name = "net";
};

class HttpsClient {
 public:
  static std::unique_ptr<HttpsClient> create(boost::asio::io_context& io, ClientOptions options);
  virtual ~HttpsClient() = default;
  /// Sends a request; the callback runs exactly once on an I/O thread.
  virtual void request(ClientRequest request, ClientCallback callback) = 0;
  /// Fails queued requests with Cancelled, closes connections. Idempotent.
  virtual void stop() = 0;
};

}  // namespace cb::net
