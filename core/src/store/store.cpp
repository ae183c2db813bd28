#include "store/store.h"

#include "common/clock.h"
#include "common/digest.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/thread_name.h"
#include "store/audit_appender.h"
#include "store/schema.h"
#include "store/sqlite.h"
#include "store/wal_sync.h"

#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <future>
#include <stdexcept>

namespace cb::store {
namespace {

std::int64_t nowMs() { return SystemClock::instance().nowUnixMs(); }

// Columns shared by every delivery query, in the order readDelivery() expects.
constexpr const char* kDeliveryColumns =
    "d.seq, d.message_seq, m.id, d.destination, d.route, d.content_type, d.record_type, m.subject_key, d.state, "
    "d.attempts, d.next_attempt_at, d.last_error, d.created_at, d.updated_at, m.received_at";

DeliveryInfo readDelivery(const Statement& st) {
  DeliveryInfo d;
  d.seq = st.columnInt(0);
  d.message_seq = st.columnInt(1);
  d.message_id = st.columnText(2);
  d.destination = st.columnText(3);
  d.route = st.columnText(4);
  d.content_type = st.columnText(5);
  d.record_type = st.columnText(6);
  d.subject_key = st.columnText(7);
  d.state = deliveryStateFrom(st.columnText(8)).value_or(DeliveryState::Queued);
  d.attempts = static_cast<std::uint32_t>(st.columnInt(9));
  d.next_attempt_at_ms = st.columnInt(10);
  d.last_error = st.columnText(11);
  d.created_at_ms = st.columnInt(12);
  d.updated_at_ms = st.columnInt(13);
  d.received_at_ms = st.columnInt(14);
  return d;
}

constexpr const char* kMessageColumns =
    "seq, id, source, sender_id, content_type, record_type, subject_key, payload_sha256, state, error, received_at";

MessageInfo readMessage(const Statement& st) {
  MessageInfo m;
  m.seq = st.columnInt(0);
  m.id = st.columnText(1);
  m.source = st.columnText(2);
  m.sender_message_id = st.columnText(3);
  m.content_type = st.columnText(4);
  m.record_type = st.columnText(5);
  m.subject_key = st.columnText(6);
  m.payload_sha256 = st.columnText(7);
  m.state = st.columnText(8);
  m.error = st.columnText(9);
  m.received_at_ms = st.columnInt(10);
  return m;
}

// The message whose `column` ("id" or "seq") is `key`, if any.
template <class Key>
Result<std::optional<MessageInfo>> findMessage(Connection& db, const char* column, const Key& key) {
  auto st = db.prepare(std::string("SELECT ") + kMessageColumns + " FROM messages WHERE " + column + " = ?");
  if (!st) return st.error();
  (*st)->bind(1, key);
  auto row = (*st)->step();
  if (!row) return row.error();
  std::optional<MessageInfo> out;
  if (*row) out = readMessage(**st);
  (*st)->reset();
  return out;
}

Result<std::vector<DeliveryInfo>> collectDeliveries(Statement& st) {
  std::vector<DeliveryInfo> out;
  for (;;) {
    auto row = st.step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(readDelivery(st));
  }
  st.reset();
  return out;
}

Result<std::int64_t> insertBlob(Connection& db, std::string_view bytes) {
  auto st = db.prepare("INSERT INTO blobs(data) VALUES (?)");
  if (!st) return st.error();
  if (auto s = (*st)->bindBlob(1, bytes).run(); !s) return s.error();
  return db.lastInsertRowid();
}

}  // namespace

namespace {

// The first row of a query that selects at most one, or nullopt.
template <typename T>
Result<std::optional<T>> firstOf(Result<std::vector<T>> rows) {
  if (!rows) return rows.error();
  if (rows->empty()) return std::optional<T>();
  return std::optional<T>(std::move(rows->front()));
}

}  // namespace

const char* toString(DeliveryState s) {
  switch (s) {
    case DeliveryState::Queued: return "queued";
    case DeliveryState::Delivered: return "delivered";
    case DeliveryState::Dead: return "dead";
    case DeliveryState::Held: return "held";
    case DeliveryState::Refused: return "refused";
  }
  return "queued";
}

std::optional<DeliveryState> deliveryStateFrom(std::string_view s) {
  for (auto st : {DeliveryState::Queued, DeliveryState::Delivered, DeliveryState::Dead, DeliveryState::Held,
                  DeliveryState::Refused}) {
    if (s == toString(st)) return st;
  }
  return std::nullopt;
}

Store::Store(StoreOptions options) : options_(std::move(options)) {}

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options) {
  std::unique_ptr<Store> s(new Store(options));
  Connection::Options copts;
  copts.synchronous_full = options.synchronous_full;
  // The writer commits with synchronous=NORMAL, which writes the WAL but
  // does not wait for the disk; the completion thread then fdatasyncs the
  // WAL once for every transaction committed meanwhile, before it reports
  // any of them (wal_sync.h). Under FULL the writer did nothing else while
  // the disk wrote each commit: the store alone did 6,500 records/s with
  // FULL and 8,200-8,500 without that wait (bench/store).
  Connection::Options writer_options = copts;
  writer_options.synchronous_full = false;
  writer_options.buffer_wal_writes = true;  // two write(2) calls per WAL frame otherwise (wal_write_buffer.h)
  auto writer = Connection::open(options.path, writer_options);
  if (!writer) return writer.error();
  s->writer_ = std::move(*writer);
  // The writer wraps each operation of a group commit in a SAVEPOINT
  // (runBatch). SQLite keeps a savepoint's undo records (the original of
  // every page the operation changes, one page each) in a sub-journal that
  // spills to a temporary file in /var/tmp once it passes 64 KiB
  // (https://sqlite.org/tempfiles.html, "Subjournal Files"). An operation
  // changes a dozen or more index pages, so every commit wrote and then
  // deleted a temporary file about eight times the size of its WAL frames.
  // With temp_store=MEMORY the sub-journal stays in memory
  // (https://sqlite.org/pragma.html#pragma_temp_store); it is truncated at
  // each RELEASE, so it holds one operation's pages at most. Only the writer
  // does this: a reader's large sorts may still spill to disk. Durability is
  // unchanged: the sub-journal only serves ROLLBACK TO, never recovery.
  if (auto t = s->writer_->exec("PRAGMA temp_store=MEMORY"); !t) return t.error();
  if (auto m = migrate(*s->writer_); !m) return m.error();
  if (options.synchronous_full) {
    // Before anything reads the store: a process that stopped without
    // its last sync (kill -9) may have left commits only in the page cache.
    const char* wal = sqlite3_filename_wal(sqlite3_db_filename(s->writer_->native(), "main"));
    if (wal == nullptr) return fail(options.path.string() + ": the store has no write-ahead log");
    auto sync = WalSync::open(wal, options.sync_call ? options.sync_call : WalSync::SyncCall(::fdatasync));
    if (!sync) return sync.error();
    s->wal_sync_ = std::move(*sync);
  }
  auto reader = Connection::open(options.path, copts);
  if (!reader) return reader.error();
  s->reader_ = std::move(*reader);
  // SQLite checkpoints a WAL in the committing connection, after its commit
  // (wal_autocheckpoint), so every few thousand commits one batch waited for
  // tens of MiB to be copied into the database and fsynced: the long tail of
  // the pipeline's latency. The writer's WAL hook replaces that
  // (https://sqlite.org/c3ref/wal_hook.html) and wakes a thread that runs
  // PASSIVE checkpoints on its own connection, beside the writer's commits
  // (https://sqlite.org/c3ref/wal_checkpoint_v2.html). SQLite rewinds the
  // WAL at the first write after a checkpoint has copied all of it.
  auto checkpointer = Connection::open(options.path, copts);
  if (!checkpointer) return checkpointer.error();
  s->checkpointer_ = std::move(*checkpointer);
  sqlite3_wal_hook(s->writer_->native(), &Store::walHook, s.get());
  s->checkpoint_thread_ = std::thread([raw = s.get()] {
    nameThisThread("cb-checkpoint");
    // A checkpoint copies up to checkpoint_pages pages in one burst of CPU
    // (reading the WAL, writing the database); at normal priority the
    // pipeline's threads queued behind it, the tail of the latency at
    // moderate load. Five nice levels lower (a third of the weight, sched(7))
    // they come first and it takes the CPU they leave. bench/pipeline/run
    // --rate 2000, p99 after warm-up: 6.6-9.4 ms against 8.4-13.1 ms. Ten
    // levels did better at moderate load (5.5-11.6 ms) but fell so far
    // behind at saturation that the WAL reached checkpoint_stall_pages and
    // the writer had to checkpoint itself; with five it peaked at 407 MiB
    // (263 MiB at normal priority) in a 100,000-record run. Lowering a
    // thread's priority needs no privilege (setpriority(2)); if it fails,
    // the thread runs at the process's priority as before.
    const auto tid = static_cast<id_t>(::gettid());
    errno = 0;
    const int nice = getpriority(PRIO_PROCESS, tid);
    if (errno == 0) (void)setpriority(PRIO_PROCESS, tid, std::min(19, nice + 5));
    raw->checkpointLoop();
  });
  s->last_data_version_ = s->writer_->dataVersion();
  s->completion_thread_ = std::thread([raw = s.get()] {
    nameThisThread("cb-store-done");
    raw->completionLoop();
  });
  s->writer_thread_ = std::thread([raw = s.get()] {
    nameThisThread("cb-store-write");
    raw->writerLoop();
  });
  return s;
}

