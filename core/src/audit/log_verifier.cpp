#include "audit/log_verifier.h"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cstring>

#include "audit/merkle.h"
#include "store/store.h"

namespace cb::audit {
namespace {

constexpr std::uint64_t kProgressEvery = 65536;

// A signed root the recomputed tree must reproduce at `size`.
struct Anchor {
  std::uint64_t size = 0;
  Sha256 root{};
  std::string what;     ///< "checkpoint at tree size 12", "published checkpoint <file>"
  std::string problem;  ///< set if the note itself is bad (signature, columns)
  std::optional<std::int64_t> time;
};

std::string_view str(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  const auto& s = v->get_string();
  return std::string_view(s.data(), s.size());
}

// Which indexed column of `l` disagrees with the canonical entry, if any.
// The columns are what queries and subject access reports search, so a
// change there would mislead IG without touching the Merkle tree.
std::optional<std::string> columnMismatch(const store::AuditLeafRow& l) {
  unsigned char buf[4096];
  boost::json::monotonic_resource mr(buf, sizeof buf);
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(l.row.entry, ec, &mr);
  if (ec || !v.is_object()) return std::string("entry (not a JSON object)");
  const auto& o = v.get_object();
  const auto* actor = o.if_contains("actor");
  std::string actorText;
  if (actor != nullptr && actor->is_object()) {
    actorText = std::string(str(actor->get_object(), "kind")) + ":" + std::string(str(actor->get_object(), "name"));
  }
  const auto* time = o.if_contains("time");
  if (time == nullptr || !time->is_int64() || time->get_int64() != l.row.time_ms) return std::string("time");
  if (str(o, "action") != l.row.action) return std::string("action");
  if (str(o, "outcome") != l.row.outcome) return std::string("outcome");
  if (actorText != l.row.actor) return std::string("actor");
  if (str(o, "message_id") != l.row.message_id) return std::string("message_id");
  if (str(o, "record_type") != l.row.record_type) return std::string("record_type");
  if (str(o, "source_org") != l.row.source_org) return std::string("source_org");
  if (str(o, "destination_org") != l.row.destination_org) return std::string("destination_org");
  if (str(o, "subject_key") != l.subject_key) return std::string("subject_key");
  // Schema v3: details copied into indexed columns for IG queries.
  const auto* details = o.if_contains("details");
  const boost::json::object empty;
  const auto& d = details != nullptr && details->is_object() ? details->get_object() : empty;
  if (str(d, "agreement") != l.agreement) return std::string("agreement");
  if (str(d, "purpose") != l.purpose) return std::string("purpose");
  if (str(d, "decision") != l.decision) return std::string("decision");
  return std::nullopt;
}

class Verifier final : public store::AuditScanner {
 public:
  Verifier(const VerifierKey& key, const LogVerifyOptions& options) : key_(key), options_(options) {}

  Status begin(const store::AuditTreeState& state, std::vector<store::AuditCheckpointRow> checkpoints) override {
    report_.tree_size = static_cast<std::uint64_t>(std::max<std::int64_t>(0, state.size));
    state_ = state;
    for (auto& row : checkpoints) {
      Anchor a;
      a.size = static_cast<std::uint64_t>(std::max<std::int64_t>(0, row.tree_size));
      a.root = row.root;
      a.what = "checkpoint at tree size " + std::to_string(row.tree_size);
      auto cp = verifyCheckpoint(row.note, key_);
      if (!cp) {
        a.problem = "its signature does not verify with " + key_.text() + " (" + cp.error().message +
                    "): the note was altered or replaced";
      } else if (cp->size != a.size || cp->root != row.root) {
        a.problem = "its stored size or root was altered (they disagree with its signed note)";
      } else {
        if (cp->time) a.time = cp->time->time_since_epoch().count();
      }
      anchors_.push_back(std::move(a));
    }
    for (const auto& [from, note] : options_.external_notes) {
      Anchor a;
      a.what = "published checkpoint " + from;
      auto cp = verifyCheckpoint(note, key_);
      if (!cp) {
        auto parsed = parseSignedCheckpoint(note);
        a.size = parsed ? parsed->size : 0;
        a.problem = "its signature does not verify with " + key_.text() + " (" + cp.error().message + ")";
      } else {
        a.size = cp->size;
        a.root = cp->root;
        if (cp->time) a.time = cp->time->time_since_epoch().count();
      }
      anchors_.push_back(std::move(a));
    }
    std::stable_sort(anchors_.begin(), anchors_.end(), [](const Anchor& a, const Anchor& b) { return a.size < b.size; });
    return reached();
  }

