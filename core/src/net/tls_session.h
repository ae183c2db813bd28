#pragma once
// Internal to cb_net: per-connection OpenSSL helpers shared by the server and
// the client. Not part of the component's contract; OpenSSL types are fine
// here because only net/*.cpp include this header.

#include "net/tls.h"

#include <boost/system/error_code.hpp>
#include <openssl/ssl.h>

#include <string>

namespace cb::net::detail {

/// What certificate verification found on one connection, filled by the
/// context's verify callback (the connection owns it and attaches it to its
/// SSL object for the duration of the handshake). OpenSSL does not keep a
/// refused peer's certificate, so its subject is captured here for logging.
struct VerifyNote {
  std::string leaf_subject;  ///< RFC 2253 subject of the presented leaf certificate
  long error = X509_V_OK;    ///< first verification error (X509_V_ERR_*)
  int depth = -1;            ///< chain depth of that error (0 = leaf)
  bool pin_mismatch = false; ///< chain was valid but the leaf's SPKI matched no pin
};

/// Makes `note` receive the verify callback's findings for `ssl`.
/// OWNERSHIP: `note` stays owned by the caller and must outlive the handshake.
void attachVerifyNote(SSL* ssl, VerifyNote* note);

/// Client side: receives the sessions of full handshakes on one connection
/// (for TLS 1.3 they arrive after the handshake, with the first response),
/// so that later connections to the same server can resume them. Sessions of
/// resumed handshakes are not offered: a session is only ever as old as the
/// certificate verification it stands for.
class SessionSink {
 public:
  /// Takes over one reference to `session` (release with SSL_SESSION_free).
  virtual void keepSession(SSL_SESSION* session) = 0;
  virtual ~SessionSink() = default;
};

/// Makes `sink` receive `ssl`'s new sessions (a context made by
/// makeClientTlsContext asks OpenSSL for them).
/// OWNERSHIP: `sink` stays owned by the caller and must outlive `ssl`.
void attachSessionSink(SSL* ssl, SessionSink* sink);

/// Client side: sends SNI (RFC 6066 section 3, DNS names only) and requires the
/// server certificate to match `name` (RFC 6125; an IP literal must match an
/// iPAddress subjectAltName). Fails if OpenSSL rejects the name.
Status prepareClientSession(SSL* ssl, const std::string& name);

/// Subject, CN and SPKI pin of the verified peer certificate (remote_address
/// is left for the caller, which knows the socket).
PeerIdentity peerIdentity(const SSL* ssl);

/// Classification of a failed TLS handshake or TLS read.
struct TlsFailure {
  /// True when a certificate was the reason: ours was refused by the peer
  /// (alert), or the peer's failed our verification (chain, time, CRL, name,
  /// pin), or the peer presented none.
  bool certificate = false;
  std::string reason;  ///< OpenSSL's verify error text or alert description
};

/// Explains `ec` (from an Asio SSL operation on `ssl`) using `note`.
TlsFailure describeTlsFailure(const SSL* ssl, const boost::system::error_code& ec, const VerifyNote& note);

/// True for the error codes Asio reports when a peer sent a TLS alert or
/// otherwise failed at the TLS layer (as opposed to TCP errors or timeouts).
bool isTlsLayerError(const boost::system::error_code& ec);

}  // namespace cb::net::detail
