// The hl7v2 plugin through the real plugin host: the real .so, loaded and
// configured as the daemon does it, against MLLP peers from sim/mllp over
// plain TCP on loopback and over mutual TLS with the dev certificates.
#include "common/log.h"
#include "fakes/fake_store_events.h"
#include "plugin_host/adapter.h"
#include "plugin_host/plugin_host.h"
#include "support/test_support.h"

#include "mllp_peer.h"

#include <carebridge/tls_pins.hpp>
#include <openssl/pem.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include <algorithm>
#include <future>
#include <map>
#include <regex>
#include <thread>

namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;
using cb::test::FakeStoreEvents;
using namespace std::chrono_literals;

std::string adt(const std::string& control_id, const std::string& extra = "") {
  return "MSH|^~\\&|RIO|RPG|CAREBRIDGE|00AF|20240301101500||ADT^A08^ADT_A01|" + control_id +
         "|P|2.5.1\rEVN|A08|20240301101500\rPID|1||RIO123^^^RIO^PI~9990000018^^^NHS^NH||TEST^PERSON^^^MS" + extra +
         "\r";
}

// The same ADT in enhanced acknowledgment mode (HL7 v2.5 section 2.9.3):
// MSH-15 accept and MSH-16 application acknowledgment types (table 0155).
std::string adtEnhanced(const std::string& control_id, const std::string& accept, const std::string& application) {
  std::string m = adt(control_id);
  const auto end_of_msh = m.find('\r');
  return m.insert(end_of_msh, "|||" + accept + "|" + application);
}

class Hl7v2PluginTest : public ::testing::Test {
 protected:
  cb::test::TempDir dir;
  fs::path certs = cb::test::devCerts();
  cb::plugin_host::PluginHost host{cb::test::pluginDir()};
  boost::asio::io_context io;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::thread thread;
  FakeStoreEvents events;
  std::vector<std::shared_ptr<cb::plugin_host::Adapter>> adapters;

  void SetUp() override {
    work = std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(io.get_executor());
    thread = std::thread([this] { io.run(); });
  }
  void TearDown() override {
    for (auto& a : adapters) a->stop(2s);
    adapters.clear();
    work.reset();
    io.stop();
    thread.join();
  }

  static cb::config::SettingValue str(const std::string& v) { return {v, true, false, false, {"test.toml", 9}}; }
  static cb::config::SettingValue integer(long v) { return {std::to_string(v), false, true, false, {"test.toml", 9}}; }

  // The plugin's own TLS settings of plugin ABI 1.0, now deprecated.
  std::map<std::string, cb::config::SettingValue> legacyTlsSettings(const std::string& name) {
    return {{"tls_certificate", str((certs / (name + ".pem")).string())},
            {"tls_private_key", str((certs / (name + ".key")).string())},
            {"tls_ca", str((certs / "ca.pem").string())}};
  }

  // `[adapter.tls]`, as the config loader builds it, presenting `name`'s certificate.
  cb::net::TlsSettings adapterTls(const std::string& name) {
    cb::net::TlsSettings t;
    t.certificate = certs / (name + ".pem");
    t.private_key = certs / (name + ".key");
    t.ca = certs / "ca.pem";
    return t;
  }

  // The RFC 7469 pin of a dev certificate's public key.
  std::string pinOf(const std::string& name) {
    BIO* bio = BIO_new_file((certs / (name + ".pem")).c_str(), "r");
    X509* cert = bio != nullptr ? PEM_read_bio_X509(bio, nullptr, nullptr, nullptr) : nullptr;
    BIO_free(bio);
    EXPECT_NE(cert, nullptr) << name;
    if (cert == nullptr) return {};
    const std::string pin = cb::sdk::pins::format(cb::sdk::pins::spkiDigest(cert));
    X509_free(cert);
    return pin;
  }

  cb::Result<std::shared_ptr<cb::plugin_host::Adapter>> tryAdapter(
      const std::string& name, const std::map<std::string, cb::config::SettingValue>& settings,
      std::optional<cb::net::TlsSettings> tls = std::nullopt) {
    auto lib = host.library("hl7v2");
    if (!lib) return lib.error();
    cb::config::AdapterSettings a;
    a.name = name;
    a.plugin = "hl7v2";
    a.where = {"test.toml", 7};
    a.settings = settings;
    a.tls = std::move(tls);
    auto resolved = host.resolveSettings(**lib, a, dir.path());
    if (!resolved) return resolved.error();
    return cb::plugin_host::Adapter::create(*lib, a, *resolved, io, events, cb::SystemClock::instance());
  }

