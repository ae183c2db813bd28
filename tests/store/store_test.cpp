#include "audit/merkle.h"
#include "store/sqlite.h"
#include "store/store.h"
#include "support/test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <sstream>
#include <thread>

namespace {

using cb::store::DeliveryState;
using cb::store::Store;

template <class T>
T wait(std::function<void(std::function<void(T)>)> start) {
  std::promise<T> p;
  auto f = p.get_future();
  start([&p](T v) { p.set_value(std::move(v)); });
  return f.get();
}

class StoreTest : public ::testing::Test {
 protected:
  cb::test::TempDir dir;
  std::unique_ptr<Store> store;

  void SetUp() override { store = open(); }
  std::unique_ptr<Store> open() {
    cb::store::StoreOptions o;
    o.path = dir / "cb.db";
    auto s = Store::open(o);
    EXPECT_TRUE(s) << s.error().message;
    return std::move(*s);
  }

  cb::store::NewMessage message(const std::string& sender_id, const std::string& payload = "<r/>") {
    cb::store::NewMessage m;
    m.source = "in-a";
    m.source_org = "RPG";
    m.sender_message_id = sender_id;
    m.content_type = "application/xml";
    m.record_type = "SafeguardingConcern";
    m.subject_key = "k1";
    m.payload = payload;
    return m;
  }

  cb::Result<cb::store::SubmitOutcome> submit(cb::store::NewMessage m) {
    return wait<cb::Result<cb::store::SubmitOutcome>>(
        [&](auto done) { store->submit(std::move(m), std::move(done)); });
  }

  cb::Result<std::vector<cb::store::DeliveryInfo>> route(std::int64_t seq, std::vector<std::string> dests) {
    std::vector<cb::store::NewDelivery> ds;
    for (auto& d : dests) ds.push_back({d, "r1", "application/xml", "SafeguardingConcern", std::nullopt, DeliveryState::Queued});
    return wait<cb::Result<std::vector<cb::store::DeliveryInfo>>>(
        [&](auto done) { store->route(seq, std::move(ds), {}, std::move(done)); });
  }

