// The fhir adapter through the real plugin host: inbound FHIR REST requests
// over mutual TLS are submitted and answered only after storage; outbound
// deliveries reach a FHIR server over mutual TLS and its answers become
// delivered / retry / dead letter.
#include "fakes/fake_store_events.h"
#include "plugin_host/adapter.h"
#include "plugin_host/plugin_host.h"
#include "plugins/fhir/fhir_test_server.h"
#include "support/test_support.h"

#include "net/https_client.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ctime>
#include <fstream>
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

std::string patientJson(const std::string& id, const std::string& version) {
  return R"({"resourceType":"Patient","id":")" + id + R"(","meta":{"versionId":")" + version +
         R"("},"identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009"}],)"
         R"("name":[{"family":"Testperson","given":["Alex"]}],"birthDate":"1970-01-01"})";
}

std::string patientXml(const std::string& id, const std::string& version) {
  return R"(<?xml version="1.0" encoding="UTF-8"?><Patient xmlns="http://hl7.org/fhir"><id value=")" + id +
         R"("/><meta><versionId value=")" + version +
         R"("/></meta><identifier><system value="https://fhir.nhs.uk/Id/nhs-number"/><value value="9000000009"/>)"
         R"(</identifier><birthDate value="1970-01-01"/></Patient>)";
}

std::string transactionJson(const std::string& identifier) {
  return R"({"resourceType":"Bundle","type":"transaction","identifier":{"system":"urn:ietf:rfc:3986","value":")" +
         identifier +
         R"("},"entry":[{"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a","resource":{"resourceType":"Patient",)"
         R"("identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9000000009"}]},)"
         R"("request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009"}},)"
         R"({"resource":{"resourceType":"Flag","id":"f1","status":"active","code":{"text":"safeguarding"},)"
         R"("subject":{"reference":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"}},"request":{"method":"PUT","url":"Flag/f1"}}]})";
}

struct Answer {
  unsigned status = 0;
  std::string body;
  std::vector<cb::net::HttpHeader> headers;
  std::string header(const std::string& name) const {
    const std::string* v = cb::net::findHeader(headers, name);
    return v != nullptr ? *v : std::string();
  }
};

class FhirPluginTest : public ::testing::Test {
 protected:
  cb::test::TempDir dir;
  fs::path certs = cb::test::devCerts();
  cb::plugin_host::PluginHost host{cb::test::pluginDir()};
  boost::asio::io_context io;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  FakeStoreEvents events;
  std::unique_ptr<cb::net::HttpsClient> partner;
  std::unique_ptr<cb::test::FhirTestServer> server;
  std::vector<std::shared_ptr<cb::plugin_host::Adapter>> adapters;

  void SetUp() override {
    work = std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(io.get_executor());
    for (int i = 0; i < 2; ++i) threads.emplace_back([this] { io.run(); });
    cb::net::TlsSettings t;
    t.certificate = certs / "partner-a.pem";
    t.private_key = certs / "partner-a.key";
    t.ca = certs / "ca.pem";
    t.server_name = "localhost";
    auto tls = cb::net::makeClientTlsContext(t);
    ASSERT_TRUE(tls) << tls.error().message;
    cb::net::ClientOptions o;
    o.tls = *tls;
    partner = cb::net::HttpsClient::create(io, o);
    server = std::make_unique<cb::test::FhirTestServer>(io, certs);
  }
  void TearDown() override {
    for (auto& a : adapters) a->stop(std::chrono::seconds(2));
    adapters.clear();
    partner.reset();
    server.reset();
    work.reset();
    io.stop();
    for (auto& t : threads) t.join();
  }

  cb::config::AdapterSettings settings(const std::string& cert, std::map<std::string, std::string> values) {
    cb::config::AdapterSettings a;
    a.name = "fhir-test";
    a.plugin = "fhir";
    a.where = {"carebridge.toml", 12};
    cb::net::TlsSettings t;
    t.certificate = certs / (cert + ".pem");
    t.private_key = certs / (cert + ".key");
    t.ca = certs / "ca.pem";
    t.server_name = "localhost";
    a.tls = t;
    for (auto& [k, v] : values) {
      // As the TOML reader would type them: digits are integers, the rest strings.
      const bool integer = !v.empty() && v.find_first_not_of("0123456789") == std::string::npos;
      a.settings[k] = {v, !integer, integer, false, {"carebridge.toml", 20}};
    }
    return a;
  }

