#include "net_fixture.h"

#include "common/digest.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <future>

namespace cb::net::test {
namespace {

std::filesystem::path g_cert_dir;

std::string runCommand(const std::string& command, int& status) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) {
    status = -1;
    return out;
  }
  std::array<char, 512> buf{};
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), pipe)) out += buf.data();
  status = ::pclose(pipe);
  return out;
}

}  // namespace

const std::filesystem::path& DevCerts::dir() {
  if (!g_cert_dir.empty()) return g_cert_dir;
  const char* source = std::getenv("CB_SOURCE_DIR");
  const char* binary = std::getenv("CB_BINARY_DIR");
  const std::filesystem::path script =
      std::filesystem::path(source ? source : CB_TEST_SOURCE_DIR) / "certs" / "make-dev-certs";
  std::ifstream in(script, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot read " << script;
    return g_cert_dir;
  }
  std::ostringstream text;
  text << in.rdbuf();

  // ctest runs every test in its own process, so the certificates are made
  // once per build tree and script version (keyed by the script's hash) and
  // shared by all test processes.
  const std::filesystem::path parent = std::filesystem::path(binary ? binary : CB_TEST_BINARY_DIR) / "tests" / "net";
  const std::filesystem::path shared = parent / ("dev-certs-" + toHex(sha256(text.str())).substr(0, 16));
  std::error_code ec;
  if (std::filesystem::exists(shared / "crl.pem", ec)) {
    g_cert_dir = shared;
    return g_cert_dir;
  }
  std::filesystem::create_directories(parent, ec);
  std::string templ = (parent / "cb-net-certs-XXXXXX").string();
  if (!::mkdtemp(templ.data())) {
    ADD_FAILURE() << "cannot create a temporary directory under " << parent;
    return g_cert_dir;
  }
  int status = 0;
  const std::string output = runCommand("'" + script.string() + "' '" + templ + "/certs' 2>&1", status);
  if (status != 0) {
    ADD_FAILURE() << script << " failed (" << status << "):\n" << output;
    std::filesystem::remove_all(templ, ec);
    return g_cert_dir;
  }
  // Publish atomically; if another test process won the race, use its copy.
  if (::rename((templ + "/certs").c_str(), shared.c_str()) != 0 && !std::filesystem::exists(shared / "crl.pem", ec)) {
    ADD_FAILURE() << "cannot move certificates to " << shared << ": " << std::strerror(errno);
  }
  std::filesystem::remove_all(templ, ec);
  g_cert_dir = shared;
  return g_cert_dir;
}

std::string DevCerts::pinOf(const std::string& name) {
  int status = 0;
  const std::string out = runCommand("openssl x509 -in '" + path(name + ".pem") +
                                         "' -pubkey -noout | openssl pkey -pubin -outform der"
                                         " | openssl dgst -sha256 -binary | openssl base64 -A",
                                     status);
  EXPECT_EQ(status, 0) << "openssl could not compute the pin of " << name;
  return "sha256/" + out.substr(0, out.find_first_of("\r\n"));
}

TlsSettings settingsFor(const std::string& name) {
  TlsSettings s;
  s.certificate = DevCerts::path(name + ".pem");
  s.private_key = DevCerts::path(name + ".key");
  s.ca = DevCerts::path("ca.pem");
  return s;
}

TlsRefusalHandler RefusalLog::handler() {
  return [this](const TlsRefusal& r) {
    std::lock_guard lock(mutex_);
    refusals_.push_back(r);
    cv_.notify_all();
  };
}

std::vector<TlsRefusal> RefusalLog::waitFor(std::size_t n) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, std::chrono::seconds(10), [&] { return refusals_.size() >= n; });
  return refusals_;
}

void PendingResponders::add(Responder r) {
  std::lock_guard lock(mutex_);
  pending_.push_back(std::move(r));
  cv_.notify_all();
}

std::size_t PendingResponders::waitFor(std::size_t n) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, std::chrono::seconds(10), [&] { return pending_.size() >= n; });
  return pending_.size();
}

Responder PendingResponders::take() {
  std::lock_guard lock(mutex_);
  if (pending_.empty()) return {};
  Responder r = std::move(pending_.front());
  pending_.erase(pending_.begin());
  return r;
}

void PendingResponders::clear() {
  std::vector<Responder> dropped;
  {
    std::lock_guard lock(mutex_);
    dropped.swap(pending_);
  }
}

void NetTest::SetUpTestSuite() {
  // Raw clients write to sockets the server may have closed.
  std::signal(SIGPIPE, SIG_IGN);
  DevCerts::dir();
}

void NetTest::SetUp() {
  ASSERT_FALSE(DevCerts::dir().empty());
  work_.emplace(io_.get_executor());
  for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
}

void NetTest::TearDown() {
  pending_.clear();
  clients_.clear();
  servers_.clear();
  work_.reset();
  // Let connections wind down (close_notify, lingering reads) before stopping.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  io_.stop();
  for (auto& t : threads_) t.join();
}

