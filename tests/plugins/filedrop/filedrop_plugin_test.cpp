// The filedrop plugin through the real plugin host: the real .so, loaded and
// configured as the daemon does it, over real folders in a temp dir. Inbound:
// the SFTP landing-folder conventions (temporary names, completion markers,
// files still growing), and what happens to a file after the host's answer
// (archived by day once stored, moved to the error folder with a reason when
// refused, left in place when not stored). Outbound: temp name + rename, the
// partner's completion marker, retry and permanent failure.
#include "fakes/fake_store_events.h"
#include "plugin_host/adapter.h"
#include "plugin_host/plugin_host.h"
#include "support/test_support.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <thread>

namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;
using cb::test::FakeStoreEvents;
using namespace std::chrono_literals;

// 2024-03-01T10:15:00Z: the day the archive's subfolder is named after.
constexpr std::int64_t kNowMs = 1709288100000;

// Waits (up to 10 s) for a condition on the file system.
template <class Pred>
bool eventually(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

class FiledropPluginTest : public ::testing::Test {
 protected:
  cb::test::TempDir dir;
  fs::path landing = dir / "landing";
  fs::path out = dir / "outbox";
  cb::plugin_host::PluginHost host{cb::test::pluginDir()};
  cb::FakeClock clock{kNowMs};
  boost::asio::io_context io;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::thread thread;
  FakeStoreEvents store;
  std::vector<std::shared_ptr<cb::plugin_host::Adapter>> adapters;

  void SetUp() override {
    work = std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(io.get_executor());
    thread = std::thread([this] { io.run(); });
  }
  void TearDown() override {
    for (auto& a : adapters) a->stop(2s);
    adapters.clear();
    work.reset();
    io.stop();
    thread.join();
  }

  cb::Result<std::shared_ptr<cb::plugin_host::Adapter>> tryAdapter(const std::map<std::string, std::string>& values) {
    auto lib = host.library("filedrop");
    if (!lib) return lib.error();
    cb::config::AdapterSettings a;
    a.name = "vendor-drop";
    a.plugin = "filedrop";
    a.where = {"carebridge.toml", 30};
    for (const auto& [k, v] : values) {
      const bool integer = !v.empty() && v.find_first_not_of("0123456789") == std::string::npos;
      const bool boolean = v == "true" || v == "false";
      a.settings[k] = {v, !integer && !boolean, integer, boolean, {"carebridge.toml", 32}};
    }
    auto resolved = host.resolveSettings(**lib, a, dir.path());
    if (!resolved) return resolved.error();
    return cb::plugin_host::Adapter::create(*lib, a, *resolved, io, store, clock);
  }

  std::shared_ptr<cb::plugin_host::Adapter> start(std::map<std::string, std::string> values) {
    auto a = tryAdapter(values);
    EXPECT_TRUE(a) << a.error().message;
    if (!a) return nullptr;
    auto started = (*a)->start();
    EXPECT_TRUE(started) << started.error().message;
    adapters.push_back(*a);
    return *a;
  }

  std::shared_ptr<cb::plugin_host::Adapter> inbound(std::map<std::string, std::string> extra = {}) {
    extra.emplace("watch_dir", landing.string());
    extra.emplace("poll_interval", "50");
    extra.emplace("stable_polls", "0");
    fs::create_directories(landing);
    return start(std::move(extra));
  }

  std::shared_ptr<cb::plugin_host::Adapter> outbound(std::map<std::string, std::string> extra = {}) {
    extra.emplace("out_dir", out.string());
    return start(std::move(extra));
  }

  static cb::plugin_host::DeliveryReport deliver(cb::plugin_host::Adapter& a, const std::string& payload,
                                                 const std::string& id = "0190f3a0-0000-7000-8000-000000000001") {
    std::promise<cb::plugin_host::DeliveryReport> p;
    cb::plugin_host::DeliveryRequest req;
    req.message_id = id;
    req.content_type = "text/csv";
    req.payload = std::make_shared<const std::string>(payload);
    a.deliver(req, [&p](cb::plugin_host::DeliveryReport r) { p.set_value(std::move(r)); });
    auto f = p.get_future();
    if (f.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << "no delivery report";
      return {};
    }
    return f.get();
  }

  static std::set<std::string> namesIn(const fs::path& d) {
    std::set<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(d, ec)) names.insert(e.path().filename().string());
    return names;
  }
  fs::path archiveDay() const { return landing / "archive" / "2024-03-01"; }

  // As a well-behaved sender does it: write under a temporary name, then rename.
  void drop(const std::string& name, const std::string& content) {
    cb::test::writeFile(landing / (name + ".part"), content);
    fs::rename(landing / (name + ".part"), landing / name);
  }
};

