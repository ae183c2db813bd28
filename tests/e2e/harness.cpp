#include "e2e/harness.h"

#include "net/tls.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <future>
#include <regex>
#include <stdexcept>

extern char** environ;

namespace cb::e2e {
namespace fs = std::filesystem;

int runCommand(const std::vector<std::string>& args, std::string* output) {
  test::TempDir tmp;
  const fs::path out = tmp / "out.txt";
  std::string cmd;
  for (const auto& a : args) {
    cmd += "'";
    for (char c : a) cmd += c == '\'' ? std::string("'\\''") : std::string(1, c);
    cmd += "' ";
  }
  cmd += "< /dev/null > '" + out.string() + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  if (output != nullptr) *output = test::readFile(out);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

fs::path carebridgedBinary() { return test::binaryDir() / "core/src/daemon/carebridged"; }
fs::path carebridgeCli() { return test::binaryDir() / "core/src/cli/carebridge"; }

DaemonProcess::DaemonProcess(fs::path config, fs::path log) : config_(std::move(config)), log_(std::move(log)) {}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) kill9();
}

bool DaemonProcess::start(std::chrono::milliseconds timeout) {
  std::error_code ec;
  log_offset_ = fs::exists(log_, ec) ? static_cast<std::size_t>(fs::file_size(log_, ec)) : 0;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&fa, 1, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  const std::string bin = carebridgedBinary().string();
  const std::string cfg = config_.string();
  std::vector<char*> argv{const_cast<char*>(bin.c_str()), const_cast<char*>("--config"), const_cast<char*>(cfg.c_str()),
                          nullptr};
  const int rc = posix_spawn(&pid_, bin.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    pid_ = -1;
    return false;
  }
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (log().find("ready:") != std::string::npos) return true;
    if (!running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

bool DaemonProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

int DaemonProcess::waitExit(std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (pid_ > 0 && std::chrono::steady_clock::now() < end) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

void DaemonProcess::signal(int signo) {
  if (pid_ > 0) ::kill(pid_, signo);
}

int DaemonProcess::stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  const int rc = waitExit(timeout);
  if (rc == -1) kill9();
  return rc;
}

void DaemonProcess::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string DaemonProcess::log() const {
  const std::string all = test::readFile(log_);
  return log_offset_ < all.size() ? all.substr(log_offset_) : std::string();
}

std::uint16_t DaemonProcess::adapterPort(const std::string& adapter) const {
  std::smatch m;
  const std::string l = log();
  const std::regex re("adapter " + adapter + " listening on port ([0-9]+)");
  if (!std::regex_search(l, m, re)) throw std::runtime_error("no port for adapter " + adapter + " in the log:\n" + l);
  return static_cast<std::uint16_t>(std::stoi(m[1]));
}

std::uint16_t DaemonProcess::adminPort() const {
  std::smatch m;
  const std::string l = log();
  if (!std::regex_search(l, m, std::regex("admin listener on [^:]+:([0-9]+)"))) {
    throw std::runtime_error("no admin port in the log:\n" + l);
  }
  return static_cast<std::uint16_t>(std::stoi(m[1]));
}

IoThreads::IoThreads() {
  work_ = std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(io_.get_executor());
  for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
}

IoThreads::~IoThreads() {
  work_.reset();
  io_.stop();
  for (auto& t : threads_) t.join();
}

namespace {
net::TlsSettings tlsFor(const fs::path& certs, const std::string& name) {
  net::TlsSettings s;
  s.certificate = certs / (name + ".pem");
  s.private_key = certs / (name + ".key");
  s.ca = certs / "ca.pem";
  s.server_name = "localhost";
  return s;
}
}  // namespace

Sink::Sink(boost::asio::io_context& io, const fs::path& certs, const std::string& cert_name) {
  auto tls = net::makeServerTlsContext(tlsFor(certs, cert_name));
  if (!tls) throw std::runtime_error(tls.error().message);
  net::ServerOptions o;
  o.listen = {"127.0.0.1", 0};
  o.tls = *tls;
  o.log_name = "test-sink";
  auto s = net::HttpsServer::start(io, o, [this](net::HttpRequest&& req, net::Responder respond) {
    if (down_) {
      respond({503, {{"Retry-After", "0"}}, "down\n"});
      return;
    }
    if (refuse_) {
      respond({400, {}, "refused\n"});
      return;
    }
    const std::string* id = req.header("X-Carebridge-Message-Id");
    {
      std::lock_guard lock(mutex_);
      const std::string mid = id != nullptr ? *id : "";
      if (!ids_.insert(mid).second) {
        ++redeliveries_;
      } else {
        received_.push_back({mid, req.body, req.peer.common_name});
      }
    }
    cv_.notify_all();
    respond({201, {}, "ok\n"});
  });
  if (!s) throw std::runtime_error(s.error().message);
  server_ = std::move(*s);
}

std::vector<Sink::Received> Sink::received() const {
  std::lock_guard lock(mutex_);
  return received_;
}

std::size_t Sink::distinct() const {
  std::lock_guard lock(mutex_);
  return received_.size();
}

bool Sink::waitFor(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return received_.size() >= n; });
}

Sender::Sender(boost::asio::io_context& io, const fs::path& certs, const std::string& cert_name) {
  auto tls = net::makeClientTlsContext(tlsFor(certs, cert_name));
  if (!tls) throw std::runtime_error(tls.error().message);
  net::ClientOptions o;
  o.tls = *tls;
  o.log_name = "test-sender";
  client_ = net::HttpsClient::create(io, o);
}

std::pair<unsigned, std::string> Sender::post(std::uint16_t port, const std::string& body,
                                              const std::vector<net::HttpHeader>& headers, const std::string& path) {
  net::ClientRequest req;
  req.url = "https://localhost:" + std::to_string(port) + path;
  req.body = body;
  req.headers = headers;
  req.timeout = std::chrono::seconds(10);
  std::promise<net::ClientResult> p;
  client_->request(std::move(req), [&p](net::ClientResult r) { p.set_value(std::move(r)); });
  auto r = p.get_future().get();
  if (r.response) return {r.response->status, r.response->body};
  return {0, r.failure ? r.failure->message : "no response"};
}

}  // namespace cb::e2e
