// SPKI pinning for OpenSSL contexts (RFC 7469 pin format "sha256/<base64>"),
// header-only so that the daemon's HTTPS (core/src/net/tls.cpp) and plugins
// that terminate TLS themselves with OpenSSL (plugins/hl7v2) run the same
// check on the same `[adapter.tls] pins` (plugin_abi.h, cb_tls_settings).
//
// Usage in a plugin:
//   if (auto err = cb::sdk::pins::attach(ctx, settings.pins); !err.empty()) throw cb::sdk::ConfigError(err);
//   SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | ..., cb::sdk::pins::verifyCallback);
// or, with a verify callback of your own, call leafMatches() at depth 0.
//
// Optional part of the SDK: plugin_sdk.hpp does not include it, so a plugin
// that uses another TLS library (or none) does not depend on OpenSSL.
// OWNERSHIP: the pin set attached to an SSL_CTX is owned by that SSL_CTX and
// freed with it, so a verify callback can never see a dangling pointer,
// whichever user of the context releases it last.
#pragma once

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cb::sdk::pins {

/// SHA-256 of a DER SubjectPublicKeyInfo.
using SpkiDigest = std::array<std::uint8_t, 32>;

namespace detail {

struct PinSet {
  std::vector<SpkiDigest> digests;
};

inline void freePinSet(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/,
                       void* /*argp*/) {
  delete static_cast<PinSet*>(ptr);
}

/// One ex_data slot per copy of this header's user (the daemon, each plugin:
/// plugins are loaded RTLD_LOCAL with hidden symbols, so each has its own).
inline int pinIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, freePinSet);
  return index;
}

}  // namespace detail

/// Parses "sha256/<base64 of 32 bytes>" (RFC 7469 section 2.4, pin-sha256).
/// Returns nullopt with `error` set when malformed.
inline std::optional<SpkiDigest> parse(std::string_view pin, std::string& error) {
  static constexpr std::string_view kPrefix = "sha256/";
  if (pin.substr(0, kPrefix.size()) != kPrefix) {
    error = "TLS pin '" + std::string(pin) + "' must start with 'sha256/' (RFC 7469 pin-sha256)";
    return std::nullopt;
  }
  const std::string_view b64 = pin.substr(kPrefix.size());
  // 32 bytes are exactly 44 base64 characters ending in one '=' (RFC 4648
  // section 4). EVP_DecodeBlock counts the padding as a zero byte (33) and
  // tolerates surrounding blanks, so the result is re-encoded and compared:
  // only the canonical spelling of a digest is accepted.
  unsigned char raw[48] = {};
  const bool shaped = b64.size() == 44 && b64[43] == '=' && b64[42] != '=';
  const int n = shaped ? EVP_DecodeBlock(raw, reinterpret_cast<const unsigned char*>(b64.data()), 44) : -1;
  unsigned char again[48] = {};
  if (n == 33) EVP_EncodeBlock(again, raw, 32);
  if (n != 33 || std::memcmp(again, b64.data(), 44) != 0) {
    error = "TLS pin '" + std::string(pin) + "' is not the base64 of a 32-byte SHA-256 digest";
    return std::nullopt;
  }
  SpkiDigest d{};
  std::memcpy(d.data(), raw, d.size());
  return d;
}

/// The SHA-256 of `cert`'s DER SubjectPublicKeyInfo (all zero if it cannot be encoded).
inline SpkiDigest spkiDigest(X509* cert) {
  SpkiDigest d{};
  X509_PUBKEY* spki = X509_get_X509_PUBKEY(cert);
  const int len = spki != nullptr ? i2d_X509_PUBKEY(spki, nullptr) : 0;
  if (len <= 0) return d;
  std::vector<unsigned char> der(static_cast<std::size_t>(len));
  unsigned char* out = der.data();
  i2d_X509_PUBKEY(spki, &out);
  unsigned int dlen = 0;
  if (EVP_Digest(der.data(), der.size(), d.data(), &dlen, EVP_sha256(), nullptr) != 1 || dlen != d.size()) {
    return SpkiDigest{};
  }
  return d;
}

/// "sha256/<base64>" of a digest, as configured and as logged.
inline std::string format(const SpkiDigest& d) {
  unsigned char b64[48] = {};
  const int n = EVP_EncodeBlock(b64, d.data(), static_cast<int>(d.size()));
  return "sha256/" + std::string(reinterpret_cast<const char*>(b64), static_cast<std::size_t>(n));
}

/// Attaches `pins` to `ctx` (nothing to do when empty). Returns "" or an
/// error naming the malformed pin.
template <class Strings>
std::string attach(SSL_CTX* ctx, const Strings& pins) {
  if (std::begin(pins) == std::end(pins)) return {};
  auto set = std::make_unique<detail::PinSet>();
  for (const auto& pin : pins) {
    std::string error;
    auto d = parse(std::string_view(pin), error);
    if (!d) return error;
    set->digests.push_back(*d);
  }
  if (SSL_CTX_set_ex_data(ctx, detail::pinIndex(), set.get()) != 1) return "cannot attach TLS pins to the OpenSSL context";
  set.release();  // now owned by ctx, freed by freePinSet
  return {};
}

/// True when `ctx` has no pins, or `leaf`'s public key matches one of them.
inline bool leafMatches(const SSL_CTX* ctx, X509* leaf) {
  const auto* set = static_cast<const detail::PinSet*>(SSL_CTX_get_ex_data(ctx, detail::pinIndex()));
  if (set == nullptr || set->digests.empty()) return true;
  const SpkiDigest got = spkiDigest(leaf);
  return std::find(set->digests.begin(), set->digests.end(), got) != set->digests.end();
}

/// A complete SSL verify callback: the chain as OpenSSL verified it (CA,
/// CRL, host name), then the pins on the leaf. A pin mismatch is reported as
/// X509_V_ERR_CERT_REJECTED, which makes OpenSSL send a bad_certificate alert
/// (RFC 8446 section 6.2), so the refused peer learns its certificate was the
/// problem.
inline int verifyCallback(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok == 0) return 0;
  if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return 1;
  if (leafMatches(SSL_get_SSL_CTX(ssl), X509_STORE_CTX_get_current_cert(store))) return 1;
  X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
  return 0;
}

}  // namespace cb::sdk::pins