  cb::Status attempt(std::int64_t seq, cb::store::AttemptOutcome o) {
    cb::audit::AuditEvent e;
    e.action = cb::audit::action::kDeliveryAttempt;
    return wait<cb::Status>([&](auto done) { store->recordAttempt(seq, o, {e}, std::move(done)); });
  }
};

TEST_F(StoreTest, SubmitStoresThePayloadAndAnAuditEntry) {
  auto r = submit(message("s-1", "<record>hello</record>"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, cb::store::SubmitStatus::Stored);
  EXPECT_EQ(r->message_id.size(), 36u);
  auto m = store->message(r->message_id);
  ASSERT_TRUE(m && *m);
  EXPECT_EQ((*m)->state, "received");
  EXPECT_EQ((*m)->sender_message_id, "s-1");
  EXPECT_EQ(*store->payload(r->seq), "<record>hello</record>");
  EXPECT_EQ(*store->auditSize(), 1);
}

TEST_F(StoreTest, SameSenderIdIsStoredOnce) {
  auto first = submit(message("s-1"));
  auto again = submit(message("s-1"));
  ASSERT_TRUE(first && again);
  EXPECT_EQ(again->status, cb::store::SubmitStatus::Duplicate);
  EXPECT_EQ(again->message_id, first->message_id);
  EXPECT_EQ(store->messagesInState("received", 10)->size(), 1u);
  // Without a sender id there is nothing to compare: both are stored.
  auto a = submit(message(""));
  auto b = submit(message(""));
  EXPECT_NE(a->message_id, b->message_id);
}

TEST_F(StoreTest, SubmitRoutedStoresTheMessageItsDeliveriesAndItsEntriesInOneOperation) {
  auto m = message("s-1", "<record>hello</record>");
  m.id = "01890a5d-ac96-774b-bcce-b302099a8057";
  m.subject_key = "";  // the sender named no one; translation found the person
  std::vector<cb::store::NewDelivery> ds;
  ds.push_back({"out-b", "r1", "application/xml", "SafeguardingEnquiry", std::nullopt, DeliveryState::Queued});
  ds.push_back({"out-c", "r1", "text/plain", "SafeguardingEnquiry", std::string("rendered"), DeliveryState::Held});
  std::vector<cb::audit::AuditEvent> events(2);
  events[0].action = cb::audit::action::kTranslated;
  events[0].message_id = m.id;
  events[1].action = cb::audit::action::kDecided;
  events[1].message_id = m.id;
  auto r = wait<cb::Result<Store::RoutedOutcome>>([&](auto done) {
    store->submitRouted(m, {"k-found", "SafeguardingEnquiry"}, ds, events, std::move(done));
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->message.status, cb::store::SubmitStatus::Stored);
  EXPECT_EQ(r->message.message_id, m.id) << "the id the route stage chose and its entries name";
  ASSERT_EQ(r->deliveries.size(), 2u);
  EXPECT_EQ(r->deliveries[0].destination, "out-b");
  EXPECT_EQ(r->deliveries[0].state, DeliveryState::Queued);
  EXPECT_EQ(r->deliveries[0].subject_key, "k-found");
  EXPECT_EQ(r->deliveries[0].message_id, m.id);
  EXPECT_EQ(r->deliveries[1].state, DeliveryState::Held);
  EXPECT_LT(r->deliveries[0].seq, r->deliveries[1].seq);

  auto stored = *store->message(m.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, "routed") << "never waits in 'received'";
  EXPECT_EQ(stored->subject_key, "k-found");
  EXPECT_EQ(stored->record_type, "SafeguardingEnquiry");
  EXPECT_TRUE(store->messagesInState("received", 10)->empty());
  EXPECT_EQ(*store->deliveryPayload(r->deliveries[0].seq), "<record>hello</record>");
  EXPECT_EQ(*store->deliveryPayload(r->deliveries[1].seq), "rendered");
  // Receipt first, then the route stage's entries, all in the same commit.
  auto entries = store->auditEntries(0, 10);
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].action, cb::audit::action::kReceived);
  EXPECT_EQ((*entries)[1].action, cb::audit::action::kTranslated);
  EXPECT_EQ((*entries)[2].action, cb::audit::action::kDecided);
  for (const auto& e : *entries) EXPECT_EQ(e.message_id, m.id);

  // The same record again (same source and sender id): recognised, given
  // the first copy's id, and nothing but a duplicate entry is written.
  auto again_msg = message("s-1", "<record>hello</record>");
  again_msg.id = "01890a5d-ac96-774b-bcce-b302099a8058";
  auto again = wait<cb::Result<Store::RoutedOutcome>>([&](auto done) {
    store->submitRouted(again_msg, {}, ds, events, std::move(done));
  });
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->message.status, cb::store::SubmitStatus::Duplicate);
  EXPECT_EQ(again->message.message_id, m.id);
  EXPECT_TRUE(again->deliveries.empty());
  EXPECT_EQ(store->deliveries({})->size(), 2u);
  EXPECT_FALSE(*store->message(again_msg.id));
  entries = store->auditEntries(3, 10);
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].action, cb::audit::action::kDuplicate);
}

TEST_F(StoreTest, SubmitQuarantinedKeepsTheRecordAndTheReasonAndSharesNothing) {
  auto m = message("s-9", "<broken");
  m.id = "01890a5d-ac96-774b-bcce-b302099a8059";
  cb::audit::AuditEvent q;
  q.action = cb::audit::action::kQuarantined;
  q.message_id = m.id;
  q.with("reason", "route 'r1': not well-formed XML at line 1");
  auto r = wait<cb::Result<cb::store::SubmitOutcome>>([&](auto done) {
    store->submitQuarantined(m, "route 'r1': not well-formed XML at line 1", {q}, std::move(done));
  });
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, cb::store::SubmitStatus::Stored);
  auto stored = *store->message(m.id);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->state, "quarantined");
  EXPECT_EQ(stored->error, "route 'r1': not well-formed XML at line 1");
  EXPECT_EQ(*store->payload(stored->seq), "<broken") << "kept for an operator to look at";
  EXPECT_TRUE(store->deliveries({})->empty());
  EXPECT_EQ(store->counts()->quarantined, 1);
  auto entries = store->auditEntries(0, 10);
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].action, cb::audit::action::kReceived);
  EXPECT_EQ((*entries)[1].action, cb::audit::action::kQuarantined);
}

