#include "config/config.h"
#include "support/test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using ::testing::HasSubstr;

namespace {

class ConfigTest : public ::testing::Test {
 protected:
  cb::test::TempDir dir;
  void SetUp() override {
    // Files the TLS sections point at must exist; their content is checked later, by net.
    for (const char* f : {"c.pem", "c.key", "ca.pem"}) cb::test::writeFile(dir / f, "x");
  }
  cb::Result<std::shared_ptr<const cb::config::Config>> load(const std::string& text) {
    cb::test::writeFile(dir / "carebridge.toml", text);
    return cb::config::load(dir / "carebridge.toml");
  }
};

const char* kGood = R"(
[daemon]
data_dir = "state"
log_level = "debug"
drain_timeout = "5s"

[store]
group_commit_max = 500

[[adapter]]
name = "in-a"
plugin = "https"
organisation = "RPG"
  [adapter.tls]
  certificate = "c.pem"
  private_key = "c.key"
  ca = "ca.pem"
  pins = ["sha256/AAAA"]
  [adapter.settings]
  listen = "127.0.0.1:8443"
  max_body = 1024
  verbose = true

[[adapter]]
name = "out-b"
plugin = "https"
  [adapter.delivery]
  max_in_flight = 4
  initial_backoff = "250ms"
  max_backoff = "1m"
  max_attempts = 3

[[route]]
name = "a-to-b"
from = "in-a"
to = ["out-b"]
mode = "passthrough"
)";

