#pragma once
// Appends audit entries inside the store's current transaction and keeps the
// Merkle tree's compact state (tree size + perfect-subtree hashes, RFC 9162
// section 2.1) in step with them, so the entries and the tree can never
// disagree: both commit or neither does.

#include "audit/audit_event.h"
#include "audit/merkle.h"
#include "common/result.h"

#include <cstdint>
#include <string>
#include <vector>

namespace cb::store {

class Connection;

/// An audit entry made ready outside the transaction: its canonical bytes
/// and leaf hash computed on the caller's thread, so that the store's writer
/// thread, which every record passes through one at a time, only inserts it.
struct PreparedAuditEntry {
  audit::AuditEvent event;  ///< time_ms set
  std::string entry;        ///< audit::canonicalBytes(event)
  Sha256 leaf{};            ///< audit::leafHash(entry)

  /// Prepares `event`, stamping it with `now_ms` if it has no time yet.
  static PreparedAuditEntry of(audit::AuditEvent event, std::int64_t now_ms);
};

class AuditAppender {
 public:
  explicit AuditAppender(Connection& db) : db_(db) {}

  /// Reads the tree state; call right after BEGIN IMMEDIATE.
  Status begin();
  /// Writes one entry as the next leaf.
  Status append(const audit::AuditEvent& event);
  Status append(const PreparedAuditEntry& prepared);

  /// A point to roll back to when one operation of a batch fails.
  struct Mark {
    audit::MerkleFrontier frontier;
  };
  Mark mark() const { return Mark{frontier_}; }
  void rollbackTo(const Mark& m) { frontier_ = m.frontier; }

  /// Persists the tree state; call just before COMMIT.
  Status finish();

 private:
  Status insert(const audit::AuditEvent& event, const std::string& entry, const Sha256& leaf);

  Connection& db_;
  audit::MerkleFrontier frontier_;
  bool started_ = false;
};

}  // namespace cb::store
