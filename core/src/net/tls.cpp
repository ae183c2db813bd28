// TLS contexts for carebridge's partner connections, built directly with
// OpenSSL 3.0 so that every setting of the policy in tls.h is visible here.

#include "net/tls.h"

#include "net/tls_session.h"

#include <carebridge/tls_pins.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

namespace cb::net {
namespace {

int noteIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int sinkIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// SSL_CTX_sess_set_new_cb(3): returning 1 keeps the reference OpenSSL
// passed, 0 lets OpenSSL drop it.
int offerNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* sink = static_cast<detail::SessionSink*>(SSL_get_ex_data(ssl, sinkIndex()));
  if (sink == nullptr || SSL_session_reused(ssl) == 1) return 0;
  sink->keepSession(session);
  return 1;
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CrlDeleter {
  void operator()(X509_CRL* c) const { X509_CRL_free(c); }
};
struct CtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using CrlPtr = std::unique_ptr<X509_CRL, CrlDeleter>;
using CtxPtr = std::unique_ptr<SSL_CTX, CtxDeleter>;

/// OpenSSL's queued error text (and clears the queue, so a later failure on
/// this thread does not report a stale reason).
std::string opensslError() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? std::string("no OpenSSL error reported") : out;
}

std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

Result<std::string> readPemFile(const std::filesystem::path& path, const char* role) {
  if (path.empty()) return fail(std::string(role) + " file is not configured");
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return fail(std::string(role) + " file " + quoted(path) + " does not exist");
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(std::string(role) + " file " + quoted(path) + " cannot be read (check its permissions)");
  std::ostringstream text;
  text << in.rdbuf();
  std::string data = text.str();
  if (data.find("-----BEGIN ") == std::string::npos) {
    return fail(std::string(role) + " file " + quoted(path) + " is not PEM (no '-----BEGIN' line)");
  }
  return data;
}

BioPtr memoryBio(const std::string& data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

Result<std::vector<X509Ptr>> readCertificates(const std::filesystem::path& path, const char* role) {
  auto text = readPemFile(path, role);
  if (!text) return text.error();
  BioPtr bio = memoryBio(*text);
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(cert);
  ERR_clear_error();  // the read that ends the loop always queues "no start line"
  if (certs.empty()) return fail(std::string(role) + " file " + quoted(path) + " holds no PEM certificate");
  return certs;
}

/// Never prompts: an encrypted key is a configuration error, not a reason to
/// block the daemon on a terminal that systemd does not give it.
int refusePassword(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return 0; }

Result<PkeyPtr> readPrivateKey(const std::filesystem::path& path) {
  auto text = readPemFile(path, "private key");
  if (!text) return text.error();
  BioPtr bio = memoryBio(*text);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, refusePassword, nullptr));
  if (!key) {
    ERR_clear_error();
    return fail("private key file " + quoted(path) + " holds no unencrypted PEM private key");
  }
  return key;
}

std::string nameText(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return {};
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : std::string();
}

