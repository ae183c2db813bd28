#include "plugin_host/adapter.h"
#include "plugin_host/plugin_host.h"
#include "support/test_support.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <optional>
#include <thread>

namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

// Records what adapters hand in and answers "stored".
class RecordingEvents : public cb::plugin_host::AdapterEvents {
 public:
  void submit(const cb::plugin_host::Adapter&, cb::plugin_host::InboundSubmission r,
              std::function<void(cb::plugin_host::SubmitReply)> reply) override {
    {
      std::lock_guard lock(mutex);
      received.push_back(r);
    }
    reply({CB_SUBMIT_STORED, "id-" + r.sender_message_id, ""});
    cv.notify_all();
  }
  void tlsRefused(const cb::plugin_host::Adapter&, const cb::net::TlsRefusal&) override {}
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<cb::plugin_host::InboundSubmission> received;
};

class PluginHostTest : public ::testing::Test {
 protected:
  cb::test::TempDir dir;
  cb::plugin_host::PluginHost host{cb::test::pluginDir()};
  boost::asio::io_context io;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::thread thread;
  RecordingEvents events;

  void SetUp() override {
    work = std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(io.get_executor());
    thread = std::thread([this] { io.run(); });
  }
  void TearDown() override {
    work.reset();
    io.stop();
    thread.join();
  }

  cb::config::AdapterSettings adapterSettings(std::map<std::string, std::string> strings) {
    cb::config::AdapterSettings a;
    a.name = "fake-1";
    a.plugin = "fake";
    a.where = {"test.toml", 7};
    for (auto& [k, v] : strings) a.settings[k] = {v, true, false, false, {"test.toml", 9}};
    return a;
  }

  std::shared_ptr<cb::plugin_host::Adapter> makeAdapter(const cb::config::AdapterSettings& a) {
    auto lib = host.library("fake");
    EXPECT_TRUE(lib) << lib.error().message;
    auto settings = host.resolveSettings(**lib, a, dir.path());
    EXPECT_TRUE(settings) << settings.error().message;
    auto adapter = cb::plugin_host::Adapter::create(*lib, a, *settings, io, events, cb::SystemClock::instance());
    EXPECT_TRUE(adapter) << adapter.error().message;
    return adapter ? *adapter : nullptr;
  }

