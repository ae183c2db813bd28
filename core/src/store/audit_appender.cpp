#include "store/audit_appender.h"

#include "store/sqlite.h"

namespace cb::store {
namespace {

std::string actorText(const audit::Actor& a) {
  switch (a.kind) {
    case audit::Actor::Kind::System: return "system:" + a.name;
    case audit::Actor::Kind::Adapter: return "adapter:" + a.name;
    case audit::Actor::Kind::Person: return "person:" + a.name;
  }
  return a.name;
}

// The value of detail `name` as the entry's canonical bytes will say it: the
// last of equal names (canonicalBytes keeps their order; a JSON reader keeps
// the last duplicate).
std::string detail(const audit::AuditEvent& e, std::string_view name) {
  std::string value;
  for (const auto& [k, v] : e.details) {
    if (k == name) value = v;
  }
  return value;
}

}  // namespace

Status AuditAppender::begin() {
  auto st = db_.prepare("SELECT size, frontier FROM audit_state WHERE id = 1");
  if (!st) return st.error();
  auto row = (*st)->step();
  if (!row) return row.error();
  if (!*row) return fail("audit: the tree state row is missing; the store is damaged");
  const auto size = (*st)->columnInt(0);
  const std::string bytes = (*st)->columnBlob(1);
  (*st)->reset();
  if (size == 0 && bytes.empty()) {
    frontier_ = audit::MerkleFrontier();
  } else {
    auto f = audit::MerkleFrontier::fromBytes(bytes);
    if (!f) return fail("audit: the stored tree state is damaged: " + f.error().message);
    if (f->size() != static_cast<std::uint64_t>(size)) {
      return fail("audit: the stored tree state disagrees with its size; the store is damaged");
    }
    frontier_ = std::move(*f);
  }
  started_ = true;
  return {};
}

PreparedAuditEntry PreparedAuditEntry::of(audit::AuditEvent event, std::int64_t now_ms) {
  if (event.time_ms == 0) event.time_ms = now_ms;
  PreparedAuditEntry p;
  p.entry = audit::canonicalBytes(event);
  p.leaf = audit::leafHash(p.entry);
  p.event = std::move(event);
  return p;
}

Status AuditAppender::append(const audit::AuditEvent& e) {
  PreparedAuditEntry p;
  p.entry = audit::canonicalBytes(e);
  p.leaf = audit::leafHash(p.entry);
  return insert(e, p.entry, p.leaf);
}

Status AuditAppender::append(const PreparedAuditEntry& p) { return insert(p.event, p.entry, p.leaf); }

Status AuditAppender::insert(const audit::AuditEvent& e, const std::string& entry, const Sha256& leaf) {
  if (!started_) return fail("audit: append outside a transaction");
  auto st = db_.prepare(
      "INSERT INTO audit_log(seq, time, action, outcome, actor, message_id, subject_key, source_org, destination_org, "
      "record_type, entry, leaf_hash, agreement, purpose, decision) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  if (!st) return st.error();
  (*st)->bind(1, static_cast<std::int64_t>(frontier_.size())).bind(2, e.time_ms).bind(3, e.action).bind(4, e.outcome);
  (*st)->bind(5, actorText(e.actor)).bind(6, e.message_id).bind(7, e.subject_key).bind(8, e.source_org);
  (*st)->bind(9, e.destination_org).bind(10, e.record_type).bind(11, entry);
  (*st)->bindBlob(12, std::string_view(reinterpret_cast<const char*>(leaf.data()), leaf.size()));
  (*st)->bind(13, detail(e, "agreement")).bind(14, detail(e, "purpose")).bind(15, detail(e, "decision"));
  if (auto s = (*st)->run(); !s) return fail("audit: writing the entry failed: " + s.error().message);
  if (!e.subject_key.empty() && !e.message_id.empty()) {
    auto link = db_.prepare("INSERT OR IGNORE INTO audit_subject_messages(subject_key, message_id) VALUES (?,?)");
    if (!link) return link.error();
    (*link)->bind(1, e.subject_key).bind(2, e.message_id);
    if (auto s = (*link)->run(); !s) return fail("audit: linking the entry to its person failed: " + s.error().message);
  }
  return frontier_.append(leaf);
}

Status AuditAppender::finish() {
  if (!started_) return {};
  auto st = db_.prepare("UPDATE audit_state SET size = ?, frontier = ? WHERE id = 1");
  if (!st) return st.error();
  (*st)->bind(1, static_cast<std::int64_t>(frontier_.size())).bindBlob(2, frontier_.toBytes());
  if (auto s = (*st)->run(); !s) return fail("audit: saving the tree state failed: " + s.error().message);
  return {};
}

}  // namespace cb::store
