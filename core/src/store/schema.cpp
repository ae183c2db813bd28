#include "store/schema.h"

#include "store/sqlite.h"

#include <string>

namespace cb::store {
namespace {

// Version 1. Payloads live in their own insert-only table so that state
// changes (small rows) never rewrite a record's bytes; purging a payload
// (retention) clears `blobs.data` and leaves every audit entry intact.
constexpr const char* kV1 = R"sql(
CREATE TABLE blobs(
  id INTEGER PRIMARY KEY,
  data BLOB,                      -- NULL once purged
  purged_at INTEGER
);

CREATE TABLE messages(
  seq INTEGER PRIMARY KEY,        -- arrival order
  id TEXT NOT NULL UNIQUE,        -- carebridge message id (UUIDv7)
  source TEXT NOT NULL,           -- inbound adapter instance
  sender_id TEXT,                 -- the sender's own id; NULL if none given
  content_type TEXT NOT NULL,
  record_type TEXT NOT NULL,
  subject_key TEXT NOT NULL,      -- keyed hash of the person, '' if unknown
  payload_blob INTEGER NOT NULL REFERENCES blobs(id),
  payload_sha256 TEXT NOT NULL,
  state TEXT NOT NULL CHECK(state IN ('received','routed','quarantined')),
  error TEXT NOT NULL DEFAULT '',
  received_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX messages_sender ON messages(source, sender_id) WHERE sender_id IS NOT NULL;
CREATE INDEX messages_unrouted ON messages(seq) WHERE state = 'received';
CREATE INDEX messages_quarantined ON messages(seq) WHERE state = 'quarantined';

CREATE TABLE deliveries(
  seq INTEGER PRIMARY KEY,        -- creation order = delivery order per destination and person
  message_seq INTEGER NOT NULL REFERENCES messages(seq),
  destination TEXT NOT NULL,      -- outbound adapter instance
  route TEXT NOT NULL,
  content_type TEXT NOT NULL,
  record_type TEXT NOT NULL,
  payload_blob INTEGER REFERENCES blobs(id),  -- NULL: the message's payload unchanged
  state TEXT NOT NULL CHECK(state IN ('queued','delivered','dead','held','refused')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE(message_seq, destination)
);
CREATE INDEX deliveries_queued ON deliveries(seq) WHERE state = 'queued';
CREATE INDEX deliveries_by_state ON deliveries(state, destination, seq);

-- The audit trail: one row per entry; seq is the Merkle leaf index (0-based).
-- `entry` holds the canonical bytes that were hashed; the other columns copy
-- fields out of it for indexed queries.
CREATE TABLE audit_log(
  seq INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  action TEXT NOT NULL,
  outcome TEXT NOT NULL,
  actor TEXT NOT NULL,
  message_id TEXT NOT NULL,
  subject_key TEXT NOT NULL,
  source_org TEXT NOT NULL,
  destination_org TEXT NOT NULL,
  record_type TEXT NOT NULL,
  entry TEXT NOT NULL,
  leaf_hash BLOB NOT NULL
);
CREATE INDEX audit_by_subject ON audit_log(subject_key, seq) WHERE subject_key <> '';
CREATE INDEX audit_by_message ON audit_log(message_id) WHERE message_id <> '';

-- The Merkle tree's state after the last committed entry: its size and the
-- hashes of its perfect subtrees (a compact range), so any process can append
-- without rereading the log.
CREATE TABLE audit_state(
  id INTEGER PRIMARY KEY CHECK(id = 1),
  size INTEGER NOT NULL,
  frontier BLOB NOT NULL
);
INSERT INTO audit_state(id, size, frontier) VALUES (1, 0, x'');
)sql";

// Version 2: signed checkpoints of the audit log (issue #5 item 3). One row
// per checkpoint the daemon signed, keyed by the tree size it pins; `note` is
// the C2SP signed note exactly as signed and published, `root` and `time`
// copy what it says for queries. Rows are only ever inserted.
constexpr const char* kV2 = R"sql(
CREATE TABLE audit_checkpoints(
  tree_size INTEGER PRIMARY KEY,  -- number of leaves the checkpoint covers
  root BLOB NOT NULL,             -- MTH of those leaves (32 bytes)
  time INTEGER NOT NULL,          -- signing time, Unix seconds
  note TEXT NOT NULL              -- signed checkpoint (tlog-checkpoint + signed-note)
);
)sql";

// Version 3: queries for information governance, standard exports and
// retention (issue #5 items 5-7).
// - audit_log gains indexed copies of three details of sharing decisions
//   (agreement, purpose, decision); like the other indexed columns they are
//   copies of what the entry says, checked by `carebridge audit verify`.
//   Existing entries are filled in from their own bytes.
// - Indexes for person, organisation, agreement, purpose, decision, action
//   and time queries. The partial ones need "<col> <> ''" in the query.
// - audit_export_cursors: per export feed (the ATNA syslog sender), the
//   next entry to send, so a restart resumes where the feed stopped.
constexpr const char* kV3 = R"sql(
ALTER TABLE audit_log ADD COLUMN agreement TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN purpose TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN decision TEXT NOT NULL DEFAULT '';
UPDATE audit_log SET
  agreement = COALESCE(json_extract(entry, '$.details.agreement'), ''),
  purpose = COALESCE(json_extract(entry, '$.details.purpose'), ''),
  decision = COALESCE(json_extract(entry, '$.details.decision'), '')
WHERE json_type(entry, '$.details.agreement') = 'text' OR json_type(entry, '$.details.purpose') = 'text'
   OR json_type(entry, '$.details.decision') = 'text';
CREATE INDEX audit_by_subject_time ON audit_log(subject_key, time) WHERE subject_key <> '';
CREATE INDEX audit_by_time ON audit_log(time);
CREATE INDEX audit_by_action ON audit_log(action, seq);
CREATE INDEX audit_by_source_org ON audit_log(source_org, seq) WHERE source_org <> '';
CREATE INDEX audit_by_destination_org ON audit_log(destination_org, seq) WHERE destination_org <> '';
CREATE INDEX audit_by_agreement ON audit_log(agreement, seq) WHERE agreement <> '';
CREATE INDEX audit_by_purpose ON audit_log(purpose, seq) WHERE purpose <> '';
CREATE INDEX audit_by_decision ON audit_log(decision, seq) WHERE decision <> '';

CREATE TABLE audit_export_cursors(
  name TEXT PRIMARY KEY,          -- the feed, e.g. "atna-syslog host:port"
  next_seq INTEGER NOT NULL,      -- the first entry not yet sent
  updated_at INTEGER NOT NULL     -- Unix ms
);
)sql";

// Version 4: drop audit_by_subject (subject_key, seq). audit_by_subject_time
// (subject_key, time) answers the same person queries, and a keyed hash is
// a random key: every audit entry dirtied a random leaf page in each of the
// two, which the WAL then wrote whole at every commit.
constexpr const char* kV4 = R"sql(
DROP INDEX IF EXISTS audit_by_subject;
)sql";