  cb::Result<std::shared_ptr<cb::plugin_host::Adapter>> tryAdapter(const cb::config::AdapterSettings& a) {
    auto lib = host.library("fhir");
    if (!lib) return cb::fail(lib.error().message);
    auto resolved = host.resolveSettings(**lib, a, dir.path());
    if (!resolved) return cb::fail(resolved.error().message);
    return cb::plugin_host::Adapter::create(*lib, a, *resolved, io, events, cb::SystemClock::instance());
  }

  std::shared_ptr<cb::plugin_host::Adapter> start(std::map<std::string, std::string> values,
                                                  const std::string& cert = "server") {
    auto adapter = tryAdapter(settings(cert, std::move(values)));
    EXPECT_TRUE(adapter) << adapter.error().message;
    if (!adapter) return nullptr;
    auto started = (*adapter)->start();
    EXPECT_TRUE(started) << started.error().message;
    adapters.push_back(*adapter);
    return *adapter;
  }

  std::shared_ptr<cb::plugin_host::Adapter> inbound(std::map<std::string, std::string> extra = {}) {
    extra["listen"] = "127.0.0.1:0";
    return start(std::move(extra));
  }

  std::shared_ptr<cb::plugin_host::Adapter> outbound(std::map<std::string, std::string> extra = {}) {
    extra.emplace("base_url", server->baseUrl());
    extra.emplace("timeout", "5000");
    return start(std::move(extra), "carebridge");
  }

  std::future<cb::net::ClientResult> send(std::uint16_t port, const std::string& method, const std::string& path,
                                          const std::string& content_type, const std::string& body,
                                          std::vector<cb::net::HttpHeader> headers = {}) {
    cb::net::ClientRequest req;
    req.method = method;
    req.url = "https://localhost:" + std::to_string(port) + path;
    req.body = body;
    req.headers = std::move(headers);
    if (!content_type.empty()) req.headers.push_back({"Content-Type", content_type});
    req.timeout = std::chrono::seconds(10);
    auto p = std::make_shared<std::promise<cb::net::ClientResult>>();
    auto f = p->get_future();
    partner->request(std::move(req), [p](cb::net::ClientResult r) { p->set_value(std::move(r)); });
    return f;
  }

  Answer call(cb::plugin_host::Adapter& a, const std::string& method, const std::string& path,
              const std::string& content_type, const std::string& body, std::vector<cb::net::HttpHeader> headers = {}) {
    auto r = send(a.listeningPorts().at(0), method, path, content_type, body, std::move(headers)).get();
    if (!r.response) return {0, r.failure ? r.failure->message : "no response", {}};
    return {r.response->status, r.response->body, r.response->headers};
  }

