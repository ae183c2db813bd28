// Plain helpers of net/http.h: header lookup and endpoint parsing.
#include "net/http.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cb::net {
namespace {

using ::testing::HasSubstr;

TEST(FindHeader, IgnoresCaseOfNameButNotOfValue) {
  const std::vector<HttpHeader> headers{{"Content-Type", "Text/Plain"}, {"X-Message-Id", "m-1"}};
  ASSERT_NE(findHeader(headers, "content-type"), nullptr);
  EXPECT_EQ(*findHeader(headers, "CONTENT-TYPE"), "Text/Plain");
  EXPECT_EQ(*findHeader(headers, "x-message-id"), "m-1");
  EXPECT_EQ(findHeader(headers, "Content-Length"), nullptr);
  EXPECT_EQ(findHeader(headers, "Content-Typ"), nullptr);
}

TEST(FindHeader, ReturnsTheFirstOfRepeatedFields) {
  HttpRequest req;
  req.headers = {{"Via", "a"}, {"via", "b"}};
  ASSERT_NE(req.header("VIA"), nullptr);
  EXPECT_EQ(*req.header("VIA"), "a");
}

TEST(ParseEndpoint, HostAndPort) {
  auto ep = parseEndpoint("127.0.0.1:8443");
  ASSERT_TRUE(ep) << ep.error().message;
  EXPECT_EQ(ep->host, "127.0.0.1");
  EXPECT_EQ(ep->port, 8443);
  auto name = parseEndpoint("partner.example.nhs.uk:443");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->host, "partner.example.nhs.uk");
  EXPECT_EQ(name->port, 443);
}

TEST(ParseEndpoint, BracketedIpv6AndPortZero) {
  auto ep = parseEndpoint("[::1]:0");
  ASSERT_TRUE(ep) << ep.error().message;
  EXPECT_EQ(ep->host, "::1");
  EXPECT_EQ(ep->port, 0);
}

TEST(ParseEndpoint, ErrorsNameTheText) {
  for (const char* bad : {"localhost", "localhost:", ":8080", "host:65536", "host:80x", "::1:8080", "[::1]8080",
                          "[::1", "[]:80", "host:-1"}) {
    auto ep = parseEndpoint(bad);
    EXPECT_FALSE(ep) << bad;
    if (!ep) {
      EXPECT_THAT(ep.error().message, HasSubstr(std::string("'") + bad + "'"));
    }
  }
}

}  // namespace
}  // namespace cb::net
