// The store commits without waiting for the disk and makes the WAL durable
// before it reports anything (store/wal_sync.h). These tests replace the
// fdatasync call to see when it happens and to play a failing disk.

#include "store/store.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <functional>
#include <future>

namespace {

using cb::store::Store;

// Counts the syncs, remembers how much of the WAL the last one covered,
// and fails every sync from the `fail_from`th on (0: never).
struct SyncSpy {
  std::atomic<int> calls{0};
  std::atomic<long long> synced_bytes{0};
  std::atomic<int> fail_from{0};
  std::atomic<bool> disk_recovered{false};  // a later fdatasync "succeeds" again

  std::function<int(int)> call() {
    return [this](int fd) {
      const int n = ++calls;
      if (fail_from != 0 && n >= fail_from && !disk_recovered) {
        errno = EIO;
        return -1;
      }
      struct stat st {};
      ::fstat(fd, &st);
      const int rc = ::fdatasync(fd);
      if (rc == 0) synced_bytes = st.st_size;
      return rc;
    };
  }
};

std::unique_ptr<Store> openStore(const std::filesystem::path& path, SyncSpy& spy) {
  cb::store::StoreOptions o;
  o.path = path;
  o.sync_call = spy.call();
  auto s = Store::open(o);
  EXPECT_TRUE(s) << s.error().message;
  return s ? std::move(*s) : nullptr;
}

cb::store::NewMessage message(const std::string& sender_id) {
  cb::store::NewMessage m;
  m.source = "in-a";
  m.source_org = "RPG";
  m.sender_message_id = sender_id;
  m.content_type = "application/xml";
  m.record_type = "SafeguardingConcern";
  m.subject_key = "k1";
  m.payload = std::string(4096, 'x');
  return m;
}

long long walSize(const std::filesystem::path& db) {
  std::error_code ec;
  const auto n = std::filesystem::file_size(db.string() + "-wal", ec);
  return ec ? -1 : static_cast<long long>(n);
}

// What a submit's callback saw: its result, and whether every WAL byte
// written by then had been synced when it ran.
struct Reported {
  cb::Result<cb::store::SubmitOutcome> result;
  bool wal_synced_before_report = false;
};

Reported submit(Store& store, SyncSpy& spy, const std::filesystem::path& db, const std::string& sender_id) {
  std::promise<Reported> p;
  auto f = p.get_future();
  store.submit(message(sender_id), [&](cb::Result<cb::store::SubmitOutcome> r) {
    const bool synced = spy.synced_bytes.load() >= walSize(db);
    p.set_value(Reported{std::move(r), synced});
  });
  return f.get();
}

// A store on a fresh file whose syncs `spy` watches.
class StoreDurability : public ::testing::Test {
 protected:
  void SetUp() override {
    store = openStore(db, spy);
    ASSERT_TRUE(store);
  }

  cb::test::TempDir dir;
  std::filesystem::path db = dir / "cb.db";
  SyncSpy spy;
  std::unique_ptr<Store> store;
};

}  // namespace

TEST_F(StoreDurability, OpeningSyncsWhatAnEarlierProcessLeftUnsynced) {
  // A process killed after a commit but before its sync leaves the commit
  // in the page cache; this process must not act on it before it is durable.
  EXPECT_EQ(spy.calls.load(), 1);
  EXPECT_EQ(spy.synced_bytes.load(), walSize(db));
}

TEST_F(StoreDurability, NothingIsReportedBeforeTheWalIsSynced) {
  for (int i = 0; i < 20; ++i) {
    const long long before = walSize(db);
    auto r = submit(*store, spy, db, "s-" + std::to_string(i));
    ASSERT_TRUE(r.result) << r.result.error().message;
    EXPECT_EQ(r.result->status, cb::store::SubmitStatus::Stored);
    EXPECT_GT(walSize(db), before) << "the commit wrote nothing to the WAL";
    EXPECT_TRUE(r.wal_synced_before_report) << "record " << i << " was reported before its commit was synced";
  }
}

TEST_F(StoreDurability, ReadsThatCanBeActedOnSyncWhatTheySaw) {
  ASSERT_TRUE(submit(*store, spy, db, "s-1").result);
  const auto check = [&](const char* what, auto read) {
    const int before = spy.calls.load();
    EXPECT_TRUE(read()) << what;
    EXPECT_EQ(spy.calls.load(), before + 1) << what << " returned rows without syncing them";
  };
  check("queuedDeliveries", [&] { return bool(store->queuedDeliveries(0, 10)); });
  check("messagesInState", [&] { return bool(store->messagesInState("received", 10)); });
  check("auditEntries", [&] { return bool(store->auditEntries(0, 10)); });
  check("auditSize", [&] { return bool(store->auditSize()); });
  check("auditTreeState", [&] { return bool(store->auditTreeState()); });
  check("counts", [&] { return bool(store->counts()); });
  check("read", [&] { return bool(store->read([](cb::store::Connection&) { return cb::Status{}; })); });
}

TEST_F(StoreDurability, AFailedSyncRefusesEveryLaterWriteAndRead) {
  ASSERT_TRUE(submit(*store, spy, db, "s-1").result);

  spy.fail_from = spy.calls.load() + 1;
  auto lost = submit(*store, spy, db, "s-2");
  ASSERT_FALSE(lost.result) << "a record whose commit could not be synced was reported stored";
  EXPECT_NE(lost.result.error().message.find("fdatasync failed"), std::string::npos) << lost.result.error().message;

  // Linux reports a writeback error once; a later fdatasync can succeed
  // although the pages it could not write are gone. The store must not
  // trust it.
  spy.disk_recovered = true;
  auto later = submit(*store, spy, db, "s-3");
  EXPECT_FALSE(later.result) << "the store accepted a write after a failed sync";
  EXPECT_FALSE(store->auditSize()) << "a read returned rows after a failed sync";
  EXPECT_FALSE(store->queuedDeliveries(0, 10));

  // A restart recovers from what is on disk; the sender's resends are
  // then stored, or recognised if the commit did reach the disk.
  store.reset();
  SyncSpy healthy;
  store = openStore(db, healthy);
  ASSERT_TRUE(store);
  for (const char* id : {"s-1", "s-2", "s-3"}) {
    auto r = submit(*store, healthy, db, id);
    ASSERT_TRUE(r.result) << id << ": " << r.result.error().message;
    if (std::string(id) == "s-1") {
      EXPECT_EQ(r.result->status, cb::store::SubmitStatus::Duplicate);
    }
    if (std::string(id) == "s-3") {
      EXPECT_EQ(r.result->status, cb::store::SubmitStatus::Stored);
    }
  }
}

TEST_F(StoreDurability, NormalModeNeverSyncs) {
  SyncSpy normal_spy;
  cb::store::StoreOptions o;
  o.path = dir / "normal.db";
  o.synchronous_full = false;
  o.sync_call = normal_spy.call();
  auto normal = Store::open(o);
  ASSERT_TRUE(normal) << normal.error().message;
  ASSERT_TRUE(submit(**normal, normal_spy, o.path, "s-1").result);
  ASSERT_TRUE((*normal)->auditSize());
  EXPECT_EQ(normal_spy.calls.load(), 0);
}
