#include "mesh_auth.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <ctime>
#include <stdexcept>

namespace cb::mesh_plugin {

namespace {

std::string hex(const unsigned char* data, std::size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 15];
  }
  return out;
}

}  // namespace

std::string meshTimestamp(std::int64_t unix_ms) {
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M", &tm);
  return buf;
}

std::string hmacSha256Hex(std::string_view key, std::string_view message) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
           message.size(), mac.data(), &len) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return hex(mac.data(), len);
}

std::string authorization(std::string_view mailbox, std::string_view nonce, std::uint64_t nonce_count,
                          std::string_view password, std::string_view timestamp, std::string_view shared_key) {
  const std::string count = std::to_string(nonce_count);
  std::string message;
  message.append(mailbox).append(":").append(nonce).append(":").append(count).append(":");
  message.append(password).append(":").append(timestamp);
  std::string header = "NHSMESH ";  // the scheme's trailing space matters; no colon after it
  header.append(mailbox).append(":").append(nonce).append(":").append(count).append(":").append(timestamp).append(":");
  return header + hmacSha256Hex(shared_key, message);
}

std::string newNonce() {
  std::array<unsigned char, 16> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) throw std::runtime_error("no random bytes for a nonce");
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4 (RFC 9562 section 5.4)
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // variant 10
  const std::string h = hex(b.data(), b.size());
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

}  // namespace cb::mesh_plugin
