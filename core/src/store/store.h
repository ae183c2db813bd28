#pragma once
// The durable message store: every record carebridge accepts, and every
// state it passes through, lives here before anything is acknowledged or
// sent. The embedded default is one SQLite file in WAL mode.
//
// States:
//   message:  received -> routed | quarantined; a record the route stage
//             saw before it was stored (submitRouted, submitQuarantined)
//             starts as routed or quarantined
//   delivery: queued -> delivered | dead | (held -> queued | refused)
//
// Every state change is one store transaction that also writes the audit
// entries describing it (no change without its entry, no entry without its
// change: if the audit write fails the change is rolled back and nothing is
// shared). Writes go through one writer thread that commits in groups
// ("group commit"): many operations share one transaction and one fsync, and
// each operation's completion runs only after its transaction is durable.
// That fsync overlaps the next transaction: the writer commits without
// waiting for the disk and the completion thread makes the WAL durable
// before it reports (wal_sync.h says why that is as safe as waiting).
//
// Several processes may use the same file (the daemon and the `carebridge`
// CLI): each transaction takes SQLite's write lock (BEGIN IMMEDIATE) and
// reads the audit log's Merkle state inside it, so appends stay contiguous.

#include "audit/audit_event.h"
#include "audit/merkle.h"
#include "common/digest.h"
#include "common/result.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

struct sqlite3;

