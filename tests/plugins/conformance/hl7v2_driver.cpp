// Driver for the `hl7v2` plugin: HL7 v2 over MLLP, plain TCP on loopback
// (the TLS paths are the plugin's own tests' business). Records go in from
// sim/mllp's MllpSender; deliveries go to its MllpReceiver, which answers AA,
// AE, or nothing at all.
#include "conformance.h"

#include "mllp_peer.h"

#include <future>
#include <regex>
#include <thread>

namespace cb::conformance {
namespace {

using namespace std::chrono_literals;

std::string adt(const std::string& control_id) {
  return "MSH|^~\\&|RIO|RPG|CAREBRIDGE|00AF|20240301101500||ADT^A08^ADT_A01|" + control_id +
         "|P|2.5.1\rEVN|A08|20240301101500\rPID|1||RIO123^^^RIO^PI~9990000018^^^NHS^NH||TEST^PERSON^^^MS\r";
}

// HL7 v2.5.1 section 2.9.2: AA accepted; AE an error in the message; AR a
// rejection the plugin also uses for "not stored now, resend later".
Ack classify(const std::optional<std::string>& ack) {
  if (!ack) return Ack::Nothing;
  const sim::AckSummary s = sim::summariseAck(*ack);
  if (s.code == "AA" || s.code == "CA") return Ack::Accepted;
  if (s.code == "AR" && s.text.find("resend later") != std::string::npos) return Ack::RetryLater;
  if (s.code == "AE" || s.code == "AR" || s.code == "CR") return Ack::Refused;
  return Ack::Nothing;
}

class MllpSent final : public SentRecord {
 public:
  MllpSent(std::string endpoint, std::string message) {
    future_ = std::async(std::launch::async, [endpoint = std::move(endpoint), message = std::move(message)] {
      sim::MllpSender sender(endpoint);
      return sender.send(message, 15s);
    });
  }
  Ack wait(std::chrono::milliseconds timeout) override {
    if (future_.wait_for(timeout) != std::future_status::ready) return Ack::Nothing;
    if (!ack_) ack_ = future_.get();
    return classify(*ack_);
  }

 private:
  std::future<std::optional<std::string>> future_;  // joins the sender's thread when destroyed
  std::optional<std::optional<std::string>> ack_;
};

class MllpPeer final : public Peer {
 public:
  MllpPeer() : receiver_(std::make_unique<sim::MllpReceiver>("127.0.0.1:0")) {}
  void set(Behaviour b) override {
    switch (b) {
      case Behaviour::Accept: receiver_->setAnswer(sim::MllpReceiver::Answer::AA); break;
      case Behaviour::Transient: receiver_->setAnswer(sim::MllpReceiver::Answer::Silent); break;  // no ACK: retry
      case Behaviour::Refuse: receiver_->setAnswer(sim::MllpReceiver::Answer::AE); break;
      case Behaviour::Hang: receiver_->setAnswer(sim::MllpReceiver::Answer::Silent); break;
    }
  }
  void goDown() override { receiver_->stop(); }
  std::size_t seen() const override { return receiver_->received().size(); }
  bool waitSeen(std::size_t n, std::chrono::milliseconds timeout) const override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (seen() >= n) return true;
      std::this_thread::sleep_for(10ms);
    }
    return seen() >= n;
  }
  std::uint16_t port() const { return receiver_->port(); }

 private:
  std::unique_ptr<sim::MllpReceiver> receiver_;
};

class Hl7v2Driver final : public PluginDriver {
 public:
  std::string plugin() const override { return "hl7v2"; }
  bool receives() const override { return true; }
  bool delivers() const override { return true; }

  static net::TlsSettings bothTls(Harness& h) {
    net::TlsSettings t;
    t.certificate = h.certs() / "server.pem";
    t.private_key = h.certs() / "server.key";
    t.ca = h.certs() / "ca.pem";
    return t;
  }

  std::vector<BadSettings> badSettings(Harness& h) override {
    return {{{{{"connect", "192.0.2.10:2575"}}, {}}, "connect"},  // plain MLLP off loopback
            {{{{"listen", "127.0.0.1:0"}, {"tls_ca", (h.certs() / "ca.pem").string()}}, {}}, "tls_certificate"},
            // [adapter.tls] and the deprecated tls_* settings at once.
            {{{{"listen", "127.0.0.1:0"}, {"tls_ca", (h.certs() / "ca.pem").string()}}, bothTls(h)}, "tls_ca"},
            {{{{"listen", "127.0.0.1:0"}, {"max_message_bytes", "10"}}, {}}, "max_message_bytes"}};
  }

  AdapterSpec inboundSpec(Harness&) override { return {{{"listen", "127.0.0.1:0"}}, {}}; }

  std::unique_ptr<SentRecord> send(Harness& h, plugin_host::Adapter& a, const std::string& id,
                                   std::string& payload) override {
    payload = adt(id);
    return std::make_unique<MllpSent>(endpoint(h, a), payload);
  }

  std::unique_ptr<SentRecord> sendGarbage(Harness& h, plugin_host::Adapter& a) override {
    return std::make_unique<MllpSent>(endpoint(h, a), "this is not HL7\r\x01\x02");
  }

  std::unique_ptr<Peer> startPeer(Harness&) override { return std::make_unique<MllpPeer>(); }

  AdapterSpec outboundSpec(Harness&, Peer& p) override {
    return {{{"connect", "127.0.0.1:" + std::to_string(static_cast<MllpPeer&>(p).port())}, {"ack_timeout", "3000"}},
            {}};
  }

  OutboundRecord record(const std::string& message_id) override {
    // MSH-10 is at most 20 characters (HL7 v2.5.1 section 2.14.9.10).
    return {adt(message_id.substr(0, 20)), "x-application/hl7-v2+er7", "ADT^A08"};
  }

 private:
  // The plugin logs its bound port: "MLLP listening on 127.0.0.1:<port>".
  static std::string endpoint(Harness& h, plugin_host::Adapter& a) {
    std::smatch m;
    for (const auto& line : h.logLines(a.name())) {
      if (std::regex_search(line, m, std::regex("MLLP listening on [^ ]+:([0-9]+)"))) return "127.0.0.1:" + m[1].str();
    }
    throw std::runtime_error("the hl7v2 adapter did not log its port");
  }
};

}  // namespace

CB_CONFORMANCE_DRIVER(hl7v2, Hl7v2Driver);

}  // namespace cb::conformance
