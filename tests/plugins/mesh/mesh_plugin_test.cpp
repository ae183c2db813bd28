// The mesh adapter through the real plugin host against a MESH test server
// over mutual TLS: sending (small, chunked, tracked after a crash, endpoint
// lookup), receiving (small, chunked, acknowledged only once stored), the
// NHSMESH token (expired and recovered, stale timestamp, reused nonce, wrong
// shared key), 4xx/5xx/timeout behaviour and settings.
#include "mesh_auth.h"
#include "fakes/fake_store_events.h"
#include "plugin_host/adapter.h"
#include "plugin_host/plugin_host.h"
#include "plugins/mesh/mesh_test_server.h"
#include "support/test_support.h"

#include "common/clock.h"
#include "net/https_client.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <regex>
#include <thread>

namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;
using cb::test::FakeStoreEvents;
using namespace std::chrono_literals;

const std::string kOurs = "X26HC005";
const std::string kOurPassword = "our-mailbox-password";
const std::string kPartner = "X26HC006";
const std::string kPartnerPassword = "partner-password";
const std::string kSharedKey = "SharedKey-Test";
const std::string kWorkflow = "CAREBRIDGE_SAFEGUARDING";

class MeshPluginTest : public ::testing::Test {
 protected:
  cb::test::TempDir dir;
  fs::path certs = cb::test::devCerts();
  cb::plugin_host::PluginHost host{cb::test::pluginDir()};
  boost::asio::io_context io;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  FakeStoreEvents events;
  std::unique_ptr<cb::test::MeshTestServer> server;
  std::vector<std::shared_ptr<cb::plugin_host::Adapter>> adapters;

  void SetUp() override {
    work = std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(io.get_executor());
    for (int i = 0; i < 2; ++i) threads.emplace_back([this] { io.run(); });
    server = std::make_unique<cb::test::MeshTestServer>(io, certs, kSharedKey);
    server->addMailbox(kOurs, kOurPassword);
    server->addMailbox(kPartner, kPartnerPassword);
    cb::test::writeFile(dir / "password", kOurPassword + "\n");
    cb::test::writeFile(dir / "shared_key", kSharedKey + "\n");
    fs::permissions(dir / "password", fs::perms::owner_read | fs::perms::owner_write);
    fs::permissions(dir / "shared_key", fs::perms::owner_read | fs::perms::owner_write);
  }
  void TearDown() override {
    for (auto& a : adapters) a->stop(2s);
    adapters.clear();
    server.reset();
    work.reset();
    io.stop();
    for (auto& t : threads) t.join();
  }

  cb::config::AdapterSettings settings(std::map<std::string, std::string> values) {
    cb::config::AdapterSettings a;
    a.name = "mesh-test";
    a.plugin = "mesh";
    a.where = {"carebridge.toml", 12};
    cb::net::TlsSettings t;
    t.certificate = certs / "carebridge.pem";
    t.private_key = certs / "carebridge.key";
    t.ca = certs / "ca.pem";
    t.server_name = "localhost";
    a.tls = t;
    for (auto& [k, v] : values) {
      // As the TOML reader would type them.
      const bool integer = !v.empty() && v.find_first_not_of("0123456789") == std::string::npos;
      const bool boolean = v == "true" || v == "false";
      a.settings[k] = {v, !integer && !boolean, integer, boolean, {"carebridge.toml", 20}};
    }
    return a;
  }

  std::map<std::string, std::string> base(std::map<std::string, std::string> extra = {}) {
    extra.emplace("url", server->url());
    extra.emplace("mailbox", kOurs);
    extra.emplace("password_file", (dir / "password").string());
    extra.emplace("shared_key_file", (dir / "shared_key").string());
    extra.emplace("timeout", "5000");
    return extra;
  }

  std::map<std::string, std::string> sender(std::map<std::string, std::string> extra = {}) {
    extra.emplace("workflow_id", kWorkflow);
    if (extra.count("to_ods") == 0) extra.emplace("to_mailbox", kPartner);
    return base(std::move(extra));
  }