  // Starts an inbound adapter on a free loopback port and returns that port,
  // read from the plugin's own log line.
  std::uint16_t startInbound(std::map<std::string, cb::config::SettingValue> settings = {},
                             const std::string& name = "hl7-in",
                             std::optional<cb::net::TlsSettings> tls = std::nullopt) {
    settings["listen"] = str("127.0.0.1:0");
    auto a = tryAdapter(name, settings, std::move(tls));
    EXPECT_TRUE(a) << a.error().message;
    if (!a) return 0;
    auto ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
    cb::log::get("plugin." + name)->sinks().push_back(ring);
    auto started = (*a)->start();
    EXPECT_TRUE(started) << started.error().message;
    adapters.push_back(*a);
    std::smatch m;
    for (const auto& line : ring->last_formatted()) {
      if (std::regex_search(line, m, std::regex("MLLP listening on [^ ]+:([0-9]+)"))) {
        return static_cast<std::uint16_t>(std::stoi(m[1]));
      }
    }
    ADD_FAILURE() << "the plugin did not log its port";
    return 0;
  }

  std::shared_ptr<cb::plugin_host::Adapter> startOutbound(std::uint16_t port,
                                                          std::map<std::string, cb::config::SettingValue> settings = {},
                                                          std::optional<cb::net::TlsSettings> tls = std::nullopt,
                                                          const std::string& name = "hl7-out") {
    settings["connect"] = str("127.0.0.1:" + std::to_string(port));
    if (settings.count("ack_timeout") == 0) settings["ack_timeout"] = str("2s");
    auto a = tryAdapter(name, settings, std::move(tls));
    EXPECT_TRUE(a) << a.error().message;
    if (!a) return nullptr;
    auto started = (*a)->start();
    EXPECT_TRUE(started) << started.error().message;
    adapters.push_back(*a);
    return *a;
  }

  static cb::plugin_host::DeliveryReport deliver(cb::plugin_host::Adapter& a, const std::string& payload,
                                                 const std::string& id = "0190f3a0-0000-7000-8000-000000000001") {
    std::promise<cb::plugin_host::DeliveryReport> p;
    cb::plugin_host::DeliveryRequest req;
    req.message_id = id;
    req.content_type = "x-application/hl7-v2+er7";
    req.payload = std::make_shared<const std::string>(payload);
    a.deliver(req, [&p](cb::plugin_host::DeliveryReport r) { p.set_value(std::move(r)); });
    auto f = p.get_future();
    if (f.wait_for(20s) != std::future_status::ready) {
      ADD_FAILURE() << "no delivery report";
      return {};
    }
    return f.get();
  }

  std::string endpoint(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }
  cb::mllp::TlsFiles peerTls(const std::string& name) {
    return {(certs / (name + ".pem")).string(), (certs / (name + ".key")).string(), (certs / "ca.pem").string(), {}};
  }
};

// ---- Inbound

TEST_F(Hl7v2PluginTest, AnswersAaOnlyAfterTheDaemonHasStoredTheMessage) {
  events.setMode(FakeStoreEvents::Mode::Hold);
  const auto port = startInbound();
  cb::sim::MllpSender sender(endpoint(port));
  auto ack = std::async(std::launch::async, [&] { return sender.send(adt("CTRL-1"), 10s); });
  ASSERT_TRUE(events.waitHeld(1, 5s));
  // Handed to the daemon but not committed: no ACK of any kind yet.
  EXPECT_EQ(ack.wait_for(300ms), std::future_status::timeout);
  events.releaseAll();
  auto got = ack.get();
  ASSERT_TRUE(got) << sender.lastError();
  const auto s = cb::sim::summariseAck(*got);
  EXPECT_EQ(s.code, "AA");
  EXPECT_EQ(s.control_id, "CTRL-1");
  EXPECT_THAT(*got, HasSubstr("MSH|^~\\&|CAREBRIDGE|00AF|RIO|RPG|"));
  EXPECT_THAT(*got, HasSubstr("|ACK^A08^ACK|"));
}

TEST_F(Hl7v2PluginTest, HandsTheMessageToTheDaemonWithItsControlIdAsSenderId) {
  const auto port = startInbound();
  cb::sim::MllpSender sender(endpoint(port));
  const std::string msg = adt("CTRL-2");
  auto ack = sender.send(msg);
  ASSERT_TRUE(ack) << sender.lastError();
  EXPECT_EQ(cb::sim::summariseAck(*ack).code, "AA");
  const auto got = events.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].sender_message_id, "CTRL-2");
  EXPECT_EQ(got[0].content_type, "x-application/hl7-v2+er7");
  EXPECT_EQ(got[0].record_type, "ADT^A08");
  EXPECT_EQ(got[0].subject, "nhs:9990000018");  // the NH-typed identifier, not the first one
  EXPECT_EQ(got[0].payload, msg);                // exactly as received
}

TEST_F(Hl7v2PluginTest, AResendOfTheSameControlIdIsAcknowledgedAgainAndStoredOnce) {
  const auto port = startInbound();
  cb::sim::MllpSender sender(endpoint(port));
  for (int i = 0; i < 2; ++i) {
    auto ack = sender.send(adt("CTRL-DUP"));
    ASSERT_TRUE(ack) << sender.lastError();
    EXPECT_EQ(cb::sim::summariseAck(*ack).code, "AA");
  }
  EXPECT_EQ(events.received().size(), 2u);
  EXPECT_EQ(events.stored(), 1u);
}

