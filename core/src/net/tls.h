#pragma once
// TLS settings and OpenSSL contexts for every connection carebridge makes or
// accepts with a partner. Policy (fixed, not configurable downwards):
//  - TLS 1.2 minimum, TLS 1.3 preferred; TLS 1.2 restricted to ECDHE with
//    AES-GCM or ChaCha20-Poly1305 (NCSC / Mozilla "intermediate" guidance);
//  - the peer always presents a certificate that chains to the configured CA
//    (mutual TLS both ways); no anonymous or PSK suites;
//  - optional CRL checking of the whole chain (RFC 5280 section 6.3) and
//    optional SPKI pinning (RFC 7469 pin format "sha256/<base64>").
//
// OpenSSL types stay in the .cpp files: callers hold a TlsContext handle.

#include "common/result.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace cb::net {

/// One side's TLS configuration, usually one per adapter instance
/// (`[adapter.tls]` in the config) or the admin listener.
struct TlsSettings {
  std::filesystem::path certificate;  ///< PEM: our certificate, then intermediates (sent exactly as listed)
  std::filesystem::path private_key;  ///< PEM private key for `certificate`, unencrypted
  std::filesystem::path ca;           ///< PEM trust anchors for the peer's certificate
  std::filesystem::path crl;          ///< optional PEM file with a current CRL from every CA of the peer's
                                      ///< chain (missing or expired CRL = refused); empty = no CRL check
  std::vector<std::string> pins;      ///< optional "sha256/<base64 SPKI digest>"; peer leaf must match one
  std::string server_name;            ///< client: name to send (SNI) and verify; empty = the URL's host
};

/// What a verified peer presented; handed to request handlers and logged.
struct PeerIdentity {
  std::string subject;         ///< RFC 2253 subject of the peer's leaf certificate
  std::string common_name;     ///< its CN, usually the partner system's name
  std::string spki_sha256;     ///< "sha256/<base64>" pin of the peer's public key
  std::string remote_address;  ///< "ip:port"
  /// The TLS session was resumed (RFC 8446 section 2.2): the certificate
  /// above was verified when the session was first established, under the
  /// same TLS context.
  bool resumed = false;
};

/// An immutable, shareable OpenSSL context built from TlsSettings.
class TlsContext {
 public:
  virtual ~TlsContext() = default;
  /// The native `SSL_CTX*` (as void* to keep OpenSSL out of this header).
  virtual void* native() const = 0;
  virtual const TlsSettings& settings() const = 0;
};

/// Builds a server context that requires and verifies a client certificate.
/// Errors name the file at fault (unreadable, not PEM, key does not match).
Result<std::shared_ptr<TlsContext>> makeServerTlsContext(const TlsSettings& settings);

/// Builds a client context that presents our certificate and verifies the
/// server's chain, name (RFC 6125) and, when configured, pins and CRLs.
Result<std::shared_ptr<TlsContext>> makeClientTlsContext(const TlsSettings& settings);

}  // namespace cb::net