  cb::plugin_host::DeliveryReport deliver(cb::plugin_host::Adapter& a, const std::string& payload,
                                          const std::string& content_type = "application/fhir+json",
                                          const std::string& message_id = "0190f3a0-0000-7000-8000-000000000001") {
    std::promise<cb::plugin_host::DeliveryReport> p;
    cb::plugin_host::DeliveryRequest req;
    req.message_id = message_id;
    req.content_type = content_type;
    req.record_type = "Patient";
    req.payload = std::make_shared<const std::string>(payload);
    a.deliver(req, [&p](cb::plugin_host::DeliveryReport r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
};

// ---------------------------------------------------------------- inbound

TEST_F(FhirPluginTest, ACreateIsAnsweredOnlyAfterTheRecordIsStored) {
  auto a = inbound();
  events.setMode(FakeStoreEvents::Mode::Hold);
  auto pending = send(a->listeningPorts().at(0), "POST", "/fhir/Patient", "application/fhir+json", patientJson("p1", "3"));
  ASSERT_TRUE(events.waitHeld(1, std::chrono::seconds(5)));
  // Not stored yet, so not answered yet.
  EXPECT_EQ(pending.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  events.releaseAll();
  auto r = pending.get();
  ASSERT_TRUE(r.response);
  EXPECT_EQ(r.response->status, 201u) << r.response->body;
  const std::string* location = r.response->header("Location");
  ASSERT_NE(location, nullptr);
  EXPECT_THAT(*location, ::testing::MatchesRegex("/fhir/Patient/0190f3a0-.*"));
  EXPECT_THAT(r.response->body, AllOf(HasSubstr("OperationOutcome"), HasSubstr("stored as message")));
  ASSERT_EQ(events.received().size(), 1u);
  EXPECT_EQ(events.received()[0].record_type, "Patient");
  EXPECT_EQ(events.received()[0].content_type, "application/fhir+json; charset=utf-8");
  EXPECT_EQ(events.received()[0].sender_message_id, "Patient/p1/_history/3");
  EXPECT_EQ(events.received()[0].payload, patientJson("p1", "3"));
}

TEST_F(FhirPluginTest, AnXmlUpdateIsStoredAndAnsweredInXml) {
  auto a = inbound();
  auto r = call(*a, "PUT", "/fhir/Patient/p2", "application/fhir+xml", patientXml("p2", "7"));
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.header("Location"), "/fhir/Patient/p2");
  EXPECT_THAT(r.header("Content-Type"), HasSubstr("application/fhir+xml"));
  EXPECT_THAT(r.body, HasSubstr("<OperationOutcome xmlns=\"http://hl7.org/fhir\">"));
  ASSERT_EQ(events.received().size(), 1u);
  EXPECT_EQ(events.received()[0].content_type, "application/fhir+xml; charset=utf-8");
  EXPECT_EQ(events.received()[0].sender_message_id, "Patient/p2/_history/7");
}

TEST_F(FhirPluginTest, ATransactionBundleIsAnsweredWithItsResponseBundle) {
  auto a = inbound();
  auto r = call(*a, "POST", "/fhir", "application/fhir+json", transactionJson("urn:uuid:0f6c9a58-1"));
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_THAT(r.body, AllOf(HasSubstr(R"("type":"transaction-response")"), HasSubstr("201 Created"),
                            HasSubstr("200 OK")));
  ASSERT_EQ(events.received().size(), 1u);
  EXPECT_EQ(events.received()[0].record_type, "Bundle");
  EXPECT_EQ(events.received()[0].sender_message_id, "Bundle.identifier:urn:ietf:rfc:3986|urn:uuid:0f6c9a58-1");
}

TEST_F(FhirPluginTest, AResentBundleIsAcknowledgedAgainButStoredOnce) {
  auto a = inbound();
  auto first = call(*a, "POST", "/fhir", "application/fhir+json", transactionJson("urn:uuid:resend-1"));
  auto second = call(*a, "POST", "/fhir", "application/fhir+json", transactionJson("urn:uuid:resend-1"));
  EXPECT_EQ(first.status, 200u);
  EXPECT_EQ(second.status, 200u);
  EXPECT_EQ(first.header("X-Carebridge-Message-Id"), second.header("X-Carebridge-Message-Id"));
  EXPECT_EQ(events.stored(), 1u);
  // A resent create answers 200 (not 201) naming the first copy.
  auto c1 = call(*a, "POST", "/fhir/Patient", "application/fhir+json", patientJson("p9", "1"));
  auto c2 = call(*a, "POST", "/fhir/Patient", "application/fhir+json", patientJson("p9", "1"));
  EXPECT_EQ(c1.status, 201u);
  EXPECT_EQ(c2.status, 200u);
  EXPECT_EQ(c1.header("Location"), c2.header("Location"));
  EXPECT_THAT(c2.body, HasSubstr("already received"));
  EXPECT_EQ(events.stored(), 2u);
}

TEST_F(FhirPluginTest, AMessageBundleIsAccepted) {
  auto a = inbound();
  const std::string message = cb::test::readFile(cb::test::referenceDir() / "fhir-r4" / "message-request-link.json");
  auto r = call(*a, "POST", "/fhir/$process-message", "application/fhir+json", message);
  EXPECT_EQ(r.status, 202u) << r.body;
  EXPECT_EQ(events.stored(), 1u);
}

// A collection Bundle (how UK Core partners send a record with its Patient)
// is a resource: created at [base]/Bundle and stored exactly as sent, so a
// mapped route can translate it; at the base it is refused with that advice.
TEST_F(FhirPluginTest, ACollectionBundleIsCreatedAtBundleNotPostedToTheBase) {
  auto a = inbound();
  const std::string collection =
      cb::test::readFile(cb::test::referenceDir() / "fhir-r4" / "patient-examples-general.json");
  auto at_base = call(*a, "POST", "/fhir", "application/fhir+json", collection);
  EXPECT_EQ(at_base.status, 422u);
  EXPECT_THAT(at_base.body, HasSubstr("POST [base]/Bundle"));
  EXPECT_EQ(events.stored(), 0u);
  auto r = call(*a, "POST", "/fhir/Bundle", "application/fhir+json", collection);
  EXPECT_EQ(r.status, 201u) << r.body;
  EXPECT_THAT(r.header("Location"), ::testing::StartsWith("/fhir/Bundle/"));
  ASSERT_EQ(events.received().size(), 1u);
  EXPECT_EQ(events.received()[0].record_type, "Bundle");
  EXPECT_EQ(events.received()[0].content_type, "application/fhir+json; charset=utf-8");
  EXPECT_EQ(events.received()[0].payload, collection);
}

TEST_F(FhirPluginTest, EveryReferenceExampleIsAcceptedAtItsEndpoint) {
  auto a = inbound();
  std::size_t tried = 0;
  for (const char* folder : {"fhir-r4", "ukcore"}) {
    for (const auto& entry : fs::directory_iterator(cb::test::referenceDir() / folder)) {
      const auto ext = entry.path().extension().string();
      if (ext != ".json" && ext != ".xml") continue;
      const std::string body = cb::test::readFile(entry.path());
      const std::string ct = ext == ".json" ? "application/fhir+json" : "application/fhir+xml";
      std::smatch m;
      const bool json = ext == ".json";
      const std::regex type_re(json ? R"re("resourceType"\s*:\s*"([A-Za-z]+)")re" : R"re(<([A-Z][A-Za-z]+)[\s>])re");
      ASSERT_TRUE(std::regex_search(body, m, type_re)) << entry.path();
      const std::string type = m[1];
      const bool bundle_to_base = type == "Bundle" && (body.find("\"transaction\"") != std::string::npos ||
                                                       body.find("\"batch\"") != std::string::npos ||
                                                       body.find("\"message\"") != std::string::npos);
      auto r = call(*a, "POST", bundle_to_base ? "/fhir" : "/fhir/" + type, ct, body);
      EXPECT_TRUE(r.status == 200 || r.status == 201 || r.status == 202) << entry.path() << ": " << r.status << " " << r.body;
      ++tried;
    }
  }
  EXPECT_GT(tried, 60u);
}

TEST_F(FhirPluginTest, AReferenceBatchBundleInXmlGetsABatchResponse) {
  auto a = inbound();
  const std::string batch = cb::test::readFile(cb::test::referenceDir() / "ukcore" / "UKCore-Bundle-BatchPOST-Example.xml");
  auto r = call(*a, "POST", "/fhir", "application/fhir+xml", batch);
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_THAT(r.body, AllOf(HasSubstr(R"(<type value="batch-response"/>)"), HasSubstr("201 Created")));
}

TEST_F(FhirPluginTest, UnparseableContentGets400WithAnOperationOutcomeAndIsNotSubmitted) {
  auto a = inbound();
  auto bad_json = call(*a, "POST", "/fhir/Patient", "application/fhir+json", R"({"resourceType":"Patient",)");
  EXPECT_EQ(bad_json.status, 400u);
  EXPECT_THAT(bad_json.body, AllOf(HasSubstr(R"("resourceType":"OperationOutcome")"), HasSubstr("not valid JSON")));
  auto no_type = call(*a, "POST", "/fhir/Patient", "application/fhir+json", R"({"id":"x"})");
  EXPECT_EQ(no_type.status, 400u);
  EXPECT_THAT(no_type.body, HasSubstr("/resourceType"));
  auto bad_xml = call(*a, "POST", "/fhir/Patient", "application/fhir+xml", "<Patient xmlns=\"http://hl7.org/fhir\">");
  EXPECT_EQ(bad_xml.status, 400u);
  EXPECT_THAT(bad_xml.body, HasSubstr("<OperationOutcome"));
  auto dtd = call(*a, "POST", "/fhir/Patient", "application/fhir+xml",
                  "<!DOCTYPE p [<!ENTITY x \"y\">]><Patient xmlns=\"http://hl7.org/fhir\"/>");
  EXPECT_EQ(dtd.status, 400u);
  EXPECT_THAT(dtd.body, HasSubstr("DTD"));
  auto wrong_ns = call(*a, "POST", "/fhir/Patient", "application/fhir+xml", "<Patient xmlns=\"urn:other\"/>");
  EXPECT_EQ(wrong_ns.status, 400u);
  auto bad_id = call(*a, "POST", "/fhir/Patient", "application/fhir+json", R"({"resourceType":"Patient","id":"a b"})");
  EXPECT_EQ(bad_id.status, 400u);
  EXPECT_TRUE(events.received().empty());
}

TEST_F(FhirPluginTest, ContentThatDisagreesWithTheRequestIsRefused) {
  auto a = inbound();
  auto mismatch = call(*a, "POST", "/fhir/Observation", "application/fhir+json", patientJson("p1", "1"));
  EXPECT_EQ(mismatch.status, 400u);
  EXPECT_THAT(mismatch.body, HasSubstr("not the type in the URL"));
  auto wrong_id = call(*a, "PUT", "/fhir/Patient/other", "application/fhir+json", patientJson("p1", "1"));
  EXPECT_EQ(wrong_id.status, 400u);
  EXPECT_THAT(wrong_id.body, HasSubstr("id in the URL"));
  auto collection = call(*a, "POST", "/fhir", "application/fhir+json", R"({"resourceType":"Bundle","type":"collection"})");
  EXPECT_EQ(collection.status, 422u);
  EXPECT_THAT(collection.body, AllOf(HasSubstr("transaction, batch or message"), HasSubstr("POST [base]/Bundle")));
  auto get = call(*a, "GET", "/fhir/Patient/p1", "", "");
  EXPECT_EQ(get.status, 405u);
  auto elsewhere = call(*a, "POST", "/records", "application/fhir+json", patientJson("p1", "1"));
  EXPECT_EQ(elsewhere.status, 404u);
  EXPECT_TRUE(events.received().empty());
}

TEST_F(FhirPluginTest, AWrongMediaTypeGets415) {
  auto a = inbound();
  for (const char* ct : {"text/plain", "application/octet-stream", "application/fhir+json; charset=iso-8859-1", ""}) {
    auto r = call(*a, "POST", "/fhir/Patient", ct, patientJson("p1", "1"));
    EXPECT_EQ(r.status, 415u) << ct;
    EXPECT_THAT(r.body, HasSubstr("OperationOutcome")) << ct;
  }
  // Plain JSON/XML media types are FHIR's too (https://hl7.org/fhir/R4/http.html#mime-type).
  EXPECT_EQ(call(*a, "POST", "/fhir/Patient", "application/json", patientJson("p1", "1")).status, 201u);
}

TEST_F(FhirPluginTest, ABodyOverTheLimitGets413) {
  auto a = inbound({{"max_body", "1024"}});
  std::string big = R"({"resourceType":"Patient","id":"big","text":{"div":")" + std::string(4096, 'x') + "\"}}";
  auto r = call(*a, "POST", "/fhir/Patient", "application/fhir+json", big);
  EXPECT_EQ(r.status, 413u);
  EXPECT_TRUE(events.received().empty());
}

TEST_F(FhirPluginTest, WhenTheHostCannotStoreTheSenderIsToldToRetry) {
  auto a = inbound();
  events.setMode(FakeStoreEvents::Mode::Unavailable, "store is failing");
  auto r = call(*a, "POST", "/fhir/Patient", "application/fhir+json", patientJson("p1", "1"));
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.header("Retry-After"), "5");
  EXPECT_THAT(r.body, HasSubstr("OperationOutcome"));
  events.setMode(FakeStoreEvents::Mode::Refuse, "record too large for this route");
  auto refused = call(*a, "POST", "/fhir/Patient", "application/fhir+json", patientJson("p1", "1"));
  EXPECT_EQ(refused.status, 422u);
  EXPECT_THAT(refused.body, HasSubstr("too large for this route"));
}

TEST_F(FhirPluginTest, MetadataDescribesTheEndpoint) {
  auto a = inbound();
  auto r = call(*a, "GET", "/fhir/metadata", "", "", {{"Accept", "application/fhir+json"}});
  EXPECT_EQ(r.status, 200u);
  EXPECT_THAT(r.body, AllOf(HasSubstr("CapabilityStatement"), HasSubstr("4.0.1")));
}

// ---------------------------------------------------------------- outbound

TEST_F(FhirPluginTest, ADeliveryIsAConditionalCreateOverMutualTls) {
  auto a = outbound();
  auto r = deliver(*a, patientJson("p1", "1"));
  EXPECT_EQ(r.status, CB_OK) << r.reason;
  EXPECT_THAT(r.remote_id, HasSubstr("/fhir/Patient/1"));
  auto got = server->requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].target, "/fhir/Patient");
  EXPECT_EQ(got[0].peer_cn, "carebridge");
  ASSERT_NE(got[0].header("If-None-Exist"), nullptr);
  EXPECT_EQ(*got[0].header("If-None-Exist"), "identifier=https://fhir.nhs.uk/Id/nhs-number%7C9000000009");
  ASSERT_NE(got[0].header("X-Request-ID"), nullptr);
  EXPECT_EQ(*got[0].header("X-Request-ID"), "0190f3a0-0000-7000-8000-000000000001");
  EXPECT_THAT(*got[0].header("Content-Type"), HasSubstr("application/fhir+json"));
  EXPECT_EQ(got[0].body, patientJson("p1", "1"));
  // A redelivery matches the identifier: the server keeps one copy.
  EXPECT_EQ(deliver(*a, patientJson("p1", "1")).status, CB_OK);
  EXPECT_EQ(server->created(), 1u);
}