TEST_F(Hl7v2PluginTest, GarbageIsAnsweredAeAndNeverReachesTheDaemon) {
  const auto port = startInbound();
  cb::sim::MllpSender sender(endpoint(port));
  auto ack = sender.send("this is not an HL7 message\r");
  ASSERT_TRUE(ack) << sender.lastError();
  auto s = cb::sim::summariseAck(*ack);
  EXPECT_EQ(s.code, "AE");
  EXPECT_EQ(s.control_id, "");
  EXPECT_THAT(s.text, HasSubstr("does not start with an MSH segment"));
  EXPECT_THAT(*ack, HasSubstr("ERR|||100^Segment sequence error^HL70357|E"));

  // A header without MSH-12: still answered with the control id it carries.
  ack = sender.send("MSH|^~\\&|RIO|RPG|CB|X|20240301||ADT^A08|CTRL-BROKEN|P\rPID|1\r");
  ASSERT_TRUE(ack) << sender.lastError();
  s = cb::sim::summariseAck(*ack);
  EXPECT_EQ(s.code, "AE");
  EXPECT_EQ(s.control_id, "CTRL-BROKEN");
  EXPECT_THAT(s.text, HasSubstr("MSH-12"));
  EXPECT_TRUE(events.received().empty());

  // The connection is still good for the next message.
  ack = sender.send(adt("CTRL-AFTER"));
  ASSERT_TRUE(ack);
  EXPECT_EQ(cb::sim::summariseAck(*ack).code, "AA");
}

TEST_F(Hl7v2PluginTest, ARefusalByTheDaemonIsAnsweredArWithTheReason) {
  events.setMode(FakeStoreEvents::Mode::Refuse, "record larger than 10 bytes");
  const auto port = startInbound();
  cb::sim::MllpSender sender(endpoint(port));
  auto ack = sender.send(adt("CTRL-R"));
  ASSERT_TRUE(ack);
  const auto s = cb::sim::summariseAck(*ack);
  EXPECT_EQ(s.code, "AR");
  EXPECT_EQ(s.control_id, "CTRL-R");
  EXPECT_THAT(s.text, HasSubstr("record larger than 10 bytes"));
  EXPECT_THAT(*ack, HasSubstr("ERR||"));
}

TEST_F(Hl7v2PluginTest, NotStoredNowIsAnsweredArAskingForAResend) {
  events.setMode(FakeStoreEvents::Mode::Unavailable, "carebridged is busy; retry later");
  const auto port = startInbound();
  cb::sim::MllpSender sender(endpoint(port));
  auto ack = sender.send(adt("CTRL-U"));
  ASSERT_TRUE(ack);
  const auto s = cb::sim::summariseAck(*ack);
  EXPECT_EQ(s.code, "AR");
  EXPECT_THAT(s.text, HasSubstr("resend later"));
}

// ---- Enhanced acknowledgment mode (HL7 v2.5 section 2.9.3)

TEST_F(Hl7v2PluginTest, EnhancedModeStoredMessagesGetACommitAcceptAsMsh15Asks) {
  const auto port = startInbound();
  cb::sim::MllpSender sender(endpoint(port));
  // AL: always; SU: on success. Both answered CA once stored.
  for (const char* accept : {"AL", "SU"}) {
    const std::string id = std::string("ENH-OK-") + accept;
    auto ack = sender.send(adtEnhanced(id, accept, "NE"));
    ASSERT_TRUE(ack) << accept << ": " << sender.lastError();
    const auto s = cb::sim::summariseAck(*ack);
    EXPECT_EQ(s.code, "CA") << accept;
    EXPECT_EQ(s.control_id, id);
    EXPECT_THAT(*ack, Not(HasSubstr("ERR|")));
  }
  // ER: only on error; NE: never. Stored all the same, and no ACK comes.
  for (const char* accept : {"ER", "NE"}) {
    cb::sim::MllpSender quiet(endpoint(port));
    EXPECT_FALSE(quiet.send(adtEnhanced(std::string("ENH-OK-") + accept, accept, "NE"), 1s)) << accept;
  }
  ASSERT_TRUE(events.waitReceived(4, 5s));
  // MSH-16 valued alone is enhanced mode too; an empty MSH-15 is answered as AL.
  auto ack = sender.send(adtEnhanced("ENH-APP-ONLY", "", "AL"));
  ASSERT_TRUE(ack) << sender.lastError();
  EXPECT_EQ(cb::sim::summariseAck(*ack).code, "CA");
  // No application ACK follows a commit ACK: the next answer on this
  // connection is for the next message.
  ack = sender.send(adt("ORIGINAL-AFTER"));
  ASSERT_TRUE(ack) << sender.lastError();
  EXPECT_EQ(cb::sim::summariseAck(*ack).code, "AA");
  EXPECT_EQ(cb::sim::summariseAck(*ack).control_id, "ORIGINAL-AFTER");
}