TEST_F(StoreTest, RouteCreatesDeliveriesAndDeliveryOutcomesAreRecorded) {
  auto m = submit(message("s-1"));
  auto ds = route(m->seq, {"out-b", "out-c"});
  ASSERT_TRUE(ds) << ds.error().message;
  ASSERT_EQ(ds->size(), 2u);
  EXPECT_EQ((*store->messageBySeq(m->seq))->state, "routed");
  // Routing twice is refused: the message is no longer waiting.
  EXPECT_FALSE(route(m->seq, {"out-b"}));
  // Passthrough deliveries carry the received payload without copying it.
  EXPECT_EQ(*store->deliveryPayload((*ds)[0].seq), "<r/>");

  ASSERT_TRUE(attempt((*ds)[0].seq, {cb::store::AttemptOutcome::Kind::Retry, "busy", 12345}));
  auto d0 = *store->delivery((*ds)[0].seq);
  EXPECT_EQ(d0->state, DeliveryState::Queued);
  EXPECT_EQ(d0->attempts, 1u);
  EXPECT_EQ(d0->next_attempt_at_ms, 12345);
  EXPECT_EQ(d0->last_error, "busy");
  ASSERT_TRUE(attempt((*ds)[0].seq, {cb::store::AttemptOutcome::Kind::Delivered, "", 0}));
  ASSERT_TRUE(attempt((*ds)[1].seq, {cb::store::AttemptOutcome::Kind::Dead, "refused", 0}));
  EXPECT_EQ((*store->delivery((*ds)[0].seq))->state, DeliveryState::Delivered);
  EXPECT_EQ((*store->delivery((*ds)[1].seq))->state, DeliveryState::Dead);
  // A delivered delivery takes no further outcome.
  EXPECT_FALSE(attempt((*ds)[0].seq, {cb::store::AttemptOutcome::Kind::Delivered, "", 0}));
  auto counts = store->counts();
  EXPECT_EQ(counts->dead, 1);
  EXPECT_EQ(counts->queued, 0);
}

TEST_F(StoreTest, RenderedPayloadIsStoredPerDelivery) {
  auto m = submit(message("s-1", "original"));
  std::vector<cb::store::NewDelivery> ds{{"out-b", "r1", "text/plain", "T", std::string("rendered"), DeliveryState::Queued},
                                         {"out-c", "r1", "text/plain", "T", std::nullopt, DeliveryState::Held}};
  auto created = wait<cb::Result<std::vector<cb::store::DeliveryInfo>>>(
      [&](auto done) { store->route(m->seq, std::move(ds), {}, std::move(done)); });
  ASSERT_TRUE(created);
  EXPECT_EQ(*store->deliveryPayload((*created)[0].seq), "rendered");
  EXPECT_EQ(*store->deliveryPayload((*created)[1].seq), "original");
  EXPECT_EQ(store->counts()->held, 1);
  // Only queued deliveries are offered to the scheduler.
  auto queued = store->queuedDeliveries(0, 100);
  ASSERT_EQ(queued->size(), 1u);
  EXPECT_EQ((*queued)[0].destination, "out-b");
}

TEST_F(StoreTest, ReplayRequeuesOnlyDeadLettersAndAuditsWho) {
  auto m = submit(message("s-1"));
  auto ds = route(m->seq, {"out-b"});
  const auto seq = (*ds)[0].seq;
  auto who = cb::audit::Actor::person("alice", "RPG", "operator");
  EXPECT_FALSE(store->replaySync({seq}, who, "not dead yet"));
  ASSERT_TRUE(attempt(seq, {cb::store::AttemptOutcome::Kind::Dead, "refused", 0}));
  const auto before = *store->auditSize();
  auto r = store->replaySync({seq}, who, "partner fixed their endpoint");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  auto d = *store->delivery(seq);
  EXPECT_EQ(d->state, DeliveryState::Queued);
  EXPECT_EQ(d->attempts, 0u);
  EXPECT_EQ(*store->auditSize(), before + 1);
}

TEST_F(StoreTest, AFailedOperationRollsBackAloneAndLeavesNoAuditEntry) {
  auto m = submit(message("s-1"));
  const auto before = *store->auditSize();
  // Many operations in one group commit: the bad one (routing a message that
  // does not exist) fails, the others commit.
  std::vector<std::future<cb::Result<cb::store::SubmitOutcome>>> good;
  std::promise<cb::Result<std::vector<cb::store::DeliveryInfo>>> bad;
  auto bad_f = bad.get_future();
  for (int i = 0; i < 50; ++i) {
    auto p = std::make_shared<std::promise<cb::Result<cb::store::SubmitOutcome>>>();
    good.push_back(p->get_future());
    store->submit(message("g-" + std::to_string(i)), [p](auto r) { p->set_value(std::move(r)); });
    if (i == 25) {
      cb::audit::AuditEvent e;
      e.action = "should.not.appear";
      store->route(999999, {}, {e}, [&bad](auto r) { bad.set_value(std::move(r)); });
    }
  }
  for (auto& f : good) EXPECT_TRUE(f.get());
  EXPECT_FALSE(bad_f.get());
  EXPECT_EQ(*store->auditSize(), before + 50);
  (void)m;
}