TEST_F(FhirPluginTest, TheConditionalIdentifierCanBeChosenBySystem) {
  auto a = outbound({{"identifier_system", "https://rio.example.nhs.uk/id"}});
  const std::string p = R"({"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number",)"
                        R"("value":"9000000009"},{"system":"https://rio.example.nhs.uk/id","value":"RIO 77"}]})";
  EXPECT_EQ(deliver(*a, p).status, CB_OK);
  auto got = server->requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(*got[0].header("If-None-Exist"), "identifier=https://rio.example.nhs.uk/id%7CRIO%2077");
}

TEST_F(FhirPluginTest, BundlesGoToTheBaseAndResourcesWithoutIdentifierAreUpdatedById) {
  auto a = outbound();
  EXPECT_EQ(deliver(*a, transactionJson("urn:uuid:out-1")).status, CB_OK);
  EXPECT_EQ(deliver(*a, R"({"resourceType":"Flag","id":"f1","status":"active"})").status, CB_OK);
  EXPECT_EQ(deliver(*a, patientXml("p3", "1"), "application/fhir+xml").status, CB_OK);
  auto got = server->requests();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].method + " " + got[0].target, "POST /fhir");
  EXPECT_EQ(got[0].header("If-None-Exist"), nullptr);
  EXPECT_EQ(got[1].method + " " + got[1].target, "PUT /fhir/Flag/f1");
  EXPECT_EQ(got[2].method + " " + got[2].target, "POST /fhir/Patient");
  EXPECT_THAT(*got[2].header("Content-Type"), HasSubstr("application/fhir+xml"));
  ASSERT_NE(got[2].header("If-None-Exist"), nullptr);
}

