#pragma once
// One MLLP connection, plain TCP or TLS, and the OpenSSL contexts for it.
// Header-only so that the plugin and the simulator (sim/mllp) share one TLS
// policy, the same as the daemon's (core/src/net/tls.h):
//  - TLS 1.2 minimum; TLS 1.2 limited to ECDHE with AES-GCM or ChaCha20-Poly1305;
//  - mutual TLS both ways: the peer must present a certificate that chains to
//    the configured CA (optionally checked against a CRL, RFC 5280 section 6.3);
//  - optional SPKI pins on the peer's leaf (RFC 7469), checked by the same
//    code as the daemon's (carebridge/tls_pins.hpp);
//  - a client verifies the server's name (RFC 6125) and sends it as SNI.

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include <carebridge/tls_pins.hpp>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace cb::mllp {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

/// PEM files for one side of a mutual TLS connection. All empty = plain TCP.
struct TlsFiles {
  std::string certificate;  ///< our certificate, then intermediates
  std::string private_key;  ///< unencrypted PEM key for `certificate`
  std::string ca;           ///< trust anchors for the peer's certificate
  std::string crl;          ///< optional: CRLs of every CA in the peer's chain
  std::vector<std::string> pins{};  ///< optional "sha256/<base64>": the peer's leaf key must match one
  /// How errors name the files: `[adapter.tls] certificate` when they came
  /// from the host (plugin ABI 1.1), else the plugin's own `tls_certificate`.
  bool from_adapter_tls = false;

  bool enabled() const { return !certificate.empty() || !private_key.empty() || !ca.empty(); }
  std::string keyName(const std::string& field) const {
    return from_adapter_tls ? "[adapter.tls] " + field : "tls_" + field;
  }
};

/// Builds a server or client context; throws std::runtime_error naming the
/// file at fault.
inline std::shared_ptr<ssl::context> makeTlsContext(bool server, const TlsFiles& files) {
  auto ctx = std::make_shared<ssl::context>(server ? ssl::context::tls_server : ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_cipher_list(native,
                          "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                          "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                          "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
  auto load = [](const std::string& what, const std::string& path, auto&& fn) {
    boost::system::error_code ec;
    fn(ec);
    if (ec) throw std::runtime_error(what + ": cannot load '" + path + "': " + ec.message());
  };
  load(files.keyName("certificate"), files.certificate,
       [&](boost::system::error_code& ec) { ctx->use_certificate_chain_file(files.certificate, ec); });
  load(files.keyName("private_key"), files.private_key,
       [&](boost::system::error_code& ec) { ctx->use_private_key_file(files.private_key, ssl::context::pem, ec); });
  if (SSL_CTX_check_private_key(native) != 1) {
    throw std::runtime_error(files.keyName("private_key") + ": '" + files.private_key + "' does not match " +
                             files.keyName("certificate") + " '" + files.certificate + "'");
  }
  load(files.keyName("ca"), files.ca, [&](boost::system::error_code& ec) { ctx->load_verify_file(files.ca, ec); });
  if (!files.crl.empty()) {
    X509_STORE* store = SSL_CTX_get_cert_store(native);
    BIO* bio = BIO_new_file(files.crl.c_str(), "r");
    if (bio == nullptr) throw std::runtime_error(files.keyName("crl") + ": cannot open '" + files.crl + "'");
    int count = 0;
    while (X509_CRL* crl = PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr)) {
      X509_STORE_add_crl(store, crl);
      X509_CRL_free(crl);
      ++count;
    }
    BIO_free(bio);
    if (count == 0) throw std::runtime_error(files.keyName("crl") + ": '" + files.crl + "' holds no PEM CRL");
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  }
  if (auto error = cb::sdk::pins::attach(native, files.pins); !error.empty()) {
    throw std::runtime_error(files.keyName("pins") + ": " + error);
  }
  // One callback for the whole context: OpenSSL's chain verdict (CA, CRL,
  // and the host name set per connection by expectServerName), then pins.
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, cb::sdk::pins::verifyCallback);
  return ctx;
}

/// A TCP connection with TLS on top when a context is given.
class Link {
 public:
  /// `tls` may be null (plain TCP); then `plain_ctx` only satisfies the
  /// stream's constructor and is never used for a handshake.
  Link(asio::any_io_executor ex, std::shared_ptr<ssl::context> tls, ssl::context& plain_ctx)
      : tls_(std::move(tls)), stream_(ex, tls_ ? *tls_ : plain_ctx) {}

  tcp::socket& socket() { return stream_.next_layer(); }
  bool tls() const { return tls_ != nullptr; }
  SSL* nativeSsl() { return stream_.native_handle(); }

  /// Client side: the name to verify in the server's certificate and to send
  /// as SNI (not sent for an IP address, RFC 6066 section 3). The name is
  /// checked by OpenSSL during chain verification (X509_VERIFY_PARAM), not by
  /// a per-connection callback, so the context's pin callback stays in force.
  void expectServerName(const std::string& name) {
    if (!tls_ || name.empty()) return;
    X509_VERIFY_PARAM* param = SSL_get0_param(stream_.native_handle());
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(name, ec);
    if (!ec) {
      // An IP literal is matched against iPAddress subjectAltNames (RFC 6125 section 1.7.2).
      X509_VERIFY_PARAM_set1_ip_asc(param, address.to_string().c_str());
      return;
    }
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
    // SSL_set_tlsext_host_name() spelled out: the macro has a C-style cast.
    SSL_ctrl(stream_.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(name.c_str()));
  }

  template <class Handler>
  void asyncHandshake(ssl::stream_base::handshake_type type, Handler&& h) {
    stream_.async_handshake(type, std::forward<Handler>(h));
  }
  template <class Handler>
  void asyncReadSome(asio::mutable_buffer buffer, Handler&& h) {
    if (tls_) {
      stream_.async_read_some(buffer, std::forward<Handler>(h));
    } else {
      socket().async_read_some(buffer, std::forward<Handler>(h));
    }
  }
  template <class Handler>
  void asyncWrite(asio::const_buffer buffer, Handler&& h) {
    if (tls_) {
      asio::async_write(stream_, buffer, std::forward<Handler>(h));
    } else {
      asio::async_write(socket(), buffer, std::forward<Handler>(h));
    }
  }

  /// Closes the socket; outstanding operations complete with operation_aborted.
  void close() {
    boost::system::error_code ec;
    socket().shutdown(tcp::socket::shutdown_both, ec);
    socket().close(ec);
  }

  /// "ip:port" of the peer, or "" when not connected.
  std::string remote() {
    boost::system::error_code ec;
    auto ep = socket().remote_endpoint(ec);
    if (ec) return {};
    return ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  /// CN of the verified peer certificate, or "".
  std::string peerCommonName() {
    if (!tls_) return {};
    X509* cert = SSL_get1_peer_certificate(stream_.native_handle());
    if (cert == nullptr) return {};
    char buf[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf, sizeof buf);
    X509_free(cert);
    return buf;
  }

 private:
  std::shared_ptr<ssl::context> tls_;
  ssl::stream<tcp::socket> stream_;
};

/// Splits "host:port" or "[v6]:port"; throws std::runtime_error.
inline std::pair<std::string, std::string> splitEndpoint(const std::string& s) {
  std::string host, port;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      throw std::runtime_error("'" + s + "' is not \"host:port\"");
    }
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0) throw std::runtime_error("'" + s + "' is not \"host:port\"");
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535) {
    throw std::runtime_error("'" + s + "' has no valid port");
  }
  return {host, port};
}

/// True for names and addresses that never leave the machine.
inline bool isLoopback(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(host, ec);
  return !ec && addr.is_loopback();
}

}  // namespace cb::mllp