Store::~Store() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_thread_.joinable()) writer_thread_.join();
  // The writer has handed over its last batch; the completion thread runs
  // what is left and stops.
  {
    std::lock_guard lock(mutex_);
    completions_stopping_ = true;
  }
  completions_ready_.notify_all();
  if (completion_thread_.joinable()) completion_thread_.join();
  {
    std::lock_guard lock(checkpoint_mutex_);
    checkpoint_stopping_ = true;
  }
  checkpoint_wake_.notify_all();
  if (checkpoint_thread_.joinable()) checkpoint_thread_.join();
}

int Store::walHook(void* self, sqlite3* db, const char* /*name*/, int pages) {
  auto* store = static_cast<Store*>(self);
  if (pages >= store->options_.checkpoint_stall_pages) {
    // The background thread has fallen behind (or a reader holds an old
    // snapshot): bound the WAL here, as SQLite's own autocheckpoint would.
    sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    return SQLITE_OK;
  }
  if (pages >= store->options_.checkpoint_pages) {
    {
      std::lock_guard lock(store->checkpoint_mutex_);
      store->wal_pages_ = pages;
    }
    store->checkpoint_wake_.notify_one();
  }
  return SQLITE_OK;
}

void Store::checkpointLoop() {
  std::unique_lock lock(checkpoint_mutex_);
  for (;;) {
    checkpoint_wake_.wait(lock, [this] { return checkpoint_stopping_ || wal_pages_ >= options_.checkpoint_pages; });
    if (checkpoint_stopping_) return;
    wal_pages_ = 0;
    lock.unlock();
    // PASSIVE copies what no reader still needs and never blocks the writer.
    // Commits made meanwhile stay in the WAL for the next round: the hook
    // wakes this thread again while the WAL stays past the threshold.
    // A failed checkpoint loses nothing (the frames stay in the WAL, which
    // the writer's stall limit still bounds); the next wake-up tries again.
    sqlite3_wal_checkpoint_v2(checkpointer_->native(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    lock.lock();
  }
}

void Store::enqueue(Op op) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push_back(std::move(op));
      wake_.notify_one();
      return;
    }
  }
  op.committed(fail("the store is closing"));
}

void Store::writerLoop() {
  std::vector<Op> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      // Group commit: one fsync and one write of each dirty index page per
      // transaction, so more operations per transaction is cheaper per
      // operation. When only a few are waiting, give others up to
      // kLinger to join; that bounds the latency it adds. 100 us: with one
      // operation per record (route.h) the others are mostly already
      // queued, and a longer wait left the writer idle. bench/pipeline/run,
      // alternating builds: 4,650-5,018 records/s against 4,498-4,573 with
      // 500 us and 4,408-4,565 with none; p99 at 2,000/s after warm-up 7.9
      // and 9.9 ms against 14.9 and 11.4 ms with 500 us.
      constexpr std::size_t kGather = 64;
      constexpr auto kLinger = std::chrono::microseconds(100);
      if (queue_.size() < kGather && !stopping_) {
        wake_.wait_for(lock, kLinger, [this] { return stopping_ || queue_.size() >= kGather; });
      }
      const std::size_t n = std::min(queue_.size(), options_.group_commit_max);
      batch.clear();
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      in_progress_ = batch.size();
    }
    auto done = runBatch(batch);
    {
      std::lock_guard lock(mutex_);
      in_progress_ = 0;
      completions_.push_back(std::move(done));
    }
    completions_ready_.notify_one();
  }
}

void Store::completionLoop() {
  std::deque<std::vector<Completion>> ready;
  std::unique_lock lock(mutex_);
  for (;;) {
    completions_ready_.wait(lock, [this] { return completions_stopping_ || !completions_.empty(); });
    if (completions_.empty()) return;  // stopping, and nothing left to report
    ready.swap(completions_);
    completions_running_ = true;
    lock.unlock();
    // One sync for every batch committed so far, while the writer runs
    // the next. If it fails, none of them may be reported as stored.
    const Status durable = wal_sync_ ? wal_sync_->sync() : Status{};
    for (auto& batch : ready) {
      for (auto& [committed, status] : batch) committed(durable ? std::move(status) : durable);
    }
    ready.clear();
    lock.lock();
    completions_running_ = false;
    drained_.notify_all();
  }
}

std::vector<Store::Completion> Store::runBatch(std::vector<Op>& batch) {
  static auto logger = log::get("store");
  std::vector<Completion> done;
  done.reserve(batch.size());
  if (wal_sync_ && wal_sync_->failed()) {
    // Fail closed after a failed sync (wal_sync.h): commit nothing more.
    const Status refused = wal_sync_->sync();
    for (auto& op : batch) done.emplace_back(std::move(op.committed), refused);
    return done;
  }
  std::vector<Status> results(batch.size());
  // First without savepoints: a SAVEPOINT makes SQLite copy the original of
  // every page the operation then changes into a sub-journal
  // (https://sqlite.org/tempfiles.html, "Subjournal Files"), a dozen or so
  // pages per operation, only ever read by ROLLBACK TO. Operations
  // almost never fail, so the whole batch runs as one unit and, if one
  // does fail, is rolled back and run again with a savepoint per operation,
  // where the failure rolls back alone. Nothing is reported before COMMIT,
  // so the first attempt leaves no trace.
  auto outcome = applyBatch(batch, results, Isolation::WholeBatch);
  if (outcome.run_isolated) {
    std::fill(results.begin(), results.end(), Status{});
    outcome = applyBatch(batch, results, Isolation::PerOperation);
  }
  const Status& commit = outcome.commit;
  if (!commit) {
    // Fail closed: nothing in this batch happened, so nothing may be
    // acknowledged or shared on its strength.
    logger->error("store commit failed, {} operations not recorded: {}", batch.size(), commit.error().message);
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    done.emplace_back(std::move(batch[i].committed), commit ? std::move(results[i]) : commit);
  }
  return done;
}