TEST_F(Hl7v2PluginTest, EnhancedModeAWithheldAckLeavesTheConnectionReadingTheNextMessage) {
  const auto port = startInbound();
  cb::sim::MllpSender sender(endpoint(port));
  // NE: nothing is sent back, and the session goes on to the next frame.
  ASSERT_TRUE(sender.sendRaw(cb::mllp::frame(adtEnhanced("ENH-NE-1", "NE", "NE"))));
  auto ack = sender.send(adtEnhanced("ENH-AL-2", "AL", "NE"));
  ASSERT_TRUE(ack) << sender.lastError();
  const auto s = cb::sim::summariseAck(*ack);
  EXPECT_EQ(s.code, "CA");
  EXPECT_EQ(s.control_id, "ENH-AL-2");
  ASSERT_TRUE(events.waitReceived(2, 5s));
}

TEST_F(Hl7v2PluginTest, EnhancedModeNotStoredNowIsACommitErrorUnlessMsh15SaysOtherwise) {
  events.setMode(FakeStoreEvents::Mode::Unavailable, "carebridged is busy; retry later");
  const auto port = startInbound();
  for (const char* accept : {"AL", "ER"}) {
    cb::sim::MllpSender sender(endpoint(port));
    auto ack = sender.send(adtEnhanced(std::string("ENH-CE-") + accept, accept, "NE"));
    ASSERT_TRUE(ack) << accept << ": " << sender.lastError();
    const auto s = cb::sim::summariseAck(*ack);
    EXPECT_EQ(s.code, "CE") << accept;
    EXPECT_THAT(s.text, HasSubstr("resend later"));
  }
  for (const char* accept : {"SU", "NE"}) {
    cb::sim::MllpSender sender(endpoint(port));
    EXPECT_FALSE(sender.send(adtEnhanced(std::string("ENH-CE-") + accept, accept, "NE"), 1s)) << accept;
  }
}

TEST_F(Hl7v2PluginTest, EnhancedModeRefusalsAreCommitRejects) {
  events.setMode(FakeStoreEvents::Mode::Refuse, "record larger than 10 bytes");
  const auto port = startInbound();
  cb::sim::MllpSender sender(endpoint(port));
  auto ack = sender.send(adtEnhanced("ENH-CR", "ER", "NE"));
  ASSERT_TRUE(ack) << sender.lastError();
  auto s = cb::sim::summariseAck(*ack);
  EXPECT_EQ(s.code, "CR");
  EXPECT_EQ(s.control_id, "ENH-CR");
  EXPECT_THAT(s.text, HasSubstr("record larger than 10 bytes"));

  // A header the codec cannot read (no MSH-12) still says which mode it wants.
  ack = sender.send("MSH|^~\\&|RIO|RPG|CB|X|20240301||ADT^A08|ENH-BROKEN|P||||AL|NE\rPID|1\r");
  ASSERT_TRUE(ack) << sender.lastError();
  s = cb::sim::summariseAck(*ack);
  EXPECT_EQ(s.code, "CR");
  EXPECT_EQ(s.control_id, "ENH-BROKEN");
  EXPECT_THAT(s.text, HasSubstr("MSH-12"));
}

TEST_F(Hl7v2PluginTest, AMessageOverMaxMessageBytesIsAnsweredArFromItsHeader) {
  const auto port = startInbound({{"max_message_bytes", integer(512)}});
  cb::sim::MllpSender sender(endpoint(port));
  auto ack = sender.send(adt("CTRL-BIG", std::string(2000, 'X')));
  ASSERT_TRUE(ack) << sender.lastError();
  const auto s = cb::sim::summariseAck(*ack);
  EXPECT_EQ(s.code, "AR");
  EXPECT_EQ(s.control_id, "CTRL-BIG");
  EXPECT_THAT(s.text, HasSubstr("512 bytes"));
  EXPECT_TRUE(events.received().empty());
  ack = sender.send(adt("CTRL-SMALL"));
  ASSERT_TRUE(ack);
  EXPECT_EQ(cb::sim::summariseAck(*ack).code, "AA");
}

TEST_F(Hl7v2PluginTest, MessagesSplitAcrossReadsAndNoiseBetweenFramesAreHandled) {
  const auto port = startInbound();
  cb::sim::MllpSender sender(endpoint(port));
  const std::string framed = cb::mllp::frame(adt("CTRL-SPLIT"));
  ASSERT_TRUE(sender.sendRaw("\r\n" + framed.substr(0, 30)));
  std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(sender.sendRaw(framed.substr(30, framed.size() - 31)));
  std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(sender.sendRaw(framed.substr(framed.size() - 1)));
  auto ack = sender.receive(5s);
  ASSERT_TRUE(ack) << sender.lastError();
  EXPECT_EQ(cb::sim::summariseAck(*ack).control_id, "CTRL-SPLIT");
}

// ---- Outbound

