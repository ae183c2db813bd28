// Building TLS contexts: errors name the file at fault.
#include "net_fixture.h"

#include <gmock/gmock.h>

#include <unistd.h>

#include <fstream>

namespace cb::net::test {
namespace {

using ::testing::HasSubstr;

class TlsContextTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { DevCerts::dir(); }
};

TEST_F(TlsContextTest, BuildsServerAndClientContextsFromDevCertificates) {
  auto server = makeServerTlsContext(settingsFor("server"));
  ASSERT_TRUE(server) << server.error().message;
  EXPECT_NE((*server)->native(), nullptr);
  auto client = makeClientTlsContext(settingsFor("carebridge"));
  ASSERT_TRUE(client) << client.error().message;
  EXPECT_EQ((*client)->settings().certificate, settingsFor("carebridge").certificate);
}

TEST_F(TlsContextTest, MissingCertificateIsNamed) {
  auto s = settingsFor("server");
  s.certificate = DevCerts::path("nobody.pem");
  auto ctx = makeServerTlsContext(s);
  ASSERT_FALSE(ctx);
  EXPECT_THAT(ctx.error().message, HasSubstr("nobody.pem"));
  EXPECT_THAT(ctx.error().message, HasSubstr("does not exist"));
}

TEST_F(TlsContextTest, KeyThatDoesNotMatchIsNamed) {
  auto s = settingsFor("carebridge");
  s.private_key = DevCerts::path("partner-a.key");
  auto ctx = makeClientTlsContext(s);
  ASSERT_FALSE(ctx);
  EXPECT_THAT(ctx.error().message, HasSubstr("partner-a.key"));
  EXPECT_THAT(ctx.error().message, HasSubstr("does not match"));
  EXPECT_THAT(ctx.error().message, HasSubstr("carebridge.pem"));
}

TEST_F(TlsContextTest, NonPemCaIsNamed) {
  const auto junk = std::filesystem::temp_directory_path() / ("junk-ca-" + std::to_string(::getpid()) + ".txt");
  std::ofstream(junk) << "this is not a certificate\n";
  auto s = settingsFor("server");
  s.ca = junk;
  auto ctx = makeServerTlsContext(s);
  ASSERT_FALSE(ctx);
  EXPECT_THAT(ctx.error().message, HasSubstr(junk.filename().string()));
  EXPECT_THAT(ctx.error().message, HasSubstr("not PEM"));
  std::filesystem::remove(junk);
}

TEST_F(TlsContextTest, KeyFileInCertificatePlaceIsRefused) {
  auto s = settingsFor("server");
  s.certificate = DevCerts::path("server.key");
  auto ctx = makeServerTlsContext(s);
  ASSERT_FALSE(ctx);
  EXPECT_THAT(ctx.error().message, HasSubstr("server.key"));
  EXPECT_THAT(ctx.error().message, HasSubstr("no PEM certificate"));
}

TEST_F(TlsContextTest, MalformedPinsAreRefused) {
  auto s = settingsFor("server");
  s.pins = {"sha1/AAAA"};
  auto ctx = makeServerTlsContext(s);
  ASSERT_FALSE(ctx);
  EXPECT_THAT(ctx.error().message, HasSubstr("sha1/AAAA"));
  s.pins = {"sha256/dG9vIHNob3J0"};
  ctx = makeServerTlsContext(s);
  ASSERT_FALSE(ctx);
  EXPECT_THAT(ctx.error().message, HasSubstr("32-byte"));
}

TEST_F(TlsContextTest, MissingCrlIsNamed) {
  auto s = settingsFor("server");
  s.crl = DevCerts::path("missing-crl.pem");
  auto ctx = makeServerTlsContext(s);
  ASSERT_FALSE(ctx);
  EXPECT_THAT(ctx.error().message, HasSubstr("missing-crl.pem"));
}

}  // namespace
}  // namespace cb::net::test