std::string commonName(const X509_NAME* name) {
  const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return {};
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  const int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

/// Runs for every certificate of the peer's chain (root first, leaf last).
/// Records the first failure for the connection's VerifyNote and, once the
/// chain is valid, checks the leaf against the configured pins.
int verifyCallback(int preverify_ok, X509_STORE_CTX* store) {
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* note = ssl ? static_cast<detail::VerifyNote*>(SSL_get_ex_data(ssl, noteIndex())) : nullptr;
  const int depth = X509_STORE_CTX_get_error_depth(store);
  if (note && note->leaf_subject.empty()) {
    if (X509* leaf = X509_STORE_CTX_get0_cert(store)) note->leaf_subject = nameText(X509_get_subject_name(leaf));
  }
  if (!preverify_ok) {
    if (note && note->error == X509_V_OK) {
      note->error = X509_STORE_CTX_get_error(store);
      note->depth = depth;
    }
    return 0;
  }
  if (depth != 0 || !ssl) return 1;
  // The pin check is shared with plugins that terminate TLS themselves
  // (carebridge/tls_pins.hpp), so both enforce [adapter.tls] pins alike.
  if (sdk::pins::leafMatches(SSL_get_SSL_CTX(ssl), X509_STORE_CTX_get_current_cert(store))) return 1;
  // CERT_REJECTED makes OpenSSL send a bad_certificate alert (RFC 8446
  // section 6.2), so the rejected peer learns its certificate was the problem.
  X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
  if (note) {
    note->pin_mismatch = true;
    if (note->error == X509_V_OK) {
      note->error = X509_V_ERR_CERT_REJECTED;
      note->depth = 0;
    }
  }
  return 0;
}

class OpenSslTlsContext final : public TlsContext {
 public:
  OpenSslTlsContext(CtxPtr ctx, TlsSettings settings) : ctx_(std::move(ctx)), settings_(std::move(settings)) {}
  void* native() const override { return ctx_.get(); }
  const TlsSettings& settings() const override { return settings_; }

 private:
  CtxPtr ctx_;
  TlsSettings settings_;
};

/// Everything both sides share: protocol floor, suites, our certificate,
/// trust anchors, CRLs, pins.
Result<CtxPtr> buildContext(const TlsSettings& s, bool server) {
  CtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  if (!ctx) return fail("cannot create an OpenSSL context: " + opensslError());
  SSL_CTX* c = ctx.get();

  // TLS 1.2 minimum, 1.3 negotiated whenever the peer offers it (RFC 8996
  // deprecates 1.0 and 1.1). TLS 1.2 suites: ECDHE (forward secrecy) with
  // AEAD ciphers only, as Mozilla's "intermediate" profile and NCSC advise.
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // We present exactly the chain in our certificate file. Without this,
  // OpenSSL would complete it from the trust store, which holds the *peer's*
  // anchors, and send a root the peer does not need.
  SSL_CTX_set_mode(c, SSL_MODE_NO_AUTO_CHAIN);
  static constexpr const char* kTls12Ciphers =
      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
      "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
      "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
  static constexpr const char* kTls13Suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
  if (SSL_CTX_set_cipher_list(c, kTls12Ciphers) != 1 || SSL_CTX_set_ciphersuites(c, kTls13Suites) != 1 ||
      SSL_CTX_set1_groups_list(c, "X25519:P-256:P-384") != 1) {
    return fail("OpenSSL rejected carebridge's cipher policy: " + opensslError());
  }

  auto chain = readCertificates(s.certificate, "certificate");
  if (!chain) return chain.error();
  auto key = readPrivateKey(s.private_key);
  if (!key) return key.error();
  auto& certs = *chain;
  if (X509_check_private_key(certs.front().get(), key->get()) != 1) {
    ERR_clear_error();
    return fail("private key " + quoted(s.private_key) + " does not match certificate " + quoted(s.certificate));
  }
  if (SSL_CTX_use_certificate(c, certs.front().get()) != 1) {
    return fail("certificate " + quoted(s.certificate) + " was refused by OpenSSL: " + opensslError());
  }
  for (std::size_t i = 1; i < certs.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(c, certs[i].get()) != 1) {
      return fail("intermediate certificate " + std::to_string(i) + " in " + quoted(s.certificate) +
                  " was refused by OpenSSL: " + opensslError());
    }
  }
  if (SSL_CTX_use_PrivateKey(c, key->get()) != 1 || SSL_CTX_check_private_key(c) != 1) {
    return fail("private key " + quoted(s.private_key) + " was refused by OpenSSL: " + opensslError());
  }

  auto anchors = readCertificates(s.ca, "CA");
  if (!anchors) return anchors.error();
  X509_STORE* store = SSL_CTX_get_cert_store(c);
  for (const auto& ca : *anchors) {
    if (X509_STORE_add_cert(store, ca.get()) != 1) {
      return fail("CA file " + quoted(s.ca) + " could not be added to the trust store: " + opensslError());
    }
    // A server names the acceptable CAs in its CertificateRequest (RFC 8446
    // section 4.3.2) so a client with several certificates picks the right one.
    if (server && SSL_CTX_add_client_CA(c, ca.get()) != 1) {
      return fail("CA file " + quoted(s.ca) + " could not be listed for clients: " + opensslError());
    }
  }

  if (!s.crl.empty()) {
    auto text = readPemFile(s.crl, "CRL");
    if (!text) return text.error();
    BioPtr bio = memoryBio(*text);
    std::size_t count = 0;
    while (X509_CRL* raw = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
      CrlPtr crl(raw);
      if (X509_STORE_add_crl(store, crl.get()) != 1) {
        return fail("CRL file " + quoted(s.crl) + " could not be added: " + opensslError());
      }
      ++count;
    }
    ERR_clear_error();
    if (count == 0) return fail("CRL file " + quoted(s.crl) + " holds no PEM X509 CRL");
    // RFC 5280 section 6.3: every certificate of the chain is checked, so the
    // file must hold a current CRL from each CA in it; a missing or expired
    // CRL fails the handshake (fail closed).
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  }

  // RFC 7469 pins, owned by the SSL_CTX (carebridge/tls_pins.hpp).
  if (auto error = sdk::pins::attach(c, s.pins); !error.empty()) return fail(error);
  return ctx;
}

}  // namespace