TEST_F(Hl7v2PluginTest, DeliveryOutcomesFollowThePartnersAck) {
  cb::sim::MllpReceiver partner("127.0.0.1:0");
  auto out = startOutbound(partner.port());
  ASSERT_TRUE(out);

  auto r = deliver(*out, adt("OUT-1"));
  EXPECT_EQ(r.status, CB_OK) << r.reason;
  ASSERT_EQ(partner.received().size(), 1u);
  EXPECT_EQ(partner.received()[0].control_id, "OUT-1");

  partner.setAnswer(cb::sim::MllpReceiver::Answer::CA);
  EXPECT_EQ(deliver(*out, adt("OUT-2")).status, CB_OK);

  partner.setAnswer(cb::sim::MllpReceiver::Answer::AE);
  r = deliver(*out, adt("OUT-3"));
  EXPECT_EQ(r.status, CB_ERROR);
  EXPECT_THAT(r.reason, HasSubstr("partner answered AE for control id OUT-3: refused by the simulator as told"));

  partner.setAnswer(cb::sim::MllpReceiver::Answer::AR);
  r = deliver(*out, adt("OUT-4"));
  EXPECT_EQ(r.status, CB_ERROR);
  EXPECT_THAT(r.reason, HasSubstr("AR"));

  // One keep-alive connection carried all of them.
  EXPECT_EQ(partner.connections(), 1u);
}

TEST_F(Hl7v2PluginTest, NoAckWithinTheTimeoutIsRetriedAndTheNextAttemptUsesANewConnection) {
  cb::sim::MllpReceiver partner("127.0.0.1:0");
  partner.setAnswer(cb::sim::MllpReceiver::Answer::Silent);
  auto out = startOutbound(partner.port(), {{"ack_timeout", str("300ms")}});
  ASSERT_TRUE(out);
  auto r = deliver(*out, adt("OUT-T"));
  EXPECT_EQ(r.status, CB_RETRY);
  EXPECT_THAT(r.reason, HasSubstr("no ACK within ack_timeout (300 ms)"));
  partner.setAnswer(cb::sim::MllpReceiver::Answer::AA);
  r = deliver(*out, adt("OUT-T"));
  EXPECT_EQ(r.status, CB_OK) << r.reason;
  EXPECT_EQ(partner.connections(), 2u);
  EXPECT_EQ(partner.repeats(), 1u);  // the partner saw the same control id again
}

TEST_F(Hl7v2PluginTest, APartnerThatIsDownIsRetriedAndAStaleConnectionIsReopened) {
  std::uint16_t port = 0;
  {
    cb::sim::MllpReceiver gone("127.0.0.1:0");
    port = gone.port();
  }
  auto out = startOutbound(port, {{"connect_timeout", str("1s")}});
  ASSERT_TRUE(out);
  auto r = deliver(*out, adt("OUT-D"));
  EXPECT_EQ(r.status, CB_RETRY);
  EXPECT_THAT(r.reason, HasSubstr("cannot connect"));

  cb::sim::MllpReceiver partner("127.0.0.1:0");
  auto out2 = startOutbound(partner.port());
  EXPECT_EQ(deliver(*out2, adt("OUT-K1")).status, CB_OK);
  partner.dropConnections();  // the partner closes the idle keep-alive connection
  std::this_thread::sleep_for(100ms);
  r = deliver(*out2, adt("OUT-K2"));
  EXPECT_EQ(r.status, CB_OK) << r.reason;
  EXPECT_EQ(partner.connections(), 2u);
}

TEST_F(Hl7v2PluginTest, APayloadThatIsNotHl7IsAPermanentFailure) {
  cb::sim::MllpReceiver partner("127.0.0.1:0");
  auto out = startOutbound(partner.port());
  auto r = deliver(*out, "{\"resourceType\":\"Patient\"}");
  EXPECT_EQ(r.status, CB_ERROR);
  EXPECT_THAT(r.reason, HasSubstr("payload is not an HL7 v2 message"));
  EXPECT_TRUE(partner.received().empty());
}

TEST_F(Hl7v2PluginTest, ConcurrentDeliveriesGoOutOneAtATime) {
  cb::sim::MllpReceiver partner("127.0.0.1:0");
  auto out = startOutbound(partner.port());
  std::vector<std::future<cb::plugin_host::DeliveryReport>> results;
  for (int i = 0; i < 20; ++i) {
    results.push_back(std::async(std::launch::async, [&, i] { return deliver(*out, adt("OUT-C" + std::to_string(i))); }));
  }
  for (auto& f : results) EXPECT_EQ(f.get().status, CB_OK);
  EXPECT_EQ(partner.distinct(), 20u);
  EXPECT_EQ(partner.connections(), 1u);
}

// ---- Mutual TLS