TEST_F(FhirPluginTest, ClientErrorsArePermanentAndCarryTheDiagnostics) {
  auto a = outbound();
  server->script({400, {{"Content-Type", "application/fhir+json"}},
                  R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invalid",)"
                  R"("diagnostics":"Patient.birthDate: invalid date"}]})"});
  auto r400 = deliver(*a, patientJson("p1", "1"));
  EXPECT_EQ(r400.status, CB_ERROR);
  EXPECT_THAT(r400.reason, AllOf(HasSubstr("HTTP 400"), HasSubstr("Patient.birthDate: invalid date")));
  server->script({422, {{"Content-Type", "application/fhir+xml"}},
                  R"(<OperationOutcome xmlns="http://hl7.org/fhir"><issue><severity value="error"/>)"
                  R"(<code value="processing"/><details><text value="Unknown profile"/></details></issue></OperationOutcome>)"});
  auto r422 = deliver(*a, patientJson("p1", "1"));
  EXPECT_EQ(r422.status, CB_ERROR);
  EXPECT_THAT(r422.reason, AllOf(HasSubstr("HTTP 422"), HasSubstr("Unknown profile")));
  // The reason never carries the record.
  EXPECT_THAT(r422.reason, Not(HasSubstr("9000000009")));
}

TEST_F(FhirPluginTest, ServerErrorsAreRetried) {
  auto a = outbound();
  server->script({500, {}, "boom"});
  auto r500 = deliver(*a, patientJson("p1", "1"));
  EXPECT_EQ(r500.status, CB_RETRY);
  EXPECT_THAT(r500.reason, HasSubstr("HTTP 500"));
  server->script({503, {}, ""});
  EXPECT_EQ(deliver(*a, patientJson("p1", "1")).status, CB_RETRY);
}

