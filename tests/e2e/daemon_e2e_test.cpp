// End to end: the real carebridged, real certificates, real SQLite files,
// real mutual TLS on loopback, partner systems played by the test.
#include "e2e/harness.h"
#include "store/store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <fstream>
#include <map>

namespace cb::e2e {
namespace {

using ::testing::AllOf;
using ::testing::AnyOf;
using ::testing::Not;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string record(int person, int seq) {
  return "<Concern><Person>p" + std::to_string(person) + "</Person><Seq>" + std::to_string(seq) + "</Seq></Concern>";
}

int seqOf(const std::string& body) {
  auto a = body.find("<Seq>") + 5;
  return std::stoi(body.substr(a, body.find("</Seq>") - a));
}

std::string personOf(const std::string& body) {
  auto a = body.find("<Person>") + 8;
  return body.substr(a, body.find("</Person>") - a);
}

class DaemonE2E : public ::testing::Test {
 protected:
  test::TempDir dir;
  fs::path certs = test::devCerts();
  IoThreads threads;
  std::unique_ptr<Sink> sink;
  std::unique_ptr<DaemonProcess> daemon;

  void SetUp() override { sink = std::make_unique<Sink>(threads.io(), certs); }

  // The standard topology: partner-a -> [in] carebridged [out] -> sink.
  std::string config(const std::string& out_plugin_block = "", const std::string& extra = "") {
    std::string out = out_plugin_block;
    if (out.empty()) {
      out = "[[adapter]]\nname = \"out\"\nplugin = \"https\"\norganisation = \"00AF\"\n"
            "  [adapter.tls]\n  certificate = \"" + (certs / "carebridge.pem").string() + "\"\n  private_key = \"" +
            (certs / "carebridge.key").string() + "\"\n  ca = \"" + (certs / "ca.pem").string() +
            "\"\n  server_name = \"localhost\"\n  [adapter.settings]\n  url = \"https://localhost:" +
            std::to_string(sink->port()) + "/records\"\n  timeout = \"5s\"\n"
            "  [adapter.delivery]\n  initial_backoff = \"50ms\"\n  max_backoff = \"200ms\"\n  max_attempts = 1000\n";
    }
    return "[daemon]\ndata_dir = \"state\"\nplugin_dir = \"" + test::pluginDir().string() +
           "\"\nlog_level = \"info\"\ndrain_timeout = \"3s\"\n[admin]\nlisten = \"127.0.0.1:0\"\n"
           "[[adapter]]\nname = \"in\"\nplugin = \"https\"\norganisation = \"RPG\"\n"
           "  [adapter.tls]\n  certificate = \"" + (certs / "server.pem").string() + "\"\n  private_key = \"" +
           (certs / "server.key").string() + "\"\n  ca = \"" + (certs / "ca.pem").string() + "\"\n  crl = \"" +
           (certs / "crl.pem").string() + "\"\n  [adapter.settings]\n  listen = \"127.0.0.1:0\"\n  max_body = 65536\n" +
           out + "[[route]]\nname = \"in-to-out\"\nfrom = \"in\"\nto = [\"out\"]\nmode = \"passthrough\"\n" + extra;
  }

  void startDaemon(const std::string& text) {
    test::writeFile(dir / "carebridge.toml", text);
    daemon = std::make_unique<DaemonProcess>(dir / "carebridge.toml", dir / "carebridged.log");
    ASSERT_TRUE(daemon->start()) << daemon->log();
  }

  std::pair<unsigned, std::string> send(Sender& s, int person, int seq, const std::string& sender_id = "") {
    std::vector<net::HttpHeader> h{{"Content-Type", "application/xml"},
                                   {"X-Subject", "p" + std::to_string(person)},
                                   {"X-Record-Type", "SafeguardingConcern"}};
    if (!sender_id.empty()) h.push_back({"X-Message-Id", sender_id});
    return s.post(daemon->adapterPort("in"), record(person, seq), h);
  }

  std::unique_ptr<store::Store> openStore() {
    store::StoreOptions o;
    o.path = dir / "state" / "carebridge.db";
    auto s = store::Store::open(o);
    EXPECT_TRUE(s) << s.error().message;
    return std::move(*s);
  }