Store::BatchOutcome Store::applyBatch(std::vector<Op>& batch, std::vector<Status>& results, Isolation isolation) {
  // Statements prepared once and kept by the connection.
  const auto run = [this](const char* sql) -> Status {
    auto st = writer_->prepare(sql);
    if (!st) return st.error();
    return (*st)->run();
  };
  BatchOutcome out;
  if (auto s = run("BEGIN IMMEDIATE"); !s) {
    out.commit = s;
    return out;
  }
  AuditAppender appender(*writer_);
  Status& commit = out.commit;
  commit = appender.begin();
  for (std::size_t i = 0; commit && i < batch.size(); ++i) {
    if (isolation == Isolation::WholeBatch) {
      results[i] = batch[i].apply(*writer_, appender);
      if (!results[i]) {
        (void)writer_->exec("ROLLBACK");
        // A lone operation needs no second run: rolling back the batch
        // rolled back just the operation, and its error is the answer.
        out.run_isolated = batch.size() > 1;
        return out;
      }
      continue;
    }
    const auto mark = appender.mark();
    if (auto sp = run("SAVEPOINT op"); !sp) {
      results[i] = sp;
      continue;
    }
    results[i] = batch[i].apply(*writer_, appender);
    if (results[i]) results[i] = run("RELEASE op");
    if (!results[i]) {
      (void)writer_->exec("ROLLBACK TO op; RELEASE op");
      appender.rollbackTo(mark);
    }
  }
  if (commit) commit = appender.finish();
  if (commit) commit = run("COMMIT");
  if (!commit) (void)writer_->exec("ROLLBACK");
  return out;
}

void Store::flush() {
  std::unique_lock lock(mutex_);
  drained_.wait(lock, [this] {
    return queue_.empty() && in_progress_ == 0 && completions_.empty() && !completions_running_;
  });
}