  std::map<std::string, std::string> receiver(std::map<std::string, std::string> extra = {}) {
    extra.emplace("receive", "true");
    extra.emplace("poll_interval", "100");
    return base(std::move(extra));
  }

  cb::Result<std::shared_ptr<cb::plugin_host::Adapter>> tryAdapter(const cb::config::AdapterSettings& a,
                                                                    const cb::Clock& clock = cb::SystemClock::instance()) {
    auto lib = host.library("mesh");
    if (!lib) return cb::fail(lib.error().message);
    auto resolved = host.resolveSettings(**lib, a, dir.path());
    if (!resolved) return cb::fail(resolved.error().message);
    return cb::plugin_host::Adapter::create(*lib, a, *resolved, io, events, clock);
  }

  std::shared_ptr<cb::plugin_host::Adapter> start(std::map<std::string, std::string> values,
                                                  const cb::Clock& clock = cb::SystemClock::instance()) {
    auto adapter = tryAdapter(settings(std::move(values)), clock);
    EXPECT_TRUE(adapter) << adapter.error().message;
    if (!adapter) return nullptr;
    auto started = (*adapter)->start();
    EXPECT_TRUE(started) << started.error().message;
    adapters.push_back(*adapter);
    return *adapter;
  }

  cb::plugin_host::DeliveryReport deliver(cb::plugin_host::Adapter& a, const std::string& payload,
                                          const std::string& message_id = "0190f3a0-0000-7000-8000-000000000001",
                                          const std::string& content_type = "application/fhir+json") {
    std::promise<cb::plugin_host::DeliveryReport> p;
    cb::plugin_host::DeliveryRequest req;
    req.message_id = message_id;
    req.content_type = content_type;
    req.record_type = "Bundle";
    req.payload = std::make_shared<const std::string>(payload);
    a.deliver(req, [&p](cb::plugin_host::DeliveryReport r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }

  std::vector<std::string> targets() {
    std::vector<std::string> out;
    for (const auto& r : server->requests()) out.push_back(r.method + " " + r.target.substr(0, r.target.find('?')));
    return out;
  }
};

std::string payloadOf(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; s.size() < n; ++i) s += "line " + std::to_string(i) + " of a large safeguarding bundle\n";
  s.resize(n);
  return s;
}

// ---------------------------------------------------------------- the token

TEST(MeshAuthorization, MatchesAnIndependentlyComputedHmac) {
  // Expected value from Python's hmac.new(b"SharedKey-Test", b"X26HC005:bd0e...:0:password:202005041305", sha256).
  EXPECT_EQ(cb::mesh_plugin::authorization("X26HC005", "bd0e2bd5-218e-41d0-83a9-73fdec414803", 0, "password",
                                           "202005041305", "SharedKey-Test"),
            "NHSMESH X26HC005:bd0e2bd5-218e-41d0-83a9-73fdec414803:0:202005041305:"
            "4302972ad66d0710141fd93f9a2896d3b3517de59c878973665a26fa92ba5091");
  EXPECT_EQ(cb::mesh_plugin::meshTimestamp(1588597500000), "202005041305");  // 2020-05-04T13:05:00Z
  const std::string nonce = cb::mesh_plugin::newNonce();
  EXPECT_TRUE(std::regex_match(nonce, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << nonce;
  EXPECT_NE(nonce, cb::mesh_plugin::newNonce());
}

// ---------------------------------------------------------------- sending

TEST_F(MeshPluginTest, ASmallMessageIsSentWithTheMeshHeadersAfterAHandshake) {
  auto a = start(sender({{"subject", "Safeguarding referral"}}));
  auto r = deliver(*a, R"({"resourceType":"Bundle"})");
  ASSERT_EQ(r.status, CB_OK) << r.reason;
  const auto sent = server->sentFrom(kOurs);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(r.remote_id, sent[0].id);
  EXPECT_EQ(sent[0].to, kPartner);
  EXPECT_EQ(sent[0].workflow, kWorkflow);
  EXPECT_EQ(sent[0].local_id, "0190f3a0-0000-7000-8000-000000000001");
  EXPECT_EQ(sent[0].subject, "Safeguarding referral");
  EXPECT_EQ(sent[0].file_name, "0190f3a0-0000-7000-8000-000000000001.json");
  EXPECT_EQ(sent[0].content_type, "application/fhir+json");
  EXPECT_EQ(sent[0].payload(), R"({"resourceType":"Bundle"})");
  EXPECT_THAT(targets(), ::testing::ElementsAre("POST /messageexchange/X26HC005",
                                                "GET /messageexchange/X26HC005/outbox/tracking",
                                                "POST /messageexchange/X26HC005/outbox"));
  const auto requests = server->requests();
  EXPECT_EQ(requests[1].target, "/messageexchange/X26HC005/outbox/tracking?localID=0190f3a0-0000-7000-8000-000000000001");
  // Each request has its own token: one nonce, its count raised each time.
  const std::regex token("NHSMESH X26HC005:([0-9a-f-]{36}):([0-9]+):([0-9]{12}):[0-9a-f]{64}");
  std::smatch m0, m2;
  ASSERT_TRUE(std::regex_match(*requests[0].header("Authorization"), m0, token));
  ASSERT_TRUE(std::regex_match(*requests[2].header("Authorization"), m2, token));
  EXPECT_EQ(m0[1], m2[1]);
  EXPECT_EQ(m0[2], "0");
  EXPECT_EQ(m2[2], "2");
  for (const auto& q : requests) EXPECT_EQ(q.peer_cn, "carebridge");
  ASSERT_NE(requests[0].header("Mex-ClientVersion"), nullptr);
  EXPECT_NE(requests[0].header("Mex-OSName"), nullptr);
  EXPECT_TRUE(server->authRefusals().empty());
  // A second message uses the same session: no second handshake.
  EXPECT_EQ(deliver(*a, "{}", "0190f3a0-0000-7000-8000-000000000002").status, CB_OK);
  EXPECT_EQ(server->handshakes(), 1u);
}

TEST_F(MeshPluginTest, APayloadLargerThanTheChunkSizeIsSentInChunks) {
  auto a = start(sender({{"chunk_size", "1000"}}));
  const std::string payload = payloadOf(4500);
  auto r = deliver(*a, payload, "0190f3a0-0000-7000-8000-00000000000c", "x-application/hl7-v2+er7");
  ASSERT_EQ(r.status, CB_OK) << r.reason;
  const auto sent = server->sentFrom(kOurs);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].chunk_count, 5u);
  EXPECT_TRUE(sent[0].complete());
  EXPECT_EQ(sent[0].payload(), payload);
  EXPECT_EQ(sent[0].file_name, "0190f3a0-0000-7000-8000-00000000000c.hl7");
  const auto requests = server->requests();
  ASSERT_EQ(requests.size(), 7u);  // handshake, tracking, first chunk, chunks 2..5
  EXPECT_EQ(*requests[2].header("Mex-Chunk-Range"), "1:5");
  EXPECT_EQ(requests[2].body.size(), 1000u);
  for (std::size_t n = 2; n <= 5; ++n) {
    const auto& q = requests[n + 1];
    EXPECT_EQ(q.target, "/messageexchange/X26HC005/outbox/" + sent[0].id + "/" + std::to_string(n));
    EXPECT_EQ(*q.header("Mex-Chunk-Range"), std::to_string(n) + ":5");
  }
  EXPECT_EQ(requests[6].body.size(), 500u);
  // The recipient sees one complete message.
  EXPECT_EQ(server->message(sent[0].id)->to, kPartner);
}

TEST_F(MeshPluginTest, ARedeliveryAfterACrashFindsTheEarlierSendInsteadOfSendingTwice) {
  const std::string id = "0190f3a0-0000-7000-8000-0000000000aa";
  auto first = start(sender());
  ASSERT_EQ(deliver(*first, "{}", id).status, CB_OK);
  // The daemon died before it recorded the outcome: a new process (new
  // session) is handed the same message again.
  first->stop(2s);
  auto second = start(sender());
  auto again = deliver(*second, "{}", id);
  ASSERT_EQ(again.status, CB_OK) << again.reason;
  const auto sent = server->sentFrom(kOurs);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(again.remote_id, sent[0].id);
  EXPECT_EQ(server->handshakes(), 2u);
}

TEST_F(MeshPluginTest, AChunkedUploadCutShortIsSentAgainInFullAndOnlyTheCompleteCopyArrives) {
  const std::string id = "0190f3a0-0000-7000-8000-0000000000bb";
  const std::string payload = payloadOf(2500);
  auto a = start(sender({{"chunk_size", "1000"}}));
  server->script("POST", "/3", {500, {{"Content-Type", "application/json"}}, R"({"errorCode":"500","errorDescription":"boom"})"});
  auto cut = deliver(*a, payload, id);
  EXPECT_EQ(cut.status, CB_RETRY);
  EXPECT_THAT(cut.reason, AllOf(HasSubstr("chunk 3 of 3"), HasSubstr("HTTP 500")));
  auto again = deliver(*a, payload, id);
  ASSERT_EQ(again.status, CB_OK) << again.reason;
  const auto sent = server->sentFrom(kOurs);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_FALSE(sent[0].complete());  // never reaches the recipient's inbox
  EXPECT_TRUE(sent[1].complete());
  EXPECT_EQ(sent[1].payload(), payload);
  EXPECT_EQ(again.remote_id, sent[1].id);
  // A third attempt finds the complete copy among the two with this local id (300).
  auto third = deliver(*a, payload, id);
  EXPECT_EQ(third.status, CB_OK);
  EXPECT_EQ(third.remote_id, sent[1].id);
  EXPECT_EQ(server->sentFrom(kOurs).size(), 2u);
}

TEST_F(MeshPluginTest, TheRecipientMailboxIsFoundByEndpointLookup) {
  server->addEndpoint("RAT", kWorkflow, kPartner);
  auto a = start(sender({{"to_ods", "RAT"}}));
  ASSERT_EQ(deliver(*a, "{}", "0190f3a0-0000-7000-8000-000000000011").status, CB_OK);
  ASSERT_EQ(deliver(*a, "{}", "0190f3a0-0000-7000-8000-000000000012").status, CB_OK);
  const auto sent = server->sentFrom(kOurs);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].to, kPartner);
  EXPECT_EQ(sent[1].to, kPartner);
  // Looked up once, then reused (lookup_ttl).
  std::size_t lookups = 0;
  for (const auto& t : targets()) lookups += t == "GET /messageexchange/endpointlookup/RAT/" + kWorkflow ? 1u : 0u;
  EXPECT_EQ(lookups, 1u);
}