// ---------------------------------------------------------------- inbound

TEST_F(FiledropPluginTest, TemporaryNamesAreNeverTakenAndTheRenamedFileIs) {
  inbound();
  cb::test::writeFile(landing / "export-0301.csv.part", "half an export");
  cb::test::writeFile(landing / ".export-0301.csv", "hidden while uploading");
  cb::test::writeFile(landing / "export-0301.csv.tmp", "still writing");
  drop("other.csv", "complete");
  ASSERT_TRUE(store.waitReceived(1));
  // Taken in the same scan as other.csv would have been: the temporary names were passed over.
  std::this_thread::sleep_for(200ms);
  ASSERT_EQ(store.received().size(), 1u);
  EXPECT_EQ(store.received()[0].payload, "complete");
  // The sender's final rename makes the export visible under its real name.
  cb::test::writeFile(landing / "export-0301.csv.part", "the whole export\n");
  fs::rename(landing / "export-0301.csv.part", landing / "export-0301.csv");
  ASSERT_TRUE(store.waitReceived(2));
  EXPECT_EQ(store.received()[1].payload, "the whole export\n");
  EXPECT_TRUE(eventually([&] { return fs::exists(archiveDay() / "export-0301.csv"); }));
  EXPECT_TRUE(fs::exists(landing / ".export-0301.csv"));
  EXPECT_TRUE(fs::exists(landing / "export-0301.csv.tmp"));
}

TEST_F(FiledropPluginTest, WithAMarkerAFileIsTakenOnlyOnceItsMarkerExists) {
  inbound({{"completion_marker", ".done, .ok"}});
  drop("rio-0301.xml", "<export/>");
  drop("mosaic-0301.xml", "<mosaic/>");
  drop("mosaic-0301.xml.ok", "");
  ASSERT_TRUE(store.waitReceived(1));
  std::this_thread::sleep_for(200ms);
  ASSERT_EQ(store.received().size(), 1u) << "rio-0301.xml has no marker yet";
  EXPECT_EQ(store.received()[0].payload, "<mosaic/>");
  drop("rio-0301.xml.done", "");
  ASSERT_TRUE(store.waitReceived(2));
  EXPECT_EQ(store.received()[1].payload, "<export/>");
  // File and marker are archived together; markers alone are never records.
  EXPECT_TRUE(eventually([&] {
    return namesIn(archiveDay()) ==
           std::set<std::string>{"rio-0301.xml", "rio-0301.xml.done", "mosaic-0301.xml", "mosaic-0301.xml.ok"};
  })) << ::testing::PrintToString(namesIn(archiveDay()));
  EXPECT_EQ(namesIn(landing), (std::set<std::string>{"archive", "error"}));
}

TEST_F(FiledropPluginTest, AFileStillGrowingIsNotTaken) {
  inbound({{"stable_polls", "3"}, {"poll_interval", "150"}});
  std::atomic<bool> writing{true};
  std::string written;
  std::thread writer([&] {
    std::ofstream f(landing / "las-export.csv", std::ios::binary);
    for (int i = 0; i < 150 && writing; ++i) {  // ~1.5 s, a line every 10 ms
      const std::string line = "row " + std::to_string(i) + "\n";
      f << line << std::flush;
      written += line;
      std::this_thread::sleep_for(10ms);
    }
  });
  writer.join();
  ASSERT_TRUE(store.waitReceived(1));
  std::this_thread::sleep_for(300ms);
  const auto got = store.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, written) << "the file was taken before it stopped growing";
}

TEST_F(FiledropPluginTest, AFileMovesToTheDatedArchiveOnlyAfterTheHostStoredIt) {
  store.setMode(FakeStoreEvents::Mode::Hold);
  inbound({{"content_type", "text/csv"}, {"record_type", "CarenotesReferral"}});
  drop("carenotes.csv", "nhs_number,referral\n");
  ASSERT_TRUE(store.waitReceived(1));
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(fs::exists(landing / "carenotes.csv")) << "moved before the host answered";
  EXPECT_EQ(store.received().size(), 1u) << "offered again while the first submission was unanswered";
  store.releaseAll();
  ASSERT_TRUE(eventually(
      [&] { return fs::exists(archiveDay() / "carenotes.csv") && !fs::exists(landing / "carenotes.csv"); }));
  EXPECT_EQ(cb::test::readFile(archiveDay() / "carenotes.csv"), "nhs_number,referral\n");
  const auto r = store.received()[0];
  EXPECT_EQ(r.content_type, "text/csv");
  EXPECT_EQ(r.record_type, "CarenotesReferral");
  EXPECT_EQ(r.sender_message_id.size(), 64u);  // SHA-256 of the content
}