namespace {

// The receipt entry of a message (see storeMessage).
audit::AuditEvent receiptEvent(const NewMessage& msg, const std::string& id, const std::string& digest,
                               std::int64_t now) {
  audit::AuditEvent e;
  e.time_ms = now;
  e.actor = audit::Actor::adapter(msg.source, msg.source_org);
  e.action = audit::action::kReceived;
  e.outcome = audit::outcome::kSuccess;
  e.message_id = id;
  e.record_type = msg.record_type;
  e.source_org = msg.source_org;
  e.subject_key = msg.subject_key;
  e.payload_sha256 = digest;
  e.with("adapter", msg.source).with("bytes", std::to_string(msg.payload.size()));
  return e;
}

// The `committed` of an operation whose apply leaves its answer in `out`:
// that answer once the transaction is durable, or why it is not.
std::function<void(Status)> answerFrom(std::shared_ptr<std::optional<SubmitOutcome>> out,
                                       std::function<void(Result<SubmitOutcome>)> done) {
  return [out = std::move(out), done = std::move(done)](Status s) {
    if (!s) {
      done(s.error());
    } else {
      done(**out);
    }
  };
}

// Stores a received message in `state` with its receipt audit entry, or,
// when the source already sent one with the same sender id, only a
// duplicate entry. Sets `out` afresh (an operation may run twice).
// `as` overrides what the sender said with what translation learnt (kept
// in the row only: the receipt entry says what arrived).
// `receipt`, if given, is the receipt entry prepared beforehand (for
// msg.id, at msg.received_at_ms; see PreparedAuditEntry).
Status storeMessage(Connection& db, AuditAppender& audit, const NewMessage& msg, const char* state,
                    const std::string& error, const Store::RoutedAs& as, std::optional<SubmitOutcome>& out,
                    std::int64_t& received_at, const PreparedAuditEntry* receipt = nullptr) {
  out.reset();
  const std::int64_t now = msg.received_at_ms != 0 ? msg.received_at_ms : nowMs();
  received_at = now;
  if (!msg.sender_message_id.empty()) {
    auto st = db.prepare("SELECT seq, id FROM messages WHERE source = ? AND sender_id = ?");
    if (!st) return st.error();
    (*st)->bind(1, msg.source).bind(2, msg.sender_message_id);
    auto row = (*st)->step();
    if (!row) return row.error();
    if (*row) {
      out = SubmitOutcome{SubmitStatus::Duplicate, (*st)->columnInt(0), (*st)->columnText(1)};
      (*st)->reset();
      audit::AuditEvent e;
      e.time_ms = now;
      e.actor = audit::Actor::adapter(msg.source, msg.source_org);
      e.action = audit::action::kDuplicate;
      e.outcome = audit::outcome::kSuccess;
      e.message_id = out->message_id;
      e.record_type = msg.record_type;
      e.source_org = msg.source_org;
      e.subject_key = msg.subject_key;
      e.payload_sha256 = toHex(sha256(msg.payload));
      e.with("adapter", msg.source);
      return audit.append(e);
    }
    (*st)->reset();
  }
  auto blob = insertBlob(db, msg.payload);
  if (!blob) return blob.error();
  const std::string id = receipt != nullptr ? receipt->event.message_id : msg.id.empty() ? newMessageId() : msg.id;
  const std::string digest = receipt != nullptr ? receipt->event.payload_sha256 : toHex(sha256(msg.payload));
  auto ins = db.prepare(
      "INSERT INTO messages(id, source, sender_id, content_type, record_type, subject_key, payload_blob, "
      "payload_sha256, state, error, received_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!ins) return ins.error();
  (*ins)->bind(1, id).bind(2, msg.source);
  if (msg.sender_message_id.empty()) {
    (*ins)->bindNull(3);
  } else {
    (*ins)->bind(3, msg.sender_message_id);
  }
  (*ins)->bind(4, msg.content_type).bind(5, as.record_type.empty() ? msg.record_type : as.record_type);
  (*ins)->bind(6, as.subject_key.empty() ? msg.subject_key : as.subject_key).bind(7, *blob);
  (*ins)->bind(8, digest).bind(9, state).bind(10, error).bind(11, now).bind(12, now);
  if (auto s = (*ins)->run(); !s) return s;
  out = SubmitOutcome{SubmitStatus::Stored, db.lastInsertRowid(), id};
  if (receipt != nullptr) return audit.append(*receipt);
  return audit.append(receiptEvent(msg, id, digest, now));
}

// The identity of a stored message that its deliveries carry.
struct RoutedMessage {
  std::int64_t seq = 0;
  std::string id;
  std::string subject_key;
  std::int64_t received_at = 0;
};

// Stores a routed message's deliveries. Sets `created` afresh.
Status storeDeliveries(Connection& db, const RoutedMessage& m, const std::vector<NewDelivery>& deliveries,
                       std::vector<DeliveryInfo>& created) {
  created.clear();
  const std::int64_t now = nowMs();
  for (const auto& d : deliveries) {
    std::optional<std::int64_t> blob;
    if (d.payload) {
      auto b = insertBlob(db, *d.payload);
      if (!b) return b.error();
      blob = *b;
    }
    auto ins = db.prepare(
        "INSERT INTO deliveries(message_seq, destination, route, content_type, record_type, payload_blob, state, "
        "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)");
    if (!ins) return ins.error();
    (*ins)->bind(1, m.seq).bind(2, d.destination).bind(3, d.route).bind(4, d.content_type);
    (*ins)->bind(5, d.record_type);
    if (blob) {
      (*ins)->bind(6, *blob);
    } else {
      (*ins)->bindNull(6);
    }
    (*ins)->bind(7, toString(d.state)).bind(8, now).bind(9, now);
    if (auto s = (*ins)->run(); !s) return s;
    DeliveryInfo di;
    di.seq = db.lastInsertRowid();
    di.message_seq = m.seq;
    di.message_id = m.id;
    di.destination = d.destination;
    di.route = d.route;
    di.content_type = d.content_type;
    di.record_type = d.record_type;
    di.subject_key = m.subject_key;
    di.state = d.state;
    di.created_at_ms = now;
    di.updated_at_ms = now;
    di.received_at_ms = m.received_at;
    created.push_back(std::move(di));
  }
  return {};
}

}  // namespace

void Store::submit(NewMessage m, std::function<void(Result<SubmitOutcome>)> done) {
  auto out = std::make_shared<std::optional<SubmitOutcome>>();
  auto msg = std::make_shared<NewMessage>(std::move(m));
  Op op;
  op.apply = [msg, out](Connection& db, AuditAppender& audit) -> Status {
    std::int64_t received_at = 0;
    return storeMessage(db, audit, *msg, "received", {}, RoutedAs{}, *out, received_at);
  };
  op.committed = answerFrom(out, std::move(done));
  enqueue(std::move(op));
}

void Store::submitRouted(NewMessage m, RoutedAs as, std::vector<NewDelivery> deliveries,
                         std::vector<audit::AuditEvent> events, std::function<void(Result<RoutedOutcome>)> done) {
  struct Work {
    NewMessage message;
    RoutedAs as;
    std::vector<NewDelivery> deliveries;
    PreparedAuditEntry receipt;
    std::vector<PreparedAuditEntry> events;
    std::optional<SubmitOutcome> stored;
    std::vector<DeliveryInfo> created;
  };
  auto w = std::make_shared<Work>();
  // Everything that needs no database is done here, on the caller's
  // thread: the writer thread is the one stage every record passes through
  // one at a time.
  const std::int64_t now = nowMs();
  if (m.received_at_ms == 0) m.received_at_ms = now;
  if (m.id.empty()) m.id = newMessageId();
  w->receipt = PreparedAuditEntry::of(receiptEvent(m, m.id, toHex(sha256(m.payload)), m.received_at_ms), now);
  w->events.reserve(events.size());
  for (auto& e : events) w->events.push_back(PreparedAuditEntry::of(std::move(e), now));
  w->message = std::move(m);
  w->as = std::move(as);
  w->deliveries = std::move(deliveries);
  Op op;
  op.apply = [w](Connection& db, AuditAppender& audit) -> Status {
    w->created.clear();
    std::int64_t received_at = 0;
    if (auto s = storeMessage(db, audit, w->message, "routed", {}, w->as, w->stored, received_at, &w->receipt); !s) {
      return s;
    }
    // A duplicate was routed when it first came: nothing more to record.
    if (w->stored->status == SubmitStatus::Duplicate) return {};
    const RoutedMessage routed{w->stored->seq, w->stored->message_id,
                               w->as.subject_key.empty() ? w->message.subject_key : w->as.subject_key, received_at};
    if (auto s = storeDeliveries(db, routed, w->deliveries, w->created); !s) return s;
    for (const auto& e : w->events) {
      if (auto s = audit.append(e); !s) return s;
    }
    return {};
  };
  op.committed = [w, done = std::move(done)](Status s) {
    if (!s) {
      done(s.error());
    } else {
      done(RoutedOutcome{*w->stored, std::move(w->created)});
    }
  };
  enqueue(std::move(op));
}

void Store::submitQuarantined(NewMessage m, std::string reason, std::vector<audit::AuditEvent> events,
                              std::function<void(Result<SubmitOutcome>)> done) {
  auto out = std::make_shared<std::optional<SubmitOutcome>>();
  auto msg = std::make_shared<NewMessage>(std::move(m));
  auto shared = std::make_shared<std::vector<audit::AuditEvent>>(std::move(events));
  Op op;
  op.apply = [msg, out, shared, reason = std::move(reason)](Connection& db, AuditAppender& audit) -> Status {
    std::int64_t received_at = 0;
    if (auto s = storeMessage(db, audit, *msg, "quarantined", reason, RoutedAs{}, *out, received_at); !s) return s;
    if ((*out)->status == SubmitStatus::Duplicate) return {};
    const std::int64_t now = nowMs();
    for (auto& e : *shared) {
      if (e.time_ms == 0) e.time_ms = now;
      if (auto s = audit.append(e); !s) return s;
    }
    return {};
  };
  op.committed = answerFrom(out, std::move(done));
  enqueue(std::move(op));
}

void Store::route(std::int64_t message_seq, std::vector<NewDelivery> deliveries, std::vector<audit::AuditEvent> events,
                  std::function<void(Result<std::vector<DeliveryInfo>>)> done) {
  route(message_seq, RoutedAs{}, std::move(deliveries), std::move(events), std::move(done));
}

void Store::route(std::int64_t message_seq, RoutedAs as, std::vector<NewDelivery> deliveries,
                  std::vector<audit::AuditEvent> events, std::function<void(Result<std::vector<DeliveryInfo>>)> done) {
  auto created = std::make_shared<std::vector<DeliveryInfo>>();
  auto shared = std::make_shared<std::pair<std::vector<NewDelivery>, std::vector<audit::AuditEvent>>>(
      std::move(deliveries), std::move(events));
  Op op;
  op.apply = [message_seq, shared, created, as = std::move(as)](Connection& db, AuditAppender& audit) -> Status {
    created->clear();  // a second run (see Op) reports afresh
    const std::int64_t now = nowMs();
    auto up = db.prepare("UPDATE messages SET state = 'routed', updated_at = ? WHERE seq = ? AND state = 'received'");
    if (!up) return up.error();
    if (auto s = (*up)->bind(1, now).bind(2, message_seq).run(); !s) return s;
    if (db.changes() != 1) return fail("message #" + std::to_string(message_seq) + " is not waiting to be routed");
    if (!as.subject_key.empty() || !as.record_type.empty()) {
      auto learnt = db.prepare(
          "UPDATE messages SET subject_key = CASE WHEN ?1 = '' THEN subject_key ELSE ?1 END, "
          "record_type = CASE WHEN ?2 = '' THEN record_type ELSE ?2 END WHERE seq = ?3");
      if (!learnt) return learnt.error();
      if (auto s = (*learnt)->bind(1, as.subject_key).bind(2, as.record_type).bind(3, message_seq).run(); !s) return s;
    }
    auto info = db.prepare("SELECT id, subject_key, received_at FROM messages WHERE seq = ?");
    if (!info) return info.error();
    (*info)->bind(1, message_seq);
    auto row = (*info)->step();
    if (!row) return row.error();
    RoutedMessage m{message_seq, (*info)->columnText(0), (*info)->columnText(1), (*info)->columnInt(2)};
    (*info)->reset();
    if (auto s = storeDeliveries(db, m, shared->first, *created); !s) return s;
    for (auto& e : shared->second) {
      if (e.time_ms == 0) e.time_ms = now;
      if (auto s = audit.append(e); !s) return s;
    }
    return {};
  };
  op.committed = [created, done = std::move(done)](Status s) {
    if (!s) {
      done(s.error());
    } else {
      done(std::move(*created));
    }
  };
  enqueue(std::move(op));
}

void Store::quarantine(std::int64_t message_seq, std::string reason, std::vector<audit::AuditEvent> events,
                       std::function<void(Status)> done) {
  auto shared = std::make_shared<std::vector<audit::AuditEvent>>(std::move(events));
  Op op;
  op.apply = [message_seq, reason = std::move(reason), shared](Connection& db, AuditAppender& audit) -> Status {
    const std::int64_t now = nowMs();
    auto up = db.prepare(
        "UPDATE messages SET state = 'quarantined', error = ?, updated_at = ? WHERE seq = ? AND state = 'received'");
    if (!up) return up.error();
    if (auto s = (*up)->bind(1, reason).bind(2, now).bind(3, message_seq).run(); !s) return s;
    if (db.changes() != 1) return fail("message #" + std::to_string(message_seq) + " is not waiting to be routed");
    for (auto& e : *shared) {
      if (e.time_ms == 0) e.time_ms = now;
      if (auto s = audit.append(e); !s) return s;
    }
    return {};
  };
  op.committed = std::move(done);
  enqueue(std::move(op));
}

void Store::recordAttempt(std::int64_t delivery_seq, AttemptOutcome outcome, std::vector<audit::AuditEvent> events,
                          std::function<void(Status)> done) {
  // Entries prepared here, off the writer thread (see submitRouted).
  std::vector<PreparedAuditEntry> prepared;
  prepared.reserve(events.size());
  const std::int64_t reported_at = nowMs();
  for (auto& e : events) prepared.push_back(PreparedAuditEntry::of(std::move(e), reported_at));
  Op op;
  op.apply = [delivery_seq, outcome = std::move(outcome), prepared = std::move(prepared)](
                 Connection& db, AuditAppender& audit) -> Status {
    const std::int64_t now = nowMs();
    const char* state = outcome.kind == AttemptOutcome::Kind::Delivered ? "delivered"
                        : outcome.kind == AttemptOutcome::Kind::Dead    ? "dead"
                                                                        : "queued";
    auto up = db.prepare(
        "UPDATE deliveries SET state = ?, attempts = attempts + 1, next_attempt_at = ?, last_error = ?, "
        "updated_at = ? WHERE seq = ? AND state = 'queued'");
    if (!up) return up.error();
    (*up)->bind(1, state).bind(2, outcome.next_attempt_at_ms).bind(3, outcome.error).bind(4, now).bind(5, delivery_seq);
    if (auto s = (*up)->run(); !s) return s;
    if (db.changes() != 1) return fail("delivery #" + std::to_string(delivery_seq) + " is no longer queued");
    for (const auto& e : prepared) {
      if (auto s = audit.append(e); !s) return s;
    }
    return {};
  };
  op.committed = std::move(done);
  enqueue(std::move(op));
}

void Store::replay(std::vector<std::int64_t> delivery_seqs, audit::Actor who, std::string reason,
                   std::function<void(Result<std::vector<DeliveryInfo>>)> done) {
  moveDeliveries(std::move(delivery_seqs), DeliveryState::Dead, DeliveryState::Queued, audit::action::kReplayed,
                 std::move(who), std::move(reason), std::move(done));
}

void Store::decideHolds(std::vector<std::int64_t> delivery_seqs, bool approve, audit::Actor who, std::string reason,
                        std::function<void(Result<std::vector<DeliveryInfo>>)> done) {
  moveDeliveries(std::move(delivery_seqs), DeliveryState::Held, approve ? DeliveryState::Queued : DeliveryState::Refused,
                 approve ? audit::action::kHoldApproved : audit::action::kHoldRefused, std::move(who),
                 std::move(reason), std::move(done));
}

void Store::moveDeliveries(std::vector<std::int64_t> delivery_seqs, DeliveryState from, DeliveryState to,
                           const char* action, audit::Actor who, std::string reason,
                           std::function<void(Result<std::vector<DeliveryInfo>>)> done) {
  auto moved = std::make_shared<std::vector<DeliveryInfo>>();
  Op op;
  op.apply = [seqs = std::move(delivery_seqs), from, to, action, who = std::move(who), reason = std::move(reason),
              moved](Connection& db, AuditAppender& audit) -> Status {
    moved->clear();  // a second run (see Op) reports afresh
    const std::int64_t now = nowMs();
    for (auto seq : seqs) {
      // Attempts start again from nothing: a replayed or released delivery
      // gets the destination's whole retry budget.
      auto up = db.prepare(
          "UPDATE deliveries SET state = ?, attempts = 0, next_attempt_at = 0, updated_at = ? "
          "WHERE seq = ? AND state = ?");
      if (!up) return up.error();
      if (auto s = (*up)->bind(1, toString(to)).bind(2, now).bind(3, seq).bind(4, toString(from)).run(); !s) return s;
      if (db.changes() != 1) {
        return fail("delivery #" + std::to_string(seq) + " is not " +
                    (from == DeliveryState::Dead ? std::string("in the dead-letter queue") : "held for approval"));
      }
      auto sel = db.prepare(std::string("SELECT ") + kDeliveryColumns +
                            " FROM deliveries d JOIN messages m ON m.seq = d.message_seq WHERE d.seq = ?");
      if (!sel) return sel.error();
      (*sel)->bind(1, seq);
      auto rows = collectDeliveries(**sel);
      if (!rows) return rows.error();
      for (auto& d : *rows) {
        audit::AuditEvent e;
        e.time_ms = now;
        e.actor = who;
        e.action = action;
        e.outcome = audit::outcome::kSuccess;
        e.message_id = d.message_id;
        e.record_type = d.record_type;
        e.subject_key = d.subject_key;
        e.with("destination", d.destination).with("delivery", std::to_string(d.seq)).with("reason", reason);
        if (auto s = audit.append(e); !s) return s;
        moved->push_back(std::move(d));
      }
    }
    return {};
  };
  op.committed = [moved, done = std::move(done)](Status s) {
    if (!s) {
      done(s.error());
    } else {
      done(std::move(*moved));
    }
  };
  enqueue(std::move(op));
}

void Store::audit(std::vector<audit::AuditEvent> events, std::function<void(Status)> done) {
  Op op;
  op.apply = [events = std::move(events)](Connection&, AuditAppender& audit) mutable -> Status {
    const std::int64_t now = nowMs();
    for (auto& e : events) {
      if (e.time_ms == 0) e.time_ms = now;
      if (auto s = audit.append(e); !s) return s;
    }
    return {};
  };
  op.committed = std::move(done);
  enqueue(std::move(op));
}

Result<std::vector<DeliveryInfo>> Store::replaySync(std::vector<std::int64_t> delivery_seqs, audit::Actor who,
                                                    std::string reason) {
  std::promise<Result<std::vector<DeliveryInfo>>> p;
  auto f = p.get_future();
  replay(std::move(delivery_seqs), std::move(who), std::move(reason),
         [&p](Result<std::vector<DeliveryInfo>> r) { p.set_value(std::move(r)); });
  return f.get();
}

Result<std::vector<DeliveryInfo>> Store::decideHoldsSync(std::vector<std::int64_t> delivery_seqs, bool approve,
                                                         audit::Actor who, std::string reason) {
  std::promise<Result<std::vector<DeliveryInfo>>> p;
  auto f = p.get_future();
  decideHolds(std::move(delivery_seqs), approve, std::move(who), std::move(reason),
              [&p](Result<std::vector<DeliveryInfo>> r) { p.set_value(std::move(r)); });
  return f.get();
}

Status Store::auditSync(std::vector<audit::AuditEvent> events) {
  std::promise<Status> p;
  auto f = p.get_future();
  audit(std::move(events), [&p](Status s) { p.set_value(std::move(s)); });
  return f.get();
}

// ---- Reads -----------------------------------------------------------------

// The read ran before this sync started, so every WAL frame it saw is on
// disk when the sync returns (wal_sync.h).
template <class R>
R Store::durable(R read) {
  if (!read || !wal_sync_) return read;
  if (auto s = wal_sync_->sync(); !s) return s.error();
  return read;
}

Result<std::vector<MessageInfo>> Store::messagesInState(const std::string& state, std::size_t limit) {
  return durable([&]() -> Result<std::vector<MessageInfo>> {
    std::lock_guard lock(reader_mutex_);
    auto st = reader_->prepare(std::string("SELECT ") + kMessageColumns +
                               " FROM messages WHERE state = ? ORDER BY seq LIMIT ?");
    if (!st) return st.error();
    (*st)->bind(1, state).bind(2, static_cast<std::int64_t>(limit));
    std::vector<MessageInfo> out;
    for (;;) {
      auto row = (*st)->step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back(readMessage(**st));
    }
    (*st)->reset();
    return out;
  }());
}

Result<std::optional<MessageInfo>> Store::message(const std::string& message_id) {
  return durable([&]() -> Result<std::optional<MessageInfo>> {
    std::lock_guard lock(reader_mutex_);
    return findMessage(*reader_, "id", message_id);
  }());
}

Result<std::optional<MessageInfo>> Store::messageBySeq(std::int64_t seq) {
  std::lock_guard lock(reader_mutex_);
  return findMessage(*reader_, "seq", seq);
}

namespace {

// Reads the one blob `sql` selects (data, purged_at) for `seq`; `what`
// names the row in errors ("message #12").
Result<std::string> readBlob(Connection& db, const char* sql, std::int64_t seq, const std::string& what) {
  auto st = db.prepare(sql);
  if (!st) return st.error();
  (*st)->bind(1, seq);
  auto row = (*st)->step();
  if (!row) return row.error();
  if (!*row) return fail(what + " not found");
  if (!(*st)->columnIsNull(1)) {
    (*st)->reset();
    return fail(what + ": payload purged under the retention policy");
  }
  std::string data = (*st)->columnBlob(0);
  (*st)->reset();
  return data;
}

}  // namespace

Result<std::string> Store::payload(std::int64_t message_seq) {
  std::lock_guard lock(reader_mutex_);
  return readBlob(*reader_,
                  "SELECT b.data, b.purged_at FROM messages m JOIN blobs b ON b.id = m.payload_blob WHERE m.seq = ?",
                  message_seq, "message #" + std::to_string(message_seq));
}

Result<std::string> Store::deliveryPayload(std::int64_t delivery_seq) {
  std::lock_guard lock(reader_mutex_);
  return readBlob(*reader_,
                  "SELECT b.data, b.purged_at FROM deliveries d JOIN messages m ON m.seq = d.message_seq "
                  "JOIN blobs b ON b.id = COALESCE(d.payload_blob, m.payload_blob) WHERE d.seq = ?",
                  delivery_seq, "delivery #" + std::to_string(delivery_seq));
}

Result<std::vector<DeliveryInfo>> Store::deliveries(const DeliveryFilter& f) {
  return durable([&]() -> Result<std::vector<DeliveryInfo>> {
    std::lock_guard lock(reader_mutex_);
    std::string sql = std::string("SELECT ") + kDeliveryColumns +
                      " FROM deliveries d JOIN messages m ON m.seq = d.message_seq WHERE 1=1";
    if (f.state) sql += " AND d.state = ?1";
    if (!f.destination.empty()) sql += " AND d.destination = ?2";
    if (!f.message_id.empty()) sql += " AND m.id = ?3";
    sql += " ORDER BY d.seq LIMIT ?4";
    auto st = reader_->prepare(sql);
    if (!st) return st.error();
    if (f.state) (*st)->bind(1, toString(*f.state));
    if (!f.destination.empty()) (*st)->bind(2, f.destination);
    if (!f.message_id.empty()) (*st)->bind(3, f.message_id);
    (*st)->bind(4, static_cast<std::int64_t>(f.limit));
    return collectDeliveries(**st);
  }());
}

Result<std::optional<DeliveryInfo>> Store::delivery(std::int64_t seq) {
  std::lock_guard lock(reader_mutex_);
  auto st = reader_->prepare(std::string("SELECT ") + kDeliveryColumns +
                             " FROM deliveries d JOIN messages m ON m.seq = d.message_seq WHERE d.seq = ?");
  if (!st) return st.error();
  (*st)->bind(1, seq);
  return firstOf(collectDeliveries(**st));
}

Result<std::vector<DeliveryInfo>> Store::queuedDeliveries(std::int64_t after_seq, std::size_t limit) {
  return durable([&]() -> Result<std::vector<DeliveryInfo>> {
    std::lock_guard lock(reader_mutex_);
    auto st = reader_->prepare(std::string("SELECT ") + kDeliveryColumns +
                               " FROM deliveries d JOIN messages m ON m.seq = d.message_seq "
                               "WHERE d.state = 'queued' AND d.seq > ? ORDER BY d.seq LIMIT ?");
    if (!st) return st.error();
    (*st)->bind(1, after_seq).bind(2, static_cast<std::int64_t>(limit));
    return collectDeliveries(**st);
  }());
}

Result<QueueCounts> Store::counts() {
  return durable([&]() -> Result<QueueCounts> {
    std::lock_guard lock(reader_mutex_);
    QueueCounts c;
    auto st = reader_->prepare(
        "SELECT state, COUNT(*) FROM deliveries WHERE state IN ('queued','dead','held') GROUP BY state");
    if (!st) return st.error();
    for (;;) {
      auto row = (*st)->step();
      if (!row) return row.error();
      if (!*row) break;
      const std::string s = (*st)->columnText(0);
      const std::int64_t n = (*st)->columnInt(1);
      if (s == "queued") c.queued = n;
      if (s == "dead") c.dead = n;
      if (s == "held") c.held = n;
    }
    (*st)->reset();
    auto m = reader_->prepare(
        "SELECT (SELECT COUNT(*) FROM messages WHERE state = 'quarantined'), "
        "(SELECT COUNT(*) FROM messages WHERE state = 'received')");
    if (!m) return m.error();
    auto row = (*m)->step();
    if (!row) return row.error();
    c.quarantined = (*m)->columnInt(0);
    c.received_unrouted = (*m)->columnInt(1);
    (*m)->reset();
    return c;
  }());
}

Result<std::int64_t> Store::auditSize() {
  return durable([&]() -> Result<std::int64_t> {
    std::lock_guard lock(reader_mutex_);
    auto st = reader_->prepare("SELECT size FROM audit_state WHERE id = 1");
    if (!st) return st.error();
    auto row = (*st)->step();
    if (!row) return row.error();
    const std::int64_t n = *row ? (*st)->columnInt(0) : 0;
    (*st)->reset();
    return n;
  }());
}

namespace {

constexpr const char* kAuditRowColumns =
    "seq, time, action, outcome, actor, message_id, record_type, source_org, destination_org, entry";

Result<std::vector<AuditRow>> collectAuditRows(Statement& st) {
  std::vector<AuditRow> out;
  for (;;) {
    auto row = st.step();
    if (!row) return row.error();
    if (!*row) break;
    AuditRow a;
    a.seq = st.columnInt(0);
    a.time_ms = st.columnInt(1);
    a.action = st.columnText(2);
    a.outcome = st.columnText(3);
    a.actor = st.columnText(4);
    a.message_id = st.columnText(5);
    a.record_type = st.columnText(6);
    a.source_org = st.columnText(7);
    a.destination_org = st.columnText(8);
    a.entry = st.columnText(9);
    out.push_back(std::move(a));
  }
  st.reset();
  return out;
}

}  // namespace

Result<std::vector<AuditRow>> Store::auditEntries(std::int64_t from_seq, std::size_t limit) {
  return durable([&]() -> Result<std::vector<AuditRow>> {
    std::lock_guard lock(reader_mutex_);
    auto st = reader_->prepare(std::string("SELECT ") + kAuditRowColumns +
                               " FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?");
    if (!st) return st.error();
    (*st)->bind(1, from_seq).bind(2, static_cast<std::int64_t>(limit));
    return collectAuditRows(**st);
  }());
}

bool Store::changedElsewhere() {
  // PRAGMA data_version on the writer connection moves only when *another*
  // connection commits (https://sqlite.org/pragma.html#pragma_data_version),
  // i.e. the CLI replayed or approved something. Checked on the writer thread.
  std::promise<bool> p;
  auto f = p.get_future();
  auto changed = std::make_shared<bool>(false);
  Op op;
  op.apply = [this, changed](Connection& db, AuditAppender&) -> Status {
    const std::int64_t v = db.dataVersion();
    // "||": on a second run of the batch (see Op) the first has already
    // taken the new version.
    *changed = *changed || v != last_data_version_;
    last_data_version_ = v;
    return {};
  };
  op.committed = [&p, changed](Status) { p.set_value(*changed); };
  enqueue(std::move(op));
  return f.get();
}

// ---- Audit log: tree state, leaves and signed checkpoints (issue #5 items 3-4) ----

namespace {

constexpr const char* kAuditLeafColumns =
    "seq, time, action, outcome, actor, message_id, record_type, source_org, destination_org, entry, subject_key, "
    "leaf_hash, agreement, purpose, decision, "
    "subject_key = '' OR message_id = '' OR EXISTS(SELECT 1 FROM audit_subject_messages s "
    "WHERE s.subject_key = audit_log.subject_key AND s.message_id = audit_log.message_id)";

AuditLeafRow readAuditLeaf(const Statement& st) {
  AuditLeafRow l;
  l.row.seq = st.columnInt(0);
  l.row.time_ms = st.columnInt(1);
  l.row.action = st.columnText(2);
  l.row.outcome = st.columnText(3);
  l.row.actor = st.columnText(4);
  l.row.message_id = st.columnText(5);
  l.row.record_type = st.columnText(6);
  l.row.source_org = st.columnText(7);
  l.row.destination_org = st.columnText(8);
  l.row.entry = st.columnText(9);
  l.subject_key = st.columnText(10);
  l.leaf_hash = st.columnBlob(11);
  l.agreement = st.columnText(12);
  l.purpose = st.columnText(13);
  l.decision = st.columnText(14);
  l.findable_by_person = st.columnInt(15) != 0;
  return l;
}

Result<std::vector<AuditLeafRow>> readAuditLeaves(Connection& db, std::int64_t from_seq, std::size_t limit) {
  auto st = db.prepare(std::string("SELECT ") + kAuditLeafColumns +
                       " FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?");
  if (!st) return st.error();
  (*st)->bind(1, from_seq).bind(2, static_cast<std::int64_t>(limit));
  std::vector<AuditLeafRow> out;
  out.reserve(std::min<std::size_t>(limit, 8192));
  for (;;) {
    auto row = (*st)->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(readAuditLeaf(**st));
  }
  (*st)->reset();
  return out;
}

Result<AuditTreeState> readAuditTreeState(Connection& db) {
  auto st = db.prepare("SELECT size, frontier FROM audit_state WHERE id = 1");
  if (!st) return st.error();
  auto row = (*st)->step();
  if (!row) return row.error();
  if (!*row) return fail(db.path().string() + ": audit: the tree state row is missing; the store is damaged");
  AuditTreeState s{(*st)->columnInt(0), (*st)->columnBlob(1)};
  (*st)->reset();
  return s;
}

constexpr const char* kCheckpointColumns = "tree_size, root, time, note";

Result<std::vector<AuditCheckpointRow>> readCheckpoints(Statement& st) {
  std::vector<AuditCheckpointRow> out;
  for (;;) {
    auto row = st.step();
    if (!row) return row.error();
    if (!*row) break;
    AuditCheckpointRow c;
    c.tree_size = st.columnInt(0);
    const std::string root = st.columnBlob(1);
    // A root of the wrong length stays all zeros: it cannot match any tree,
    // so verification reports the checkpoint rather than skipping it.
    if (root.size() == c.root.size()) std::copy(root.begin(), root.end(), c.root.begin());
    c.time_s = st.columnInt(2);
    c.note = st.columnText(3);
    out.push_back(std::move(c));
  }
  st.reset();
  return out;
}

}  // namespace

Result<AuditTreeState> Store::auditTreeState() {
  return durable([&]() -> Result<AuditTreeState> {
    std::lock_guard lock(reader_mutex_);
    return readAuditTreeState(*reader_);
  }());
}

Result<std::vector<AuditLeafRow>> Store::auditLeaves(std::int64_t from_seq, std::size_t limit) {
  return durable([&]() -> Result<std::vector<AuditLeafRow>> {
    std::lock_guard lock(reader_mutex_);
    return readAuditLeaves(*reader_, from_seq, limit);
  }());
}

Status Store::auditLeafHashes(std::int64_t begin, std::span<Sha256> out) {
  std::lock_guard lock(reader_mutex_);
  auto st = reader_->prepare("SELECT seq, leaf_hash FROM audit_log WHERE seq >= ? AND seq < ? ORDER BY seq");
  if (!st) return st.error();
  const auto end = begin + static_cast<std::int64_t>(out.size());
  (*st)->bind(1, begin).bind(2, end);
  std::int64_t next = begin;
  for (;;) {
    auto row = (*st)->step();
    if (!row) return row.error();
    if (!*row) break;
    const std::int64_t seq = (*st)->columnInt(0);
    const std::string hash = (*st)->columnBlob(1);
    if (seq != next || hash.size() != 32) {
      (*st)->reset();
      return fail("audit entry " + std::to_string(next) + (seq != next ? " is missing" : " has a damaged leaf hash") +
                  "; run `carebridge audit verify`");
    }
    std::copy(hash.begin(), hash.end(), out[static_cast<std::size_t>(next - begin)].begin());
    ++next;
  }
  (*st)->reset();
  if (next != end) return fail("audit entry " + std::to_string(next) + " is missing; run `carebridge audit verify`");
  return {};
}

Status Store::scanAudit(AuditScanner& scanner, std::size_t batch_size) {
  return durable([&]() -> Status {
    std::lock_guard lock(reader_mutex_);
    // One read transaction: in WAL mode it sees one committed snapshot
    // (https://sqlite.org/isolation.html), however long the scan takes.
    if (auto s = reader_->exec("BEGIN"); !s) return s;
    auto run = [&]() -> Status {
      auto state = readAuditTreeState(*reader_);
      if (!state) return state.error();
      auto st = reader_->prepare(std::string("SELECT ") + kCheckpointColumns +
                                 " FROM audit_checkpoints ORDER BY tree_size");
      if (!st) return st.error();
      auto cps = readCheckpoints(**st);
      if (!cps) return cps.error();
      if (auto s = scanner.begin(*state, std::move(*cps)); !s) return s;
      std::int64_t from = 0;
      for (;;) {
        auto rows = readAuditLeaves(*reader_, from, batch_size);
        if (!rows) return rows.error();
        if (rows->empty()) return {};
        from = rows->back().row.seq + 1;
        if (auto s = scanner.leaves(*rows); !s) return s;
        if (rows->size() < batch_size) return {};
      }
    };
    Status result = run();
    (void)reader_->exec("COMMIT");
    return result;
  }());
}

void Store::appendAuditCheckpoint(AuditCheckpointRow checkpoint, std::function<void(Status)> done) {
  Op op;
  op.apply = [cp = std::move(checkpoint)](Connection& db, AuditAppender&) -> Status {
    // Checked inside the write transaction: checkpoints only move forward and
    // never claim entries the log does not hold.
    auto last = db.prepare("SELECT COALESCE(MAX(tree_size), -1) FROM audit_checkpoints");
    if (!last) return last.error();
    auto row = (*last)->step();
    if (!row) return row.error();
    const std::int64_t latest = (*last)->columnInt(0);
    (*last)->reset();
    if (cp.tree_size <= latest) {
      return fail("audit checkpoint at size " + std::to_string(cp.tree_size) +
                  " refused: a checkpoint at size " + std::to_string(latest) + " is already stored");
    }
    auto state = readAuditTreeState(db);
    if (!state) return state.error();
    if (cp.tree_size > state->size) {
      return fail("audit checkpoint at size " + std::to_string(cp.tree_size) + " refused: the log holds only " +
                  std::to_string(state->size) + " entries");
    }
    if (cp.tree_size == state->size && cp.tree_size > 0) {
      auto f = audit::MerkleFrontier::fromBytes(state->frontier);
      if (!f || f->root() != cp.root) {
        return fail("audit checkpoint at size " + std::to_string(cp.tree_size) +
                    " refused: its root is not the stored tree's root");
      }
    }
    auto ins = db.prepare("INSERT INTO audit_checkpoints(tree_size, root, time, note) VALUES (?,?,?,?)");
    if (!ins) return ins.error();
    (*ins)->bind(1, cp.tree_size)
        .bindBlob(2, std::string_view(reinterpret_cast<const char*>(cp.root.data()), cp.root.size()))
        .bind(3, cp.time_s)
        .bind(4, cp.note);
    return (*ins)->run();
  };
  op.committed = std::move(done);
  enqueue(std::move(op));
}

Status Store::appendAuditCheckpointSync(AuditCheckpointRow checkpoint) {
  std::promise<Status> p;
  auto f = p.get_future();
  appendAuditCheckpoint(std::move(checkpoint), [&p](Status s) { p.set_value(std::move(s)); });
  return f.get();
}

Result<std::vector<AuditCheckpointRow>> Store::auditCheckpoints(std::int64_t from_size, std::size_t limit) {
  return durable([&]() -> Result<std::vector<AuditCheckpointRow>> {
    std::lock_guard lock(reader_mutex_);
    auto st = reader_->prepare(std::string("SELECT ") + kCheckpointColumns +
                               " FROM audit_checkpoints WHERE tree_size >= ? ORDER BY tree_size LIMIT ?");
    if (!st) return st.error();
    (*st)->bind(1, from_size).bind(2, static_cast<std::int64_t>(limit));
    return readCheckpoints(**st);
  }());
}

Result<std::optional<AuditCheckpointRow>> Store::auditCheckpoint(std::int64_t tree_size) {
  return durable([&]() -> Result<std::optional<AuditCheckpointRow>> {
    std::lock_guard lock(reader_mutex_);
    auto st = reader_->prepare(std::string("SELECT ") + kCheckpointColumns +
                               " FROM audit_checkpoints WHERE tree_size = ?");
    if (!st) return st.error();
    (*st)->bind(1, tree_size);
    return firstOf(readCheckpoints(**st));
  }());
}

Result<std::optional<AuditCheckpointRow>> Store::latestAuditCheckpoint() {
  return durable([&]() -> Result<std::optional<AuditCheckpointRow>> {
    std::lock_guard lock(reader_mutex_);
    auto st = reader_->prepare(std::string("SELECT ") + kCheckpointColumns +
                               " FROM audit_checkpoints ORDER BY tree_size DESC LIMIT 1");
    if (!st) return st.error();
    return firstOf(readCheckpoints(**st));
  }());
}

void Store::transact(std::function<Status(Connection&, AuditAppender&)> apply, std::function<void(Status)> done) {
  Op op;
  op.apply = std::move(apply);
  op.committed = std::move(done);
  enqueue(std::move(op));
}

Status Store::transactSync(std::function<Status(Connection&, AuditAppender&)> apply) {
  std::promise<Status> p;
  auto f = p.get_future();
  transact(std::move(apply), [&p](Status s) { p.set_value(std::move(s)); });
  return f.get();
}

Status Store::read(const std::function<Status(Connection&)>& reader) {
  return durable([&]() -> Status {
    std::lock_guard lock(reader_mutex_);
    return reader(*reader_);
  }());
}

Sha256 StoreLeafHashSource::leafHash(std::uint64_t index) const {
  Sha256 out{};
  if (auto s = readLeafHashes(index, std::span<Sha256>(&out, 1)); !s) {
    // The proof functions catch this and return it as an Error (merkle.h).
    throw std::runtime_error(s.error().message);
  }
  return out;
}

Status StoreLeafHashSource::readLeafHashes(std::uint64_t begin, std::span<Sha256> out) const {
  if (begin + out.size() > size_) return fail("audit: leaf range beyond the tree size");
  return store_.auditLeafHashes(static_cast<std::int64_t>(begin), out);
}

// ---- end of the audit log block ----

}  // namespace cb::store