TEST_F(StoreTest, OperationsRunAgainAfterAFailureInTheirBatchReportOnce) {
  // The writer runs a batch without savepoints first; when one operation
  // fails, it rolls back and runs the batch again with a savepoint each.
  // The operations that ran twice must report (and write) once.
  std::vector<std::int64_t> seqs;
  for (int i = 0; i < 20; ++i) seqs.push_back(submit(message("r-" + std::to_string(i)))->seq);
  const auto before = *store->auditSize();
  // Hold the writer until every operation is queued, so they share a batch.
  std::promise<void> release;
  auto released = release.get_future().share();
  store->transact([released](cb::store::Connection&, cb::store::AuditAppender&) -> cb::Status {
    released.wait();
    return {};
  }, [](cb::Status) {});
  std::vector<std::future<cb::Result<std::vector<cb::store::DeliveryInfo>>>> routed;
  std::promise<cb::Result<std::vector<cb::store::DeliveryInfo>>> bad;
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    auto p = std::make_shared<std::promise<cb::Result<std::vector<cb::store::DeliveryInfo>>>>();
    routed.push_back(p->get_future());
    std::vector<cb::store::NewDelivery> ds;
    for (const char* d : {"out-b", "out-c"}) {
      ds.push_back({d, "r1", "application/xml", "SafeguardingConcern", std::nullopt, DeliveryState::Queued});
    }
    cb::audit::AuditEvent e;
    e.action = "record.routed";
    store->route(seqs[i], std::move(ds), {e}, [p](auto r) { p->set_value(std::move(r)); });
    if (i == 10) store->route(999999, {}, {e}, [&bad](auto r) { bad.set_value(std::move(r)); });
  }
  release.set_value();
  for (auto& f : routed) {
    auto r = f.get();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->size(), 2u);
  }
  EXPECT_FALSE(bad.get_future().get());
  EXPECT_EQ(*store->auditSize(), before + 20);
  cb::store::DeliveryFilter all;
  all.limit = 1000;
  EXPECT_EQ(store->deliveries(all)->size(), 40u);
}

TEST_F(StoreTest, AuditLogIsAMerkleTreeThatSurvivesReopening) {
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(submit(message("s-" + std::to_string(i))));
  store.reset();
  store = open();
  for (int i = 20; i < 37; ++i) ASSERT_TRUE(submit(message("s-" + std::to_string(i))));
  store->flush();
  ASSERT_EQ(*store->auditSize(), 37);

  // Recompute the tree from the stored entries and compare with the state
  // the store kept incrementally.
  cb::store::Connection::Options o;
  o.read_only = true;
  auto db = cb::store::Connection::open(dir / "cb.db", o);
  ASSERT_TRUE(db);
  auto st = (*db)->prepare("SELECT seq, entry, leaf_hash FROM audit_log ORDER BY seq");
  ASSERT_TRUE(st);
  cb::audit::MerkleFrontier range;
  std::int64_t expect_seq = 0;
  while (*(*st)->step()) {
    EXPECT_EQ((*st)->columnInt(0), expect_seq++);
    const auto leaf = cb::audit::leafHash((*st)->columnText(1));
    EXPECT_EQ((*st)->columnBlob(2), std::string(reinterpret_cast<const char*>(leaf.data()), leaf.size()));
    ASSERT_TRUE(range.append(leaf));
  }
  auto state = (*db)->prepare("SELECT size, frontier FROM audit_state");
  ASSERT_TRUE(*(*state)->step());
  auto stored = cb::audit::MerkleFrontier::fromBytes((*state)->columnBlob(1));
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->size(), 37u);
  EXPECT_EQ(stored->root(), range.root());
}

TEST_F(StoreTest, TwoProcessesAppendingKeepTheLogContiguous) {
  // A second Store on the same file stands for the CLI writing while the
  // daemon runs: both take the write lock per transaction.
  auto other = open();
  std::thread t([&] {
    for (int i = 0; i < 30; ++i) {
      cb::audit::AuditEvent e;
      e.action = "cli.event";
      ASSERT_TRUE(other->auditSync({e}));
    }
  });
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(submit(message("s-" + std::to_string(i))));
  t.join();
  EXPECT_EQ(*store->auditSize(), 60);
  EXPECT_TRUE(store->changedElsewhere());
  EXPECT_FALSE(store->changedElsewhere());
}

