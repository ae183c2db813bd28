#include "common/digest.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <stdexcept>

namespace cb {
namespace {

// OpenSSL 3 looks an algorithm up by name on every EVP_Digest(EVP_sha256())
// and HMAC() call ("implicit fetch", a locked method-store lookup), and the
// one-shot HMAC() also creates a context and derives the padded keys each
// time. The pipeline hashes several times per record (payload digest, audit
// leaves and tree nodes, the keyed person hash), so the algorithms are
// fetched once (https://docs.openssl.org/3.0/man7/crypto/ "Explicit
// fetching") and each thread keeps its contexts.
const EVP_MD* sha256Algorithm() {
  static EVP_MD* const fetched = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  return fetched != nullptr ? fetched : EVP_sha256();
}

struct DigestContext {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~DigestContext() { EVP_MD_CTX_free(ctx); }
};

/// The thread's HMAC context for the key it last used: EVP_MAC_init with no
/// key starts a new MAC from the padded key state derived at the first init
/// (RFC 2104 section 4, "Implementation note"). Callers use one long-lived
/// key each (the site key, a CSRF secret), so switching is rare.
struct MacContext {
  EVP_MAC_CTX* ctx = nullptr;
  std::string key;
  ~MacContext() { reset(); }
  void reset() {
    EVP_MAC_CTX_free(ctx);
    ctx = nullptr;
    OPENSSL_cleanse(key.data(), key.size());
    key.clear();
  }
};

[[noreturn]] void failed(const char* what) { throw std::runtime_error(std::string("OpenSSL ") + what + " failed"); }

}  // namespace

Sha256 sha256(std::span<const std::uint8_t> data) {
  thread_local DigestContext d;
  Sha256 out{};
  unsigned int len = 0;
  if (d.ctx == nullptr || EVP_DigestInit_ex2(d.ctx, sha256Algorithm(), nullptr) != 1 ||
      EVP_DigestUpdate(d.ctx, data.data(), data.size()) != 1 || EVP_DigestFinal_ex(d.ctx, out.data(), &len) != 1 ||
      len != out.size()) {
    failed("SHA-256");
  }
  return out;
}

Sha256 sha256(std::string_view data) {
  return sha256(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
}

Sha256 hmacSha256(std::string_view key, std::string_view data) {
  static EVP_MAC* const hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  thread_local MacContext m;
  if (hmac == nullptr) failed("HMAC-SHA-256");
  if (m.ctx != nullptr && key == m.key) {
    if (EVP_MAC_init(m.ctx, nullptr, 0, nullptr) != 1) {
      m.reset();
      failed("HMAC-SHA-256");
    }
  } else {
    m.reset();
    m.ctx = EVP_MAC_CTX_new(hmac);
    char digest[] = "SHA2-256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                 OSSL_PARAM_construct_end()};
    static const unsigned char kNoKey = 0;  // a zero-length key still needs a pointer
    const auto* k = key.empty() ? &kNoKey : reinterpret_cast<const unsigned char*>(key.data());
    if (m.ctx == nullptr || EVP_MAC_init(m.ctx, k, key.size(), params) != 1) {
      m.reset();
      failed("HMAC-SHA-256");
    }
    m.key.assign(key);
  }
  Sha256 out{};
  std::size_t len = 0;
  if (EVP_MAC_update(m.ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      EVP_MAC_final(m.ctx, out.data(), &len, out.size()) != 1 || len != out.size()) {
    m.reset();
    failed("HMAC-SHA-256");
  }
  return out;
}

std::string toHex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (auto b : bytes) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 0x0f]);
  }
  return s;
}

namespace {
int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

bool fromHex(std::string_view hex, std::string& out) {
  if (hex.size() % 2 != 0) return false;
  out.clear();
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = hexValue(hex[i]);
    int lo = hexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return true;
}

std::string base64Encode(std::span<const std::uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

bool base64Decode(std::string_view in, std::string& out) {
  if (in.size() % 4 != 0) return false;
  out.assign(3 * in.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return false;
  // EVP_DecodeBlock counts padding bytes as output; trim them.
  std::size_t len = static_cast<std::size_t>(n);
  if (!in.empty() && in.back() == '=') --len;
  if (in.size() >= 2 && in[in.size() - 2] == '=') --len;
  out.resize(len);
  return true;
}

}  // namespace cb