TEST_F(FiledropPluginTest, AFileReplacedUnderItsNameWhileBeingStoredIsNotArchivedInPlaceOfTheStoredOne) {
  store.setMode(FakeStoreEvents::Mode::Hold);
  inbound();
  drop("mosaic.xml", "<first/>");
  ASSERT_TRUE(store.waitReceived(1));
  drop("mosaic.xml", "<second/>");  // the vendor renames a new export over it
  store.releaseAll();
  ASSERT_TRUE(store.waitReceived(2));
  ASSERT_TRUE(eventually([&] { return fs::exists(archiveDay() / "mosaic.xml"); }));
  EXPECT_EQ(cb::test::readFile(archiveDay() / "mosaic.xml"), "<second/>");
  const auto got = store.received();
  EXPECT_EQ(got[0].payload, "<first/>");
  EXPECT_EQ(got[1].payload, "<second/>");
}

TEST_F(FiledropPluginTest, ARefusedFileGoesToTheErrorFolderWithItsReason) {
  store.setMode(FakeStoreEvents::Mode::Refuse, "record larger than the route allows");
  inbound({{"error_dir", (dir / "rejected").string()}});
  drop("huge.xml", "<too-big/>");
  ASSERT_TRUE(eventually([&] { return fs::exists(dir / "rejected" / "huge.xml.reason.txt"); }));
  EXPECT_EQ(cb::test::readFile(dir / "rejected" / "huge.xml"), "<too-big/>");
  const std::string reason = cb::test::readFile(dir / "rejected" / "huge.xml.reason.txt");
  EXPECT_THAT(reason, HasSubstr("file: huge.xml"));
  EXPECT_THAT(reason, HasSubstr("refused_at: 2024-03-01T10:15:00Z"));
  EXPECT_THAT(reason, HasSubstr("reason: refused by carebridge: record larger than the route allows"));
  EXPECT_THAT(reason, HasSubstr("sha256: "));
  EXPECT_FALSE(fs::exists(landing / "huge.xml"));
  EXPECT_FALSE(fs::exists(archiveDay()));
}

TEST_F(FiledropPluginTest, AFileOverMaxFileBytesGoesToTheErrorFolderUnsubmitted) {
  inbound({{"max_file_bytes", "8"}});
  drop("big.dat", "more than eight bytes");
  ASSERT_TRUE(eventually([&] { return fs::exists(landing / "error" / "big.dat.reason.txt"); }));
  EXPECT_THAT(cb::test::readFile(landing / "error" / "big.dat.reason.txt"), HasSubstr("max_file_bytes"));
  EXPECT_TRUE(store.received().empty());
}

TEST_F(FiledropPluginTest, AFileNotStoredStaysAndIsOfferedAgain) {
  store.setMode(FakeStoreEvents::Mode::Unavailable);
  inbound();
  drop("ais.json", "{}");
  ASSERT_TRUE(store.waitReceived(2));  // offered, not stored, offered again
  EXPECT_TRUE(fs::exists(landing / "ais.json"));
  EXPECT_FALSE(fs::exists(archiveDay() / "ais.json"));
  store.setMode(FakeStoreEvents::Mode::Store);
  ASSERT_TRUE(eventually([&] { return fs::exists(archiveDay() / "ais.json"); }));
  EXPECT_EQ(store.stored(), 1u);
}

TEST_F(FiledropPluginTest, TheSameExportTwiceIsStoredOnceAndBothCopiesAreArchivedWithoutOverwriting) {
  inbound({{"stable_polls", "1"}});
  drop("export.csv", "same rows\n");
  ASSERT_TRUE(eventually([&] { return fs::exists(archiveDay() / "export.csv"); }));
  // The vendor resends it under the same name (a retry after a lost session).
  drop("export.csv", "same rows\n");
  ASSERT_TRUE(eventually([&] { return fs::exists(archiveDay() / "export.csv.1"); }));
  // A different export under that name again, the same day.
  drop("export.csv", "new rows\n");
  ASSERT_TRUE(eventually([&] { return fs::exists(archiveDay() / "export.csv.2"); }));
  EXPECT_EQ(store.stored(), 2u);
  EXPECT_EQ(store.received().size(), 3u);
  EXPECT_EQ(cb::test::readFile(archiveDay() / "export.csv"), "same rows\n");
  EXPECT_EQ(cb::test::readFile(archiveDay() / "export.csv.2"), "new rows\n");
}