TEST_F(MeshPluginTest, AnOdsCodeWithoutAMailboxForTheWorkflowIsAPermanentFailure) {
  auto a = start(sender({{"to_ods", "RXX"}}));
  auto r = deliver(*a, "{}");
  EXPECT_EQ(r.status, CB_ERROR);
  EXPECT_THAT(r.reason, AllOf(HasSubstr("no mailbox for ODS code RXX"), HasSubstr(kWorkflow)));
  EXPECT_TRUE(server->sentFrom(kOurs).empty());
}

// ---------------------------------------------------------------- the token, refused

TEST_F(MeshPluginTest, AnExpiredTokenIsRefusedAndANewHandshakeRecovers) {
  auto a = start(sender());
  ASSERT_EQ(deliver(*a, "{}", "0190f3a0-0000-7000-8000-000000000021").status, CB_OK);
  server->expireTokens();
  auto r = deliver(*a, "{}", "0190f3a0-0000-7000-8000-000000000022");
  ASSERT_EQ(r.status, CB_OK) << r.reason;
  EXPECT_THAT(server->authRefusals(), ::testing::ElementsAre("token expired"));
  EXPECT_EQ(server->handshakes(), 2u);
  EXPECT_EQ(server->sentFrom(kOurs).size(), 2u);
}

