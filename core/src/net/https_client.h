#pragma once
// An asynchronous HTTP/1.1 client over mutual TLS with a keep-alive
// connection pool per origin (scheme, host, port). Used by outbound adapters
// (through the plugin host) to deliver to partner systems.
//
// A TLS handshake with a client certificate costs ~1.7 ms of CPU, a request
// on an open connection ~25 us, so connections are reused: a request that
// finds none idle waits for whichever frees or opens first, and connections
// open two at a time while requests wait, up to `max_connections_per_origin`.
// A new connection resumes the TLS session of the origin's latest full
// handshake (within five minutes of it): no certificate to send, sign or
// verify, so a fraction of a full handshake's CPU on both sides.
//
// Retries: a request whose pooled connection turns out to have been closed by
// the server before any byte of a response arrived is sent once more on a new
// connection. That is safe only because carebridge's deliveries are
// idempotent by message id (partners discard duplicates); nothing else is
// retried here, the caller decides.
//
// Lifetime: destroy the client before its io_context. Destroying it (or
// stop()) completes every outstanding request with Cancelled; those
// callbacks run afterwards on an I/O thread, so what they capture must stay
// valid (or be held by shared/weak pointer) until they have run.

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
///  - Connect: no connection, or the connection was lost before a complete
///    response (refused, unreachable, reset, closed by the server);
///  - TlsVerification: a certificate was refused, by us (chain, expiry, CRL,
///    name, pin) or by the server (its alert about our certificate);
///  - Timeout: ClientRequest::timeout passed (queueing, connect, handshake,
///    write or read);
///  - Protocol: the URL, request or response broke the rules (bad URL,
///    http:// off loopback, malformed or oversized response, TLS failures
///    other than certificates such as no common protocol version);
///  - Cancelled: stop() was called (or the client destroyed) first.
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
// With TLS, the server is verified against `tls->settings().server_name`, or
// the URL's host when that is empty (an IP literal must be an iPAddress SAN).

class HttpsClient {
 public:
  static std::unique_ptr<HttpsClient> create(boost::asio::io_context& io, ClientOptions options);
  virtual ~HttpsClient() = default;
  /// Sends a request; the callback runs exactly once on an I/O thread (never
  /// inside this call). Safe from any thread.
  virtual void request(ClientRequest request, ClientCallback callback) = 0;
  /// Fails queued requests with Cancelled, closes connections. Idempotent.
  virtual void stop() = 0;
};

}  // namespace cb::net
