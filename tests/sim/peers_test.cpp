// The protocol ends the simulators play, over real mutual TLS and real
// folders: the FHIR server's create, conditional create, update, transaction
// and _lastUpdated search; RiO's HL7 v2 inbox saving before it answers AA;
// the import job filing good files and rejecting a malformed one; export
// files that only ever appear complete. Nothing here waits on a clock: every
// exchange is awaited for its answer.

#include "mapping/system.h"
#include "mllp_peer.h"
#include "net/https_client.h"
#include "net/tls.h"
#include "peers/fhir_server.h"
#include "peers/file_drop.h"
#include "peers/hl7_inbox.h"
#include "support/test_support.h"
#include "systems/records.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include <future>
#include <thread>

namespace cb::sim {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
namespace json = boost::json;

net::TlsSettings tlsFor(const std::string& name) {
  net::TlsSettings s;
  s.certificate = test::devCerts() / (name + ".pem");
  s.private_key = test::devCerts() / (name + ".key");
  s.ca = test::devCerts() / "ca.pem";
  s.server_name = "localhost";
  return s;
}

// A FHIR server and an HTTPS client with a partner's certificate, on one io_context.
class FhirServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server_tls = net::makeServerTlsContext(tlsFor("server"));
    ASSERT_TRUE(server_tls) << server_tls.error().message;
    FhirServer::Options o;
    o.listen = net::Endpoint{"127.0.0.1", 0};
    o.tls = *server_tls;
    o.save_dir = dir_.path() / "saved";
    o.log = [this](const std::string& line) {
      std::lock_guard lock(mutex_);
      lines_.push_back(line);
    };
    auto server = FhirServer::start(io_, o);
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::move(*server);
    auto client_tls = net::makeClientTlsContext(tlsFor("partner-a"));
    ASSERT_TRUE(client_tls) << client_tls.error().message;
    net::ClientOptions co;
    co.tls = *client_tls;
    client_ = net::HttpsClient::create(io_, co);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    if (client_) client_->stop();
    if (server_) server_->stop();
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  net::HttpResponse call(const std::string& method, const std::string& path, const std::string& body = {},
                         std::vector<net::HttpHeader> headers = {}) {
    net::ClientRequest req;
    req.method = method;
    req.url = "https://127.0.0.1:" + std::to_string(server_->port()) + path;
    req.body = body;
    req.headers = std::move(headers);
    if (!body.empty()) req.headers.push_back({"Content-Type", "application/fhir+json"});
    std::promise<net::ClientResult> done;
    auto f = done.get_future();
    client_->request(req, [&done](net::ClientResult r) { done.set_value(std::move(r)); });
    net::ClientResult r = f.get();
    EXPECT_TRUE(r.response.has_value()) << (r.failure ? r.failure->message : "");
    return r.response ? *r.response : net::HttpResponse{0, {}, {}};
  }

  static std::string header(const net::HttpResponse& r, const char* name) {
    const std::string* h = r.header(name);
    return h != nullptr ? *h : std::string();
  }

  test::TempDir dir_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::unique_ptr<FhirServer> server_;
  std::unique_ptr<net::HttpsClient> client_;
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

TEST_F(FhirServerTest, ConditionalCreateStoresOnceAndAnswersWithTheExisting) {
  RecordGenerator gen(SeedSystem::Carenotes, 5, 3, {"enquiry"});
  const SyntheticRecord rec = gen.make(0);
  const std::vector<net::HttpHeader> cond = {
      {"If-None-Exist", "identifier=urn%3Acarebridge%3Arecord%3Acarenotes%7C" + rec.source_id}};
  const auto first = call("POST", "/fhir/Bundle", rec.bytes, cond);
  EXPECT_EQ(first.status, 201u) << first.body;
  const std::string location = header(first, "Location");
  EXPECT_NE(location.find("/fhir/Bundle/"), std::string::npos);
  const auto again = call("POST", "/fhir/Bundle", rec.bytes, cond);
  EXPECT_EQ(again.status, 200u) << again.body;
  EXPECT_EQ(header(again, "Location"), location);
  EXPECT_EQ(server_->count("Bundle"), 1u);
  // Without If-None-Exist a create is a create (http.html#create).
  EXPECT_EQ(call("POST", "/fhir/Bundle", rec.bytes).status, 201u);
  EXPECT_EQ(server_->count("Bundle"), 2u);
  // Saved to the folder, one file per stored resource.
  std::size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir_.path() / "saved")) files += e.path().extension() == ".json" ? 1u : 0u;
  EXPECT_EQ(files, 2u);
  // One log line per request, naming the peer's certificate.
  std::lock_guard lock(mutex_);
  ASSERT_EQ(lines_.size(), 3u);
  EXPECT_NE(lines_[1].find(" 200 "), std::string::npos) << lines_[1];
  EXPECT_NE(lines_[1].find("from partner-a"), std::string::npos) << lines_[1];
}

