// End to end: a partner posts a FHIR transaction Bundle to the real
// carebridged's fhir adapter over mutual TLS; a passthrough route hands it to
// a second fhir adapter, which posts it to a partner FHIR server.
#include "e2e/harness.h"
#include "plugins/fhir/fhir_test_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cb::e2e {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string bundle(const std::string& identifier) {
  return R"({"resourceType":"Bundle","type":"transaction","identifier":{"system":"urn:ietf:rfc:3986","value":")" +
         identifier +
         R"("},"entry":[{"resource":{"resourceType":"Flag","id":"safeguarding-1","status":"active",)"
         R"("code":{"text":"Safeguarding enquiry open"}},"request":{"method":"PUT","url":"Flag/safeguarding-1"}}]})";
}

std::string tls(const fs::path& certs, const std::string& name, bool crl) {
  return "  [adapter.tls]\n  certificate = \"" + (certs / (name + ".pem")).string() + "\"\n  private_key = \"" +
         (certs / (name + ".key")).string() + "\"\n  ca = \"" + (certs / "ca.pem").string() + "\"\n" +
         (crl ? "  crl = \"" + (certs / "crl.pem").string() + "\"\n" : "  server_name = \"localhost\"\n");
}

TEST(FhirE2E, ABundleInIsDeliveredToThePartnersFhirServer) {
  test::TempDir dir;
  const fs::path certs = test::devCerts();
  IoThreads threads;
  test::FhirTestServer partner_server(threads.io(), certs);
  const std::string config =
      "[daemon]\ndata_dir = \"state\"\nplugin_dir = \"" + test::pluginDir().string() +
      "\"\nlog_level = \"info\"\ndrain_timeout = \"3s\"\n[admin]\nlisten = \"127.0.0.1:0\"\n"
      "[[adapter]]\nname = \"fhir-in\"\nplugin = \"fhir\"\norganisation = \"RPG\"\n" + tls(certs, "server", true) +
      "  [adapter.settings]\n  listen = \"127.0.0.1:0\"\n  base_path = \"/fhir\"\n"
      "[[adapter]]\nname = \"fhir-out\"\nplugin = \"fhir\"\norganisation = \"00AF\"\n" + tls(certs, "carebridge", false) +
      "  [adapter.settings]\n  base_url = \"" + partner_server.baseUrl() + "\"\n  timeout = \"5s\"\n"
      "  [adapter.delivery]\n  initial_backoff = \"50ms\"\n  max_backoff = \"200ms\"\n  max_attempts = 1000\n"
      "[[route]]\nname = \"fhir-relay\"\nfrom = \"fhir-in\"\nto = [\"fhir-out\"]\nmode = \"passthrough\"\n";
  test::writeFile(dir / "carebridge.toml", config);
  DaemonProcess daemon(dir / "carebridge.toml", dir / "carebridged.log");
  ASSERT_TRUE(daemon.start()) << daemon.log();

  Sender partner(threads.io(), certs, "partner-a");
  const std::vector<net::HttpHeader> headers{{"Content-Type", "application/fhir+json"}};
  auto [status, body] = partner.post(daemon.adapterPort("fhir-in"), bundle("urn:uuid:e2e-1"), headers, "/fhir");
  ASSERT_EQ(status, 200u) << body;
  EXPECT_THAT(body, HasSubstr("transaction-response"));
  // A resend of the same Bundle is acknowledged again but not relayed twice.
  auto again = partner.post(daemon.adapterPort("fhir-in"), bundle("urn:uuid:e2e-1"), headers, "/fhir");
  EXPECT_EQ(again.first, 200u) << again.second;

  ASSERT_TRUE(partner_server.waitForRequests(1, std::chrono::seconds(15))) << daemon.log();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto got = partner_server.requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].method, "POST");
  EXPECT_EQ(got[0].target, "/fhir");
  EXPECT_EQ(got[0].body, bundle("urn:uuid:e2e-1"));
  EXPECT_EQ(got[0].peer_cn, "carebridge");
  ASSERT_NE(got[0].header("X-Request-ID"), nullptr);
  EXPECT_THAT(*got[0].header("Content-Type"), HasSubstr("application/fhir+json"));
  EXPECT_EQ(daemon.stop(), 0);
  // The operational log names message ids, never record content.
  EXPECT_THAT(daemon.log(), ::testing::Not(HasSubstr("Safeguarding enquiry open")));
}

}  // namespace
}  // namespace cb::e2e