TEST_F(FhirPluginTest, TooManyRequestsHonoursRetryAfter) {
  auto a = outbound();
  server->script({429, {{"Retry-After", "7"}}, ""});
  auto seconds = deliver(*a, patientJson("p1", "1"));
  EXPECT_EQ(seconds.status, CB_RETRY);
  EXPECT_EQ(seconds.retry_after_ms, 7000);
  // The HTTP-date form (RFC 9110 section 10.2.3), two minutes ahead.
  const std::time_t later = std::time(nullptr) + 120;
  std::tm tm{};
  gmtime_r(&later, &tm);
  char date[64];
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  server->script({503, {{"Retry-After", date}}, ""});
  auto dated = deliver(*a, patientJson("p1", "1"));
  EXPECT_EQ(dated.status, CB_RETRY);
  EXPECT_GT(dated.retry_after_ms, 100000);
  EXPECT_LE(dated.retry_after_ms, 120000);
}

TEST_F(FhirPluginTest, AServerThatDoesNotAnswerInTimeIsRetried) {
  auto a = outbound({{"timeout", "300"}});
  server->hang(true);
  auto r = deliver(*a, patientJson("p1", "1"));
  EXPECT_EQ(r.status, CB_RETRY);
  EXPECT_THAT(r.reason, HasSubstr("no answer"));
  server->hang(false);
}