Result<std::shared_ptr<TlsContext>> makeServerTlsContext(const TlsSettings& settings) {
  auto ctx = buildContext(settings, true);
  if (!ctx) return ctx.error();
  SSL_CTX* c = ctx->get();
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verifyCallback);
  // Session resumption with client certificates needs a session id context
  // (SSL_CTX_set_session_id_context(3)); one ticket per handshake is enough
  // for a partner that resumes, and halves the work for one that does not.
  static constexpr unsigned char kSessionContext[] = "carebridge";
  SSL_CTX_set_session_id_context(c, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_num_tickets(c, 1);
  return std::shared_ptr<TlsContext>(std::make_shared<OpenSslTlsContext>(std::move(*ctx), settings));
}

Result<std::shared_ptr<TlsContext>> makeClientTlsContext(const TlsSettings& settings) {
  auto ctx = buildContext(settings, false);
  if (!ctx) return ctx.error();
  SSL_CTX_set_verify(ctx->get(), SSL_VERIFY_PEER, verifyCallback);
  // Sessions go to the connection's SessionSink (the HTTPS client keeps the
  // latest per origin), never to OpenSSL's internal cache, so they live no
  // longer than the client that verified them.
  SSL_CTX_set_session_cache_mode(ctx->get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx->get(), offerNewSession);
  return std::shared_ptr<TlsContext>(std::make_shared<OpenSslTlsContext>(std::move(*ctx), settings));
}

namespace detail {

void attachVerifyNote(SSL* ssl, VerifyNote* note) { SSL_set_ex_data(ssl, noteIndex(), note); }

void attachSessionSink(SSL* ssl, SessionSink* sink) { SSL_set_ex_data(ssl, sinkIndex(), sink); }

Status prepareClientSession(SSL* ssl, const std::string& name) {
  if (name.empty()) return fail("no server name to verify the server certificate against");
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(name, ec);
  if (!ec) {
    // An IP literal is matched against iPAddress subjectAltNames (RFC 6125
    // section 1.7.2) and is never sent as SNI (RFC 6066 section 3).
    if (X509_VERIFY_PARAM_set1_ip_asc(param, address.to_string().c_str()) != 1) {
      return fail("OpenSSL refused IP address '" + name + "' for verification: " + opensslError());
    }
    return {};
  }
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size()) != 1) {
    return fail("OpenSSL refused server name '" + name + "' for verification: " + opensslError());
  }
  // SSL_set_tlsext_host_name is a macro with a C cast; this is its expansion.
  if (SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(name.c_str())) != 1) {
    return fail("OpenSSL refused server name '" + name + "' for SNI: " + opensslError());
  }
  return {};
}

PeerIdentity peerIdentity(const SSL* ssl) {
  PeerIdentity id;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert) return id;
  const X509_NAME* subject = X509_get_subject_name(cert);
  id.subject = nameText(subject);
  id.common_name = commonName(subject);
  id.spki_sha256 = sdk::pins::format(sdk::pins::spkiDigest(cert));
  id.resumed = SSL_session_reused(ssl) == 1;
  return id;
}

bool isTlsLayerError(const boost::system::error_code& ec) {
  return ec.category() == boost::asio::error::get_ssl_category() ||
         ec == boost::asio::ssl::error::stream_truncated || ec == boost::asio::ssl::error::unspecified_system_error;
}

TlsFailure describeTlsFailure(const SSL* ssl, const boost::system::error_code& ec, const VerifyNote& note) {
  if (note.pin_mismatch) return {true, "peer public key matches none of the configured pins (RFC 7469)"};
  if (note.error != X509_V_OK) {
    std::string reason = X509_verify_cert_error_string(note.error);
    if (note.depth > 0) reason += " (certificate at chain depth " + std::to_string(note.depth) + ")";
    return {true, reason};
  }
  if (ssl) {
    const long result = SSL_get_verify_result(ssl);
    if (result != X509_V_OK) return {true, X509_verify_cert_error_string(result)};
  }
  if (ec.category() == boost::asio::error::get_ssl_category()) {
    const auto code = static_cast<unsigned long>(ec.value());
    const int reason = ERR_GET_REASON(code);
    const char* text = ERR_reason_error_string(code);
    const std::string described = text ? text : ec.message();
    switch (reason) {
      case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
        return {true, "no client certificate presented"};
      // Alerts the peer sent about the certificate we presented.
      case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
      case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
      case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
      case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
      case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
        return {true, "peer refused our certificate: " + described};
      default:
        return {false, described};
    }
  }
  if (ec == boost::asio::ssl::error::stream_truncated) return {false, "connection closed during the TLS exchange"};
  return {false, ec.message()};
}

}  // namespace detail
}  // namespace cb::net