  Status leaves(std::span<const store::AuditLeafRow> batch) override {
    for (const auto& l : batch) {
      const std::uint64_t n = frontier_.size();
      if (l.row.seq < 0 || static_cast<std::uint64_t>(l.row.seq) != n) {
        return problem(n, std::nullopt,
                       "entry " + std::to_string(n) + " is missing: the log goes from entry " +
                           (n == 0 ? std::string("(start)") : std::to_string(n - 1)) + " to entry " +
                           std::to_string(l.row.seq) + " (deleted)");
      }
      if (n >= report_.tree_size) {
        return problem(n, std::nullopt,
                       "entry " + std::to_string(n) + " is beyond the recorded tree size " +
                           std::to_string(report_.tree_size) +
                           ": it was added outside carebridge, or the tree state was rolled back");
      }
      const Sha256 leaf = leafHash(l.row.entry);
      if (l.leaf_hash.size() != leaf.size() || std::memcmp(l.leaf_hash.data(), leaf.data(), leaf.size()) != 0) {
        return problem(n, std::nullopt,
                       "entry " + std::to_string(n) +
                           " was altered: its content no longer matches the leaf hash written with it");
      }
      if (auto column = columnMismatch(l)) {
        return problem(n, std::nullopt,
                       "entry " + std::to_string(n) + " was altered: its indexed column '" + *column +
                           "' no longer says what the entry says");
      }
      // Schema v5: person queries reach an entry with a message id through
      // its (person, message) row, so a deleted row would hide it from IG.
      if (!l.findable_by_person) {
        return problem(n, std::nullopt,
                       "entry " + std::to_string(n) +
                           " is hidden from person queries: its row in audit_subject_messages was deleted");
      }
      if (auto s = frontier_.append(leaf); !s) return s;
      report_.entries = frontier_.size();
      if (options_.progress && report_.entries % kProgressEvery == 0) {
        options_.progress(report_.entries, report_.tree_size);
      }
      if (auto s = reached(); !s) return s;
    }
    return {};
  }

  // After the scan: whatever the log should hold but does not.
  LogVerification finish() {
    if (failed_) return report_;
    const std::uint64_t n = frontier_.size();
    if (n < report_.tree_size) {
      (void)problem(n, std::nullopt,
                    "entry " + std::to_string(n) + " is missing: the tree state records " +
                        std::to_string(report_.tree_size) + " entries but the log ends " +
                        (n == 0 ? std::string("before entry 0") : "after entry " + std::to_string(n - 1)) +
                        " (truncated)");
      return report_;
    }
    if (next_ < anchors_.size()) {
      const Anchor& a = anchors_[next_];
      (void)problem(n, a.size,
                    a.what + " covers " + std::to_string(a.size) + " entries but the log holds only " +
                        std::to_string(n) + ": entry " + std::to_string(n) + " onwards is missing (truncated)" +
                        (matched_ < n ? "; entries " + std::to_string(matched_) + ".." + std::to_string(n - 1) +
                                            " are not pinned by any signed root"
                                      : std::string()));
      return report_;
    }
    if (options_.progress) options_.progress(report_.entries, report_.tree_size);
    report_.intact = true;
    return report_;
  }

  bool failed() const { return failed_; }

 private:
  // Checks whatever is due at the current size: signed roots, the tree state.
  Status reached() {
    const std::uint64_t n = frontier_.size();
    while (next_ < anchors_.size() && anchors_[next_].size == n) {
      const Anchor& a = anchors_[next_++];
      if (!a.problem.empty()) return problem(matched_, a.size, a.what + ": " + a.problem);
      if (a.size == 0) continue;  // an empty tree pins nothing
      if (frontier_.root() != a.root) {
        return problem(matched_, a.size,
                       a.what + ": entries 0.." + std::to_string(n - 1) +
                           " do not reproduce its signed root. The first entry that does not match is at or after "
                           "entry " + std::to_string(matched_) + " (the last point that matched a signed root) and "
                           "before entry " + std::to_string(n) +
                           ": entries were rewritten together with their leaf hashes, reordered, or deleted and "
                           "renumbered");
      }
      matched_ = n;
      ++report_.checkpoints;
      report_.covered = n;
      if (a.time) report_.latest_checkpoint_time = a.time;
    }
    if (n == report_.tree_size && !stateChecked_) {
      stateChecked_ = true;
      const bool emptyOk = n == 0 && state_.frontier.empty();
      auto f = MerkleFrontier::fromBytes(state_.frontier);
      if (!emptyOk && (!f || f->size() != n || !(*f == frontier_))) {
        return problem(matched_, std::nullopt,
                       "the store's tree state at size " + std::to_string(n) +
                           " does not match the entries: altered at or after entry " + std::to_string(matched_) +
                           " (the last point that matched a signed root), or the tree state itself was altered");
      }
    }
    return {};
  }

  Status problem(std::uint64_t entry, std::optional<std::uint64_t> checkpoint, std::string what) {
    failed_ = true;
    report_.first_bad_entry = entry;
    report_.bad_checkpoint = checkpoint;
    report_.problem = std::move(what);
    // Stops the scan; verifyAuditLog() tells this from a read failure.
    return fail("verification stopped");
  }

  const VerifierKey& key_;
  const LogVerifyOptions& options_;
  store::AuditTreeState state_;
  std::vector<Anchor> anchors_;
  std::size_t next_ = 0;
  std::uint64_t matched_ = 0;
  bool stateChecked_ = false;
  bool failed_ = false;
  MerkleFrontier frontier_;
  LogVerification report_;
};

}  // namespace

Result<LogVerification> verifyAuditLog(store::Store& store, const VerifierKey& key, const LogVerifyOptions& options) {
  Verifier v(key, options);
  if (auto s = store.scanAudit(v); !s && !v.failed()) return fail("reading the audit log: " + s.error().message);
  return v.finish();
}

}  // namespace cb::audit