  cb::plugin_host::DeliveryReport deliver(cb::plugin_host::Adapter& a, std::uint32_t attempt = 1) {
    std::promise<cb::plugin_host::DeliveryReport> p;
    cb::plugin_host::DeliveryRequest req;
    req.message_id = "0190f3a0-0000-7000-8000-000000000001";
    req.content_type = "text/plain";
    req.payload = std::make_shared<const std::string>("payload");
    req.attempt = attempt;
    a.deliver(req, [&p](cb::plugin_host::DeliveryReport r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
};

TEST_F(PluginHostTest, LoadsAPluginAndReadsItsDeclaredSettings) {
  auto lib = host.library("fake");
  ASSERT_TRUE(lib) << lib.error().message;
  EXPECT_EQ((*lib)->name(), "fake");
  EXPECT_EQ((*lib)->abiVersion(), "1.1");
  EXPECT_TRUE((*lib)->canReceive());
  EXPECT_TRUE((*lib)->canDeliver());
  EXPECT_EQ((*lib)->sha256().size(), 64u);
  bool has_mode = false;
  for (const auto& s : (*lib)->settings()) has_mode = has_mode || (s.key == "mode" && s.default_value == "ok");
  EXPECT_TRUE(has_mode);
  // Loaded once: the same library object while it is in use.
  EXPECT_EQ(host.library("fake")->get(), lib->get());
}

TEST_F(PluginHostTest, RefusesAPluginBuiltForAnotherAbiMajorNamingBothVersions) {
  auto lib = host.library("wrong_abi");
  ASSERT_FALSE(lib);
  EXPECT_THAT(lib.error().message,
              AllOf(HasSubstr("plugin 'wrong_abi'"), HasSubstr("built for plugin ABI 2.0"), HasSubstr("speaks plugin ABI 1.1")));
}

TEST_F(PluginHostTest, RefusesAPluginNeedingANewerMinor) {
  auto lib = host.library("newer_minor");
  ASSERT_FALSE(lib);
  EXPECT_THAT(lib.error().message, AllOf(HasSubstr("plugin 'newer_minor'"), HasSubstr("built for plugin ABI 1.2"),
                                         HasSubstr("newer than this carebridged's 1.1")));
}

// ---- Minor versions: appending to cb_host_api (1.1: tls_settings) must not
// disturb a plugin built for 1.0 (STYLE.md, plugin_abi.h "Versioning").

TEST_F(PluginHostTest, APluginBuiltForAnOlderMinorStillLoadsAndDelivers) {
  static_assert(CB_PLUGIN_ABI_MAJOR == 1 && CB_PLUGIN_ABI_MINOR == 1, "update these tests with the ABI version");
  auto lib = host.library("abi_1_0");
  ASSERT_TRUE(lib) << lib.error().message;
  EXPECT_EQ((*lib)->abiVersion(), "1.0");
  auto a = adapterSettings({});
  a.name = "old-plugin";
  a.plugin = "abi_1_0";
  auto settings = host.resolveSettings(**lib, a, dir.path());
  ASSERT_TRUE(settings) << settings.error().message;
  auto adapter = cb::plugin_host::Adapter::create(*lib, a, *settings, io, events, cb::SystemClock::instance());
  ASSERT_TRUE(adapter) << adapter.error().message;
  ASSERT_TRUE((*adapter)->start());
  auto r = deliver(**adapter);
  EXPECT_EQ(r.status, CB_OK) << r.reason;
  EXPECT_EQ(r.remote_id, "0190f3a0-0000-7000-8000-000000000001");
  (*adapter)->stop(std::chrono::seconds(2));
}

class TlsSettingsServiceTest : public PluginHostTest {
 protected:
  // What the tls_probe plugin saw through tls_settings() in create().
  std::string probe(std::optional<cb::net::TlsSettings> tls, const std::string& name = "probe-1") {
    auto lib = host.library("tls_probe");
    EXPECT_TRUE(lib) << lib.error().message;
    if (!lib) return {};
    auto a = adapterSettings({});
    a.name = name;
    a.plugin = "tls_probe";
    a.tls = std::move(tls);
    auto settings = host.resolveSettings(**lib, a, dir.path());
    EXPECT_TRUE(settings) << settings.error().message;
    auto adapter = cb::plugin_host::Adapter::create(*lib, a, *settings, io, events, cb::SystemClock::instance());
    EXPECT_TRUE(adapter) << adapter.error().message;
    if (!adapter) return {};
    EXPECT_TRUE((*adapter)->start());
    auto report = deliver(**adapter);
    (*adapter)->stop(std::chrono::seconds(2));
    return report.remote_id;
  }
  cb::net::TlsSettings devTls() {
    const fs::path certs = cb::test::devCerts();
    cb::net::TlsSettings t;
    t.certificate = certs / "server.pem";
    t.private_key = certs / "server.key";
    t.ca = certs / "ca.pem";
    return t;
  }
};

TEST_F(TlsSettingsServiceTest, HandsOverEveryAdapterTlsSettingAsAbsolutePaths) {
  const fs::path certs = cb::test::devCerts();
  auto tls = devTls();
  tls.crl = certs / "crl.pem";
  tls.server_name = "rio.partner.example.nhs.uk";
  tls.pins = {"sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
              "sha256///////////////////////////////////////////8="};
  // A relative path is handed over absolute, as the host loaded it.
  const fs::path cwd = fs::current_path();
  fs::current_path(certs);
  tls.ca = "ca.pem";
  const std::string seen = probe(tls);
  fs::current_path(cwd);
  EXPECT_THAT(seen, HasSubstr("rc=0 small=1 tail=kept size=kept configured=1"));
  EXPECT_THAT(seen, HasSubstr(" certificate=" + (certs / "server.pem").string() + " "));
  EXPECT_THAT(seen, HasSubstr(" private_key=" + (certs / "server.key").string() + " "));
  EXPECT_THAT(seen, HasSubstr(" ca=" + (certs / "ca.pem").string() + " "));
  EXPECT_THAT(seen, HasSubstr(" crl=" + (certs / "crl.pem").string() + " "));
  EXPECT_THAT(seen, HasSubstr(" server_name=rio.partner.example.nhs.uk "));
  EXPECT_THAT(seen, HasSubstr(" pins=sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,"
                              "sha256///////////////////////////////////////////8="));
}

TEST_F(TlsSettingsServiceTest, AnAdapterWithoutTlsIsReportedAsNotConfigured) {
  EXPECT_EQ(probe(std::nullopt), "rc=0 small=1 tail=kept size=kept configured=0 certificate= private_key= ca= crl= "
                                 "server_name= pins=");
}

TEST_F(TlsSettingsServiceTest, SettingsThatDoNotLoadNeverReachThePlugin) {
  // The host builds its own contexts first, so a plugin is only ever handed
  // files that load and pins that parse (plugin_abi.h, cb_tls_settings).
  auto lib = host.library("tls_probe");
  ASSERT_TRUE(lib) << lib.error().message;
  auto a = adapterSettings({});
  a.name = "probe-bad";
  a.plugin = "tls_probe";
  auto tls = devTls();
  tls.pins = {"sha256/not-a-digest"};
  a.tls = tls;
  auto settings = host.resolveSettings(**lib, a, dir.path());
  ASSERT_TRUE(settings);
  auto adapter = cb::plugin_host::Adapter::create(*lib, a, *settings, io, events, cb::SystemClock::instance());
  ASSERT_FALSE(adapter);
  EXPECT_THAT(adapter.error().message, AllOf(HasSubstr("adapter 'probe-bad'"), HasSubstr("sha256/not-a-digest")));
}

TEST_F(PluginHostTest, RefusesAFileThatIsNotAPlugin) {
  cb::test::writeFile(dir / "libcarebridge_junk.so", "not an ELF file");
  cb::plugin_host::PluginHost other(dir.path());
  auto lib = other.library("junk");
  ASSERT_FALSE(lib);
  EXPECT_THAT(lib.error().message, HasSubstr("cannot load"));
  auto missing = other.library("absent");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("not found"));
}

TEST_F(PluginHostTest, SettingsAreCheckedAgainstThePluginWithFileAndLine) {
  auto lib = host.library("fake");
  auto a = adapterSettings({{"mode", "ok"}, {"colour", "blue"}});
  a.settings["fail_first"] = {"three", true, false, false, {"test.toml", 11}};
  auto r = host.resolveSettings(**lib, a, dir.path());
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message, HasSubstr("test.toml:9: adapter 'fake-1': settings.colour: unknown key for plugin 'fake'"));
  EXPECT_THAT(r.error().message, HasSubstr("test.toml:11: adapter 'fake-1': settings.fail_first: must be an integer"));
}

TEST_F(PluginHostTest, SettingsGetDefaultsCanonicalDurationsAndResolvedPaths) {
  auto lib = host.library("fake");
  auto a = adapterSettings({{"record_file", "out/records.txt"}, {"poll", "2s"}});
  auto r = host.resolveSettings(**lib, a, dir.path());
  ASSERT_TRUE(r) << r.error().message;
  std::map<std::string, std::string> m(r->begin(), r->end());
  EXPECT_EQ(m["mode"], "ok");
  EXPECT_EQ(m["poll"], "2000");
  EXPECT_EQ(m["record_file"], (dir.path() / "out/records.txt").string());
}

TEST_F(PluginHostTest, AConstructorThatThrowsIsRefusedWithItsMessage) {
  auto lib = host.library("fake");
  auto a = adapterSettings({});
  a.settings["throw_in_create"] = {"true", false, false, true, {"test.toml", 9}};
  auto settings = host.resolveSettings(**lib, a, dir.path());
  ASSERT_TRUE(settings);
  auto adapter = cb::plugin_host::Adapter::create(*lib, a, *settings, io, events, cb::SystemClock::instance());
  ASSERT_FALSE(adapter);
  EXPECT_THAT(adapter.error().message, AllOf(HasSubstr("adapter 'fake-1'"), HasSubstr("told to throw in create")));
}

TEST_F(PluginHostTest, DeliversThroughThePlugin) {
  auto adapter = makeAdapter(adapterSettings({{"record_file", (dir / "rec.txt").string()}}));
  ASSERT_TRUE(adapter->start());
  auto r = deliver(*adapter);
  EXPECT_EQ(r.status, CB_OK);
  EXPECT_THAT(cb::test::readFile(dir / "rec.txt"), HasSubstr("0190f3a0-0000-7000-8000-000000000001 1 7"));
  adapter->stop(std::chrono::seconds(2));
}

TEST_F(PluginHostTest, AnExceptionInsideThePluginBecomesARetryNotACrash) {
  auto adapter = makeAdapter(adapterSettings({{"mode", "throw"}}));
  ASSERT_TRUE(adapter->start());
  auto r = deliver(*adapter);
  EXPECT_EQ(r.status, CB_RETRY);
  EXPECT_THAT(r.reason, HasSubstr("told to throw in deliver"));
  adapter->stop(std::chrono::seconds(2));
}

TEST_F(PluginHostTest, OutcomesAreTriState) {
  auto retry = makeAdapter(adapterSettings({{"mode", "retry"}}));
  ASSERT_TRUE(retry->start());
  EXPECT_EQ(deliver(*retry).status, CB_RETRY);
  retry->stop(std::chrono::seconds(1));
  auto fail = makeAdapter(adapterSettings({{"mode", "fail"}}));
  ASSERT_TRUE(fail->start());
  EXPECT_EQ(deliver(*fail).status, CB_ERROR);
  fail->stop(std::chrono::seconds(1));
}

TEST_F(PluginHostTest, StoppingSettlesDeliveriesThePluginIsHoldingAndRefusesNewOnes) {
  auto adapter = makeAdapter(adapterSettings({{"mode", "hang"}}));
  ASSERT_TRUE(adapter->start());
  std::promise<cb::plugin_host::DeliveryReport> p;
  cb::plugin_host::DeliveryRequest req;
  req.message_id = "m";
  req.payload = std::make_shared<const std::string>("x");
  adapter->deliver(req, [&p](cb::plugin_host::DeliveryReport r) { p.set_value(std::move(r)); });
  adapter->stop(std::chrono::seconds(2));
  auto r = p.get_future().get();
  EXPECT_EQ(r.status, CB_RETRY);
  EXPECT_FALSE(adapter->running());
  EXPECT_EQ(deliver(*adapter).status, CB_RETRY);
}

TEST_F(PluginHostTest, InboundRecordsAreSubmittedAndAcknowledgedAfterStorage) {
  fs::create_directories(dir / "inbox");
  cb::test::writeFile(dir / "inbox" / "p1-0001.txt", "first");
  cb::test::writeFile(dir / "inbox" / "p1-0002.txt", "second");
  auto adapter = makeAdapter(adapterSettings({{"inbox", (dir / "inbox").string()}, {"poll", "20ms"}}));
  ASSERT_TRUE(adapter->start());
  {
    std::unique_lock lock(events.mutex);
    ASSERT_TRUE(events.cv.wait_for(lock, std::chrono::seconds(5), [this] { return events.received.size() >= 2; }));
    EXPECT_EQ(events.received[0].payload, "first");
    EXPECT_EQ(events.received[0].sender_message_id, "p1-0001.txt");
    EXPECT_EQ(events.received[0].subject, "p1");
  }
  // The plugin deletes a file only once told it is stored.
  for (int i = 0; i < 100 && fs::exists(dir / "inbox" / "p1-0002.txt"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(fs::exists(dir / "inbox" / "p1-0002.txt"));
  adapter->stop(std::chrono::seconds(2));
}

TEST_F(PluginHostTest, ACachedCopyIsLoadedSoAReplacedFileCanBeReloaded) {
  cb::plugin_host::PluginHost cached(cb::test::pluginDir(), dir / "cache");
  auto lib = cached.library("fake");
  ASSERT_TRUE(lib) << lib.error().message;
  EXPECT_EQ((*lib)->path().parent_path(), dir / "cache");
  EXPECT_THAT((*lib)->path().filename().string(), HasSubstr("libcarebridge_fake-"));
}

}  // namespace
