// Real mutual-TLS handshakes on 127.0.0.1: who is let in and who is refused.
#include "net_fixture.h"

#include <gmock/gmock.h>
#include <openssl/ssl.h>

#include <mutex>
#include <vector>

namespace cb::net::test {
namespace {

using ::testing::HasSubstr;
using Kind = TransportFailure::Kind;

std::string describe(const ClientResult& r) {
  if (r.response) return "HTTP " + std::to_string(r.response->status);
  if (r.failure) return "failure: " + r.failure->message;
  return "empty result";
}

class TlsHandshakeTest : public NetTest {};

TEST_F(TlsHandshakeTest, MutualTlsRoundTripCarriesPeerIdentity) {
  auto& server = startEchoServer();
  auto& client = makeClient();
  auto r = call(client, post(server.port(), "assessment bundle"));
  ASSERT_TRUE(r.response) << describe(r);
  EXPECT_EQ(r.response->status, 200u);
  EXPECT_EQ(r.response->body, "assessment bundle");
  ASSERT_NE(r.response->header("x-peer-cn"), nullptr);
  EXPECT_EQ(*r.response->header("X-Peer-CN"), "carebridge");
  EXPECT_EQ(*r.response->header("X-Peer-Subject"), "CN=carebridge,O=carebridge development");
  EXPECT_EQ(*r.response->header("X-Peer-Pin"), DevCerts::pinOf("carebridge"));
  EXPECT_THAT(*r.response->header("X-Remote"), HasSubstr("127.0.0.1:"));
  EXPECT_EQ(*r.response->header("X-Method"), "POST");
  EXPECT_EQ(*r.response->header("X-Target"), "/echo");
  EXPECT_NE(r.response->header("Date"), nullptr);
  EXPECT_TRUE(refusals_.waitFor(0).empty());
}

TEST_F(TlsHandshakeTest, NewConnectionsResumeTheSessionOfTheirOriginAndStillCarryTheCertificate) {
  std::mutex m;
  std::vector<PeerIdentity> seen;
  const auto record = [&](HttpRequest&& req, Responder respond) {
    {
      std::lock_guard lock(m);
      seen.push_back(req.peer);
    }
    respond(HttpResponse{200, {}, "ok"});
  };
  auto& a = startServer(tlsServerOptions(), record);
  auto& b = startServer(tlsServerOptions(), record);
  auto& client = makeClient();
  // "Connection: close": every request opens a connection of its own.
  const auto once = [&](std::uint16_t port) {
    auto request = post(port);
    request.headers.push_back({"Connection", "close"});
    auto r = call(client, request);
    ASSERT_TRUE(r.response) << describe(r);
  };
  once(a.port());
  once(a.port());
  once(a.port());
  once(b.port());  // another origin: its own full handshake
  once(b.port());
  std::lock_guard lock(m);
  ASSERT_EQ(seen.size(), 5u);
  const std::vector<bool> resumed{false, true, true, false, true};
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].resumed, resumed[i]) << "request " << i;
    EXPECT_EQ(seen[i].common_name, "carebridge") << "request " << i;
    EXPECT_EQ(seen[i].spki_sha256, DevCerts::pinOf("carebridge")) << "request " << i;
  }
}

TEST_F(TlsHandshakeTest, ClientWithoutCertificateIsRefused) {
  auto& server = startEchoServer();
  RawClient raw(server.port());
  ASSERT_TRUE(raw.connected()) << raw.error();
  // With TLS 1.3 the client finishes its side first; the server refuses after.
  if (raw.handshake("", "")) {
    raw.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_THAT(raw.readAll(), ::testing::Not(HasSubstr("HTTP/1.1")));
  }
  auto refusals = refusals_.waitFor(1);
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_THAT(refusals[0].reason, HasSubstr("certificate"));
  EXPECT_THAT(refusals[0].remote_address, HasSubstr("127.0.0.1:"));
  EXPECT_EQ(handled(), 0u);
}