TEST_F(FhirServerTest, LastUpdatedSearchPagesInOrderWithoutGapsOrRepeats) {
  RecordGenerator gen(SeedSystem::UkCore, 8, 4, {"patient"});
  std::vector<std::string> ids;
  for (std::uint64_t i = 0; i < 5; ++i) {
    const auto r = call("POST", "/fhir/Patient", gen.make(i).bytes);
    ASSERT_EQ(r.status, 201u) << r.body;
    ids.push_back(json::parse(r.body).at("id").as_string().c_str());
  }
  // What carebridge's fhir adapter asks when polling (plugins/fhir/README.md).
  std::string url = "/fhir/Patient?_lastUpdated=gt2000-01-01T00%3A00%3A00Z&_sort=_lastUpdated&_count=2";
  std::vector<std::string> seen;
  for (int page = 0; page < 10 && !url.empty(); ++page) {
    const auto r = call("GET", url);
    ASSERT_EQ(r.status, 200u) << r.body;
    const json::value b = json::parse(r.body);
    EXPECT_EQ(b.at("type").as_string(), "searchset");
    for (const auto& e : b.at("entry").as_array()) seen.push_back(e.at("resource").at("id").as_string().c_str());
    url.clear();
    for (const auto& l : b.at("link").as_array()) {
      if (l.at("relation").as_string() == "next") {
        const std::string next = l.at("url").as_string().c_str();
        url = next.substr(next.find("/fhir/"));
      }
    }
  }
  EXPECT_EQ(seen, ids);
  // A point after the third: only the last two.
  const auto third = call("GET", "/fhir/Patient/" + ids[2]);
  ASSERT_EQ(third.status, 200u);
  const std::string point = json::parse(third.body).at("meta").at("lastUpdated").as_string().c_str();
  const auto after = call("GET", "/fhir/Patient?_lastUpdated=gt" + point);
  EXPECT_EQ(json::parse(after.body).at("entry").as_array().size(), 2u);
}

TEST_F(FhirServerTest, UpdateTransactionAndMetadata) {
  RecordGenerator gen(SeedSystem::Carenotes, 2, 2, {"patient"});
  json::value patient = json::parse(gen.make(0).bytes);
  const std::string id = patient.at("id").as_string().c_str();
  const std::string body = gen.make(0).bytes;
  EXPECT_EQ(call("PUT", "/fhir/Patient/" + id, body).status, 201u);
  EXPECT_EQ(call("PUT", "/fhir/Patient/" + id, body).status, 200u);
  EXPECT_EQ(call("PUT", "/fhir/Patient/other-id", body).status, 400u);
  EXPECT_EQ(server_->count("Patient"), 1u);

  const std::string tx = R"({"resourceType":"Bundle","type":"transaction","entry":[)"
                         R"({"resource":{"resourceType":"Patient","identifier":[{"system":"s","value":"v1"}]},)"
                         R"("request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=s|v1"}},)"
                         R"({"resource":{"resourceType":"Patient","identifier":[{"system":"s","value":"v1"}]},)"
                         R"("request":{"method":"POST","url":"Patient","ifNoneExist":"identifier=s|v1"}}]})";
  const auto r = call("POST", "/fhir", tx);
  ASSERT_EQ(r.status, 200u) << r.body;
  const json::value b = json::parse(r.body);
  EXPECT_EQ(b.at("type").as_string(), "transaction-response");
  EXPECT_EQ(b.at("entry").at(0).at("response").at("status").as_string(), "201 Created");
  EXPECT_EQ(b.at("entry").at(1).at("response").at("status").as_string(), "200 OK");
  EXPECT_EQ(server_->count("Patient"), 2u);

  const auto m = call("GET", "/fhir/metadata");
  EXPECT_EQ(m.status, 200u);
  EXPECT_EQ(json::parse(m.body).at("resourceType").as_string(), "CapabilityStatement");
  EXPECT_EQ(call("POST", "/fhir/Patient", "{not json").status, 400u);
  EXPECT_EQ(call("POST", "/fhir/Bundle", body).status, 400u);  // a Patient posted as a Bundle
}