TEST_F(Hl7v2PluginTest, InboundOverMutualTlsFromAdapterTlsAcceptsPartnersAndRefusesStrangers) {
  auto tls = adapterTls("server");
  tls.crl = certs / "crl.pem";
  const auto port = startInbound({}, "hl7-in", tls);
  cb::sim::MllpSender partner(endpoint(port), peerTls("partner-a"), "localhost");
  auto ack = partner.send(adt("TLS-1"));
  ASSERT_TRUE(ack) << partner.lastError();
  EXPECT_EQ(cb::sim::summariseAck(*ack).code, "AA");

  // Not chaining to the CA, expired, and listed in [adapter.tls] crl (RFC 5280 section 6.3).
  for (const char* who : {"rogue", "expired", "revoked"}) {
    cb::sim::MllpSender stranger(endpoint(port), peerTls(who), "localhost");
    EXPECT_FALSE(stranger.send(adt(std::string("TLS-") + who), 3s)) << who;
  }
  // Plain TCP to a TLS listener gets nothing.
  cb::sim::MllpSender plain(endpoint(port));
  EXPECT_FALSE(plain.send(adt("TLS-PLAIN"), 1s));
  EXPECT_EQ(events.received().size(), 1u);
}

TEST_F(Hl7v2PluginTest, OutboundOverMutualTlsFromAdapterTlsVerifiesThePartner) {
  cb::sim::MllpReceiver partner("127.0.0.1:0", peerTls("server"));
  auto tls = adapterTls("carebridge");
  tls.server_name = "localhost";
  auto out = startOutbound(partner.port(), {}, tls);
  auto r = deliver(*out, adt("TLS-OUT"));
  EXPECT_EQ(r.status, CB_OK) << r.reason;
  ASSERT_EQ(partner.received().size(), 1u);
  EXPECT_EQ(partner.received()[0].peer_cn, "carebridge");

  // A partner whose certificate does not chain to our CA is refused.
  cb::sim::MllpReceiver impostor("127.0.0.1:0", {(certs / "rogue.pem").string(), (certs / "rogue.key").string(),
                                                 (certs / "ca.pem").string(), {}});
  auto rogue = startOutbound(impostor.port(), {}, adapterTls("carebridge"), "hl7-out-rogue");
  r = deliver(*rogue, adt("TLS-ROGUE"));
  EXPECT_EQ(r.status, CB_RETRY);
  EXPECT_THAT(r.reason, HasSubstr("TLS handshake"));
  EXPECT_TRUE(impostor.received().empty());

  // [adapter.tls] server_name is the name the partner's certificate must carry (RFC 6125).
  auto misnamed = adapterTls("carebridge");
  misnamed.server_name = "rio.partner.example.nhs.uk";
  auto wrong_name = startOutbound(partner.port(), {}, misnamed, "hl7-out-misnamed");
  r = deliver(*wrong_name, adt("TLS-NAME"));
  EXPECT_EQ(r.status, CB_RETRY);
  EXPECT_THAT(r.reason, HasSubstr("TLS handshake"));
  EXPECT_EQ(partner.received().size(), 1u);
}

TEST_F(Hl7v2PluginTest, AdapterTlsPinsAreEnforcedOnPartnersBothWays) {
  // Inbound: only partner-a's key is pinned (RFC 7469); partner-b chains to
  // the same CA but is refused, exactly as the daemon's HTTPS would.
  auto pinned = adapterTls("server");
  pinned.pins = {pinOf("partner-a")};
  const auto port = startInbound({}, "hl7-in", pinned);
  cb::sim::MllpSender a(endpoint(port), peerTls("partner-a"), "localhost");
  auto ack = a.send(adt("PIN-A"));
  ASSERT_TRUE(ack) << a.lastError();
  EXPECT_EQ(cb::sim::summariseAck(*ack).code, "AA");
  cb::sim::MllpSender b(endpoint(port), peerTls("partner-b"), "localhost");
  EXPECT_FALSE(b.send(adt("PIN-B"), 3s));
  EXPECT_EQ(events.received().size(), 1u);

  // Outbound: a pin that is not the partner's fails the handshake; one of
  // several pins matching is enough.
  cb::sim::MllpReceiver partner("127.0.0.1:0", peerTls("server"));
  auto wrong = adapterTls("carebridge");
  wrong.pins = {pinOf("partner-b")};
  auto out_wrong = startOutbound(partner.port(), {}, wrong, "hl7-out-wrong-pin");
  auto r = deliver(*out_wrong, adt("PIN-OUT-1"));
  EXPECT_EQ(r.status, CB_RETRY);
  EXPECT_THAT(r.reason, HasSubstr("TLS handshake"));
  EXPECT_TRUE(partner.received().empty());

  auto right = adapterTls("carebridge");
  right.pins = {pinOf("partner-b"), pinOf("server")};
  auto out_right = startOutbound(partner.port(), {}, right, "hl7-out-right-pin");
  r = deliver(*out_right, adt("PIN-OUT-2"));
  EXPECT_EQ(r.status, CB_OK) << r.reason;
  EXPECT_EQ(partner.received().size(), 1u);
}