TEST_F(ConfigTest, ParsesAValidFileIntoASnapshot) {
  auto c = load(kGood);
  ASSERT_TRUE(c) << c.error().message;
  const auto& cfg = **c;
  EXPECT_EQ(cfg.daemon.data_dir, dir.path() / "state");
  EXPECT_EQ(cfg.daemon.log_level, "debug");
  EXPECT_EQ(cfg.daemon.drain_timeout, std::chrono::seconds(5));
  EXPECT_EQ(cfg.store.path, dir.path() / "state" / "carebridge.db");
  EXPECT_EQ(cfg.store.group_commit_max, 500u);
  ASSERT_EQ(cfg.adapters.size(), 2u);
  const auto* a = cfg.adapter("in-a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->organisation, "RPG");
  ASSERT_TRUE(a->tls.has_value());
  EXPECT_EQ(a->tls->ca, dir.path() / "ca.pem");
  EXPECT_EQ(a->tls->pins, std::vector<std::string>{"sha256/AAAA"});
  EXPECT_EQ(a->settings.at("listen").value, "127.0.0.1:8443");
  EXPECT_TRUE(a->settings.at("max_body").is_integer);
  EXPECT_EQ(a->settings.at("verbose").value, "true");
  EXPECT_EQ(a->where.line, 10u);  // the [[adapter]] header
  const auto* b = cfg.adapter("out-b");
  EXPECT_EQ(b->delivery.max_in_flight, 4u);
  EXPECT_EQ(b->delivery.initial_backoff, std::chrono::milliseconds(250));
  EXPECT_EQ(b->delivery.max_backoff, std::chrono::minutes(1));
  EXPECT_EQ(b->delivery.max_attempts, 3u);
  ASSERT_EQ(cfg.routes.size(), 1u);
  EXPECT_EQ(cfg.routes[0].to, std::vector<std::string>{"out-b"});
  EXPECT_EQ(cfg.routesFrom("in-a").size(), 1u);
  EXPECT_EQ(cfg.file_sha256.size(), 64u);
}

TEST_F(ConfigTest, UnknownKeyNamesFileLineAndKey) {
  auto c = load("[daemon]\ndata_dir = \"s\"\nthreads = 4\n");
  ASSERT_FALSE(c);
  EXPECT_THAT(c.error().message, HasSubstr("carebridge.toml:3: daemon.threads: unknown key"));
}

TEST_F(ConfigTest, UnknownKeyInsideAnAdapterIsAnError) {
  auto c = load("[daemon]\ndata_dir = \"s\"\n[[adapter]]\nname = \"a\"\nplugin = \"https\"\nenpoint = \"x\"\n");
  ASSERT_FALSE(c);
  EXPECT_THAT(c.error().message, HasSubstr("carebridge.toml:6: adapter 'a': enpoint: unknown key"));
}

TEST_F(ConfigTest, BadValuesAreReportedTogether) {
  auto c = load(R"([daemon]
data_dir = "s"
io_threads = 0
log_level = "loud"
drain_timeout = "10 parsecs"
)");
  ASSERT_FALSE(c);
  const auto& m = c.error().message;
  EXPECT_THAT(m, HasSubstr(":3: daemon.io_threads: must be between 1 and 64"));
  EXPECT_THAT(m, HasSubstr(":4: daemon.log_level: must be one of"));
  EXPECT_THAT(m, HasSubstr(":5: daemon.drain_timeout:"));
}

TEST_F(ConfigTest, SyntaxErrorNamesTheLine) {
  auto c = load("[daemon]\ndata_dir = \"s\"\n[[adapter]\n");
  ASSERT_FALSE(c);
  EXPECT_THAT(c.error().message, HasSubstr("carebridge.toml:3:"));
}

TEST_F(ConfigTest, MissingDataDirAndMissingAdapterKeys) {
  auto c = load("[[adapter]]\nname = \"x\"\n");
  ASSERT_FALSE(c);
  EXPECT_THAT(c.error().message, HasSubstr("[daemon] table is missing"));
  EXPECT_THAT(c.error().message, HasSubstr("carebridge.toml:1: adapter 'x': plugin: required key is missing"));
}

TEST_F(ConfigTest, RoutesMustNameExistingAdaptersOnce) {
  auto c = load(R"([daemon]
data_dir = "s"
[[adapter]]
name = "a"
plugin = "https"
[[adapter]]
name = "a"
plugin = "https"
[[route]]
name = "r"
from = "a"
to = ["nowhere", "a"]
mode = "passthrough"
[[route]]
name = "r2"
from = "ghost"
to = ["a"]
mode = "translate"
)");
  ASSERT_FALSE(c);
  const auto& m = c.error().message;
  EXPECT_THAT(m, HasSubstr(":7: name: adapter 'a' is defined twice"));
  EXPECT_THAT(m, HasSubstr(":12: route 'r': to: no adapter named 'nowhere'"));
  EXPECT_THAT(m, HasSubstr("route 'r': to: a route must not deliver back to its own source 'a'"));
  EXPECT_THAT(m, HasSubstr(":16: route 'r2': from: no adapter named 'ghost'"));
  EXPECT_THAT(m, HasSubstr(":18: route 'r2': mode: unknown mode 'translate'"));
}

TEST_F(ConfigTest, PassthroughMustBeSaidExplicitly) {
  auto c = load(R"([daemon]
data_dir = "s"
[[adapter]]
name = "a"
plugin = "https"
[[adapter]]
name = "b"
plugin = "https"
[[route]]
name = "r"
from = "a"
to = ["b"]
)");
  ASSERT_FALSE(c);
  EXPECT_THAT(c.error().message, HasSubstr("route 'r': mode: required key is missing"));
}

TEST_F(ConfigTest, TwoRoutesToTheSameDestinationAreRefused) {
  auto c = load(R"([daemon]
data_dir = "s"
[[adapter]]
name = "a"
plugin = "https"
[[adapter]]
name = "b"
plugin = "https"
[[route]]
name = "r1"
from = "a"
to = ["b"]
mode = "passthrough"
[[route]]
name = "r2"
from = "a"
to = ["b"]
mode = "passthrough"
)");
  ASSERT_FALSE(c);
  EXPECT_THAT(c.error().message, HasSubstr(":14: route 'r2': to: adapter 'b' is already reached from 'a' by route 'r1'"));
}

TEST_F(ConfigTest, TlsFilesMustExistAndPinsHaveTheRfc7469Form) {
  auto c = load(R"([daemon]
data_dir = "s"
[[adapter]]
name = "a"
plugin = "https"
  [adapter.tls]
  certificate = "missing.pem"
  private_key = "c.key"
  ca = "ca.pem"
  pins = ["md5/abc"]
)");
  ASSERT_FALSE(c);
  EXPECT_THAT(c.error().message, HasSubstr(":7: adapter 'a': tls.certificate: cannot read file"));
  EXPECT_THAT(c.error().message, HasSubstr(":10: adapter 'a': tls.pins:"));
}

TEST_F(ConfigTest, AdminWithoutTlsMustStayOnLoopback) {
  auto c = load("[daemon]\ndata_dir = \"s\"\n[admin]\nlisten = \"0.0.0.0:9464\"\n");
  ASSERT_FALSE(c);
  EXPECT_THAT(c.error().message, HasSubstr("must be on loopback"));
}

TEST(Duration, ParsesUnits) {
  EXPECT_EQ(*cb::config::parseDuration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(*cb::config::parseDuration("30s"), std::chrono::seconds(30));
  EXPECT_EQ(*cb::config::parseDuration("5m"), std::chrono::minutes(5));
  EXPECT_EQ(*cb::config::parseDuration("2h"), std::chrono::hours(2));
  EXPECT_EQ(*cb::config::parseDuration("1d"), std::chrono::hours(24));
  EXPECT_EQ(*cb::config::parseDuration("1500"), std::chrono::milliseconds(1500));
  EXPECT_FALSE(cb::config::parseDuration(""));
  EXPECT_FALSE(cb::config::parseDuration("s"));
  EXPECT_FALSE(cb::config::parseDuration("5 weeks"));
  EXPECT_FALSE(cb::config::parseDuration("99999999999999999999s"));
}

TEST(LoadFromString, ResolvesRelativePathsAgainstTheBase) {
  auto c = cb::config::loadFromString("[daemon]\ndata_dir = \"d\"\n", "inline.toml", "/etc/carebridge");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ((*c)->daemon.data_dir, std::filesystem::path("/etc/carebridge/d"));
}

}  // namespace

namespace {

// A two-adapter configuration with one route, `route_extra` appended to the
// route and `daemon_extra` to [daemon].
std::string mappedConfig(const std::string& daemon_extra, const std::string& route_extra,
                         const std::string& system_b = "system = \"las\"\n") {
  return "[daemon]\ndata_dir = \"s\"\n" + daemon_extra +
         "[[adapter]]\nname = \"a\"\nplugin = \"https\"\norganisation = \"RPG\"\nsystem = \"rio\"\n"
         "[[adapter]]\nname = \"b\"\nplugin = \"https\"\norganisation = \"00AF\"\n" +
         system_b + "[[route]]\nname = \"r\"\nfrom = \"a\"\nto = [\"b\"]\n" + route_extra;
}

}  // namespace

TEST_F(ConfigTest, MappedRoutesNeedAPurposeTheirFoldersAndEachAdaptersSystem) {
  const std::string dirs = "mappings_dir = \"m\"\nagreements_dir = \"ag\"\n";
  auto good = load(mappedConfig(dirs, "mode = \"mapped\"\npurpose = \"safeguarding\"\n"));
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_EQ((*good)->routes[0].mode, cb::config::RouteSettings::Mode::Mapped);
  EXPECT_EQ((*good)->routes[0].purpose, "safeguarding");
  EXPECT_EQ((*good)->adapter("a")->system, "rio");
  EXPECT_EQ((*good)->daemon.agreements_dir, dir.path() / "ag");

  const struct {
    std::string text;
    std::string error;
  } cases[] = {
      {mappedConfig(dirs, "mode = \"mapped\"\n"), "route 'r': purpose: a mapped route must say the purpose"},
      {mappedConfig(dirs, "mode = \"mapped\"\npurpose = \"curiosity\"\n"), "purpose: must be one of direct-care"},
      {mappedConfig("", "mode = \"mapped\"\npurpose = \"safeguarding\"\n"), "mapped needs daemon.mappings_dir"},
      {mappedConfig("mappings_dir = \"m\"\n", "mode = \"mapped\"\npurpose = \"safeguarding\"\n"),
       "mapped needs daemon.agreements_dir"},
      {mappedConfig(dirs, "mode = \"mapped\"\npurpose = \"safeguarding\"\n", ""),
       "adapter 'b' needs `system` (its mapping folder) on a mapped route"},
      {mappedConfig(dirs, "mode = \"passthrough\"\npurpose = \"safeguarding\"\n"), "only mapped routes have a purpose"},
      {mappedConfig(dirs, "mode = \"mapped\"\npurpose = \"safeguarding\"\n", "system = \"../etc\"\n"),
       "system names a folder"},
  };
  for (const auto& c : cases) {
    auto r = load(c.text);
    ASSERT_FALSE(r) << c.text;
    EXPECT_THAT(r.error().message, HasSubstr(c.error)) << c.text;
    EXPECT_THAT(r.error().message, HasSubstr("carebridge.toml:")) << "every error names the file and line";
  }
}

TEST_F(ConfigTest, RoutesSplitBetweenPurposesByRecordTypeMustNotOverlap) {
  const std::string dirs = "mappings_dir = \"m\"\nagreements_dir = \"ag\"\n";
  const std::string second =
      "[[route]]\nname = \"r2\"\nfrom = \"a\"\nto = [\"b\"]\nmode = \"mapped\"\npurpose = \"direct-care\"\n";
  auto good = load(mappedConfig(dirs,
                                "mode = \"mapped\"\npurpose = \"safeguarding\"\n"
                                "record_types = [\"SafeguardingConcern\", \"SafeguardingEnquiry\"]\n") +
                   second + "record_types = [\"StatutoryReview\"]\n");
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_EQ((*good)->routes[0].record_types,
            (std::vector<std::string>{"SafeguardingConcern", "SafeguardingEnquiry"}));
  EXPECT_EQ((*good)->routes[1].record_types, (std::vector<std::string>{"StatutoryReview"}));

  const struct {
    std::string text;
    std::string error;
  } cases[] = {
      {mappedConfig(dirs, "mode = \"mapped\"\npurpose = \"safeguarding\"\nrecord_types = [\"SafeguardingEnquiry\"]\n") +
           second + "record_types = [\"StatutoryReview\", \"SafeguardingEnquiry\"]\n",
       "route 'r2': to: adapter 'b' is already reached from 'a' by route 'r' (both carry SafeguardingEnquiry;"},
      {mappedConfig(dirs, "mode = \"mapped\"\npurpose = \"safeguarding\"\nrecord_types = [\"SafeguardingEnquiry\"]\n") +
           second,
       "(both carry every record type;"},
      {mappedConfig(dirs, "mode = \"mapped\"\npurpose = \"safeguarding\"\nrecord_types = [\"Enquiry\"]\n"),
       "record_types: 'Enquiry' is not a canonical record type"},
      {mappedConfig(dirs, "mode = \"mapped\"\npurpose = \"safeguarding\"\nrecord_types = []\n"),
       "record_types: must be a non-empty array"},
      {mappedConfig(dirs, "mode = \"mapped\"\npurpose = \"safeguarding\"\nrecord_types = [\"Person\", \"Person\"]\n"),
       "'Person' is listed twice"},
      {mappedConfig(dirs, "mode = \"passthrough\"\nrecord_types = [\"Person\"]\n"),
       "only mapped routes have record types"},
  };
  for (const auto& c : cases) {
    auto r = load(c.text);
    ASSERT_FALSE(r) << c.text;
    EXPECT_THAT(r.error().message, HasSubstr(c.error)) << c.text;
    EXPECT_THAT(r.error().message, HasSubstr("carebridge.toml:")) << "every error names the file and line";
  }
}
