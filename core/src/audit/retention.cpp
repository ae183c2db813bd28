#include "audit/retention.h"

#include <algorithm>
#include <vector>

#include "store/audit_appender.h"
#include "store/sqlite.h"
#include "store/store.h"

namespace cb::audit {
namespace {

constexpr std::size_t kExaminePerBatch = 1000;

// The longest period of the agreements named, or nullopt if one of them (or
// an agreement-less decision without a global period) has none: keep.
std::optional<std::int64_t> periodFor(const RetentionPolicy& p, const std::vector<std::string>& agreements) {
  std::optional<std::int64_t> longest;
  for (const auto& a : agreements) {
    std::optional<std::chrono::milliseconds> d;
    if (auto it = p.by_agreement.find(a); !a.empty() && it != p.by_agreement.end()) {
      d = it->second;
    } else {
      d = p.global;
    }
    if (!d) return std::nullopt;
    longest = std::max(longest.value_or(0), static_cast<std::int64_t>(d->count()));
  }
  if (agreements.empty()) {
    if (!p.global) return std::nullopt;
    return static_cast<std::int64_t>(p.global->count());
  }
  return longest;
}

struct BatchOutcome {
  std::int64_t last_seq = -1;  ///< last message examined
  std::size_t examined = 0;
  PurgeResult purged;
};

Status purgeBatch(store::Connection& db, store::AuditAppender& audit, const RetentionPolicy& policy,
                  std::int64_t now_ms, const Actor& who, std::size_t batch, std::int64_t after, BatchOutcome& out) {
  out = BatchOutcome{after, 0, {}};
  struct Candidate {
    std::int64_t seq;
    std::string id;
    std::int64_t delivered_at;
  };
  std::vector<Candidate> candidates;
  {
    auto st = db.prepare(
        "SELECT m.seq, m.id, MAX(d.updated_at) FROM messages m JOIN blobs b ON b.id = m.payload_blob "
        "JOIN deliveries d ON d.message_seq = m.seq "
        "WHERE m.seq > ? AND m.state = 'routed' AND b.purged_at IS NULL GROUP BY m.seq "
        "HAVING SUM(d.state IN ('queued','held','dead')) = 0 AND SUM(d.state = 'delivered') > 0 "
        "ORDER BY m.seq LIMIT ?");
    if (!st) return st.error();
    (*st)->bind(1, after).bind(2, static_cast<std::int64_t>(kExaminePerBatch));
    for (;;) {
      auto row = (*st)->step();
      if (!row) {
        (*st)->reset();
        return row.error();
      }
      if (!*row) break;
      candidates.push_back({(*st)->columnInt(0), (*st)->columnText(1), (*st)->columnInt(2)});
    }
    (*st)->reset();
  }
  out.examined = candidates.size();
  std::string ids;
  for (const auto& c : candidates) {
    if (out.purged.messages >= batch) break;
    out.last_seq = c.seq;
    std::vector<std::string> agreements;
    auto ag = db.prepare(
        "SELECT DISTINCT agreement FROM audit_log WHERE message_id = ? AND message_id <> '' AND action = ?");
    if (!ag) return ag.error();
    (*ag)->bind(1, c.id).bind(2, std::string_view(action::kDecided));
    for (;;) {
      auto row = (*ag)->step();
      if (!row) {
        (*ag)->reset();
        return row.error();
      }
      if (!*row) break;
      agreements.push_back((*ag)->columnText(0));
    }
    (*ag)->reset();
    const auto period = periodFor(policy, agreements);
    if (!period || c.delivered_at + *period > now_ms) continue;

    std::vector<std::int64_t> blobs;
    auto bl = db.prepare(
        "SELECT payload_blob FROM messages WHERE seq = ?1 UNION "
        "SELECT payload_blob FROM deliveries WHERE message_seq = ?1 AND payload_blob IS NOT NULL");
    if (!bl) return bl.error();
    (*bl)->bind(1, c.seq);
    for (;;) {
      auto row = (*bl)->step();
      if (!row) {
        (*bl)->reset();
        return row.error();
      }
      if (!*row) break;
      blobs.push_back((*bl)->columnInt(0));
    }
    (*bl)->reset();
    for (const auto id : blobs) {
      auto size = db.prepare("SELECT COALESCE(length(data), 0) FROM blobs WHERE id = ? AND purged_at IS NULL");
      if (!size) return size.error();
      (*size)->bind(1, id);
      auto row = (*size)->step();
      if (!row) return row.error();
      const bool present = *row;
      const std::int64_t bytes = present ? (*size)->columnInt(0) : 0;
      (*size)->reset();
      if (!present) continue;
      auto up = db.prepare("UPDATE blobs SET data = NULL, purged_at = ? WHERE id = ? AND purged_at IS NULL");
      if (!up) return up.error();
      if (auto s = (*up)->bind(1, now_ms).bind(2, id).run(); !s) return s;
      ++out.purged.blobs;
      out.purged.bytes += bytes;
    }
    ++out.purged.messages;
    ids += (ids.empty() ? "" : ",") + c.id;
  }
  if (out.purged.messages < batch && !candidates.empty()) out.last_seq = candidates.back().seq;
  if (out.purged.messages == 0) return {};
  AuditEvent e;
  e.time_ms = now_ms;
  e.actor = who;
  e.action = action::kPurged;
  e.outcome = outcome::kSuccess;
  e.with("messages", ids)
      .with("count", std::to_string(out.purged.messages))
      .with("blobs", std::to_string(out.purged.blobs))
      .with("bytes", std::to_string(out.purged.bytes))
      .with("reason", "payload retention period passed after delivery");
  out.purged.batches = 1;
  return audit.append(e);
}

}  // namespace

RetentionPolicy retentionPolicyFrom(const config::AuditSettings& settings) {
  RetentionPolicy p;
  p.global = settings.payload_retention;
  p.by_agreement = settings.payload_retention_by_agreement;
  return p;
}

Result<PurgeResult> purgePayloads(store::Store& store, const RetentionPolicy& policy, std::int64_t now_ms,
                                  const Actor& who, std::size_t batch) {
  PurgeResult total;
  if (policy.empty()) return total;
  batch = std::max<std::size_t>(batch, 1);
  std::int64_t after = 0;
  for (;;) {
    BatchOutcome b;
    auto s = store.transactSync([&](store::Connection& db, store::AuditAppender& audit) {
      return purgeBatch(db, audit, policy, now_ms, who, batch, after, b);
    });
    if (!s) return fail("purging payloads: " + s.error().message);
    total.messages += b.purged.messages;
    total.blobs += b.purged.blobs;
    total.bytes += b.purged.bytes;
    total.batches += b.purged.batches;
    if (b.examined == 0 || b.last_seq <= after) break;
    after = b.last_seq;
  }
  return total;
}

}  // namespace cb::audit