TEST_F(Hl7v2PluginTest, DeprecatedTlsSettingsStillWorkWithAWarningNamingThem) {
  auto ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  cb::log::get("plugin.hl7-legacy")->sinks().push_back(ring);
  auto settings = legacyTlsSettings("server");
  settings["tls_crl"] = str((certs / "crl.pem").string());
  const auto port = startInbound(settings, "hl7-legacy");
  bool warned = false;
  for (const auto& line : ring->last_formatted()) {
    warned = warned || (line.find("tls_certificate, tls_private_key, tls_ca, tls_crl are deprecated") !=
                            std::string::npos &&
                        line.find("[adapter.tls]") != std::string::npos);
  }
  EXPECT_TRUE(warned);
  cb::sim::MllpSender partner(endpoint(port), peerTls("partner-a"), "localhost");
  auto ack = partner.send(adt("LEGACY-1"));
  ASSERT_TRUE(ack) << partner.lastError();
  EXPECT_EQ(cb::sim::summariseAck(*ack).code, "AA");
  cb::sim::MllpSender revoked(endpoint(port), peerTls("revoked"), "localhost");
  EXPECT_FALSE(revoked.send(adt("LEGACY-2"), 3s));
}

TEST_F(Hl7v2PluginTest, TlsInBothAdapterTlsAndDeprecatedSettingsIsRefusedNamingTheAdapter) {
  auto settings = legacyTlsSettings("carebridge");
  settings["connect"] = str("127.0.0.1:2575");
  auto r = tryAdapter("rio-adt", settings, adapterTls("carebridge"));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("adapter 'rio-adt'"));
  EXPECT_THAT(r.error().message, HasSubstr("TLS is configured twice"));
  EXPECT_THAT(r.error().message, HasSubstr("tls_certificate, tls_private_key, tls_ca"));

  // One deprecated key is enough to be ambiguous.
  r = tryAdapter("rio-adt", {{"connect", str("127.0.0.1:2575")}, {"tls_server_name", str("localhost")}},
                 adapterTls("carebridge"));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, AllOf(HasSubstr("adapter 'rio-adt'"), HasSubstr("(tls_server_name)")));
}

// ---- Settings

TEST_F(Hl7v2PluginTest, SettingsAreCheckedBeforeAnythingStarts) {
  auto r = tryAdapter("bad", {{"listen", str("0.0.0.0:2575")}});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("plain MLLP is allowed on loopback only"));

  r = tryAdapter("bad", {{"connect", str("127.0.0.1:2575")},
                         {"tls_certificate", str((certs / "carebridge.pem").string())}});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("set all of tls_certificate, tls_private_key and tls_ca"));

  r = tryAdapter("bad", {});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("set listen (inbound), connect (outbound) or both"));

  auto settings = legacyTlsSettings("carebridge");
  settings["tls_private_key"] = str((certs / "server.key").string());
  settings["connect"] = str("partner.example.nhs.uk:2575");
  r = tryAdapter("bad", settings);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("tls_private_key: cannot load"));

  // Off loopback, [adapter.tls] is what makes it acceptable.
  r = tryAdapter("good", {{"connect", str("partner.example.nhs.uk:2575")}}, adapterTls("carebridge"));
  EXPECT_TRUE(r) << r.error().message;

  r = tryAdapter("bad", {{"connect", str("localhost")}});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("connect: 'localhost' is not \"host:port\""));

  r = tryAdapter("bad", {{"connect", str("127.0.0.1:1")}, {"colour", str("blue")}});
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("settings.colour: unknown key for plugin 'hl7v2'"));
}

TEST_F(Hl7v2PluginTest, StoppingWithDeliveriesQueuedHandsThemBackForARetry) {
  cb::sim::MllpReceiver partner("127.0.0.1:0");
  partner.setAnswer(cb::sim::MllpReceiver::Answer::Silent);
  auto out = startOutbound(partner.port(), {{"ack_timeout", str("30s")}});
  std::vector<std::promise<cb::plugin_host::DeliveryReport>> promises(3);
  for (std::size_t i = 0; i < promises.size(); ++i) {
    cb::plugin_host::DeliveryRequest req;
    req.message_id = "m" + std::to_string(i);
    req.payload = std::make_shared<const std::string>(adt("STOP-" + std::to_string(i)));
    out->deliver(req, [&promises, i](cb::plugin_host::DeliveryReport r) { promises[i].set_value(std::move(r)); });
  }
  ASSERT_TRUE(partner.waitFor(1, 5s));
  const auto before = std::chrono::steady_clock::now();
  out->stop(5s);
  EXPECT_LT(std::chrono::steady_clock::now() - before, 10s);
  for (auto& p : promises) EXPECT_EQ(p.get_future().get().status, CB_RETRY);
}