TEST_F(StoreTest, GroupCommitBatchesConcurrentWrites) {
  // 2000 submissions queued at once complete (each acknowledged only after
  // its transaction commits); ordering of seq follows queue order.
  std::vector<std::future<cb::Result<cb::store::SubmitOutcome>>> fs;
  for (int i = 0; i < 2000; ++i) {
    auto p = std::make_shared<std::promise<cb::Result<cb::store::SubmitOutcome>>>();
    fs.push_back(p->get_future());
    store->submit(message("b-" + std::to_string(i)), [p](auto r) { p->set_value(std::move(r)); });
  }
  std::int64_t last = 0;
  for (auto& f : fs) {
    auto r = f.get();
    ASSERT_TRUE(r);
    EXPECT_GT(r->seq, last);
    last = r->seq;
  }
}

TEST_F(StoreTest, ANewerSchemaIsRefused) {
  store.reset();
  {
    cb::store::Connection::Options o;
    auto db = cb::store::Connection::open(dir / "cb.db", o);
    ASSERT_TRUE((*db)->exec("PRAGMA user_version = 99"));
  }
  cb::store::StoreOptions so;
  so.path = dir / "cb.db";
  auto s = Store::open(so);
  ASSERT_FALSE(s);
  EXPECT_THAT(s.error().message, ::testing::HasSubstr("schema version 99"));
}

}  // namespace

namespace {

// Writes `count` 4 KB records, then waits (up to 20 s) for the database file
// itself to pass `bytes`: pages reach it only through a WAL checkpoint.
bool checkpointsReachTheDatabase(const cb::store::StoreOptions& options, int count, std::uintmax_t bytes) {
  auto s = Store::open(options);
  EXPECT_TRUE(s) << s.error().message;
  if (!s) return false;
  for (int i = 0; i < count; ++i) {
    cb::store::NewMessage m;
    m.source = "in-a";
    m.sender_message_id = "ckpt-" + std::to_string(i);
    m.content_type = "application/xml";
    m.payload = std::string(4096, static_cast<char>('a' + i % 26));
    auto r = wait<cb::Result<cb::store::SubmitOutcome>>(
        [&](auto done) { (*s)->submit(std::move(m), std::move(done)); });
    EXPECT_TRUE(r) << r.error().message;
  }
  for (int i = 0; i < 200 && std::filesystem::file_size(options.path) < bytes; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return std::filesystem::file_size(options.path) >= bytes;
}

}  // namespace

// The writer's commits never run a checkpoint themselves below the stall
// limit: a thread of the store's own copies the WAL into the database.
TEST(StoreCheckpoints, ABackgroundThreadCopiesTheWalIntoTheDatabase) {
  cb::test::TempDir dir;
  cb::store::StoreOptions o;
  o.path = dir / "cb.db";
  o.checkpoint_pages = 32;
  o.checkpoint_stall_pages = 1 << 30;  // the writer never checkpoints
  EXPECT_TRUE(checkpointsReachTheDatabase(o, 300, 1u << 20));
}

// Should the background thread fall behind, the writer bounds the WAL itself.
TEST(StoreCheckpoints, TheWriterCheckpointsAtTheStallLimit) {
  cb::test::TempDir dir;
  cb::store::StoreOptions o;
  o.path = dir / "cb.db";
  o.checkpoint_pages = 1 << 30;  // the background thread is never woken
  o.checkpoint_stall_pages = 64;
  EXPECT_TRUE(checkpointsReachTheDatabase(o, 300, 1u << 20));
}

namespace {

// The nice value of this process's thread named `name` (proc(5),
// /proc/self/task/<tid>/stat field 19), or nullopt if there is none.
std::optional<int> threadNice(const std::string& name) {
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(task.path() / "comm");
    std::string c;
    std::getline(comm, c);
    if (c != name) continue;
    std::ifstream stat(task.path() / "stat");
    std::string line;
    std::getline(stat, line);
    // After "(comm)": state is field 3, nice field 19.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    for (int i = 3; i < 19; ++i) rest >> field;
    int nice = 0;
    rest >> nice;
    return nice;
  }
  return std::nullopt;
}

}  // namespace

// Checkpoints are background work: the pipeline's threads come first.
TEST(StoreCheckpoints, TheCheckpointThreadRunsFiveNiceLevelsBelowTheProcess) {
  cb::test::TempDir dir;
  cb::store::StoreOptions o;
  o.path = dir / "cb.db";
  auto s = Store::open(o);
  ASSERT_TRUE(s) << s.error().message;
  const int expected = std::min(19, getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid())) + 5);
  std::optional<int> nice;
  // The thread names itself, then lowers its priority, as it starts.
  for (int i = 0; i < 200 && nice != expected; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    nice = threadNice("cb-checkpoint");
  }
  ASSERT_TRUE(nice) << "no thread named cb-checkpoint";
  EXPECT_EQ(*nice, expected);
}
