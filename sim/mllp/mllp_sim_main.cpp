// carebridge-mllp-sim: an HL7 v2 partner system over MLLP (see README.md).
//
//   carebridge-mllp-sim send --to 127.0.0.1:2575 [--cert c --key k --ca ca] FILE...
//   carebridge-mllp-sim receive --listen 127.0.0.1:2576 [--cert ...] [--ack AA|AE|AR|CA|none]
#include "mllp_peer.h"

#include <CLI/CLI.hpp>

#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>

namespace {

struct TlsArgs {
  std::string cert, key, ca, server_name;
  cb::mllp::TlsFiles files() const { return {cert, key, ca, {}}; }
};

void addTls(CLI::App* app, TlsArgs& t) {
  app->add_option("--cert", t.cert, "our certificate (PEM); without --cert/--key/--ca: plain TCP");
  app->add_option("--key", t.key, "our private key (PEM)");
  app->add_option("--ca", t.ca, "CA the peer's certificate must chain to (PEM)");
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Prints one line per file: file, MSA-1 (or "none"), MSA-2, error text.
// Exit status: 0 all accepted (AA/CA), 1 some refused (AE/AR/CE/CR), 2 some unanswered.
int sendFiles(const std::string& to, const TlsArgs& tls, const std::vector<std::string>& files, int timeout_ms,
              int attempts) {
  cb::sim::MllpSender sender(to, tls.files(), tls.server_name);
  int status = 0;
  for (const auto& file : files) {
    const std::string message = readFile(file);
    std::optional<std::string> ack;
    for (int i = 0; i < attempts && !ack; ++i) ack = sender.send(message, std::chrono::milliseconds(timeout_ms));
    if (!ack) {
      std::cout << file << "\tnone\t\t" << sender.lastError() << std::endl;
      status = 2;
      continue;
    }
    const auto s = cb::sim::summariseAck(*ack);
    std::cout << file << '\t' << (s.code.empty() ? "unreadable" : s.code) << '\t' << s.control_id << '\t' << s.text
              << std::endl;
    if (s.code != "AA" && s.code != "CA" && status == 0) status = 1;
  }
  return status;
}

volatile std::sig_atomic_t g_stop = 0;

int receive(const std::string& listen, const TlsArgs& tls, const std::string& ack, std::size_t count) {
  cb::sim::MllpReceiver::Answer answer = cb::sim::MllpReceiver::Answer::AA;
  if (ack == "AE") answer = cb::sim::MllpReceiver::Answer::AE;
  else if (ack == "AR") answer = cb::sim::MllpReceiver::Answer::AR;
  else if (ack == "CA") answer = cb::sim::MllpReceiver::Answer::CA;
  else if (ack == "none") answer = cb::sim::MllpReceiver::Answer::Silent;
  else if (ack != "AA") throw std::runtime_error("--ack must be AA, AE, AR, CA or none");
  std::mutex out;
  cb::sim::MllpReceiver receiver(listen, tls.files(), [&out](const auto& r, const std::string& answered) {
    std::lock_guard lock(out);
    std::cout << (r.control_id.empty() ? "-" : r.control_id) << '\t' << answered << '\t'
              << (r.peer_cn.empty() ? "-" : r.peer_cn) << std::endl;
  });
  receiver.setAnswer(answer);
  std::cout << "listening on port " << receiver.port() << std::endl;
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  while (g_stop == 0 && (count == 0 || receiver.received().size() < count)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  receiver.stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"carebridge-mllp-sim: an HL7 v2 partner system over MLLP"};
  app.require_subcommand(1);

  TlsArgs send_tls;
  std::string to;
  std::vector<std::string> files;
  int timeout_ms = 10000;
  int attempts = 1;
  auto* send = app.add_subcommand("send", "send ER7 files, one message each, and print the ACK codes");
  send->add_option("--to", to, "carebridged's MLLP host:port")->required();
  addTls(send, send_tls);
  send->add_option("--server-name", send_tls.server_name, "name expected in the server certificate (default: host)");
  send->add_option("--timeout-ms", timeout_ms, "time allowed for each ACK");
  send->add_option("--attempts", attempts, "send again (same control id) when no ACK came, up to this many times");
  send->add_option("files", files, "ER7 files")->required();

  TlsArgs recv_tls;
  std::string listen = "127.0.0.1:0";
  std::string ack = "AA";
  std::size_t count = 0;
  auto* recv = app.add_subcommand("receive", "accept messages and acknowledge them");
  recv->add_option("--listen", listen, "host:port to listen on (port 0: any)");
  addTls(recv, recv_tls);
  recv->add_option("--ack", ack, "answer AA, AE, AR, CA, or none (never answer)");
  recv->add_option("--count", count, "exit after this many messages (0: run until SIGINT/SIGTERM)");

  CLI11_PARSE(app, argc, argv);
  try {
    if (*send) return sendFiles(to, send_tls, files, timeout_ms, attempts);
    return receive(listen, recv_tls, ack, count);
  } catch (const std::exception& e) {
    std::cerr << "carebridge-mllp-sim: " << e.what() << std::endl;
    return 3;
  }
}