TEST_F(MeshPluginTest, AnExpiredTokenWhilePollingIsRecoveredToo) {
  auto a = start(receiver());
  ASSERT_TRUE(server->waitUntil([&] { return server->requests().size() >= 2; }, 10s));
  server->expireTokens();
  const std::string id = server->post(kPartner, kOurs, kWorkflow, {"after expiry"});
  ASSERT_TRUE(server->waitUntil([&] { return server->acknowledged(id); }, 10s));
  EXPECT_THAT(server->authRefusals(), Contains("token expired"));
  EXPECT_GE(server->handshakes(), 2u);
}

TEST_F(MeshPluginTest, AStaleTimestampIsRefusedAndReportedAsACredentialsProblem) {
  // Our clock is three hours behind MESH's: outside the 2-hour window.
  cb::FakeClock behind(cb::SystemClock::instance().nowUnixMs() - 3 * 3600 * 1000);
  auto a = start(sender(), behind);
  auto r = deliver(*a, "{}");
  EXPECT_EQ(r.status, CB_ERROR);
  EXPECT_THAT(r.reason, AllOf(HasSubstr("refused mailbox X26HC005's credentials"), HasSubstr("HTTP 403"),
                              HasSubstr("not within 2 hours")));
  EXPECT_THAT(server->authRefusals(), Contains(HasSubstr("not within 2 hours")));
  EXPECT_TRUE(server->sentFrom(kOurs).empty());
}

