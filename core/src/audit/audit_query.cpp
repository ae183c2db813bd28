#include "audit/audit_query.h"

#include "common/clock.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <variant>

#include "audit/audit_event.h"
#include "store/sqlite.h"
#include "store/store.h"

namespace cb::audit {
namespace {

constexpr const char* kColumns =
    "seq, time, action, outcome, actor, message_id, record_type, source_org, destination_org, subject_key, agreement, "
    "purpose, decision, entry";

AuditRecord readRecord(const store::Statement& st) {
  AuditRecord r;
  r.seq = st.columnInt(0);
  r.time_ms = st.columnInt(1);
  r.action = st.columnText(2);
  r.outcome = st.columnText(3);
  r.actor = st.columnText(4);
  r.message_id = st.columnText(5);
  r.record_type = st.columnText(6);
  r.source_org = st.columnText(7);
  r.destination_org = st.columnText(8);
  r.subject_key = st.columnText(9);
  r.agreement = st.columnText(10);
  r.purpose = st.columnText(11);
  r.decision = st.columnText(12);
  r.entry = st.columnText(13);
  return r;
}

using Bound = std::variant<std::int64_t, std::string>;

// Adds "AND col = ?" for an indexed column. The partial indexes of schema v3
// hold only non-empty values, so the condition repeats "col <> ''" for the
// planner to see that the index covers the query.
void equals(std::string& sql, std::vector<Bound>& binds, const char* column, const std::string& value, bool partial) {
  if (value.empty()) return;
  sql += std::string(" AND ") + column + " = ?";
  if (partial) sql += std::string(" AND ") + column + " <> ''";
  binds.emplace_back(value);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> AuditRecord::details() const {
  std::vector<std::pair<std::string, std::string>> out;
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(entry, ec);
  if (ec || !v.is_object()) return out;
  const auto* d = v.get_object().if_contains("details");
  if (d == nullptr || !d->is_object()) return out;
  for (const auto& kv : d->get_object()) {
    if (kv.value().is_string()) out.emplace_back(std::string(kv.key()), std::string(kv.value().get_string()));
  }
  return out;
}

std::string AuditRecord::detail(const std::string& name) const {
  std::string value;
  for (auto& [k, v] : details()) {
    if (k == name) value = std::move(v);
  }
  return value;
}

Result<std::vector<AuditRecord>> queryAudit(store::Store& store, const AuditQuery& q) {
  std::string sql = std::string("SELECT ") + kColumns + " FROM audit_log WHERE seq > ?";
  std::vector<Bound> binds{q.after_seq};
  if (!q.subject_keys.empty()) {
    // Schema v5: an entry about a message is found through the (person,
    // message) rows of audit_subject_messages and then audit_by_message; an
    // entry about a person alone through audit_by_subject_unlinked. The
    // outer condition keeps out entries of the same message about someone
    // else.
    std::string keys = "(";
    for (std::size_t i = 0; i < q.subject_keys.size(); ++i) keys += i == 0 ? "?" : ",?";
    keys += ")";
    sql += " AND subject_key IN " + keys +
           " AND seq IN (SELECT a.seq FROM audit_subject_messages s JOIN audit_log a ON a.message_id = s.message_id"
           " WHERE s.subject_key IN " + keys + " AND a.message_id <> ''"
           " UNION ALL SELECT seq FROM audit_log WHERE subject_key IN " + keys +
           " AND subject_key <> '' AND message_id = '')";
    for (int copy = 0; copy < 3; ++copy) {
      for (const auto& k : q.subject_keys) binds.emplace_back(k);
    }
  }
  if (!q.organisation.empty()) {
    sql += " AND ((source_org = ? AND source_org <> '') OR (destination_org = ? AND destination_org <> ''))";
    binds.emplace_back(q.organisation);
    binds.emplace_back(q.organisation);
  }
  equals(sql, binds, "agreement", q.agreement, true);
  equals(sql, binds, "purpose", q.purpose, true);
  equals(sql, binds, "decision", q.decision, true);
  equals(sql, binds, "action", q.action, false);
  equals(sql, binds, "message_id", q.message_id, true);
  if (q.from_ms) {
    sql += " AND time >= ?";
    binds.emplace_back(*q.from_ms);
  }
  if (q.to_ms) {
    sql += " AND time < ?";
    binds.emplace_back(*q.to_ms);
  }
  sql += " ORDER BY seq LIMIT ?";
  binds.emplace_back(static_cast<std::int64_t>(q.limit));

  std::vector<AuditRecord> out;
  auto s = store.read([&](store::Connection& db) -> Status {
    auto st = db.prepare(sql);
    if (!st) return st.error();
    for (std::size_t i = 0; i < binds.size(); ++i) {
      const int index = static_cast<int>(i + 1);
      std::visit([&](const auto& v) { (*st)->bind(index, v); }, binds[i]);
    }
    for (;;) {
      auto row = (*st)->step();
      if (!row) {
        (*st)->reset();
        return row.error();
      }
      if (!*row) break;
      out.push_back(readRecord(**st));
    }
    (*st)->reset();
    return {};
  });
  if (!s) return fail("querying the audit trail: " + s.error().message);
  return out;
}

Result<std::string> decisionPurpose(store::Store& store, const std::string& message_id,
                                    const std::string& destination) {
  if (message_id.empty()) return std::string();
  AuditQuery q;
  q.message_id = message_id;
  q.action = action::kDecided;
  q.limit = 1000;
  auto rows = queryAudit(store, q);
  if (!rows) return rows.error();
  for (const auto& r : *rows) {
    if (!r.purpose.empty() && (destination.empty() || r.detail("destination") == destination)) return r.purpose;
  }
  return std::string();
}

Result<std::optional<AuditRecord>> holdDecision(store::Store& store, const std::string& message_id,
                                                const std::string& destination) {
  std::optional<AuditRecord> found;
  if (message_id.empty()) return found;
  AuditQuery q;
  q.message_id = message_id;
  q.action = action::kDecided;
  q.limit = 1000;
  auto rows = queryAudit(store, q);
  if (!rows) return rows.error();
  for (auto& r : *rows) {
    if (r.detail("destination") == destination && r.detail("decision") == "hold") found = std::move(r);
  }
  return found;
}

std::vector<std::pair<std::string, std::string>> describe(const AuditQuery& q) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string keys;
  for (const auto& k : q.subject_keys) keys += (keys.empty() ? "" : ",") + k;
  if (!keys.empty()) out.emplace_back("subject_key", keys);
  // Prefixed: an audit.viewed entry must not itself match a query by
  // agreement, purpose or decision (those details are indexed columns).
  auto add = [&](const char* name, const std::string& v) {
    if (!v.empty()) out.emplace_back(std::string("filter.") + name, v);
  };
  add("organisation", q.organisation);
  add("agreement", q.agreement);
  add("purpose", q.purpose);
  add("decision", q.decision);
  add("action", q.action);
  add("message_id", q.message_id);
  if (q.from_ms) add("from", std::to_string(*q.from_ms));
  if (q.to_ms) add("to", std::to_string(*q.to_ms));
  if (q.after_seq >= 0) add("after", std::to_string(q.after_seq));
  add("limit", std::to_string(q.limit));
  return out;
}

// ---- Subject access report ----

Result<SubjectAccessReport> subjectAccessReport(store::Store& store, const std::vector<std::string>& subject_keys) {
  SubjectAccessReport report;
  if (subject_keys.empty()) return report;
  constexpr std::size_t kPage = 10000;

  // Every decision about the person, in log order.
  std::vector<SarDecision> decisions;
  AuditQuery q;
  q.subject_keys = subject_keys;
  q.limit = kPage;
  for (;;) {
    auto rows = queryAudit(store, q);
    if (!rows) return rows.error();
    report.entries += rows->size();
    for (const auto& r : *rows) {
      if (r.action != action::kDecided) continue;
      SarDecision d;
      d.seq = r.seq;
      d.time_ms = r.time_ms;
      d.message_id = r.message_id;
      d.record_type = r.record_type;
      d.source_org = r.source_org;
      d.destination_org = r.destination_org;
      d.decision = r.decision;
      d.agreement = r.agreement;
      d.purpose = r.purpose;
      for (auto& [k, v] : r.details()) {
        if (k == "destination") d.destination = std::move(v);
        if (k == "rule") d.rule = std::move(v);
        if (k == "flow") d.flow = std::move(v);
        if (k == "lawful_basis") d.lawful_basis = std::move(v);
        if (k == "withheld") d.withheld = std::move(v);
        if (k == "explanation") d.explanation = std::move(v);
      }
      decisions.push_back(std::move(d));
    }
    if (rows->size() < kPage) break;
    q.after_seq = rows->back().seq;
  }

  // The successful deliveries of those messages. Looked up by message id
  // (not by person) so a delivery entry written before translation learnt
  // the person still counts; the first success per destination is the
  // disclosure (a replay after it would be a second copy, not a new one).
  std::set<std::string> messages;
  for (const auto& d : decisions) {
    if (d.decision != "refuse" && !d.message_id.empty()) messages.insert(d.message_id);
  }
  // (message id, destination adapter or organisation) -> first success
  std::map<std::pair<std::string, std::string>, std::pair<std::int64_t, std::int64_t>> delivered;
  for (const auto& id : messages) {
    AuditQuery dq;
    dq.message_id = id;
    dq.action = action::kDeliveryAttempt;
    dq.limit = kPage;
    auto rows = queryAudit(store, dq);
    if (!rows) return rows.error();
    for (const auto& r : *rows) {
      if (r.outcome != outcome::kSuccess) continue;
      const std::string adapter = r.detail("destination");
      delivered.emplace(std::make_pair(id, "adapter:" + adapter), std::make_pair(r.seq, r.time_ms));
      delivered.emplace(std::make_pair(id, "org:" + r.destination_org), std::make_pair(r.seq, r.time_ms));
    }
  }

  for (auto& d : decisions) {
    if (d.decision == "refuse") {
      report.refusals.push_back(std::move(d));
      continue;
    }
    auto it = !d.destination.empty() ? delivered.find({d.message_id, "adapter:" + d.destination})
                                     : delivered.find({d.message_id, "org:" + d.destination_org});
    if (it != delivered.end() && it->second.first > d.seq) {
      d.delivered_seq = it->second.first;
      d.delivered_ms = it->second.second;
    }
    if (d.decision == "hold") {
      // The approver's decision on this hold (hold.approved / hold.refused,
      // same message and destination adapter), with who and why.
      for (const char* settled : {action::kHoldApproved, action::kHoldRefused}) {
        AuditQuery hq;
        hq.message_id = d.message_id;
        hq.action = settled;
        hq.limit = kPage;
        auto rows = queryAudit(store, hq);
        if (!rows) return rows.error();
        for (const auto& r : *rows) {
          if (r.detail("destination") != d.destination) continue;
          d.settled = std::string(settled == action::kHoldApproved ? "approved" : "refused") + " by " + r.actor +
                      " on " + formatUtc(r.time_ms) + ": " + r.detail("reason");
        }
      }
      report.holds.push_back(d);
    }
    if (d.delivered_seq) {
      report.disclosures.push_back(std::move(d));
    } else if (d.decision != "hold") {
      report.undelivered.push_back(std::move(d));
    }
  }
  return report;
}

}  // namespace cb::audit
