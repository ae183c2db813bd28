#pragma once
// The NHSMESH authorization token of the MESH API (Message Exchange for
// Social Care and Health), "MESH Authorization header" in the public
// specification: https://digital.nhs.uk/developer/api-catalogue/message-exchange-for-social-care-and-health-api
// (source: github.com/NHSDigital/mesh-api-specification, specification/mesh-api.yaml).
//
//   Authorization: NHSMESH <mailbox_id>:<nonce>:<nonce_count>:<timestamp>:<hash>
//
// "NHSMESH " (with its space) is the scheme; mailbox_id is upper case; nonce
// is a GUID; nonce_count the number of times that nonce has been used;
// timestamp is yyyyMMddHHmm; hash is the lower-case hex HMAC-SHA256, keyed
// with the environment's shared secret, of
//   mailbox_id:nonce:nonce_count:mailbox_password:timestamp
// The server refuses a timestamp more than 2 hours from its own clock and a
// token used twice.

#include <cstdint>
#include <string>
#include <string_view>

namespace cb::mesh_plugin {

/// yyyyMMddHHmm in UTC for a Unix time in milliseconds, e.g. "202005041305".
std::string meshTimestamp(std::int64_t unix_ms);

/// Lower-case hex HMAC-SHA256 of `message` keyed with `key`.
std::string hmacSha256Hex(std::string_view key, std::string_view message);

/// The whole header value, "NHSMESH X26HC005:<nonce>:<count>:<timestamp>:<hash>".
std::string authorization(std::string_view mailbox, std::string_view nonce, std::uint64_t nonce_count,
                          std::string_view password, std::string_view timestamp, std::string_view shared_key);

/// A random (version 4) UUID from the OpenSSL CSPRNG, for the token's nonce.
std::string newNonce();

}  // namespace cb::mesh_plugin