TEST_F(FiledropPluginTest, IncludePatternsChooseTheFilesAndUndatedArchivesAreFlat) {
  inbound({{"include", "*.xml,*.csv"}, {"archive_dated", "false"}, {"archive_dir", (dir / "done").string()}});
  drop("readme.txt", "not an export");
  drop("a.xml", "<a/>");
  ASSERT_TRUE(eventually([&] { return fs::exists(dir / "done" / "a.xml"); }));
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(store.received().size(), 1u);
  EXPECT_TRUE(fs::exists(landing / "readme.txt"));
}

TEST_F(FiledropPluginTest, PollingCarriesOnWhenTheLandingFolderGoesAwayAndComesBack) {
  inbound();
  fs::remove_all(landing);
  std::this_thread::sleep_for(200ms);  // a few polls of a missing folder
  fs::create_directories(landing);
  drop("back.csv", "x");
  EXPECT_TRUE(store.waitReceived(1));
}

// ---------------------------------------------------------------- outbound

TEST_F(FiledropPluginTest, ADeliveryAppearsAtomicallyWithTheMarkerAfterIt) {
  auto a = outbound({{"out_suffix", ".xml"}, {"out_marker", ".done"}});
  auto r = deliver(*a, "<enquiry/>");
  EXPECT_EQ(r.status, CB_OK) << r.reason;
  EXPECT_EQ(namesIn(out), (std::set<std::string>{"0190f3a0-0000-7000-8000-000000000001.xml",
                                                 "0190f3a0-0000-7000-8000-000000000001.xml.done"}));
  EXPECT_EQ(cb::test::readFile(out / "0190f3a0-0000-7000-8000-000000000001.xml"), "<enquiry/>");
  EXPECT_EQ(fs::file_size(out / "0190f3a0-0000-7000-8000-000000000001.xml.done"), 0u);
}

TEST_F(FiledropPluginTest, ARedeliveryIsNotWrittenTwiceAndAMissingMarkerIsCompleted) {
  auto a = outbound({{"out_marker", ".ok"}});
  const fs::path file = out / "0190f3a0-0000-7000-8000-000000000001.dat";
  cb::test::writeFile(file, "written by the attempt that crashed before the marker");
  auto r = deliver(*a, "the record");
  EXPECT_EQ(r.status, CB_OK);
  EXPECT_EQ(cb::test::readFile(file), "written by the attempt that crashed before the marker");
  EXPECT_TRUE(fs::exists(out / "0190f3a0-0000-7000-8000-000000000001.dat.ok"));
}

TEST_F(FiledropPluginTest, AMissingOutDirIsARetryAndIsNotRecreated) {
  auto a = outbound();
  fs::remove_all(out);  // the partner's share is unmounted
  auto r = deliver(*a, "the record");
  EXPECT_EQ(r.status, CB_RETRY);
  EXPECT_THAT(r.reason, HasSubstr("is not there"));
  EXPECT_FALSE(fs::exists(out));
  fs::create_directories(out);
  EXPECT_EQ(deliver(*a, "the record").status, CB_OK);
}

TEST_F(FiledropPluginTest, WhatThePartnerCannotTakeFailsForGood) {
  auto a = outbound({{"out_max_bytes", "4"}});
  auto big = deliver(*a, "more than four bytes");
  EXPECT_EQ(big.status, CB_ERROR);
  EXPECT_THAT(big.reason, HasSubstr("out_max_bytes"));
  auto escape = deliver(*a, "ok", "../../etc/passwd");
  EXPECT_EQ(escape.status, CB_ERROR);
  EXPECT_TRUE(namesIn(out).empty());
}

// ---------------------------------------------------------------- configuration

TEST_F(FiledropPluginTest, BadSettingsAreRefusedNamingTheSetting) {
  const std::vector<std::pair<std::map<std::string, std::string>, std::string>> cases = {
      {{}, "watch_dir"},
      {{{"watch_dir", landing.string()}, {"completion_marker", "done"}}, "completion_marker"},
      {{{"watch_dir", landing.string()}, {"archive_dir", landing.string()}}, "archive_dir"},
      {{{"watch_dir", landing.string()}, {"include", " , "}}, "include"},
      {{{"watch_dir", landing.string()}, {"stable_polls", "-1"}}, "stable_polls"},
      {{{"out_dir", out.string()}, {"out_marker", "/x"}}, "out_marker"},
      {{{"out_dir", out.string()}, {"processed_dir", "x"}}, "processed_dir"},
  };
  for (const auto& [values, key] : cases) {
    auto a = tryAdapter(values);
    ASSERT_FALSE(a) << key;
    EXPECT_THAT(a.error().message, HasSubstr(key));
  }
}

}  // namespace