TEST_F(FhirPluginTest, AServerWithAnUntrustedCertificateIsNotSentTo) {
  auto rogue = std::make_unique<cb::test::FhirTestServer>(io, certs, "rogue");
  auto a = outbound({{"base_url", rogue->baseUrl()}});
  auto r = deliver(*a, patientJson("p1", "1"));
  EXPECT_EQ(r.status, CB_RETRY);
  EXPECT_TRUE(rogue->requests().empty());
}

TEST_F(FhirPluginTest, ARecordThatIsNotFhirIsADeadLetter) {
  auto a = outbound();
  auto r = deliver(*a, "MSH|^~\\&|RIO", "x-application/hl7-v2+er7");
  EXPECT_EQ(r.status, CB_ERROR);
  EXPECT_THAT(r.reason, HasSubstr("not FHIR JSON or XML"));
  auto broken = deliver(*a, R"({"resourceType":)");
  EXPECT_EQ(broken.status, CB_ERROR);
  EXPECT_TRUE(server->requests().empty());
}

// ---------------------------------------------------------------- polling

std::string flag(const std::string& id, const std::string& updated) {
  return R"({"resourceType":"Flag","id":")" + id + R"(","meta":{"versionId":"1","lastUpdated":")" + updated +
         R"("},"status":"active","extension":[{"url":"urn:x-test:score","valueDecimal":1.50}]})";
}

