#include "net/http.h"

#include <charconv>

namespace cb::net {
namespace {

char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

Result<std::uint16_t> parsePort(std::string_view digits, std::string_view text) {
  if (digits.empty()) return fail("endpoint '" + std::string(text) + "' has no port after ':'");
  unsigned value = 0;
  const char* end = digits.data() + digits.size();
  auto [ptr, ec] = std::from_chars(digits.data(), end, value);
  if (ec != std::errc() || ptr != end || value > 65535) {
    return fail("endpoint '" + std::string(text) + "': port '" + std::string(digits) +
                "' is not a number from 0 to 65535");
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

const std::string* findHeader(const std::vector<HttpHeader>& headers, std::string_view name) {
  // Field names are case-insensitive (RFC 9110 section 5.1); values are not.
  for (const auto& h : headers) {
    if (equalsIgnoreCase(h.name, name)) return &h.value;
  }
  return nullptr;
}

Result<Endpoint> parseEndpoint(std::string_view text) {
  const std::string quoted = "endpoint '" + std::string(text) + "'";
  Endpoint out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    // IPv6 literal in brackets, as in a URI authority (RFC 3986 section 3.2.2).
    const auto close = text.find(']');
    if (close == std::string_view::npos) return fail(quoted + " opens '[' without a closing ']'");
    out.host = std::string(text.substr(1, close - 1));
    if (out.host.empty()) return fail(quoted + " has an empty address between '[' and ']'");
    const auto rest = text.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return fail(quoted + " needs ':port' after ']'");
    port_text = rest.substr(1);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail(quoted + " is not of the form host:port or [v6addr]:port");
    out.host = std::string(text.substr(0, colon));
    if (out.host.empty()) return fail(quoted + " has no host before ':'");
    if (out.host.find(':') != std::string::npos) {
      return fail(quoted + ": an IPv6 address must be written in brackets, e.g. [::1]:8443");
    }
    port_text = text.substr(colon + 1);
  }
  for (char c : out.host) {
    if (c == ' ' || c == '\t' || c == '/' || c == '[' || c == ']') {
      return fail(quoted + " has a host containing '" + std::string(1, c) + "'");
    }
  }
  auto port = parsePort(port_text, text);
  if (!port) return port.error();
  out.port = *port;
  return out;
}

}  // namespace cb::net
