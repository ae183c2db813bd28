// End to end: the real carebridged with two hl7v2 adapters on a passthrough
// route, mutual TLS on loopback, a sending and a receiving partner system
// from sim/mllp. The partner only ever gets AA for what the daemon has
// committed; a daemon killed before the commit leaves the sender without an
// AA, and the sender's resend is delivered.
#include "e2e/harness.h"

#include "mllp_peer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <map>
#include <regex>

namespace cb::e2e {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string adt(const std::string& control_id) {
  return "MSH|^~\\&|RIO|RPG|CAREBRIDGE|00AF|20240301101500||ADT^A08^ADT_A01|" + control_id +
         "|P|2.5.1\rEVN|A08|20240301101500\rPID|1||9990000018^^^NHS^NH||TESTPERSON^ANNE\r";
}

class Hl7v2E2E : public ::testing::Test {
 protected:
  test::TempDir dir;
  fs::path certs = test::devCerts();
  std::unique_ptr<sim::MllpReceiver> partner;
  std::unique_ptr<DaemonProcess> daemon;

  mllp::TlsFiles tls(const std::string& name) {
    return {(certs / (name + ".pem")).string(), (certs / (name + ".key")).string(), (certs / "ca.pem").string(), {}};
  }

  void SetUp() override { partner = std::make_unique<sim::MllpReceiver>("127.0.0.1:0", tls("server")); }

  std::string config() {
    // [adapter.tls], as for every other adapter: the daemon hands it to the
    // plugin (plugin ABI 1.1, tls_settings).
    auto adapterTls = [&](const std::string& name, const std::string& extra) {
      return "  [adapter.tls]\n  certificate = \"" + (certs / (name + ".pem")).string() + "\"\n  private_key = \"" +
             (certs / (name + ".key")).string() + "\"\n  ca = \"" + (certs / "ca.pem").string() + "\"\n" + extra;
    };
    return "[daemon]\ndata_dir = \"state\"\nplugin_dir = \"" + test::pluginDir().string() +
           "\"\nlog_level = \"info\"\ndrain_timeout = \"3s\"\n[admin]\nlisten = \"127.0.0.1:0\"\n"
           "[[adapter]]\nname = \"in\"\nplugin = \"hl7v2\"\norganisation = \"RPG\"\n" +
           adapterTls("server", "  crl = \"" + (certs / "crl.pem").string() + "\"\n") +
           "  [adapter.settings]\n  listen = \"127.0.0.1:0\"\n"
           "[[adapter]]\nname = \"out\"\nplugin = \"hl7v2\"\norganisation = \"00AF\"\n" +
           adapterTls("carebridge", "  server_name = \"localhost\"\n") +
           "  [adapter.settings]\n  connect = \"127.0.0.1:" + std::to_string(partner->port()) +
           "\"\n  ack_timeout = \"5s\"\n"
           "  [adapter.delivery]\n  initial_backoff = \"50ms\"\n  max_backoff = \"200ms\"\n  max_attempts = 1000\n"
           "[[route]]\nname = \"in-to-out\"\nfrom = \"in\"\nto = [\"out\"]\nmode = \"passthrough\"\n";
  }

  void startDaemon() {
    if (!daemon) {
      test::writeFile(dir / "carebridge.toml", config());
      daemon = std::make_unique<DaemonProcess>(dir / "carebridge.toml", dir / "carebridged.log");
    }
    ASSERT_TRUE(daemon->start()) << daemon->log();
  }

  // The inbound adapter's port, from the plugin's log line of the current run.
  std::string inbound() {
    std::smatch m;
    const std::string log = daemon->log();
    if (!std::regex_search(log, m, std::regex("\\[plugin\\.in\\] MLLP listening on [^ ]+:([0-9]+)"))) {
      ADD_FAILURE() << "no MLLP port in the log:\n" << log;
      return "127.0.0.1:1";
    }
    return "127.0.0.1:" + m[1].str();
  }

  std::unique_ptr<sim::MllpSender> sender() {
    return std::make_unique<sim::MllpSender>(inbound(), tls("partner-a"), "localhost");
  }

