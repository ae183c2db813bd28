#include "admin/access.h"
#include "config/config.h"
#include "support/test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cb::admin {
namespace {

using ::testing::HasSubstr;
using P = Permission;

TEST(AdminRoles, EachRoleGetsItsTasksAndNoOther) {
  const std::vector<std::string> op{"operator"}, ig{"ig-reviewer"}, ap{"approver"}, au{"auditor"};
  EXPECT_TRUE(allows(op, P::Replay));
  EXPECT_TRUE(allows(op, P::Queues));
  EXPECT_FALSE(allows(op, P::AuditSearch));
  EXPECT_FALSE(allows(op, P::DecideHolds));
  EXPECT_TRUE(allows(ig, P::SubjectAccess));
  EXPECT_TRUE(allows(ig, P::RunVerification));
  EXPECT_FALSE(allows(ig, P::DecideHolds));
  EXPECT_FALSE(allows(ig, P::Holds));
  EXPECT_FALSE(allows(ig, P::Replay));
  EXPECT_TRUE(allows(ap, P::DecideHolds));
  EXPECT_FALSE(allows(ap, P::AuditSearch));
  // Auditor: read-only everything.
  for (auto p : {P::Health, P::Queues, P::AuditSearch, P::SubjectAccess, P::Agreements, P::Verification, P::Holds}) {
    EXPECT_TRUE(allows(au, p)) << toString(p);
  }
  EXPECT_FALSE(allows(au, P::Replay));
  EXPECT_FALSE(allows(au, P::DecideHolds));
  EXPECT_FALSE(allows({"superuser"}, P::Health));
  EXPECT_FALSE(allows({}, P::Health));
  EXPECT_TRUE(allows({"ig-reviewer", "approver"}, P::DecideHolds));
}

TEST(AdminCsrf, TokensAreBoundToTheUserAndExpire) {
  CsrfTokens tokens(std::chrono::minutes(30));
  const std::int64_t t0 = 1'800'000'000'000;
  const std::string token = tokens.issue("approver", t0);
  EXPECT_EQ(tokens.check(token, "approver", t0 + 1000), CsrfTokens::Check::Valid);
  EXPECT_EQ(tokens.check(token, "ig-reviewer", t0 + 1000), CsrfTokens::Check::Invalid);
  EXPECT_EQ(tokens.check(token, "approver", t0 + 31 * 60000), CsrfTokens::Check::Expired);
  EXPECT_EQ(tokens.check("", "approver", t0), CsrfTokens::Check::Missing);
  EXPECT_EQ(tokens.check("123.abc", "approver", t0), CsrfTokens::Check::Invalid);
  std::string forged = token;
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_EQ(tokens.check(forged, "approver", t0), CsrfTokens::Check::Invalid);
  // Another process (a restart) has another secret.
  EXPECT_EQ(CsrfTokens(std::chrono::minutes(30)).check(token, "approver", t0), CsrfTokens::Check::Invalid);
}

class AdminUsersConfig : public ::testing::Test {
 protected:
  test::TempDir dir;
  void SetUp() override {
    for (const char* f : {"c.pem", "c.key", "ca.pem"}) test::writeFile(dir / f, "x");
    test::writeFile(dir / "web" / "index.html", "<!doctype html>");
  }
  Result<std::shared_ptr<const config::Config>> load(const std::string& admin) {
    test::writeFile(dir / "carebridge.toml", "[daemon]\ndata_dir = \"state\"\n[admin]\nlisten = \"127.0.0.1:0\"\n" + admin);
    return config::load(dir / "carebridge.toml");
  }
  static constexpr const char* kTls = "  [admin.tls]\n  certificate = \"c.pem\"\n  private_key = \"c.key\"\n  ca = \"ca.pem\"\n";
};

TEST_F(AdminUsersConfig, UsersWithOneOrSeveralRoles) {
  auto c = load(std::string("web_root = \"web\"\nsession_timeout = \"20m\"\n") + kTls +
                "[[admin.user]]\ncn = \"ig one\"\nrole = \"ig-reviewer\"\norganisation = \"00AF\"\n"
                "[[admin.user]]\ncn = \"lead\"\nrole = [\"approver\", \"auditor\"]\n");
  ASSERT_TRUE(c) << c.error().message;
  const auto& a = (*c)->admin;
  ASSERT_EQ(a.users.size(), 2u);
  EXPECT_EQ(a.users[0].cn, "ig one");
  EXPECT_EQ(a.users[0].organisation, "00AF");
  EXPECT_EQ(a.users[1].roles, (std::vector<std::string>{"approver", "auditor"}));
  EXPECT_EQ(a.session_timeout, std::chrono::minutes(20));
  ASSERT_TRUE(a.web_root);
  EXPECT_EQ(a.web_root->filename(), "web");
}

TEST_F(AdminUsersConfig, MistakesNameFileLineAndKey) {
  auto c = load(std::string(kTls) + "[[admin.user]]\ncn = \"x\"\nrole = \"admin\"\n"
                "[[admin.user]]\ncn = \"x\"\nrole = \"operator\"\ncolour = \"blue\"\n");
  ASSERT_FALSE(c);
  EXPECT_THAT(c.error().message, HasSubstr("carebridge.toml:11: admin.user.role: must be operator, ig-reviewer"));
  EXPECT_THAT(c.error().message, HasSubstr("admin.user.cn: 'x' is listed twice"));
  EXPECT_THAT(c.error().message, HasSubstr("carebridge.toml:15: admin.user.colour: unknown key"));
}

TEST_F(AdminUsersConfig, UsersNeedMutualTlsAndTheWebRootItsPage) {
  auto c = load("web_root = \"nowhere\"\n[[admin.user]]\ncn = \"x\"\nrole = \"operator\"\n");
  ASSERT_FALSE(c);
  EXPECT_THAT(c.error().message, HasSubstr("add [admin.tls]"));
  EXPECT_THAT(c.error().message, HasSubstr("admin.web_root: no index.html"));
}

}  // namespace
}  // namespace cb::admin