TEST(Hl7Inbox, SavesEachMessageThenAnswersAA) {
  test::TempDir dir;
  std::vector<std::string> lines;
  std::mutex m;
  Hl7Inbox::Options o;
  o.listen = "127.0.0.1:0";
  o.tls = {(test::devCerts() / "server.pem").string(), (test::devCerts() / "server.key").string(),
           (test::devCerts() / "ca.pem").string(), {}};
  o.save_dir = dir.path() / "inbox";
  o.log = [&](const std::string& line) {
    std::lock_guard lock(m);
    lines.push_back(line);
  };
  Hl7Inbox inbox(o);
  MllpSender sender("127.0.0.1:" + std::to_string(inbox.port()),
                    {(test::devCerts() / "partner-a.pem").string(), (test::devCerts() / "partner-a.key").string(),
                     (test::devCerts() / "ca.pem").string(), {}},
                    "localhost");
  RecordGenerator gen(SeedSystem::Rio, 11, 5, {"adt-a28", "adt-a31"});
  for (std::uint64_t i = 0; i < 4; ++i) {
    const SyntheticRecord rec = gen.make(i);
    auto reply = sender.send(rec.bytes);
    ASSERT_TRUE(reply) << sender.lastError();
    const AckSummary ack = summariseAck(*reply);
    EXPECT_EQ(ack.code, "AA");
    EXPECT_EQ(ack.control_id, rec.source_id);
    // The ACK came back, so the file is already there, whole.
    EXPECT_EQ(test::readFile(o.save_dir / (rec.source_id + ".hl7")), rec.bytes);
  }
  EXPECT_EQ(inbox.distinct(), 4u);
  std::lock_guard lock(m);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].rfind("hl7 received " + gen.make(0).source_id + " ADT^A28 AA saved ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("from partner-a"), std::string::npos) << lines[0];
}

TEST(Hl7Inbox, AnswersAEWhenItCannotSave) {
  test::TempDir dir;
  Hl7Inbox::Options o;
  o.save_dir = dir.path() / "inbox";
  Hl7Inbox inbox(o);  // plain MLLP on loopback
  fs::remove_all(o.save_dir);  // the folder goes away (unmounted share)
  MllpSender sender("127.0.0.1:" + std::to_string(inbox.port()));
  const SyntheticRecord rec = RecordGenerator(SeedSystem::Rio, 12, 2, {"adt-a31"}).make(0);
  auto reply = sender.send(rec.bytes);
  ASSERT_TRUE(reply) << sender.lastError();
  EXPECT_EQ(summariseAck(*reply).code, "AE");
}

const mapping::SystemMappings& mappingsOf(const std::string& system) {
  static std::map<std::string, std::shared_ptr<const mapping::SystemMappings>> cache;
  static const mapping::MappingSchemas schemas = [] {
    auto r = mapping::MappingSchemas::load((test::sourceDir() / "mappings").string());
    if (!r) throw std::runtime_error(r.error().message);
    return std::move(*r);
  }();
  auto& slot = cache[system];
  if (!slot) {
    auto r = mapping::SystemMappings::load((test::sourceDir() / "mappings" / system).string(), schemas);
    if (!r) throw std::runtime_error(r.error().message);
    slot = *r;
  }
  return *slot;
}

// What carebridge would drop for `to`: a record from `from` translated and rendered by the real mappings.
std::string rendered(SeedSystem from, const std::string& kind, const std::string& to) {
  const SyntheticRecord rec = RecordGenerator(from, 3, 4, {kind}).make(1);
  auto in = mappingsOf(std::string(systemName(from))).toCanonical(rec.bytes, rec.content_type);
  if (!in) throw std::runtime_error(in.error().message);
  auto out = mappingsOf(to).fromCanonical(in->canonical.get());
  if (!out) throw std::runtime_error(out.error().message);
  return out->bytes;
}