TEST_F(MeshPluginTest, ATokenUsedTwiceIsRefusedByTheServer) {
  // The test server itself: a replayed token gets 403.
  cb::net::TlsSettings t;
  t.certificate = certs / "carebridge.pem";
  t.private_key = certs / "carebridge.key";
  t.ca = certs / "ca.pem";
  t.server_name = "localhost";
  auto tls = cb::net::makeClientTlsContext(t);
  ASSERT_TRUE(tls) << tls.error().message;
  cb::net::ClientOptions o;
  o.tls = *tls;
  auto client = cb::net::HttpsClient::create(io, o);
  const std::string token =
      cb::mesh_plugin::authorization(kOurs, cb::mesh_plugin::newNonce(), 0, kOurPassword,
                                     cb::mesh_plugin::meshTimestamp(cb::SystemClock::instance().nowUnixMs()), kSharedKey);
  auto get = [&] {
    cb::net::ClientRequest req;
    req.method = "GET";
    req.url = server->url() + "/messageexchange/" + kOurs + "/inbox";
    req.headers = {{"Authorization", token}};
    std::promise<cb::net::ClientResult> p;
    client->request(req, [&p](cb::net::ClientResult r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    return r.response ? r.response->status : 0u;
  };
  EXPECT_EQ(get(), 200u);
  EXPECT_EQ(get(), 403u);
  EXPECT_THAT(server->authRefusals(), ::testing::ElementsAre(HasSubstr("already used")));
  client->stop();
}

TEST_F(MeshPluginTest, AWrongSharedKeyIsRefusedPermanently) {
  cb::test::writeFile(dir / "shared_key", "not-the-shared-key\n");
  auto a = start(sender());
  auto r = deliver(*a, "{}");
  EXPECT_EQ(r.status, CB_ERROR);
  EXPECT_THAT(r.reason, AllOf(HasSubstr("credentials"), HasSubstr("shared_key_file")));
  EXPECT_THAT(server->authRefusals(), ::testing::ElementsAre(HasSubstr("hash does not match")));
  EXPECT_TRUE(server->sentFrom(kOurs).empty());
}

// ---------------------------------------------------------------- 4xx, 5xx, timeouts

TEST_F(MeshPluginTest, ClientErrorsArePermanentAndCarryTheMeshErrorCode) {
  auto a = start(sender({{"to_mailbox", "X99NOBODY"}}));
  auto r = deliver(*a, R"({"nhsNumber":"9434765919"})");
  EXPECT_EQ(r.status, CB_ERROR);
  EXPECT_THAT(r.reason, AllOf(HasSubstr("HTTP 417"), HasSubstr("error 12: Unregistered to address")));
  // The reason never carries the record.
  EXPECT_THAT(r.reason, Not(HasSubstr("9434765919")));
  server->script("POST", "/outbox", {400, {{"Content-Type", "application/json"}},
                                     R"({"errorEvent":"SEND","errorCode":"17","errorDescription":"Workflow ID not registered for mailbox"})"});
  auto b = start(sender());
  auto r400 = deliver(*b, "{}");
  EXPECT_EQ(r400.status, CB_ERROR);
  EXPECT_THAT(r400.reason, AllOf(HasSubstr("HTTP 400"), HasSubstr("error 17: Workflow ID not registered")));
}

TEST_F(MeshPluginTest, ServerErrorsAndTimeoutsAreRetried) {
  auto a = start(sender({{"timeout", "300"}}));
  server->script("POST", "/outbox", {503, {{"Retry-After", "7"}}, ""});
  auto r503 = deliver(*a, "{}");
  EXPECT_EQ(r503.status, CB_RETRY);
  EXPECT_THAT(r503.reason, HasSubstr("HTTP 503"));
  EXPECT_EQ(r503.retry_after_ms, 7000);
  server->script("GET", "/tracking", {500, {}, ""});
  EXPECT_EQ(deliver(*a, "{}").status, CB_RETRY);
  server->hang(true);
  auto slow = deliver(*a, "{}");
  EXPECT_EQ(slow.status, CB_RETRY);
  EXPECT_THAT(slow.reason, HasSubstr("no answer"));
  server->hang(false);
  EXPECT_TRUE(server->sentFrom(kOurs).empty());
  // And once MESH is well again the message goes.
  EXPECT_EQ(deliver(*a, "{}").status, CB_OK);
}

TEST_F(MeshPluginTest, AServerWithAnUntrustedCertificateIsNotSentTo) {
  cb::test::MeshTestServer rogue(io, certs, kSharedKey, "rogue");
  rogue.addMailbox(kOurs, kOurPassword);
  auto a = start(sender({{"url", rogue.url()}}));
  auto r = deliver(*a, "{}");
  EXPECT_EQ(r.status, CB_RETRY);
  EXPECT_TRUE(rogue.requests().empty());
}

// ---------------------------------------------------------------- receiving

TEST_F(MeshPluginTest, AMessageIsAcknowledgedOnlyAfterTheHostStoredIt) {
  const std::string id = server->post(kPartner, kOurs, kWorkflow, {"MSH|^~\\&|RIO|RAT"}, "x-application/hl7-v2+er7");
  events.setMode(FakeStoreEvents::Mode::Hold);
  auto a = start(receiver());
  ASSERT_TRUE(events.waitHeld(1, 10s));
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(server->acknowledged(id));  // not stored yet, so not acknowledged
  events.releaseAll();
  ASSERT_TRUE(server->waitUntil([&] { return server->acknowledged(id); }, 10s));
  ASSERT_EQ(events.received().size(), 1u);
  EXPECT_EQ(events.received()[0].sender_message_id, id);
  EXPECT_EQ(events.received()[0].record_type, kWorkflow);
  EXPECT_EQ(events.received()[0].content_type, "x-application/hl7-v2+er7");
  EXPECT_EQ(events.received()[0].payload, "MSH|^~\\&|RIO|RAT");
}

TEST_F(MeshPluginTest, AChunkedMessageIsDownloadedWholeAndAcknowledgedOnce) {
  const std::string payload = payloadOf(3000);
  const std::string id = server->post(kPartner, kOurs, kWorkflow, {payload.substr(0, 1000), payload.substr(1000, 1000),
                                                                   payload.substr(2000)});
  auto a = start(receiver({{"content_type", "application/fhir+json"}}));
  ASSERT_TRUE(server->waitUntil([&] { return server->acknowledged(id); }, 10s));
  {
    ASSERT_EQ(events.received().size(), 1u);
    EXPECT_EQ(events.received()[0].payload, payload);
    EXPECT_EQ(events.received()[0].content_type, "application/fhir+json");
  }
  const auto t = targets();
  EXPECT_THAT(t, Contains("GET /messageexchange/X26HC005/inbox/" + id));
  EXPECT_THAT(t, Contains("GET /messageexchange/X26HC005/inbox/" + id + "/2"));
  EXPECT_THAT(t, Contains("GET /messageexchange/X26HC005/inbox/" + id + "/3"));
  EXPECT_EQ(std::count(t.begin(), t.end(), "PUT /messageexchange/X26HC005/inbox/" + id + "/status/acknowledged"), 1L);
}

TEST_F(MeshPluginTest, AMessageTheHostRefusesIsNotAcknowledged) {
  events.setMode(FakeStoreEvents::Mode::Refuse, "record too large for this route");
  const std::string id = server->post(kPartner, kOurs, kWorkflow, {"too large"});
  auto a = start(receiver());
  ASSERT_TRUE(events.waitReceived(1));
  // Several polls later: still unacknowledged, and not handed over again.
  ASSERT_TRUE(server->waitUntil([&] { return server->requests().size() >= 8; }, 10s));
  EXPECT_FALSE(server->acknowledged(id));
  EXPECT_EQ(events.receivedCount(), 1u);
}

TEST_F(MeshPluginTest, AMessageTheHostCannotStoreYetIsTakenAgainLater) {
  events.setMode(FakeStoreEvents::Mode::Unavailable, "store is failing");
  const std::string id = server->post(kPartner, kOurs, kWorkflow, {"later"});
  auto a = start(receiver());
  ASSERT_TRUE(events.waitReceived(2));
  EXPECT_FALSE(server->acknowledged(id));
  events.setMode(FakeStoreEvents::Mode::Store);
  ASSERT_TRUE(server->waitUntil([&] { return server->acknowledged(id); }, 10s));
}

TEST_F(MeshPluginTest, AnErrorReportIsAcknowledgedButNotHandedOver) {
  const std::string id = server->postReport(kOurs, "20240601122152994285_D59900", "0190f3a0-0000-7000-8000-000000000001");
  const std::string data = server->post(kPartner, kOurs, kWorkflow, {"data"});
  auto a = start(receiver());
  ASSERT_TRUE(server->waitUntil([&] { return server->acknowledged(id) && server->acknowledged(data); }, 10s));
  ASSERT_EQ(events.received().size(), 1u);
  EXPECT_EQ(events.received()[0].sender_message_id, data);
}

// ---------------------------------------------------------------- settings

TEST_F(MeshPluginTest, SettingsAreChecked) {
  auto message = [&](std::map<std::string, std::string> v) {
    auto a = tryAdapter(settings(std::move(v)));
    return a ? std::string("accepted") : a.error().message;
  };
  EXPECT_THAT(message(base()), AllOf(HasSubstr("adapter 'mesh-test'"), HasSubstr("workflow_id")));
  auto no_mailbox = base();
  no_mailbox.erase("mailbox");
  EXPECT_THAT(message(no_mailbox), HasSubstr("mailbox"));
  EXPECT_THAT(message(sender({{"url", "http://localhost:1"}})), HasSubstr("https://"));
  EXPECT_THAT(message(sender({{"url", server->url() + "/messageexchange"}})), HasSubstr("without /messageexchange"));
  EXPECT_THAT(message(sender({{"mailbox", "x26hc005"}})), HasSubstr("upper case"));
  EXPECT_THAT(message(base({{"workflow_id", kWorkflow}})), HasSubstr("to_mailbox"));
  EXPECT_THAT(message(receiver({{"to_ods", "RAT"}})), HasSubstr("set workflow_id too"));
  EXPECT_THAT(message(sender({{"chunk_size", "0"}})), HasSubstr("chunk_size"));
  EXPECT_THAT(message(sender({{"password_file", (dir / "missing").string()}})),
              AllOf(HasSubstr("password_file"), HasSubstr("cannot read")));
  cb::test::writeFile(dir / "empty", "");
  EXPECT_THAT(message(sender({{"shared_key_file", (dir / "empty").string()}})),
              AllOf(HasSubstr("shared_key_file"), HasSubstr("empty")));
  EXPECT_THAT(message(sender({{"colour", "blue"}})), HasSubstr("colour"));
  EXPECT_THAT(message(sender({{"receive", "yes"}})), HasSubstr("receive"));
  EXPECT_EQ(message(sender()), "accepted");
  EXPECT_EQ(message(receiver()), "accepted");
}

}  // namespace