// ---- Every HL7 v2 file in ../shared/reference/hl7v2, classified as
// tests/codec/hl7v2/reference_test.cpp does: the one file that is not HL7 at
// all is answered AE; every other is stored and answered AA with its MSH-10.
const std::map<std::string, std::string>& referenceControlIds() {
  static const std::map<std::string, std::string> ids = {
      {"hapi-adt_a03.hl7", "263206"},
      {"hapi-omd_o03.hl7", "20101027181706"},
      {"hapi-segmentfinder_a24.hl7", "2003582144"},  // field separator '^'
      {"msfc-ADT-A01-01.hl7", "MSG00001"},
      {"msfc-ADT-A03-01.hl7", "MSG00001"},
      {"msfc-ADT-A04-01.hl7", "MSG00001"},
      {"msfc-ADT-A08-01.hl7", "MSG00001"},
      {"msfc-ADT-A31-01.hl7", "MSG00001"},
      {"msfc-ADT-A40-01.hl7", "8919-40"},
      {"msfc-ADT04-251.hl7", "1270326314"},  // UTF-8 BOM
      {"msfc-LAB-ORU-1.hl7", "182"},
      {"msfc-ORU-R01-01.hl7", "2.16.840.1.114222.4.3.3.5.1.2-20120314235954.325"},
      {"msfc-REF-I12-01.hl7", "MSG00112"},
      {"nodengine-invalid.hl7", ""},  // not HL7 at all: AE
      {"nodengine-pcc_adt_A03.hl7", "110A35A09B785"},
      {"pipehat-v2.3-adt-a01-1.hl7", "01052901"},
      {"pipehat-v2.3.1-ack-1.hl7", "1125342816253.100000055"},
      {"pipehat-v2.5.1-oru-r01-1.hl7", "1234567890"},
  };
  return ids;
}

std::vector<std::string> referenceFiles() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(cb::test::referenceDir() / "hl7v2", ec)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// MSH-15 and MSH-16 of a reference file, read plainly (they are simple codes).
std::pair<std::string, std::string> msh15And16(const std::string& bytes) {
  std::size_t start = bytes.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;  // a UTF-8 BOM, then blank lines
  while (start < bytes.size() && (bytes[start] == '\r' || bytes[start] == '\n')) ++start;
  const std::string msh = bytes.substr(start, bytes.find_first_of("\r\n", start) - start);
  std::vector<std::string> fields;
  std::size_t from = 0;
  for (;;) {
    const auto at = msh.find(msh.size() > 3 ? msh[3] : '|', from);  // MSH-1, the field separator
    fields.push_back(msh.substr(from, at == std::string::npos ? std::string::npos : at - from));
    if (at == std::string::npos) break;
    from = at + 1;
  }
  auto field = [&](std::size_t n) { return n - 1 < fields.size() ? fields[n - 1] : std::string(); };
  return {field(15), field(16)};
}

TEST_F(Hl7v2PluginTest, EveryReferenceFileIsAnsweredWithTheRightAckCode) {
  const auto files = referenceFiles();
  ASSERT_FALSE(files.empty()) << "no files in " << cb::test::referenceDir() / "hl7v2";
  const auto port = startInbound();
  cb::sim::MllpSender sender(endpoint(port));
  std::size_t accepted = 0;
  for (const auto& name : files) {
    SCOPED_TRACE(name);
    auto it = referenceControlIds().find(name);
    ASSERT_NE(it, referenceControlIds().end()) << name << " is new: classify it here and in the codec's reference test";
    const std::string bytes = cb::test::readFile(cb::test::referenceDir() / "hl7v2" / name);
    // Some of the third-party files ask for enhanced mode (HL7 v2.5 section
    // 2.9.3): their MSH-15 decides whether a commit ACK comes at all.
    const auto [accept, application] = msh15And16(bytes);
    const bool enhanced = !accept.empty() || !application.empty();
    const bool ok = !it->second.empty();
    const bool answered = !enhanced || accept == "AL" || accept.empty() || (ok ? accept == "SU" : accept == "ER");
    if (!answered) {
      cb::sim::MllpSender quiet(endpoint(port));
      EXPECT_FALSE(quiet.send(bytes, 1s)) << "MSH-15 " << accept << " asks for no commit ACK here";
      if (ok) {
        ++accepted;
        ASSERT_TRUE(events.waitReceived(accepted, 5s));
        EXPECT_EQ(events.received().back().sender_message_id, it->second);
      }
      continue;
    }
    auto ack = sender.send(bytes);
    ASSERT_TRUE(ack) << sender.lastError();
    const auto s = cb::sim::summariseAck(*ack);
    if (!ok) {
      EXPECT_EQ(s.code, enhanced ? "CR" : "AE");
      EXPECT_THAT(*ack, HasSubstr("ERR|"));
      continue;
    }
    EXPECT_EQ(s.code, enhanced ? "CA" : "AA") << s.text;
    EXPECT_EQ(s.control_id, it->second);
    ++accepted;
    const auto got = events.received();
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got.back().sender_message_id, it->second);
    EXPECT_EQ(got.back().payload, bytes);
  }
  EXPECT_EQ(events.received().size(), accepted);
  for (const auto& [name, id] : referenceControlIds()) {
    EXPECT_TRUE(std::find(files.begin(), files.end(), name) != files.end()) << name << " is gone from the reference folder";
  }
}

}  // namespace
