#pragma once
// End-to-end harness: runs the real carebridged binary as a child process
// with a real config, real certificates and a real SQLite file, and plays
// the partner systems around it (an mTLS sender and an mTLS sink) with the
// project's own net layer.

#include "net/https_client.h"
#include "net/https_server.h"
#include "support/test_support.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace cb::e2e {

/// Runs a command, returns its exit code and combined output.
int runCommand(const std::vector<std::string>& args, std::string* output = nullptr);

std::filesystem::path carebridgedBinary();
std::filesystem::path carebridgeCli();

/// carebridged as a child process. Its stderr goes to `<dir>/carebridged.log`.
class DaemonProcess {
 public:
  DaemonProcess(std::filesystem::path config, std::filesystem::path log);
  ~DaemonProcess();
  /// Starts and waits for "ready" in the log; false if it exited or timed out.
  bool start(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  /// SIGTERM and wait; returns the exit status (or -1 on timeout, then killed).
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  /// SIGKILL: no chance to flush or drain.
  void kill9();
  void signal(int signo);
  bool running();
  /// Waits for the process to exit by itself; returns its status or -1.
  int waitExit(std::chrono::milliseconds timeout);
  std::string log() const;
  /// Port an adapter's listener bound (parsed from the log of the latest start).
  std::uint16_t adapterPort(const std::string& adapter) const;
  std::uint16_t adminPort() const;

 private:
  std::filesystem::path config_, log_;
  int pid_ = -1;
  std::size_t log_offset_ = 0;  // where the current run's lines begin
};

/// Runs an io_context on two threads for the sender and sink.
class IoThreads {
 public:
  IoThreads();
  ~IoThreads();
  boost::asio::io_context& io() { return io_; }

 private:
  boost::asio::io_context io_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
};

/// A destination partner system: accepts deliveries over mTLS and records them.
class Sink {
 public:
  struct Received {
    std::string message_id;
    std::string body;
    std::string peer_cn;
  };
  Sink(boost::asio::io_context& io, const std::filesystem::path& certs, const std::string& cert_name = "server");
  std::uint16_t port() const { return server_->port(); }
  void setDown(bool down) { down_ = down; }
  void setRefuse(bool refuse) { refuse_ = refuse; }
  std::vector<Received> received() const;
  std::size_t distinct() const;
  std::size_t redeliveries() const { return redeliveries_; }
  bool waitFor(std::size_t distinct, std::chrono::milliseconds timeout);
  void stop() { server_->stop(); }

 private:
  std::unique_ptr<net::HttpsServer> server_;
  std::atomic<bool> down_{false}, refuse_{false};
  std::atomic<std::size_t> redeliveries_{0};
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Received> received_;
  std::set<std::string> ids_;
};

/// A source partner system: posts records over mTLS.
class Sender {
 public:
  Sender(boost::asio::io_context& io, const std::filesystem::path& certs, const std::string& cert_name);
  /// POSTs one record; returns the HTTP status (0 on transport failure) and body.
  std::pair<unsigned, std::string> post(std::uint16_t port, const std::string& body,
                                        const std::vector<net::HttpHeader>& headers = {},
                                        const std::string& path = "/records");

 private:
  std::unique_ptr<net::HttpsClient> client_;
};

}  // namespace cb::e2e
