#pragma once
// Plain value types for HTTP messages as carebridge's components see them.
// Beast is an implementation detail of net/*.cpp and never appears here, so
// the many files that include this header stay cheap to compile.

#include "net/tls.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cb::net {

struct HttpHeader {
  std::string name;
  std::string value;
};

/// Case-insensitive header lookup (RFC 9110 section 5.1); nullptr if absent.
const std::string* findHeader(const std::vector<HttpHeader>& headers, std::string_view name);

struct HttpRequest {
  std::string method;  ///< "GET", "POST", ...
  std::string target;  ///< origin-form request target, e.g. "/records?x=1"
  std::vector<HttpHeader> headers;
  std::string body;
  PeerIdentity peer;   ///< filled by the server from the verified TLS session
  const std::string* header(std::string_view name) const { return findHeader(headers, name); }
};

struct HttpResponse {
  unsigned status = 200;
  std::vector<HttpHeader> headers;
  std::string body;
  const std::string* header(std::string_view name) const { return findHeader(headers, name); }
};

/// "host:port" or "[v6]:port" split; port 0 means "any free port" for a listener.
struct Endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
};

/// Parses "host:port" / "[v6addr]:port"; the error names the text at fault.
Result<Endpoint> parseEndpoint(std::string_view text);

}  // namespace cb::net