TEST(ImportJob, MovesGoodFilesAndRejectsAMalformedOneWithItsReason) {
  test::TempDir dir;
  const fs::path d = dir.path();
  test::writeFile(d / "enquiry-1.xml", rendered(SeedSystem::Rio, "enquiry", "mosaic"));
  test::writeFile(d / "person-2.xml", rendered(SeedSystem::Carenotes, "patient", "mosaic"));
  test::writeFile(d / "person-2.xml.done", "");
  test::writeFile(d / "broken.xml", "<MosaicSafeguardingImport><Person></MosaicSafeguardingImport>");
  test::writeFile(d / "other.xml", "<PersonExport/>");
  test::writeFile(d / "half.xml.part", "<Mosaic");  // still being written: left alone
  test::writeFile(d / ".hidden.tmp", "x");
  const auto outcomes = importPass(SeedSystem::Mosaic, d);
  ASSERT_EQ(outcomes.size(), 4u);
  std::map<std::string, ImportOutcome> by;
  for (const auto& o : outcomes) by[o.file] = o;
  EXPECT_TRUE(by["enquiry-1.xml"].imported) << by["enquiry-1.xml"].reason;
  EXPECT_TRUE(by["person-2.xml"].imported) << by["person-2.xml"].reason;
  EXPECT_FALSE(by["broken.xml"].imported);
  EXPECT_NE(by["broken.xml"].reason.find("well-formed"), std::string::npos) << by["broken.xml"].reason;
  EXPECT_FALSE(by["other.xml"].imported);
  EXPECT_NE(by["other.xml"].reason.find("PersonExport"), std::string::npos);
  EXPECT_TRUE(fs::exists(d / "imported" / "enquiry-1.xml"));
  EXPECT_TRUE(fs::exists(d / "imported" / "person-2.xml"));
  EXPECT_TRUE(fs::exists(d / "imported" / "person-2.xml.done"));
  EXPECT_TRUE(fs::exists(d / "rejected" / "broken.xml"));
  EXPECT_TRUE(fs::exists(d / "rejected" / "broken.xml.reason.txt"));
  EXPECT_TRUE(fs::exists(d / "half.xml.part"));
  EXPECT_FALSE(fs::exists(d / "broken.xml"));
  // The same name again does not overwrite what was imported before.
  test::writeFile(d / "enquiry-1.xml", rendered(SeedSystem::Rio, "enquiry", "mosaic"));
  const auto second = importPass(SeedSystem::Mosaic, d);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_TRUE(fs::exists(d / "imported" / "enquiry-1.xml.1"));
}

TEST(ImportJob, LasAndAisImportFormats) {
  test::TempDir dir;
  test::writeFile(dir / "review.xml", rendered(SeedSystem::Rio, "review", "las"));
  test::writeFile(dir / "concern.csv", rendered(SeedSystem::Rio, "concern", "ais"));
  EXPECT_EQ(checkImportFormat(SeedSystem::Las, test::readFile(dir / "review.xml")), "");
  EXPECT_EQ(checkImportFormat(SeedSystem::Ais, test::readFile(dir / "concern.csv")), "");
  EXPECT_NE(checkImportFormat(SeedSystem::Ais, "Name,Value\r\nx,y\r\n"), "");
  EXPECT_NE(checkImportFormat(SeedSystem::Ais, "Record Type,A\r\n\"unterminated\r\n"), "");
  EXPECT_NE(checkImportFormat(SeedSystem::Las, "<ReviewImport>"), "");
}

TEST(ExportFiles, AppearOnlyComplete) {
  test::TempDir dir;
  RecordGenerator gen(SeedSystem::Ais, 4, 3, {"referral"});
  const SyntheticRecord rec = gen.make(0);
  bool looked = false;
  const std::string err = writeFileAtomically(dir.path(), rec.file_name, rec.bytes, [&](const fs::path& part) {
    // Just before the rename: the whole record is under the .part name (which
    // carebridge's filedrop adapter ignores) and nothing under the real name.
    looked = true;
    EXPECT_EQ(part.filename().string(), rec.file_name + ".part");
    EXPECT_EQ(test::readFile(part), rec.bytes);
    EXPECT_FALSE(fs::exists(dir / rec.file_name));
  });
  EXPECT_EQ(err, "");
  EXPECT_TRUE(looked);
  EXPECT_EQ(test::readFile(dir / rec.file_name), rec.bytes);
  EXPECT_FALSE(fs::exists(dir / (rec.file_name + ".part")));
  EXPECT_NE(writeFileAtomically(dir / "missing", "x.xml", "x"), "");
}

}  // namespace
}  // namespace cb::sim
