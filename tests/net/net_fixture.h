#pragma once
// Shared test fixture for the net component: development certificates made
// by certs/make-dev-certs at test time, an io_context run on two
// threads (as the daemon does), and small blocking helpers around the
// asynchronous server and client. Raw OpenSSL clients stand in for
// misbehaving peers (no certificate, TLS 1.1, malformed HTTP).

#include "net/https_client.h"
#include "net/https_server.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace cb::net::test {

/// Certificates made at test time by certs/make-dev-certs. ctest runs each
/// test in its own process, so they are made once per build tree and script
/// version, in <build>/tests/net/dev-certs-<script hash>, and shared.
class DevCerts {
 public:
  /// Runs the script if needed; fails the calling test if it fails.
  static const std::filesystem::path& dir();
  static std::string path(const std::string& file) { return (dir() / file).string(); }
  /// The RFC 7469 pin of `name`.pem, computed with the openssl CLI (an
  /// implementation independent of ours).
  static std::string pinOf(const std::string& name);
};

/// TLS settings for the development certificate `name` trusting the dev CA.
TlsSettings settingsFor(const std::string& name);

/// Thread-safe record of TLS refusals reported by a server.
class RefusalLog {
 public:
  TlsRefusalHandler handler();
  /// Waits until at least `n` refusals arrived (or 10 s passed).
  std::vector<TlsRefusal> waitFor(std::size_t n);

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<TlsRefusal> refusals_;
};

/// Requests that a handler chose not to answer yet.
class PendingResponders {
 public:
  void add(Responder r);
  /// Waits until at least `n` are pending (or 10 s passed); returns the count.
  std::size_t waitFor(std::size_t n);
  /// Takes the oldest pending responder.
  Responder take();
  void clear();

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Responder> pending_;
};

class NetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  void SetUp() override;
  void TearDown() override;

  std::shared_ptr<TlsContext> serverTls(TlsSettings s = settingsFor("server"));
  std::shared_ptr<TlsContext> clientTls(TlsSettings s = settingsFor("carebridge"));

  /// Starts a server on 127.0.0.1:0 with mutual TLS unless options say otherwise.
  HttpsServer& startServer(ServerOptions options, HttpHandler handler);
  /// The default server: echoes the body and reports the peer in headers.
  HttpsServer& startEchoServer(ServerOptions options = {});
  HttpsClient& makeClient(ClientOptions options);
  HttpsClient& makeClient() { return makeClient(clientOptions(clientTls())); }
  /// Server options for 127.0.0.1:0 with the dev server certificate.
  ServerOptions tlsServerOptions() {
    ServerOptions o;
    o.tls = serverTls();
    return o;
  }
  static ClientOptions clientOptions(std::shared_ptr<TlsContext> tls) {
    ClientOptions o;
    o.tls = std::move(tls);
    return o;
  }

  /// Sends one request; the future holds its result once the callback ran.
  static std::future<ClientResult> send(HttpsClient& client, ClientRequest request);
  /// Sends one request and waits (at most 20 s) for its result.
  static ClientResult call(HttpsClient& client, ClientRequest request);
  static ClientRequest post(std::uint16_t port, std::string body = "hello", std::string path = "/echo");
  static std::string url(std::uint16_t port, const std::string& path = "/echo");

  /// Remote addresses (one per connection) the echo server saw.
  std::set<std::string> remotes();
  std::size_t handled() const { return handled_.load(); }

  boost::asio::io_context io_;
  RefusalLog refusals_;
  PendingResponders pending_;

 private:
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::vector<std::unique_ptr<HttpsServer>> servers_;
  std::vector<std::unique_ptr<HttpsClient>> clients_;
  std::mutex remotes_mutex_;
  std::set<std::string> remotes_;
  std::atomic<std::size_t> handled_{0};
};

/// A blocking client built on raw OpenSSL and POSIX sockets with 5 s socket
/// timeouts, for peers our own client would never be.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port);
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  /// TLS handshake; `cert` empty means no client certificate; max_version 0
  /// means the library default. Returns false (and error()) on failure.
  bool handshake(const std::string& cert, const std::string& key, int max_version = 0);
  bool send(std::string_view bytes);
  /// Reads until the peer closes or the 5 s timeout; timedOut() tells which.
  std::string readAll();
  /// Reads until what arrived contains `marker` (empty: as readAll), the
  /// peer closes or the 5 s timeout.
  std::string readUntil(std::string_view marker);
  bool timedOut() const { return timed_out_; }
  const std::string& error() const { return error_; }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool timed_out_ = false;
  std::string error_;
};

}  // namespace cb::net::test