// Version 5: person queries go through the messages a person's entries are
// about rather than an index entry per audit row. audit_by_subject_time
// (subject_key, time) took a random-key insert for every entry (four per
// record in the pipeline), each dirtying its own leaf page that the WAL
// then wrote whole at the commit. audit_subject_messages holds one row per
// (person, message) pair instead, written once by the message's first entry
// about that person and only looked up by the rest; entries that name a
// person but no message keep a partial index of their own. `carebridge
// audit verify` checks that every entry naming both has its pair.
constexpr const char* kV5 = R"sql(
CREATE TABLE audit_subject_messages(
  subject_key TEXT NOT NULL,
  message_id TEXT NOT NULL,
  PRIMARY KEY(subject_key, message_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO audit_subject_messages(subject_key, message_id)
  SELECT subject_key, message_id FROM audit_log WHERE subject_key <> '' AND message_id <> '';
DROP INDEX IF EXISTS audit_by_subject_time;
CREATE INDEX audit_by_subject_unlinked ON audit_log(subject_key, seq) WHERE subject_key <> '' AND message_id = '';
)sql";

Result<int> userVersion(Connection& db) {
  auto st = db.prepare("PRAGMA user_version");
  if (!st) return st.error();
  auto row = (*st)->step();
  if (!row) return row.error();
  const int v = *row ? static_cast<int>((*st)->columnInt(0)) : 0;
  (*st)->reset();
  return v;
}

}  // namespace

Status migrate(Connection& db) {
  auto v = userVersion(db);
  if (!v) return v.error();
  if (*v > kSchemaVersion) {
    return fail(db.path().string() + ": the store has schema version " + std::to_string(*v) +
                " but this carebridged understands up to " + std::to_string(kSchemaVersion) +
                "; run the newer carebridged or restore a backup");
  }
  if (*v == kSchemaVersion) return {};
  if (auto s = db.exec("BEGIN IMMEDIATE"); !s) return s;
  // Re-read under the write lock: another process may have migrated meanwhile.
  auto again = userVersion(db);
  if (!again) {
    (void)db.exec("ROLLBACK");
    return again.error();
  }
  if (*again < 1) {
    if (auto s = db.exec(kV1); !s) {
      (void)db.exec("ROLLBACK");
      return fail(db.path().string() + ": creating the schema failed: " + s.error().message);
    }
  }
  if (*again < 2) {
    if (auto s = db.exec(kV2); !s) {
      (void)db.exec("ROLLBACK");
      return fail(db.path().string() + ": upgrading the schema to version 2 failed: " + s.error().message);
    }
  }
  if (*again < 3) {
    if (auto s = db.exec(kV3); !s) {
      (void)db.exec("ROLLBACK");
      return fail(db.path().string() + ": upgrading the schema to version 3 failed: " + s.error().message);
    }
  }
  if (*again < 4) {
    if (auto s = db.exec(kV4); !s) {
      (void)db.exec("ROLLBACK");
      return fail(db.path().string() + ": upgrading the schema to version 4 failed: " + s.error().message);
    }
  }
  if (*again < 5) {
    if (auto s = db.exec(kV5); !s) {
      (void)db.exec("ROLLBACK");
      return fail(db.path().string() + ": upgrading the schema to version 5 failed: " + s.error().message);
    }
  }
  if (auto s = db.exec("PRAGMA user_version = " + std::to_string(kSchemaVersion)); !s) {
    (void)db.exec("ROLLBACK");
    return s;
  }
  return db.exec("COMMIT");
}

}  // namespace cb::store