TEST_F(TlsHandshakeTest, ClientCertificateFromRogueCaIsRefused) {
  auto& server = startEchoServer();
  auto& client = makeClient(clientOptions(clientTls(settingsFor("rogue"))));
  auto r = call(client, post(server.port()));
  ASSERT_TRUE(r.failure) << describe(r);
  EXPECT_EQ(r.failure->kind, Kind::TlsVerification) << r.failure->message;
  auto refusals = refusals_.waitFor(1);
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_THAT(refusals[0].reason, HasSubstr("unable to get local issuer certificate"));
  EXPECT_THAT(refusals[0].peer_subject, HasSubstr("CN=rogue"));
  EXPECT_EQ(handled(), 0u);
}

TEST_F(TlsHandshakeTest, ExpiredClientCertificateIsRefused) {
  auto& server = startEchoServer();
  auto& client = makeClient(clientOptions(clientTls(settingsFor("expired"))));
  auto r = call(client, post(server.port()));
  ASSERT_TRUE(r.failure) << describe(r);
  EXPECT_EQ(r.failure->kind, Kind::TlsVerification) << r.failure->message;
  auto refusals = refusals_.waitFor(1);
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_THAT(refusals[0].reason, HasSubstr("expired"));
  EXPECT_THAT(refusals[0].peer_subject, HasSubstr("CN=expired"));
}

TEST_F(TlsHandshakeTest, RevokedClientCertificateIsRefusedOnlyWithCrl) {
  auto with_crl = settingsFor("server");
  with_crl.crl = DevCerts::path("crl.pem");
  ServerOptions checked;
  checked.tls = serverTls(with_crl);
  auto& server = startEchoServer(checked);
  auto& unchecked = startEchoServer();

  auto& revoked = makeClient(clientOptions(clientTls(settingsFor("revoked"))));
  auto refused = call(revoked, post(server.port()));
  ASSERT_TRUE(refused.failure) << describe(refused);
  EXPECT_EQ(refused.failure->kind, Kind::TlsVerification) << refused.failure->message;
  auto refusals = refusals_.waitFor(1);
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_THAT(refusals[0].reason, HasSubstr("revoked"));

  // Control: the same certificate passes a server without the CRL, and a
  // certificate that is not revoked passes the server with it (the whole
  // chain, CA included, is checked against the CRL).
  auto accepted = call(revoked, post(unchecked.port()));
  ASSERT_TRUE(accepted.response) << describe(accepted);
  auto& good = makeClient();
  auto ok = call(good, post(server.port()));
  ASSERT_TRUE(ok.response) << describe(ok);
  EXPECT_EQ(ok.response->status, 200u);
}

TEST_F(TlsHandshakeTest, ServerPinningClientRefusesOtherKeys) {
  auto pinned = settingsFor("server");
  pinned.pins = {DevCerts::pinOf("partner-a")};
  ServerOptions options;
  options.tls = serverTls(pinned);
  auto& server = startEchoServer(options);

  auto r = call(makeClient(), post(server.port()));
  ASSERT_TRUE(r.failure) << describe(r);
  EXPECT_EQ(r.failure->kind, Kind::TlsVerification) << r.failure->message;
  auto refusals = refusals_.waitFor(1);
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_THAT(refusals[0].reason, HasSubstr("pin"));
  EXPECT_THAT(refusals[0].peer_subject, HasSubstr("CN=carebridge"));

  auto ok = call(makeClient(clientOptions(clientTls(settingsFor("partner-a")))), post(server.port()));
  ASSERT_TRUE(ok.response) << describe(ok);
  EXPECT_EQ(*ok.response->header("X-Peer-CN"), "partner-a");
}