  bool received(const std::string& control_id) {
    for (const auto& r : partner->received()) {
      if (r.control_id == control_id) return true;
    }
    return false;
  }
};

TEST_F(Hl7v2E2E, AMessageIsStoredAcknowledgedAndDeliveredOverMutualTls) {
  startDaemon();
  auto s = sender();
  auto ack = s->send(adt("E2E-1"));
  ASSERT_TRUE(ack) << s->lastError() << "\n" << daemon->log();
  const auto summary = sim::summariseAck(*ack);
  EXPECT_EQ(summary.code, "AA");
  EXPECT_EQ(summary.control_id, "E2E-1");
  ASSERT_TRUE(partner->waitFor(1, 10s)) << daemon->log();
  const auto got = partner->received();
  EXPECT_EQ(got[0].control_id, "E2E-1");
  EXPECT_EQ(got[0].message, adt("E2E-1"));
  EXPECT_EQ(got[0].peer_cn, "carebridge");  // carebridged presented its own certificate
  EXPECT_EQ(daemon->stop(), 0);
  // The operational log names control ids, never the person.
  EXPECT_THAT(daemon->log(), ::testing::Not(HasSubstr("TESTPERSON")));
  EXPECT_THAT(daemon->log(), ::testing::Not(HasSubstr("9990000018")));
}

TEST_F(Hl7v2E2E, ADaemonKilledBeforeTheCommitSendsNoAaAndTheResendIsDelivered) {
  startDaemon();
  auto s = sender();
  auto ack = s->send(adt("E2E-A"));
  ASSERT_TRUE(ack) << s->lastError();
  EXPECT_EQ(sim::summariseAck(*ack).code, "AA");

  // Frozen, the daemon cannot commit: the message sits in its socket buffer.
  daemon->signal(SIGSTOP);
  EXPECT_FALSE(s->send(adt("E2E-B"), 1500ms)) << "an ACK came back from a daemon that could not have stored";
  daemon->kill9();

  startDaemon();
  auto again = sender();
  ack = again->send(adt("E2E-B"));
  ASSERT_TRUE(ack) << again->lastError() << "\n" << daemon->log();
  EXPECT_EQ(sim::summariseAck(*ack).code, "AA");
  ASSERT_TRUE(partner->waitFor(2, 15s)) << daemon->log();
  EXPECT_TRUE(received("E2E-A"));
  EXPECT_TRUE(received("E2E-B"));
}

TEST_F(Hl7v2E2E, KillNineMidStreamLosesNothing) {
  startDaemon();
  constexpr int kMessages = 40;
  std::map<int, bool> acked;
  std::atomic<bool> killed{false};
  std::thread killer([&] {
    const auto until = std::chrono::steady_clock::now() + 30s;
    while (partner->distinct() < 10 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(2ms);
    daemon->kill9();
    killed = true;
  });
  {
    auto s = sender();
    for (int i = 0; i < kMessages; ++i) {
      auto ack = s->send(adt("E2E-S" + std::to_string(i)), 3s);
      acked[i] = ack && sim::summariseAck(*ack).code == "AA";
      if (killed && !acked[i]) break;
    }
  }
  killer.join();
  ASSERT_TRUE(killed);
  int unacked = 0;
  for (int i = 0; i < kMessages; ++i) unacked += acked[i] ? 0 : 1;
  EXPECT_GT(unacked, 0) << "the daemon was killed after the stream ended";
  startDaemon();
  // The sender keeps everything it has no AA for, and sends it again.
  auto s = sender();
  for (int i = 0; i < kMessages; ++i) {
    if (acked[i]) continue;
    std::optional<std::string> ack;
    for (int attempt = 0; attempt < 3 && !ack; ++attempt) ack = s->send(adt("E2E-S" + std::to_string(i)), 5s);
    ASSERT_TRUE(ack) << s->lastError();
    ASSERT_EQ(sim::summariseAck(*ack).code, "AA") << *ack;
  }
  ASSERT_TRUE(partner->waitFor(kMessages, 30s)) << partner->distinct() << "\n" << daemon->log();
  for (int i = 0; i < kMessages; ++i) EXPECT_TRUE(received("E2E-S" + std::to_string(i))) << i;
}

}  // namespace
}  // namespace cb::e2e
