// End to end through the real carebridged, with a MESH test server over
// mutual TLS on loopback:
//  - a partner posts a record to the https adapter; a passthrough route hands
//    it to the mesh adapter, which sends it to the partner's mailbox in chunks;
//  - a partner's MESH message (in chunks) in our inbox is downloaded, stored,
//    acknowledged, and relayed to a partner over https;
//  - MESH expires our token midway: the adapter handshakes again and carries on.
#include "e2e/harness.h"
#include "plugins/mesh/mesh_test_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cb::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

const std::string kOurs = "X26HC005";
const std::string kPartner = "X26HC006";
const std::string kSharedKey = "SharedKey-E2E";
const std::string kWorkflow = "CAREBRIDGE_SAFEGUARDING";

std::string tls(const fs::path& certs, const std::string& name, bool crl) {
  return "  [adapter.tls]\n  certificate = \"" + (certs / (name + ".pem")).string() + "\"\n  private_key = \"" +
         (certs / (name + ".key")).string() + "\"\n  ca = \"" + (certs / "ca.pem").string() + "\"\n" +
         (crl ? "  crl = \"" + (certs / "crl.pem").string() + "\"\n" : "  server_name = \"localhost\"\n");
}

TEST(MeshE2E, RecordsGoOutAndComeInThroughMeshInChunksAcrossAnExpiredToken) {
  test::TempDir dir;
  const fs::path certs = test::devCerts();
  IoThreads threads;
  test::MeshTestServer mesh(threads.io(), certs, kSharedKey);
  mesh.addMailbox(kOurs, "e2e-password");
  mesh.addMailbox(kPartner, "partner-password");
  Sink sink(threads.io(), certs);
  // Secrets by path, relative to the config file's folder.
  test::writeFile(dir / "mesh-password", "e2e-password\n");
  test::writeFile(dir / "mesh-shared-key", kSharedKey + "\n");
  fs::permissions(dir / "mesh-password", fs::perms::owner_read | fs::perms::owner_write);
  fs::permissions(dir / "mesh-shared-key", fs::perms::owner_read | fs::perms::owner_write);
  const std::string mesh_common = "  url = \"" + mesh.url() + "\"\n  mailbox = \"" + kOurs +
                                  "\"\n  password_file = \"mesh-password\"\n  shared_key_file = \"mesh-shared-key\"\n"
                                  "  timeout = \"5s\"\n";
  const std::string config =
      "[daemon]\ndata_dir = \"state\"\nplugin_dir = \"" + test::pluginDir().string() +
      "\"\nlog_level = \"debug\"\ndrain_timeout = \"3s\"\n[admin]\nlisten = \"127.0.0.1:0\"\n"
      "[[adapter]]\nname = \"council-in\"\nplugin = \"https\"\norganisation = \"00AF\"\n" + tls(certs, "server", true) +
      "  [adapter.settings]\n  listen = \"127.0.0.1:0\"\n"
      "[[adapter]]\nname = \"mesh-out\"\nplugin = \"mesh\"\norganisation = \"RAT\"\n" + tls(certs, "carebridge", false) +
      "  [adapter.settings]\n" + mesh_common + "  workflow_id = \"" + kWorkflow + "\"\n  to_mailbox = \"" + kPartner +
      "\"\n  chunk_size = 1000\n"
      "  [adapter.delivery]\n  initial_backoff = \"50ms\"\n  max_backoff = \"200ms\"\n  max_attempts = 1000\n"
      "[[adapter]]\nname = \"mesh-in\"\nplugin = \"mesh\"\norganisation = \"RAT\"\n" + tls(certs, "carebridge", false) +
      "  [adapter.settings]\n" + mesh_common + "  receive = true\n  poll_interval = \"200ms\"\n"
      "  content_type = \"application/fhir+json\"\n"
      "[[adapter]]\nname = \"council-out\"\nplugin = \"https\"\norganisation = \"00AF\"\n" + tls(certs, "carebridge", false) +
      "  [adapter.settings]\n  url = \"https://localhost:" + std::to_string(sink.port()) + "/records\"\n  timeout = \"5s\"\n"
      "  [adapter.delivery]\n  initial_backoff = \"50ms\"\n  max_backoff = \"200ms\"\n  max_attempts = 1000\n"
      "[[route]]\nname = \"council-to-trust\"\nfrom = \"council-in\"\nto = [\"mesh-out\"]\nmode = \"passthrough\"\n"
      "[[route]]\nname = \"trust-to-council\"\nfrom = \"mesh-in\"\nto = [\"council-out\"]\nmode = \"passthrough\"\n";
  test::writeFile(dir / "carebridge.toml", config);
  DaemonProcess daemon(dir / "carebridge.toml", dir / "carebridged.log");
  ASSERT_TRUE(daemon.start()) << daemon.log();

  // Out: a FHIR reference example (larger than the chunk size) over https, then MESH.
  const std::string record = test::readFile(test::referenceDir() / "fhir-r4" / "auditevent-example-disclosure.json");
  ASSERT_GT(record.size(), 3000u);
  Sender partner(threads.io(), certs, "partner-a");
  const std::vector<net::HttpHeader> headers{{"Content-Type", "application/fhir+json"}, {"X-Message-Id", "council-1"}};
  auto [status, body] = partner.post(daemon.adapterPort("council-in"), record, headers);
  ASSERT_EQ(status, 202u) << body;
  ASSERT_TRUE(mesh.waitUntil(
      [&] {
        const auto sent = mesh.sentFrom(kOurs);
        return sent.size() == 1 && sent[0].complete();
      },
      std::chrono::seconds(15)))
      << daemon.log();
  auto sent = mesh.sentFrom(kOurs);
  EXPECT_EQ(sent[0].to, kPartner);
  EXPECT_EQ(sent[0].workflow, kWorkflow);
  EXPECT_EQ(sent[0].chunk_count, (record.size() + 999) / 1000);
  EXPECT_EQ(sent[0].payload(), record);
  EXPECT_EQ(sent[0].local_id.size(), 36u);  // carebridge's message id, nothing about the person

  // MESH expires every token issued so far.
  mesh.expireTokens();

  // In: a partner's chunked message in our inbox.
  const std::string incoming = test::readFile(test::referenceDir() / "fhir-r4" / "patient-examples-general.json");
  std::vector<std::string> chunks;
  for (std::size_t at = 0; at < incoming.size(); at += 2000) chunks.push_back(incoming.substr(at, 2000));
  ASSERT_GT(chunks.size(), 1u);
  const std::string id = mesh.post(kPartner, kOurs, kWorkflow, chunks, "application/octet-stream");
  ASSERT_TRUE(sink.waitFor(1, std::chrono::seconds(15))) << daemon.log();
  EXPECT_EQ(sink.received()[0].body, incoming);
  EXPECT_EQ(sink.received()[0].peer_cn, "carebridge");
  ASSERT_TRUE(mesh.waitUntil([&] { return mesh.acknowledged(id); }, std::chrono::seconds(10))) << daemon.log();
  EXPECT_THAT(mesh.authRefusals(), ::testing::Contains("token expired"));

  // And out again after the expiry: a new handshake, no duplicate of the first.
  auto second = partner.post(daemon.adapterPort("council-in"), R"({"resourceType":"Flag"})",
                             {{"Content-Type", "application/fhir+json"}, {"X-Message-Id", "council-2"}});
  ASSERT_EQ(second.first, 202u) << second.second;
  ASSERT_TRUE(mesh.waitUntil([&] { return mesh.sentFrom(kOurs).size() == 2; }, std::chrono::seconds(15)))
      << daemon.log();
  EXPECT_EQ(mesh.sentFrom(kOurs)[1].payload(), R"({"resourceType":"Flag"})");
  EXPECT_EQ(daemon.stop(), 0);
  // The operational log names message ids, never record content or secrets.
  EXPECT_THAT(daemon.log(), Not(HasSubstr("e2e-password")));
  EXPECT_THAT(daemon.log(), Not(HasSubstr(kSharedKey)));
  EXPECT_THAT(daemon.log(), Not(HasSubstr("Everywoman")));
}

}  // namespace
}  // namespace cb::e2e