TEST_F(FhirPluginTest, PollingSubmitsWhatChangedAndKeepsThePointDurably) {
  const fs::path state = dir / "poll.state";
  const std::string page1 =
      R"({"resourceType":"Bundle","type":"searchset","link":[{"relation":"next","url":")" + server->baseUrl() +
      R"(/Flag?page=2"}],"entry":[{"fullUrl":"x","resource":)" + flag("f1", "2024-05-01T10:00:00+00:00") +
      R"(,"search":{"mode":"match"}},{"resource":{"resourceType":"Patient","id":"inc"},"search":{"mode":"include"}}]})";
  const std::string page2 = R"({"resourceType":"Bundle","type":"searchset","entry":[{"resource":)" +
                            flag("f2", "2024-05-02T10:00:00+00:00") + "}]}";
  server->script({200, {{"Content-Type", "application/fhir+json"}}, page1});
  server->script({200, {{"Content-Type", "application/fhir+json"}}, page2});
  auto a = outbound({{"poll_types", "Flag"}, {"poll_interval", "50"}, {"poll_state_file", state.string()},
                     {"poll_since", "2024-01-01T00:00:00+00:00"}});
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(server->waitForRequests(3, std::chrono::seconds(10)));
  {
    ASSERT_EQ(events.received().size(), 2u);
    // Each matching resource exactly as the server sent it (the decimal keeps "1.50"); includes are context only.
    EXPECT_EQ(events.received()[0].payload, flag("f1", "2024-05-01T10:00:00+00:00"));
    EXPECT_EQ(events.received()[0].sender_message_id, "Flag/f1/_history/1");
    EXPECT_EQ(events.received()[0].record_type, "Flag");
    EXPECT_EQ(events.received()[1].payload, flag("f2", "2024-05-02T10:00:00+00:00"));
  }
  auto got = server->requests();
  EXPECT_EQ(got[0].method, "GET");
  EXPECT_EQ(got[0].target, "/fhir/Flag?_lastUpdated=gt2024-01-01T00:00:00%2B00:00&_sort=_lastUpdated&_count=100");
  EXPECT_EQ(got[1].target, "/fhir/Flag?page=2");
  EXPECT_EQ(got[2].target, "/fhir/Flag?_lastUpdated=gt2024-05-02T10:00:00%2B00:00&_sort=_lastUpdated&_count=100");
  EXPECT_EQ(cb::test::readFile(state), "Flag 2024-05-02T10:00:00+00:00\n");
  a->stop(std::chrono::seconds(2));
  // A restarted adapter carries on from the stored point.
  auto b = outbound({{"poll_types", "Flag"}, {"poll_interval", "50"}, {"poll_state_file", state.string()},
                     {"poll_since", "2024-01-01T00:00:00+00:00"}});
  const std::size_t before = server->requests().size();
  ASSERT_TRUE(server->waitForRequests(before + 1, std::chrono::seconds(10)));
  EXPECT_EQ(server->requests()[before].target,
            "/fhir/Flag?_lastUpdated=gt2024-05-02T10:00:00%2B00:00&_sort=_lastUpdated&_count=100");
}

TEST_F(FhirPluginTest, PollingDoesNotAdvanceWhenTheStoreCannotTakeTheRecords) {
  const fs::path state = dir / "poll.state";
  events.setMode(FakeStoreEvents::Mode::Unavailable, "store is failing");
  server->script({200, {{"Content-Type", "application/fhir+json"}},
                  R"({"resourceType":"Bundle","type":"searchset","entry":[{"resource":)" +
                      flag("f1", "2024-05-01T10:00:00Z") + "}]}"});
  auto a = outbound({{"poll_types", "Flag"}, {"poll_interval", "50"}, {"poll_state_file", state.string()},
                     {"poll_since", "2024-01-01T00:00:00Z"}});
  ASSERT_TRUE(server->waitForRequests(2, std::chrono::seconds(10)));
  EXPECT_EQ(server->requests()[1].target, "/fhir/Flag?_lastUpdated=gt2024-01-01T00:00:00Z&_sort=_lastUpdated&_count=100");
  EXPECT_FALSE(fs::exists(state));
}

TEST_F(FhirPluginTest, SettingsAreChecked) {
  auto none = tryAdapter(settings("server", {}));
  ASSERT_FALSE(none);
  EXPECT_THAT(none.error().message, AllOf(HasSubstr("adapter 'fhir-test'"), HasSubstr("set listen")));
  auto plain = tryAdapter(settings("carebridge", {{"base_url", "http://localhost/fhir"}}));
  ASSERT_FALSE(plain);
  EXPECT_THAT(plain.error().message, HasSubstr("base_url must start with https://"));
  auto unknown = tryAdapter(settings("server", {{"listen", "127.0.0.1:0"}, {"colour", "blue"}}));
  ASSERT_FALSE(unknown);
  EXPECT_THAT(unknown.error().message, HasSubstr("colour"));
  auto no_state = tryAdapter(settings("carebridge", {{"base_url", "https://localhost/fhir"}, {"poll_types", "Flag"}}));
  ASSERT_FALSE(no_state);
  EXPECT_THAT(no_state.error().message, HasSubstr("poll_state_file"));
}

}  // namespace