std::shared_ptr<TlsContext> NetTest::serverTls(TlsSettings s) {
  auto ctx = makeServerTlsContext(s);
  if (!ctx) {
    ADD_FAILURE() << ctx.error().message;
    return nullptr;
  }
  return *ctx;
}

std::shared_ptr<TlsContext> NetTest::clientTls(TlsSettings s) {
  auto ctx = makeClientTlsContext(s);
  if (!ctx) {
    ADD_FAILURE() << ctx.error().message;
    return nullptr;
  }
  return *ctx;
}

HttpsServer& NetTest::startServer(ServerOptions options, HttpHandler handler) {
  if (!options.on_tls_refused) options.on_tls_refused = refusals_.handler();
  auto server = HttpsServer::start(io_, std::move(options), std::move(handler));
  if (!server) {
    ADD_FAILURE() << server.error().message;
    throw std::runtime_error("server did not start");
  }
  servers_.push_back(std::move(*server));
  return *servers_.back();
}

HttpsServer& NetTest::startEchoServer(ServerOptions options) {
  if (!options.tls) options.tls = serverTls();
  return startServer(std::move(options), [this](HttpRequest&& req, Responder respond) {
    {
      std::lock_guard lock(remotes_mutex_);
      remotes_.insert(req.peer.remote_address);
    }
    ++handled_;
    HttpResponse res;
    res.headers.push_back({"Content-Type", "text/plain"});
    res.headers.push_back({"X-Peer-CN", req.peer.common_name});
    res.headers.push_back({"X-Peer-Pin", req.peer.spki_sha256});
    res.headers.push_back({"X-Peer-Subject", req.peer.subject});
    res.headers.push_back({"X-Remote", req.peer.remote_address});
    res.headers.push_back({"X-Method", req.method});
    res.headers.push_back({"X-Target", req.target});
    res.body = std::move(req.body);
    respond(std::move(res));
  });
}

HttpsClient& NetTest::makeClient(ClientOptions options) {
  clients_.push_back(HttpsClient::create(io_, std::move(options)));
  return *clients_.back();
}

std::future<ClientResult> NetTest::send(HttpsClient& client, ClientRequest request) {
  auto promise = std::make_shared<std::promise<ClientResult>>();
  auto future = promise->get_future();
  client.request(std::move(request), [promise](ClientResult r) { promise->set_value(std::move(r)); });
  return future;
}

ClientResult NetTest::call(HttpsClient& client, ClientRequest request) {
  auto future = send(client, std::move(request));
  if (future.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
    ADD_FAILURE() << "no callback within 20 s";
    ClientResult none;
    none.failure = TransportFailure{TransportFailure::Kind::Cancelled, "test gave up waiting"};
    return none;
  }
  return future.get();
}

ClientRequest NetTest::post(std::uint16_t port, std::string body, std::string path) {
  ClientRequest r;
  r.method = "POST";
  r.url = url(port, path);
  r.body = std::move(body);
  r.headers.push_back({"Content-Type", "text/plain"});
  r.timeout = std::chrono::milliseconds(10000);
  return r;
}

std::string NetTest::url(std::uint16_t port, const std::string& path) {
  return "https://127.0.0.1:" + std::to_string(port) + path;
}

std::set<std::string> NetTest::remotes() {
  std::lock_guard lock(remotes_mutex_);
  return remotes_;
}

RawClient::RawClient(std::uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) return;
  timeval tv{5, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error_ = std::string("connect: ") + std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
  }
}

RawClient::~RawClient() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  if (fd_ >= 0) ::close(fd_);
}

bool RawClient::handshake(const std::string& cert, const std::string& key, int max_version) {
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (!ctx_) return false;
  SSL_CTX_load_verify_locations(ctx_, DevCerts::path("ca.pem").c_str(), nullptr);
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  if (max_version != 0) {
    // Old protocol versions are disabled at the default security level;
    // lowering it lets this client really offer them.
    SSL_CTX_set_security_level(ctx_, 0);
    SSL_CTX_set_cipher_list(ctx_, "DEFAULT:@SECLEVEL=0");
    SSL_CTX_set_min_proto_version(ctx_, TLS1_VERSION);
    SSL_CTX_set_max_proto_version(ctx_, max_version);
  }
  if (!cert.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) != 1) {
      error_ = "cannot load " + cert;
      return false;
    }
  }
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  if (SSL_connect(ssl_) != 1) {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    error_ = buf;
    ERR_clear_error();
    return false;
  }
  return true;
}

bool RawClient::send(std::string_view bytes) {
  if (ssl_) return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) == static_cast<int>(bytes.size());
  return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

std::string RawClient::readAll() { return readUntil({}); }

std::string RawClient::readUntil(std::string_view marker) {
  std::string out;
  char buf[4096];
  for (;;) {
    errno = 0;
    const ssize_t n = ssl_ ? SSL_read(ssl_, buf, sizeof buf) : ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      if (!marker.empty() && out.find(marker) != std::string::npos) return out;
      continue;
    }
    timed_out_ = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    ERR_clear_error();
    return out;
  }
}

}  // namespace cb::net::test