TEST_F(TlsHandshakeTest, ClientPinningServerRefusesOtherKeys) {
  auto& server = startEchoServer();
  auto wrong = settingsFor("carebridge");
  wrong.pins = {DevCerts::pinOf("partner-b")};
  auto r = call(makeClient(clientOptions(clientTls(wrong))), post(server.port()));
  ASSERT_TRUE(r.failure) << describe(r);
  EXPECT_EQ(r.failure->kind, Kind::TlsVerification);
  EXPECT_THAT(r.failure->message, HasSubstr("pin"));

  auto right = settingsFor("carebridge");
  right.pins = {DevCerts::pinOf("partner-b"), DevCerts::pinOf("server")};
  auto ok = call(makeClient(clientOptions(clientTls(right))), post(server.port()));
  ASSERT_TRUE(ok.response) << describe(ok);
  EXPECT_EQ(ok.response->status, 200u);
}

TEST_F(TlsHandshakeTest, ClientVerifiesServerName) {
  auto& server = startEchoServer();
  auto wrong = settingsFor("carebridge");
  wrong.server_name = "records.partner.example";
  auto r = call(makeClient(clientOptions(clientTls(wrong))), post(server.port()));
  ASSERT_TRUE(r.failure) << describe(r);
  EXPECT_EQ(r.failure->kind, Kind::TlsVerification);
  EXPECT_THAT(r.failure->message, HasSubstr("hostname mismatch"));

  auto named = settingsFor("carebridge");
  named.server_name = "localhost";
  auto ok = call(makeClient(clientOptions(clientTls(named))), post(server.port()));
  ASSERT_TRUE(ok.response) << describe(ok);

  // Without server_name, the URL's IP literal must be an iPAddress SAN.
  auto by_ip = call(makeClient(), post(server.port()));
  ASSERT_TRUE(by_ip.response) << describe(by_ip);
}

TEST_F(TlsHandshakeTest, ClientRefusesServerFromAnotherCa) {
  auto& server = startEchoServer();
  auto other = settingsFor("carebridge");
  other.ca = DevCerts::path("rogue-ca.pem");
  auto r = call(makeClient(clientOptions(clientTls(other))), post(server.port()));
  ASSERT_TRUE(r.failure) << describe(r);
  EXPECT_EQ(r.failure->kind, Kind::TlsVerification);
  EXPECT_THAT(r.failure->message, HasSubstr("local issuer"));
}

TEST_F(TlsHandshakeTest, Tls11OnlyClientIsRefused) {
  auto& server = startEchoServer();
  RawClient raw(server.port());
  ASSERT_TRUE(raw.connected()) << raw.error();
  EXPECT_FALSE(raw.handshake(DevCerts::path("carebridge.pem"), DevCerts::path("carebridge.key"), TLS1_1_VERSION));
  auto refusals = refusals_.waitFor(1);
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_THAT(refusals[0].reason, HasSubstr("protocol"));
}

TEST_F(TlsHandshakeTest, Tls12ClientWithModernSuiteIsAccepted) {
  auto& server = startEchoServer();
  RawClient raw(server.port());
  ASSERT_TRUE(raw.connected()) << raw.error();
  ASSERT_TRUE(raw.handshake(DevCerts::path("carebridge.pem"), DevCerts::path("carebridge.key"), TLS1_2_VERSION))
      << raw.error();
  ASSERT_TRUE(raw.send("GET /tls12 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"));
  EXPECT_THAT(raw.readAll(), HasSubstr("HTTP/1.1 200 OK"));
}

TEST_F(TlsHandshakeTest, SilentClientIsDroppedAfterHandshakeTimeout) {
  ServerOptions options;
  options.limits.handshake_timeout = std::chrono::milliseconds(300);
  auto& server = startEchoServer(options);
  RawClient raw(server.port());
  ASSERT_TRUE(raw.connected()) << raw.error();
  raw.readAll();  // returns when the server closes, or after the 5 s socket timeout
  EXPECT_FALSE(raw.timedOut()) << "server kept a silent connection open";
}

}  // namespace
}  // namespace cb::net::test