  std::vector<std::string> auditActions() {
    auto st = openStore();
    std::vector<std::string> out;
    auto entries = st->auditEntries(0, 1000000);
    EXPECT_TRUE(entries) << entries.error().message;
    if (!entries) return out;
    for (const auto& r : *entries) out.push_back(r.action + "/" + r.outcome);
    return out;
  }
};

TEST_F(DaemonE2E, ARecordTravelsOverMutualTlsAndIsAudited) {
  startDaemon(config());
  Sender partner(threads.io(), certs, "partner-a");
  auto [status, body] = send(partner, 1, 1, "rio-1");
  ASSERT_EQ(status, 202u) << body;
  EXPECT_THAT(body, HasSubstr("message_id"));
  ASSERT_TRUE(sink->waitFor(1, std::chrono::seconds(10)));
  const auto got = sink->received();
  EXPECT_EQ(got[0].body, record(1, 1));
  EXPECT_EQ(got[0].peer_cn, "carebridge");  // carebridged presented its own client certificate
  EXPECT_THAT(body, HasSubstr(got[0].message_id));
  EXPECT_EQ(daemon->stop(), 0);
  const auto actions = auditActions();
  for (const char* a : {"daemon.started/success", "config.loaded/success", "plugin.loaded/success",
                        "record.received/success", "record.translated/success", "sharing.decided/success",
                        "delivery.attempt/success", "daemon.stopped/success"}) {
    EXPECT_THAT(actions, ::testing::Contains(a));
  }
  // The operational log names message ids, never the person.
  EXPECT_THAT(daemon->log(), ::testing::Not(HasSubstr("<Person>")));
}

TEST_F(DaemonE2E, DuplicateSubmissionsAreAcceptedOnce) {
  startDaemon(config());
  Sender partner(threads.io(), certs, "partner-a");
  auto first = send(partner, 1, 1, "rio-dup");
  auto second = send(partner, 1, 1, "rio-dup");
  EXPECT_EQ(first.first, 202u);
  EXPECT_EQ(second.first, 200u);
  EXPECT_EQ(first.second, second.second);
  ASSERT_TRUE(sink->waitFor(1, std::chrono::seconds(10)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(sink->distinct(), 1u);
}

TEST_F(DaemonE2E, KillNineMidStreamLosesNothingAndDuplicatesNothing) {
  startDaemon(config());
  Sender partner(threads.io(), certs, "partner-a");
  constexpr int kRecords = 150;
  std::map<int, bool> acked;
  std::atomic<bool> killed{false};
  // The sender keeps every record until it is acknowledged, as a real source does.
  std::thread killer([&] {
    while (sink->distinct() < 20) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    daemon->kill9();
    killed = true;
  });
  for (int i = 0; i < kRecords; ++i) {
    if (killed) break;
    auto [status, body] = send(partner, i % 7, i, "rio-" + std::to_string(i));
    acked[i] = status == 202 || status == 200;
  }
  killer.join();
  ASSERT_TRUE(daemon->start()) << daemon->log();
  for (int i = 0; i < kRecords; ++i) {
    if (acked[i]) continue;
    auto [status, body] = send(partner, i % 7, i, "rio-" + std::to_string(i));
    ASSERT_TRUE(status == 202 || status == 200) << status << " " << body;
  }
  ASSERT_TRUE(sink->waitFor(kRecords, std::chrono::seconds(30))) << sink->distinct();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Every record arrived, each under exactly one message id (a redelivery
  // after the crash carries the same id, which the sink detects).
  std::map<int, std::set<std::string>> ids_per_record;
  for (const auto& r : sink->received()) ids_per_record[seqOf(r.body)].insert(r.message_id);
  ASSERT_EQ(ids_per_record.size(), static_cast<std::size_t>(kRecords));
  for (const auto& [seq, ids] : ids_per_record) EXPECT_EQ(ids.size(), 1u) << "record " << seq;
  EXPECT_EQ(daemon->stop(), 0);
  // The kill fell between some state change and the next: still no state
  // change without its audit entry, and no entry without its change. Every
  // stored message has its receipt entry, every delivered one its
  // successful attempt, and the Merkle tree recomputes from the entries.
  auto st = openStore();
  std::set<std::string> received, delivered_ok;
  auto entries = st->auditEntries(0, 100000);
  ASSERT_TRUE(entries) << entries.error().message;
  for (const auto& e : *entries) {
    if (e.action == "record.received") received.insert(e.message_id);
    if (e.action == "delivery.attempt" && e.outcome == "success") delivered_ok.insert(e.message_id);
  }
  store::DeliveryFilter f;
  f.limit = 100000;
  auto deliveries = st->deliveries(f);
  ASSERT_TRUE(deliveries) << deliveries.error().message;
  std::size_t delivered = 0;
  for (const auto& d : *deliveries) {
    EXPECT_EQ(received.count(d.message_id), 1u) << d.message_id;
    if (d.state == store::DeliveryState::Delivered) {
      ++delivered;
      EXPECT_EQ(delivered_ok.count(d.message_id), 1u) << "delivered without its audit entry: " << d.message_id;
    } else {
      EXPECT_EQ(delivered_ok.count(d.message_id), 0u) << "audited as delivered but not: " << d.message_id;
    }
  }
  EXPECT_EQ(delivered, static_cast<std::size_t>(kRecords));
  EXPECT_EQ(received.size(), static_cast<std::size_t>(kRecords));
  std::string out;
  ASSERT_EQ(runCommand({carebridgeCli().string(), "audit", "keygen", "--out", (dir / "k").string()}, &out), 0) << out;
  EXPECT_EQ(runCommand({carebridgeCli().string(), "--config", (dir / "carebridge.toml").string(), "audit", "verify",
                        "--key", (dir / "k.pub").string()},
                       &out),
            0)
      << out;
}

TEST_F(DaemonE2E, APartnerThatIsDownGetsEverythingLaterInPerPersonOrder) {
  sink->setDown(true);
  startDaemon(config());
  Sender partner(threads.io(), certs, "partner-a");
  constexpr int kRecords = 60;
  for (int i = 0; i < kRecords; ++i) ASSERT_EQ(send(partner, i % 5, i, "rio-" + std::to_string(i)).first, 202u);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(sink->distinct(), 0u);
  sink->setDown(false);
  ASSERT_TRUE(sink->waitFor(kRecords, std::chrono::seconds(30))) << sink->distinct();
  std::map<std::string, int> last;
  for (const auto& r : sink->received()) {
    const auto person = personOf(r.body);
    const int seq = seqOf(r.body);
    if (last.count(person) != 0) {
      EXPECT_LT(last[person], seq) << "person " << person;
    }
    last[person] = seq;
  }
}

TEST_F(DaemonE2E, CertificatesThatDoNotVerifyAreRefusedAndAudited) {
  startDaemon(config());
  for (const char* who : {"rogue", "expired", "revoked"}) {
    Sender bad(threads.io(), certs, who);
    auto [status, body] = send(bad, 1, 1, std::string("bad-") + who);
    EXPECT_EQ(status, 0u) << who << ": " << body;
  }
  // No client certificate at all.
  std::string out;
  const int rc = runCommand({"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(daemon->adapterPort("in")),
                             "-CAfile", (certs / "ca.pem").string(), "-servername", "localhost", "-brief"},
                            &out);
  (void)rc;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(sink->distinct(), 0u);
  EXPECT_EQ(daemon->stop(), 0);
  const auto actions = auditActions();
  EXPECT_GE(std::count(actions.begin(), actions.end(), "tls.refused/refused"), 3);
  EXPECT_EQ(std::count(actions.begin(), actions.end(), "record.received/success"), 0);
}

TEST_F(DaemonE2E, MalformedHttpAndOversizedBodiesAreRefusedWithoutCrashing) {
  startDaemon(config());
  const std::string port = std::to_string(daemon->adapterPort("in"));
  test::writeFile(dir / "garbage.txt", "THIS IS NOT HTTP\r\n\x01\x02\x03\r\n\r\n");
  std::string out;
  runCommand({"sh", "-c",
              "openssl s_client -quiet -connect 127.0.0.1:" + port + " -cert " + (certs / "partner-a.pem").string() +
                  " -key " + (certs / "partner-a.key").string() + " -CAfile " + (certs / "ca.pem").string() +
                  " < " + (dir / "garbage.txt").string()},
             &out);
  EXPECT_THAT(out, HasSubstr("400"));
  Sender partner(threads.io(), certs, "partner-a");
  auto big = partner.post(daemon->adapterPort("in"), std::string(70000, 'x'), {{"X-Message-Id", "big"}});
  EXPECT_EQ(big.first, 413u);
  auto wrong_path = partner.post(daemon->adapterPort("in"), "x", {}, "/elsewhere");
  EXPECT_EQ(wrong_path.first, 404u);
  // Still alive and serving.
  EXPECT_TRUE(daemon->running());
  EXPECT_EQ(send(partner, 1, 1, "after").first, 202u);
  ASSERT_TRUE(sink->waitFor(1, std::chrono::seconds(10)));
}

TEST_F(DaemonE2E, ABadConfigNamesFileAndLine) {
  test::writeFile(dir / "bad.toml", "[daemon]\ndata_dir = \"s\"\nio_thread = 2\n");
  std::string out;
  EXPECT_EQ(runCommand({carebridgedBinary().string(), "--config", (dir / "bad.toml").string(), "--check-config"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("bad.toml:3: daemon.io_thread: unknown key"));
  DaemonProcess d(dir / "bad.toml", dir / "bad.log");
  EXPECT_FALSE(d.start(std::chrono::seconds(5)));
  EXPECT_THAT(d.log(), HasSubstr("bad.toml:3: daemon.io_thread: unknown key"));
  // And a good one passes.
  test::writeFile(dir / "good.toml", config());
  EXPECT_EQ(runCommand({carebridgedBinary().string(), "--config", (dir / "good.toml").string(), "--check-config"}, &out), 0)
      << out;
  EXPECT_THAT(out, HasSubstr("configuration OK"));
}

TEST_F(DaemonE2E, APluginBuiltForAnotherAbiIsRefusedNamingBothVersions) {
  const std::string out_block = "[[adapter]]\nname = \"out\"\nplugin = \"wrong_abi\"\n";
  test::writeFile(dir / "carebridge.toml", config(out_block));
  std::string out;
  EXPECT_EQ(runCommand({carebridgedBinary().string(), "--config", (dir / "carebridge.toml").string(), "--check-config"},
                       &out),
            1);
  EXPECT_THAT(out, AllOf(HasSubstr("plugin 'wrong_abi'"), HasSubstr("ABI 2.0"), HasSubstr("ABI 1.1")));
  DaemonProcess d(dir / "carebridge.toml", dir / "d.log");
  EXPECT_FALSE(d.start(std::chrono::seconds(5)));
  EXPECT_EQ(d.waitExit(std::chrono::seconds(5)), -1);  // already reaped by start()
  EXPECT_THAT(d.log(), AllOf(HasSubstr("plugin 'wrong_abi'"), HasSubstr("ABI 2.0")));
}

TEST_F(DaemonE2E, APluginThatThrowsDoesNotTakeTheDaemonDown) {
  const std::string out_block = "[[adapter]]\nname = \"out\"\nplugin = \"fake\"\n  [adapter.settings]\n  mode = \"throw\"\n"
                                "  [adapter.delivery]\n  initial_backoff = \"50ms\"\n  max_attempts = 3\n";
  startDaemon(config(out_block));
  Sender partner(threads.io(), certs, "partner-a");
  ASSERT_EQ(send(partner, 1, 1, "t-1").first, 202u);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_TRUE(daemon->running());
  EXPECT_EQ(send(partner, 1, 2, "t-2").first, 202u);
  std::string out;
  EXPECT_EQ(runCommand({carebridgeCli().string(), "--config", (dir / "carebridge.toml").string(), "queue", "list"}, &out), 0);
  EXPECT_THAT(out, HasSubstr("adapter threw"));
  EXPECT_EQ(daemon->stop(), 0);
}

TEST_F(DaemonE2E, APluginThatCrashesTheProcessLosesNothing) {
  const std::string crashing = "[[adapter]]\nname = \"out\"\nplugin = \"fake\"\n  [adapter.settings]\n  crash_after = 1\n";
  startDaemon(config(crashing));
  Sender partner(threads.io(), certs, "partner-a");
  // Delivery starts as soon as the record is stored, so the crash may come
  // before the sender has its answer: then the connection just drops.
  const unsigned first = send(partner, 1, 1, "c-1").first;
  EXPECT_TRUE(first == 202u || first == 0u) << first;
  EXPECT_NE(daemon->waitExit(std::chrono::seconds(10)), -1);  // aborted inside the plugin
  const std::string healthy = "[[adapter]]\nname = \"out\"\nplugin = \"fake\"\n  [adapter.settings]\n  record_file = \"" +
                              (dir / "delivered.txt").string() + "\"\n";
  startDaemon(config(healthy));
  if (first != 202u) {
    // A sender without an answer sends again; the record was stored before
    // any delivery began, so this copy is recognised as a duplicate.
    EXPECT_EQ(send(partner, 1, 1, "c-1").first, 200u);
  }
  for (int i = 0; i < 100 && test::readFile(dir / "delivered.txt").empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Delivered after the restart, exactly once. (The crashed attempt was never
  // reported, so the store may count this as attempt 1 or 2.)
  const std::string delivered = test::readFile(dir / "delivered.txt");
  EXPECT_EQ(std::count(delivered.begin(), delivered.end(), '\n'), 1) << delivered;
  EXPECT_THAT(delivered, HasSubstr(" 50")) << "the 50-byte record";
}

TEST_F(DaemonE2E, DeadLettersCanBeListedAndReplayedFromTheCli) {
  sink->setRefuse(true);
  startDaemon(config());
  Sender partner(threads.io(), certs, "partner-a");
  ASSERT_EQ(send(partner, 1, 1, "dl-1").first, 202u);
  const std::vector<std::string> cli{carebridgeCli().string(), "--config", (dir / "carebridge.toml").string(), "--as",
                                     "alice"};
  std::string out;
  for (int i = 0; i < 100; ++i) {
    auto args = cli;
    args.insert(args.end(), {"queue", "list", "--state", "dead", "--json"});
    runCommand(args, &out);
    if (out.find("refused with HTTP 400") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_THAT(out, HasSubstr("refused with HTTP 400"));
  sink->setRefuse(false);
  auto args = cli;
  args.insert(args.end(), {"queue", "replay", "--all-dead", "--reason", "partner fixed its validation"});
  ASSERT_EQ(runCommand(args, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("1 delivery queued again"));
  ASSERT_TRUE(sink->waitFor(1, std::chrono::seconds(10)));
  EXPECT_EQ(daemon->stop(), 0);
  auto st = openStore();
  bool replay_audited = false;
  auto entries = st->auditEntries(0, 100000);
  ASSERT_TRUE(entries) << entries.error().message;
  for (const auto& r : *entries) {
    if (r.action == "delivery.replayed") {
      replay_audited = true;
      EXPECT_EQ(r.actor, "person:alice");
      EXPECT_THAT(r.entry, HasSubstr("partner fixed its validation"));
    }
  }
  EXPECT_TRUE(replay_audited);
}

TEST_F(DaemonE2E, ReloadSwapsConfigurationAtomicallyOrKeepsTheOld) {
  startDaemon(config());
  Sender partner(threads.io(), certs, "partner-a");
  ASSERT_EQ(send(partner, 1, 1, "r-1").first, 202u);
  ASSERT_TRUE(sink->waitFor(1, std::chrono::seconds(10)));
  // A broken file: the running configuration stays, and the log says why.
  test::writeFile(dir / "carebridge.toml", config() + "[[route]]\nname = \"bad\"\n");
  daemon->signal(SIGHUP);
  for (int i = 0; i < 100 && daemon->log().find("reload refused") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_THAT(daemon->log(), AllOf(HasSubstr("reload refused"), HasSubstr("carebridge.toml:")));
  EXPECT_EQ(send(partner, 1, 2, "r-2").first, 202u);
  ASSERT_TRUE(sink->waitFor(2, std::chrono::seconds(10)));
  // A good new file with a second destination takes effect without a restart.
  Sink second(threads.io(), certs);
  const std::string extra_out =
      "[[adapter]]\nname = \"out2\"\nplugin = \"https\"\n  [adapter.tls]\n  certificate = \"" +
      (certs / "carebridge.pem").string() + "\"\n  private_key = \"" + (certs / "carebridge.key").string() +
      "\"\n  ca = \"" + (certs / "ca.pem").string() + "\"\n  server_name = \"localhost\"\n  [adapter.settings]\n  url = \"https://localhost:" +
      std::to_string(second.port()) + "/records\"\n";
  std::string text = config();
  text.replace(text.find("to = [\"out\"]"), std::string("to = [\"out\"]").size(), "to = [\"out\", \"out2\"]");
  test::writeFile(dir / "carebridge.toml", text + extra_out);
  daemon->signal(SIGHUP);
  for (int i = 0; i < 100 && daemon->log().find("configuration reloaded") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_THAT(daemon->log(), HasSubstr("configuration reloaded"));
  // The inbound listener was rebuilt: find its new port.
  std::uint16_t port = 0;
  {
    const std::string l = daemon->log();
    const auto at = l.rfind("adapter in listening on port ");
    port = static_cast<std::uint16_t>(std::stoi(l.substr(at + 29)));
  }
  std::vector<net::HttpHeader> h{{"X-Message-Id", "r-3"}, {"X-Subject", "p1"}};
  EXPECT_EQ(partner.post(port, record(1, 3), h).first, 202u);
  ASSERT_TRUE(second.waitFor(1, std::chrono::seconds(10)));
  ASSERT_TRUE(sink->waitFor(3, std::chrono::seconds(10)));
  EXPECT_EQ(daemon->stop(), 0);
}

TEST_F(DaemonE2E, HealthReadinessAndMetricsAreServed) {
  startDaemon(config());
  Sender partner(threads.io(), certs, "partner-a");
  ASSERT_EQ(send(partner, 1, 1, "m-1").first, 202u);
  ASSERT_TRUE(sink->waitFor(1, std::chrono::seconds(10)));
  std::string out;
  const std::string base = "http://127.0.0.1:" + std::to_string(daemon->adminPort());
  ASSERT_EQ(runCommand({"curl", "-fsS", base + "/readyz"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("ready"));
  ASSERT_EQ(runCommand({"curl", "-fsS", base + "/healthz"}, &out), 0) << out;
  for (int i = 0; i < 50; ++i) {
    runCommand({"curl", "-fsS", base + "/metrics"}, &out);
    if (out.find("carebridge_delivered_total{destination=\"out\"} 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_THAT(out, AllOf(HasSubstr("carebridge_received_total{adapter=\"in\"} 1"),
                         HasSubstr("carebridge_delivered_total{destination=\"out\"} 1"),
                         HasSubstr("carebridge_queue_depth"), HasSubstr("carebridge_delivery_latency_seconds_bucket")));
}

// ---- Mapped routes: RiO (Oxleas, RPG) -> canonical -> agreement -> LAS (Bromley, 00AF) ----

// The standard topology as a mapped route under the demo agreement
// (agreements/demo/oxleas-bromley-demo.xml: safeguarding enquiries only, a
// short allow-list, sealed records held).
std::string mapped(std::string text) {
  auto swap = [&](const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    if (at != std::string::npos) text.replace(at, from.size(), to);
  };
  swap("drain_timeout = \"3s\"\n", "drain_timeout = \"3s\"\nmappings_dir = \"" + (test::sourceDir() / "mappings").string() +
                                       "\"\nagreements_dir = \"" + (test::sourceDir() / "agreements" / "demo").string() +
                                       "\"\n");
  swap("organisation = \"RPG\"\n", "organisation = \"RPG\"\nsystem = \"rio\"\n");
  swap("organisation = \"00AF\"\n", "organisation = \"00AF\"\nsystem = \"las\"\n");
  swap("mode = \"passthrough\"\n", "mode = \"mapped\"\npurpose = \"safeguarding\"\n");
  return text;
}

std::pair<unsigned, std::string> sendFile(Sender& s, std::uint16_t port, const fs::path& file, const std::string& id,
                                          const std::string& content_type = "application/xml") {
  std::vector<net::HttpHeader> h{{"Content-Type", content_type}, {"X-Message-Id", id}};
  return s.post(port, test::readFile(file), h);
}

TEST_F(DaemonE2E, AMappedRecordIsTranslatedDecidedWithheldAndRendered) {
  startDaemon(mapped(config()));
  Sender partner(threads.io(), certs, "partner-a");
  // RiO's sample enquiry, where the risk remains: the demo agreement shares
  // it without consent under DPA 2018 Sch 1 para 18 (safeguarding).
  std::string enquiry = test::readFile(test::sourceDir() / "mappings" / "rio" / "samples" / "safeguarding-enquiry.xml");
  const std::string reduced = "<RiskResult>Risk reduced";
  enquiry.replace(enquiry.find(reduced), reduced.size(), "<RiskResult>Risk remains");
  test::writeFile(dir / "enquiry.xml", enquiry);
  ASSERT_EQ(sendFile(partner, daemon->adapterPort("in"), dir / "enquiry.xml", "sg-1").first, 202u);
  ASSERT_TRUE(sink->waitFor(1, std::chrono::seconds(10))) << daemon->log();
  const std::string las = sink->received().front().body;
  // Allowed by the agreement: the person's NHS number and name, the risk types.
  EXPECT_THAT(las, AllOf(HasSubstr("9990000026"), HasSubstr("Okafor"), HasSubstr("Financial")));
  // Not on the agreement's allow-list: never leaves, whatever the source sent.
  for (const char* withheld : {"Sample Street", "1958", "Protect finances", "Second signatory", "RIO100234"}) {
    EXPECT_THAT(las, Not(HasSubstr(withheld))) << withheld;
  }
  EXPECT_EQ(daemon->stop(), 0);
  auto st = openStore();
  auto entries = st->auditEntries(0, 1000);
  ASSERT_TRUE(entries) << entries.error().message;
  bool decided = false;
  for (const auto& e : *entries) {
    if (e.action != "sharing.decided") continue;
    decided = true;
    EXPECT_THAT(e.entry, AllOf(HasSubstr("demo-oxleas-bromley"), HasSubstr("share-withheld"), HasSubstr("para 18"),
                               HasSubstr("Person.BirthDate")));
    EXPECT_THAT(e.entry, Not(HasSubstr("9990000026")));  // the audit trail holds keyed hashes, not NHS numbers
  }
  EXPECT_TRUE(decided);
}

TEST_F(DaemonE2E, AMappedRecordTheAgreementDoesNotCoverIsRefusedAndOneThatDoesNotTranslateIsQuarantined) {
  startDaemon(mapped(config()));
  Sender partner(threads.io(), certs, "partner-a");
  const fs::path rio = test::sourceDir() / "mappings" / "rio";
  // A CPA review (StatutoryReview): the demo agreement carries enquiries only.
  ASSERT_EQ(sendFile(partner, daemon->adapterPort("in"), rio / "samples" / "cpa-review.xml", "cpa-1").first, 202u);
  // An enquiry whose NHS number fails the Modulus 11 check: refused by the mapping.
  std::string bad = test::readFile(rio / "samples" / "safeguarding-enquiry.xml");
  bad.replace(bad.find("999 000 0026"), 12, "999 000 0027");
  test::writeFile(dir / "bad.xml", bad);
  ASSERT_EQ(sendFile(partner, daemon->adapterPort("in"), dir / "bad.xml", "bad-1").first, 202u);
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(sink->distinct(), 0u);
  EXPECT_EQ(daemon->stop(), 0);
  auto st = openStore();
  auto entries = st->auditEntries(0, 1000);
  ASSERT_TRUE(entries) << entries.error().message;
  bool refused = false, quarantined = false;
  for (const auto& e : *entries) {
    if (e.action == "sharing.decided" && e.outcome == "refused") {
      refused = true;
      EXPECT_THAT(e.entry, HasSubstr("StatutoryReview"));
    }
    if (e.action == "record.quarantined") {
      quarantined = true;
      EXPECT_THAT(e.entry, AllOf(HasSubstr("enquiry-in.xml:"), Not(HasSubstr("0027"))));
    }
  }
  EXPECT_TRUE(refused);
  EXPECT_TRUE(quarantined);
}

TEST_F(DaemonE2E, CheckConfigRefusesAMappedRouteNoAgreementCovers) {
  std::string text = mapped(config());
  // Bromley's adapter now claims to be Warwickshire: no agreement covers RPG -> E10000031.
  const std::string bromley = "organisation = \"00AF\"";
  text.replace(text.find(bromley), bromley.size(), "organisation = \"E10000031\"");
  test::writeFile(dir / "carebridge.toml", text);
  std::string out;
  EXPECT_EQ(runCommand({carebridgedBinary().string(), "--config", (dir / "carebridge.toml").string(), "--check-config"},
                       &out),
            1);
  // Named with the file and line that does not fit: the agreement's party
  // the configuration no longer knows, or the route no agreement covers.
  EXPECT_THAT(out, AnyOf(HasSubstr("oxleas-bromley-demo.xml:"), HasSubstr("carebridge.toml:")));
  EXPECT_THAT(out, AnyOf(HasSubstr("no agreement"), HasSubstr("00AF")));
  test::writeFile(dir / "carebridge.toml", mapped(config()));
  EXPECT_EQ(runCommand({carebridgedBinary().string(), "--config", (dir / "carebridge.toml").string(), "--check-config"},
                       &out),
            0)
      << out;
}

TEST_F(DaemonE2E, HeldDisclosuresWaitForAnApproverAndOnlyApprovedOnesAreDelivered) {
  // Under the Bromley-Oxleas agreement a Section 42 enquiry shared without
  // the adult's consent (the override of DPA 2018 Sch 1 para 18) is held for
  // Bromley's Head of Safeguarding Adults. This site's folder holds only that
  // agreement, beside the shipped schema.
  fs::create_directories(dir / "agreements" / "schema");
  fs::copy_file(test::sourceDir() / "agreements" / "bromley-oxleas.xml", dir / "agreements" / "bromley-oxleas.xml");
  fs::copy_file(test::sourceDir() / "agreements" / "schema" / "agreement.xsd",
                dir / "agreements" / "schema" / "agreement.xsd");
  std::string text = mapped(config());
  const std::string demo_dir = (test::sourceDir() / "agreements" / "demo").string();
  text.replace(text.find(demo_dir), demo_dir.size(), (dir / "agreements").string());
  startDaemon(text);
  Sender partner(threads.io(), certs, "partner-a");
  const std::string sample =
      test::readFile(test::sourceDir() / "mappings" / "rio" / "samples" / "safeguarding-enquiry.xml");
  for (const char* id : {"SG-A", "SG-B"}) {
    std::string body = sample;
    body.replace(body.find("SG-2024-0117"), 12, id);
    std::vector<net::HttpHeader> h{{"Content-Type", "application/xml"}, {"X-Message-Id", id}};
    ASSERT_EQ(partner.post(daemon->adapterPort("in"), body, h).first, 202u);
  }
  const auto cli = [&](std::vector<std::string> args, std::string* out) {
    std::vector<std::string> all{carebridgeCli().string(), "--config", (dir / "carebridge.toml").string(), "--as", "alice"};
    all.insert(all.end(), args.begin(), args.end());
    return runCommand(all, out);
  };
  std::string out;
  for (int i = 0; i < 100; ++i) {
    cli({"holds", "list", "--json"}, &out);
    if (std::count(out.begin(), out.end(), '{') == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(std::count(out.begin(), out.end(), '{'), 2) << out;
  EXPECT_THAT(out, AllOf(HasSubstr("Head of Safeguarding Adults"), HasSubstr("bromley-oxleas")));
  EXPECT_EQ(sink->distinct(), 0u);  // nothing leaves before a person decides
  ASSERT_EQ(cli({"holds", "list"}, &out), 0) << out;
  const auto first = out.find('#');
  const auto second = out.find('#', out.find('\n', first));
  ASSERT_NE(second, std::string::npos) << out;
  const std::string a = out.substr(first + 1, out.find(' ', first) - first - 1);
  const std::string b = out.substr(second + 1, out.find(' ', second) - second - 1);
  ASSERT_EQ(cli({"holds", "show", a}, &out), 0) << out;
  EXPECT_THAT(out, AllOf(HasSubstr("held"), HasSubstr("consent"), HasSubstr("para 18")));
  EXPECT_NE(cli({"holds", "approve", a, "--reason", " "}, &out), 0) << "a reason is required";
  ASSERT_EQ(cli({"holds", "approve", a, "--reason", "s42 enquiry open; council must act"}, &out), 0) << out;
  ASSERT_EQ(cli({"holds", "refuse", b, "--reason", "no current risk"}, &out), 0) << out;
  ASSERT_TRUE(sink->waitFor(1, std::chrono::seconds(10))) << daemon->log();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(sink->distinct(), 1u);
  EXPECT_NE(cli({"holds", "approve", b, "--reason", "changed my mind"}, &out), 0) << "a refused hold stays refused";
  EXPECT_EQ(daemon->stop(), 0);
  const auto actions = auditActions();
  EXPECT_EQ(std::count(actions.begin(), actions.end(), "hold.approved/success"), 1);
  EXPECT_EQ(std::count(actions.begin(), actions.end(), "hold.refused/success"), 1);
  auto st = openStore();
  auto entries = st->auditEntries(0, 1000);
  ASSERT_TRUE(entries);
  for (const auto& e : *entries) {
    if (e.action == "hold.approved") {
      EXPECT_EQ(e.actor, "person:alice");
      EXPECT_THAT(e.entry, AllOf(HasSubstr("approver"), HasSubstr("council must act")));
    }
  }
}

TEST_F(DaemonE2E, RoutesSplitBySourceRecordTypeEachTravelForTheirOwnPurpose) {
  // Oxleas RiO to Bromley LAS under the Bromley-Oxleas agreement: enquiries
  // and concerns for safeguarding, reviews and assessments for the council's
  // performance monitoring; nothing else (RiO's demographics) has a route.
  fs::create_directories(dir / "agreements" / "schema");
  fs::copy_file(test::sourceDir() / "agreements" / "bromley-oxleas.xml", dir / "agreements" / "bromley-oxleas.xml");
  fs::copy_file(test::sourceDir() / "agreements" / "schema" / "agreement.xsd",
                dir / "agreements" / "schema" / "agreement.xsd");
  std::string text = mapped(config());
  const std::string demo_dir = (test::sourceDir() / "agreements" / "demo").string();
  text.replace(text.find(demo_dir), demo_dir.size(), (dir / "agreements").string());
  const std::string route = "purpose = \"safeguarding\"\n";
  text.replace(text.find(route), route.size(),
               route + "record_types = [\"SafeguardingConcern\", \"SafeguardingEnquiry\"]\n"
                       "[[route]]\nname = \"in-to-out-performance\"\nfrom = \"in\"\nto = [\"out\"]\nmode = \"mapped\"\n"
                       "purpose = \"performance-monitoring\"\nrecord_types = [\"CareActAssessment\", \"StatutoryReview\"]\n");
  startDaemon(text);
  Sender partner(threads.io(), certs, "partner-a");
  const fs::path rio = test::sourceDir() / "mappings" / "rio" / "samples";
  ASSERT_EQ(sendFile(partner, daemon->adapterPort("in"), rio / "cpa-review.xml", "cpa-1").first, 202u);
  ASSERT_EQ(sendFile(partner, daemon->adapterPort("in"), rio / "adt-a28.hl7", "adt-1", "application/hl7-v2").first,
            202u);
  ASSERT_TRUE(sink->waitFor(1, std::chrono::seconds(10))) << daemon->log();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(sink->distinct(), 1u);  // the review; the person update had no route
  EXPECT_EQ(daemon->stop(), 0);
  auto st = openStore();
  auto entries = st->auditEntries(0, 1000);
  ASSERT_TRUE(entries) << entries.error().message;
  bool review = false, person = false;
  for (const auto& e : *entries) {
    if (e.action != "sharing.decided") continue;
    if (e.entry.find("StatutoryReview") != std::string::npos) {
      review = true;
      EXPECT_THAT(e.entry, AllOf(HasSubstr("oxleas-to-bromley-performance"), HasSubstr("in-to-out-performance"),
                                 HasSubstr("performance-monitoring")));
      EXPECT_EQ(e.outcome, "success");
    } else if (e.entry.find("Person") != std::string::npos) {
      person = true;
      EXPECT_EQ(e.outcome, "refused");
      EXPECT_THAT(e.entry, AllOf(HasSubstr("no-route-for-record-type"), HasSubstr("carries Person records")));
    } else {
      ADD_FAILURE() << "one decision per record, on its own route: " << e.entry;
    }
  }
  EXPECT_TRUE(review);
  EXPECT_TRUE(person);
}

TEST_F(DaemonE2E, TheDaemonSignsCheckpointsAndAnAuditorFindsTampering) {
  std::string out;
  const auto cli = [&](std::vector<std::string> args, std::string* o) {
    std::vector<std::string> all{carebridgeCli().string(), "--config", (dir / "carebridge.toml").string(), "--as", "ig"};
    all.insert(all.end(), args.begin(), args.end());
    return runCommand(all, o);
  };
  ASSERT_EQ(runCommand({carebridgeCli().string(), "audit", "keygen", "--out", (dir / "audit.key").string()}, &out), 0)
      << out;
  startDaemon(config("", "[audit]\nsigning_key = \"audit.key\"\ncheckpoint_interval = \"1s\"\npublish_dir = \"published\"\n"));
  Sender partner(threads.io(), certs, "partner-a");
  for (int i = 0; i < 5; ++i) ASSERT_EQ(send(partner, i, i, "cp-" + std::to_string(i)).first, 202u);
  ASSERT_TRUE(sink->waitFor(5, std::chrono::seconds(10)));
  EXPECT_EQ(daemon->stop(), 0);
  EXPECT_TRUE(fs::exists(dir / "published" / "latest.txt"));
  ASSERT_EQ(cli({"audit", "verify", "--key", (dir / "audit.key.pub").string(), "--published",
                 (dir / "published").string()},
                &out),
            0)
      << out;
  // Someone with access to the SQLite file edits one entry.
  ASSERT_EQ(runCommand({"sqlite3", (dir / "state" / "carebridge.db").string(),
                        "UPDATE audit_log SET entry = replace(entry, 'success', 'failure') WHERE seq = 3"},
                       &out),
            0)
      << out;
  EXPECT_EQ(cli({"audit", "verify", "--key", (dir / "audit.key.pub").string()}, &out), 1) << out;
  EXPECT_THAT(out, HasSubstr("entry 3 "));
}

}  // namespace
}  // namespace cb::e2e