namespace cb::store {

class Connection;
class WalSync;
class AuditAppender;

enum class DeliveryState { Queued, Delivered, Dead, Held, Refused };
const char* toString(DeliveryState s);
std::optional<DeliveryState> deliveryStateFrom(std::string_view s);

/// A record as received, before it is stored.
struct NewMessage {
  std::string id;                 ///< carebridge's id for it; "" = the store makes one (a UUIDv7)
  std::string source;             ///< inbound adapter instance
  std::string source_org;         ///< its organisation (for the audit trail)
  std::string sender_message_id;  ///< the sender's id; empty = no duplicate detection
  std::string content_type;
  std::string record_type;
  std::string subject_key;        ///< keyed hash of the person, "" if unknown
  std::string payload;
  std::int64_t received_at_ms = 0;
};

/// A message's row (payload fetched separately).
struct MessageInfo {
  std::int64_t seq = 0;
  std::string id;
  std::string source;
  std::string sender_message_id;
  std::string content_type;
  std::string record_type;
  std::string subject_key;
  std::string payload_sha256;
  std::string state;  ///< received | routed | quarantined
  std::string error;
  std::int64_t received_at_ms = 0;
};

/// One queued copy of a message for one destination.
struct NewDelivery {
  std::string destination;  ///< outbound adapter instance
  std::string route;
  std::string content_type;
  std::string record_type;
  std::optional<std::string> payload;  ///< rendered bytes; nullopt = the message's payload unchanged
  DeliveryState state = DeliveryState::Queued;
};

struct DeliveryInfo {
  std::int64_t seq = 0;  ///< creation order; per destination and person, deliveries go in this order
  std::int64_t message_seq = 0;
  std::string message_id;
  std::string destination;
  std::string route;
  std::string content_type;
  std::string record_type;
  std::string subject_key;
  DeliveryState state = DeliveryState::Queued;
  std::uint32_t attempts = 0;
  std::int64_t next_attempt_at_ms = 0;
  std::string last_error;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::int64_t received_at_ms = 0;  ///< when the message arrived (end-to-end latency)
  /// The bytes to deliver while the pipeline still holds them (the route
  /// stage sets it on deliveries it has just stored; the store's reads never
  /// do). Null: read them from the store (deliveryPayload) when sending.
  std::shared_ptr<const std::string> payload;
};

/// What became of one delivery attempt.
struct AttemptOutcome {
  enum class Kind { Delivered, Retry, Dead } kind;
  std::string error;                 ///< for Retry/Dead: why (no record content)
  std::int64_t next_attempt_at_ms = 0;  ///< for Retry
};

enum class SubmitStatus { Stored, Duplicate };
struct SubmitOutcome {
  SubmitStatus status;
  std::int64_t seq;
  std::string message_id;
};

struct StoreOptions {
  std::filesystem::path path;
  /// true: nothing is reported committed, and no read that may be acted on
  /// returns a row, before it is on disk (the WAL is fdatasynced after each
  /// group commit and after such reads; see wal_sync.h and "Reads" below).
  /// false (config `synchronous = "normal"`, for measurements): a power cut
  /// can lose commits already reported.
  bool synchronous_full = true;
  /// The call that makes the WAL durable; empty means ::fdatasync. Tests
  /// pass a failing one to check that the store fails closed.
  std::function<int(int fd)> sync_call;
  std::size_t group_commit_max = 1000;
  /// WAL pages after which a background thread copies the log back into
  /// the database (a checkpoint), off the writer's path. A checkpoint copies
  /// each page once however often commits rewrote it meanwhile (the tails
  /// of the tables and indexes), so a longer WAL copies less per record:
  /// 32768 pages (128 MiB) took the checkpoint thread's CPU from about 35 to
  /// 24 us per record against 8192 (bench/pipeline). The price: up to
  /// 128 MiB more disk, and more WAL for SQLite to read when a store is
  /// opened after a crash.
  int checkpoint_pages = 32768;
  /// WAL pages at which the writer checkpoints itself (the WAL never grows
  /// past about this, should the background thread fall behind): 512 MiB.
  int checkpoint_stall_pages = 4 * 32768;
};

/// A filter for listing deliveries (`carebridge queue list`).
struct DeliveryFilter {
  std::optional<DeliveryState> state;
  std::string destination;
  std::string message_id;
  std::size_t limit = 100;
};

/// One audit entry as stored (the canonical entry plus indexed copies).
struct AuditRow {
  std::int64_t seq = 0;  ///< Merkle leaf index
  std::int64_t time_ms = 0;
  std::string action;
  std::string outcome;
  std::string actor;
  std::string message_id;
  std::string record_type;
  std::string source_org;
  std::string destination_org;
  std::string entry;  ///< the canonical bytes that were hashed
};

/// Counts for metrics and health.
struct QueueCounts {
  std::int64_t queued = 0;
  std::int64_t dead = 0;
  std::int64_t held = 0;
  std::int64_t quarantined = 0;
  std::int64_t received_unrouted = 0;
};

// ---- Audit log: tree state, leaves and signed checkpoints (issue #5 items 3-4) ----

/// The Merkle tree state committed with the last audit entry.
struct AuditTreeState {
  std::int64_t size = 0;
  std::string frontier;  ///< audit::MerkleFrontier::toBytes(), empty for the empty tree
};

/// One audit entry with everything verification needs: the canonical bytes,
/// the leaf hash written beside them and the indexed copies of their fields.
struct AuditLeafRow {
  AuditRow row;
  std::string subject_key;
  std::string leaf_hash;  ///< 32 raw bytes as stored (a damaged row may hold anything)
  /// Indexed copies of the details of the same names (schema v3, for IG
  /// queries); "" when the entry has no such detail.
  std::string agreement;
  std::string purpose;
  std::string decision;
  /// False when the entry names a person and a message but the pair is
  /// missing from audit_subject_messages (schema v5), through which person
  /// queries find an entry: such an entry would be left out of them.
  bool findable_by_person = true;
};

/// A signed checkpoint as stored in `audit_checkpoints`.
struct AuditCheckpointRow {
  std::int64_t tree_size = 0;
  Sha256 root{};
  std::int64_t time_s = 0;  ///< signing time, Unix seconds
  std::string note;         ///< the signed note, exactly as signed and published
};

/// Receives the audit log from Store::scanAudit(), all read in one read
/// transaction, so the state, the entries and the checkpoints agree with one
/// another even while the daemon keeps appending.
class AuditScanner {
 public:
  virtual ~AuditScanner() = default;
  /// First: the tree state and every checkpoint, oldest first.
  virtual Status begin(const AuditTreeState& state, std::vector<AuditCheckpointRow> checkpoints) = 0;
  /// Then every stored entry in seq order (rows beyond the state's size
  /// too), in batches. An error stops the scan and is returned by it.
  virtual Status leaves(std::span<const AuditLeafRow> batch) = 0;
};

// ---- end of the audit log block ----

class Store {
 public:
  /// Opens (creating or migrating) the store and starts the writer thread.
  static Result<std::unique_ptr<Store>> open(const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // ---- Writes: asynchronous, group-committed. `done` runs on the store's
  // completion thread after the transaction is durable (or failed), in
  // commit order; keep it short, and never wait in it for another store
  // write (that write's own report would queue behind it).

  /// Stores a received message with its receipt audit entry. A message from
  /// the same source with the same sender id is a duplicate: not stored
  /// again; the outcome names the first copy's id.
  void submit(NewMessage message, std::function<void(Result<SubmitOutcome>)> done);

  /// Records the pipeline's result for a received message: the deliveries it
  /// produced (possibly none) and the audit entries for translation and
  /// decisions. Fails if the message is not in state `received` (already routed).
  void route(std::int64_t message_seq, std::vector<NewDelivery> deliveries, std::vector<audit::AuditEvent> events,
             std::function<void(Result<std::vector<DeliveryInfo>>)> done);
  /// What translation learnt about a message: the keyed hash of the person
  /// it concerns (so per-person ordering holds for mapped records whose
  /// sender named no subject) and its canonical record type. Empty fields
  /// leave the stored values as they are.
  struct RoutedAs {
    std::string subject_key;
    std::string record_type;
  };
  /// As route(), also storing what translation learnt, in the same transaction.
  void route(std::int64_t message_seq, RoutedAs as, std::vector<NewDelivery> deliveries,
             std::vector<audit::AuditEvent> events, std::function<void(Result<std::vector<DeliveryInfo>>)> done);

  /// What submitRouted() stored: the message (or, for a duplicate, the first
  /// copy, with no deliveries) and the deliveries it produced.
  struct RoutedOutcome {
    SubmitOutcome message;
    std::vector<DeliveryInfo> deliveries;
  };
  /// Stores a new record already routed, in one operation: the message, its
  /// receipt entry, the deliveries the route stage produced and the entries
  /// for translation and decisions (the route stage runs before the store
  /// when it can decide at once, so a record costs one transaction, not two).
  /// The events name `message.id`, so the caller sets it. A duplicate gets
  /// only its duplicate entry; `deliveries` and `events` are dropped.
  void submitRouted(NewMessage message, RoutedAs as, std::vector<NewDelivery> deliveries,
                    std::vector<audit::AuditEvent> events, std::function<void(Result<RoutedOutcome>)> done);
  /// Stores a new record that could not be translated as quarantined, with
  /// the reason and its audit entries (receipt, then `events`), in one
  /// operation. A duplicate gets only its duplicate entry.
  void submitQuarantined(NewMessage message, std::string reason, std::vector<audit::AuditEvent> events,
                         std::function<void(Result<SubmitOutcome>)> done);

  /// Marks a message quarantined (it could not be translated) with the reason.
  void quarantine(std::int64_t message_seq, std::string reason, std::vector<audit::AuditEvent> events,
                  std::function<void(Status)> done);

  /// Records one delivery attempt's outcome and its audit entries.
  void recordAttempt(std::int64_t delivery_seq, AttemptOutcome outcome, std::vector<audit::AuditEvent> events,
                     std::function<void(Status)> done);

  /// Puts dead-lettered deliveries back in the queue (attempts reset), with
  /// an audit entry naming who asked. Returns the deliveries replayed.
  void replay(std::vector<std::int64_t> delivery_seqs, audit::Actor who, std::string reason,
              std::function<void(Result<std::vector<DeliveryInfo>>)> done);

  /// Settles disclosures held for approval (PRODUCT.md "held for a person to
  /// approve"): approved ones are queued for delivery, refused ones end
  /// there. Each writes an audit entry with the approver and their reason.
  void decideHolds(std::vector<std::int64_t> delivery_seqs, bool approve, audit::Actor who, std::string reason,
                   std::function<void(Result<std::vector<DeliveryInfo>>)> done);

  /// Appends audit entries that accompany no state change (start, stop,
  /// config load, TLS refusal, views).
  void audit(std::vector<audit::AuditEvent> events, std::function<void(Status)> done);

  /// Synchronous convenience wrappers (for the CLI and tests): submit the
  /// operation and wait for its commit.
  Result<std::vector<DeliveryInfo>> replaySync(std::vector<std::int64_t> delivery_seqs, audit::Actor who,
                                               std::string reason);
  Status auditSync(std::vector<audit::AuditEvent> events);
  Result<std::vector<DeliveryInfo>> decideHoldsSync(std::vector<std::int64_t> delivery_seqs, bool approve,
                                                    audit::Actor who, std::string reason);

  /// Waits until every write queued so far has committed.
  void flush();

  // ---- Reads: synchronous, on a reader connection (thread-safe; serialised).
  // Each read below returns only rows already on disk (it syncs the WAL
  // after reading), so what it returns may be sent, published or shown:
  // a power cut cannot take back a delivery or an audit entry someone has
  // seen. The exceptions are payload, deliveryPayload, messageBySeq,
  // delivery(seq) and auditLeafHashes: their callers know the rows from a
  // durable report or read already (leaf hashes are read below a tree size
  // read before), and a newer state they see only ever holds a send back.

  Result<std::vector<MessageInfo>> messagesInState(const std::string& state, std::size_t limit);
  Result<std::optional<MessageInfo>> message(const std::string& message_id);
  Result<std::optional<MessageInfo>> messageBySeq(std::int64_t seq);
  Result<std::string> payload(std::int64_t message_seq);
  /// The bytes to deliver: the rendered payload, or the message's own.
  Result<std::string> deliveryPayload(std::int64_t delivery_seq);
  Result<std::vector<DeliveryInfo>> deliveries(const DeliveryFilter& filter);
  Result<std::optional<DeliveryInfo>> delivery(std::int64_t seq);
  /// Queued deliveries in creation order, for the scheduler at start-up and
  /// after another process changed the store.
  Result<std::vector<DeliveryInfo>> queuedDeliveries(std::int64_t after_seq, std::size_t limit);
  Result<QueueCounts> counts();
  /// Number of audit entries (the Merkle tree size).
  Result<std::int64_t> auditSize();
  /// Audit entries with seq >= from_seq, oldest first.
  Result<std::vector<AuditRow>> auditEntries(std::int64_t from_seq, std::size_t limit);
  /// True when another connection has committed since the last call.
  bool changedElsewhere();

  // ---- Audit log: tree state, leaves and signed checkpoints (issue #5 items 3-4).
  // Reads use the reader connection; appending a checkpoint goes through the
  // writer thread like every other write.

  /// The committed tree state (size and frontier), read in one statement.
  Result<AuditTreeState> auditTreeState();
  /// Audit entries with seq >= from_seq with their leaf hashes, oldest first.
  Result<std::vector<AuditLeafRow>> auditLeaves(std::int64_t from_seq, std::size_t limit);
  /// The stored leaf hashes of entries [begin, begin + out.size()); fails
  /// naming the first entry that is missing or whose hash is not 32 bytes.
  Status auditLeafHashes(std::int64_t begin, std::span<Sha256> out);
  /// Reads the whole audit log in one read transaction (see AuditScanner).
  Status scanAudit(AuditScanner& scanner, std::size_t batch_size = 8192);

  /// Appends a signed checkpoint. Refused unless its tree size is larger
  /// than every stored checkpoint's and at most the committed tree size, and,
  /// when it equals the tree size, unless its root is the committed root.
  void appendAuditCheckpoint(AuditCheckpointRow checkpoint, std::function<void(Status)> done);
  Status appendAuditCheckpointSync(AuditCheckpointRow checkpoint);
  /// Checkpoints with tree_size >= from_size, oldest first.
  Result<std::vector<AuditCheckpointRow>> auditCheckpoints(std::int64_t from_size, std::size_t limit);
  /// The checkpoint at exactly `tree_size`, if one was signed.
  Result<std::optional<AuditCheckpointRow>> auditCheckpoint(std::int64_t tree_size);
  /// The newest checkpoint, if any.
  Result<std::optional<AuditCheckpointRow>> latestAuditCheckpoint();

  /// Runs `apply` as one operation of a write transaction on the writer
  /// thread, like every built-in write: its SQL and the audit entries it
  /// appends commit together or not at all. For components that keep their
  /// own state in the store (queries' export cursors, payload retention).
  /// `apply` may run twice (if another operation of its batch fails, the
  /// batch runs again), so it must set what it reports, not add to it.
  /// `done` runs on the completion thread after the commit.
  void transact(std::function<Status(Connection&, AuditAppender&)> apply, std::function<void(Status)> done);
  Status transactSync(std::function<Status(Connection&, AuditAppender&)> apply);
  /// Runs `reader` on the reader connection (reads are serialised), then
  /// syncs the WAL (see Reads above). Wrap several statements in
  /// BEGIN/COMMIT inside it for one snapshot.
  Status read(const std::function<Status(Connection&)>& reader);

  // ---- end of the audit log block

  const std::filesystem::path& path() const { return options_.path; }

 private:
  struct Op {
    // Runs inside the batch transaction; returning an error rolls back only
    // this operation, others in the batch still commit. It may run twice:
    // when another operation of the batch fails, the batch is rolled back
    // and run again with a savepoint per operation (runBatch). So it sets
    // what it reports afresh on each run rather than adding to it.
    std::function<Status(Connection&, AuditAppender&)> apply;
    // Called after COMMIT with the op's own status (or the commit's failure).
    std::function<void(Status)> committed;
  };

  explicit Store(StoreOptions options);
  void enqueue(Op op);
  // Moves deliveries from one state to another with an audit entry each
  // (replay: dead -> queued; approval: held -> queued or refused).
  void moveDeliveries(std::vector<std::int64_t> delivery_seqs, DeliveryState from, DeliveryState to,
                      const char* action, audit::Actor who, std::string reason,
                      std::function<void(Result<std::vector<DeliveryInfo>>)> done);
  // An operation's `committed` with the status to give it.
  using Completion = std::pair<std::function<void(Status)>, Status>;
  void writerLoop();
  // Runs the batch's transaction; returns what to report, in batch order.
  std::vector<Completion> runBatch(std::vector<Op>& batch);
  // Reports committed batches in commit order (see completion_thread_).
  void completionLoop();
  enum class Isolation { WholeBatch, PerOperation };
  struct BatchOutcome {
    Status commit;              ///< the transaction's own status
    bool run_isolated = false;  ///< rolled back: run again with Isolation::PerOperation
  };
  // Runs the batch as one transaction. WholeBatch rolls everything back at
  // the first failing operation (of several) and asks for an isolated run;
  // PerOperation gives each operation a savepoint, so a failure rolls back alone.
  BatchOutcome applyBatch(std::vector<Op>& batch, std::vector<Status>& results, Isolation isolation);

  // Makes what a read saw durable before it is returned (see Reads).
  template <class R>
  R durable(R read);

  StoreOptions options_;
  // Null when options_.synchronous_full is false. Declared before the
  // connections so it outlives them.
  std::unique_ptr<WalSync> wal_sync_;
  std::unique_ptr<Connection> writer_;
  std::unique_ptr<Connection> reader_;
  std::mutex reader_mutex_;
  std::int64_t last_data_version_ = -1;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  std::deque<Op> queue_;
  std::size_t in_progress_ = 0;
  bool stopping_ = false;
  std::thread writer_thread_;
  // Committed batches wait here to be reported. Reporting (acknowledging
  // senders, handing deliveries to the scheduler) wakes other threads, and
  // on the writer thread it took about a quarter of the writer's time, with
  // the next batch waiting behind it; on a thread of its own it overlaps
  // the next transaction. One thread, so reports keep commit order.
  std::deque<std::vector<Completion>> completions_;
  std::condition_variable completions_ready_;
  bool completions_running_ = false;
  bool completions_stopping_ = false;
  std::thread completion_thread_;

  // WAL checkpoints run on a connection and thread of their own (see
  // checkpointLoop): the writer's commits never wait for one unless the WAL
  // reaches checkpoint_stall_pages.
  static int walHook(void* self, ::sqlite3* db, const char* name, int pages);
  void checkpointLoop();
  std::unique_ptr<Connection> checkpointer_;
  std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_wake_;
  int wal_pages_ = 0;  // after the writer's last commit; guarded by checkpoint_mutex_
  bool checkpoint_stopping_ = false;
  std::thread checkpoint_thread_;
};

// ---- Audit log block (issue #5): the stored leaf hashes as a Merkle source.

/// The leaf hashes of the store's audit log, for the proof functions of
/// audit/merkle.h. The size is fixed when constructed (the log may grow
/// meanwhile; proofs are for a checkpoint's size). Read failures (a missing
/// entry, a damaged hash) come back from the proof functions as Errors.
class StoreLeafHashSource final : public audit::LeafHashSource {
 public:
  /// OWNERSHIP: `store` must outlive this source.
  StoreLeafHashSource(Store& store, std::uint64_t size) : store_(store), size_(size) {}

  std::uint64_t size() const override { return size_; }
  Sha256 leafHash(std::uint64_t index) const override;
  Status readLeafHashes(std::uint64_t begin, std::span<Sha256> out) const override;

 private:
  Store& store_;
  std::uint64_t size_;
};

}  // namespace cb::store
