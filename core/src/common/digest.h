#pragma once
// SHA-256 and HMAC-SHA-256 through OpenSSL's EVP interface. Used for payload
// digests in the audit trail, keyed hashes of people's identifiers and
// Merkle tree hashing (RFC 9162 section 2.1).

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace cb {

using Sha256 = std::array<std::uint8_t, 32>;

Sha256 sha256(std::string_view data);
Sha256 sha256(std::span<const std::uint8_t> data);
/// HMAC-SHA-256 (RFC 2104) of data under key.
Sha256 hmacSha256(std::string_view key, std::string_view data);

std::string toHex(std::span<const std::uint8_t> bytes);
inline std::string toHex(const Sha256& d) { return toHex(std::span<const std::uint8_t>(d)); }
/// Parses lower- or upper-case hex; returns false on odd length or a non-hex digit.
bool fromHex(std::string_view hex, std::string& out);

std::string base64Encode(std::span<const std::uint8_t> bytes);
inline std::string base64Encode(std::string_view s) {
  return base64Encode(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}
/// Standard alphabet with padding (RFC 4648 section 4); false on malformed input.
bool base64Decode(std::string_view in, std::string& out);

}  // namespace cb
