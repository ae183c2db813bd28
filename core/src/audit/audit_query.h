#pragma once
// Queries of the stored audit trail for information governance (issue #5
// item 5): by person (keyed hash of an NHS number or local id), organisation,
// agreement, purpose, decision, action and time, in log order with paging;
// and the subject access report ("who has seen my records") built on them.
//
// People appear in the trail only as keyed hashes (pipeline/subject_key.h):
// callers hash the identifier with the site key and pass the hash; nothing
// here sees an identifier in the clear. Every filter is served by an index
// of schema v3 (store/schema.cpp); a person, since schema v5, by the
// (person, message) pairs of audit_subject_messages and the message index.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"

namespace cb::store {
class Store;
}

namespace cb::audit {

/// What to look for. Empty fields do not filter; all given filters must hold.
struct AuditQuery {
  std::vector<std::string> subject_keys;  ///< any of these keyed hashes
  std::string organisation;               ///< source or destination organisation
  std::string agreement;
  std::string purpose;
  std::string decision;  ///< share | share-withheld | hold | refuse
  std::string action;    ///< one of audit::action
  std::string message_id;
  std::optional<std::int64_t> from_ms;  ///< time >= from (Unix ms, UTC)
  std::optional<std::int64_t> to_ms;    ///< time < to
  std::int64_t after_seq = -1;          ///< paging: entries after this one
  std::size_t limit = 100;
};

/// One entry as a query returns it: the indexed columns, and the canonical
/// entry with its details.
struct AuditRecord {
  std::int64_t seq = 0;
  std::int64_t time_ms = 0;
  std::string action;
  std::string outcome;
  std::string actor;  ///< "kind:name"
  std::string message_id;
  std::string record_type;
  std::string source_org;
  std::string destination_org;
  std::string subject_key;
  std::string agreement;
  std::string purpose;
  std::string decision;
  std::string entry;  ///< the canonical bytes (the Merkle leaf)

  /// The entry's details, parsed from `entry` (name order); empty if the
  /// entry is not the JSON object the store writes.
  std::vector<std::pair<std::string, std::string>> details() const;
  /// One detail's value, "" if absent.
  std::string detail(const std::string& name) const;
};

/// The entries matching `query`, oldest first, at most `query.limit`.
Result<std::vector<AuditRecord>> queryAudit(store::Store& store, const AuditQuery& query);

/// The purpose of the sharing decision behind a delivery (delivery entries
/// do not repeat it): the decision about `message_id` for the outbound
/// adapter `destination` ("" = any), or "" if none names one.
Result<std::string> decisionPurpose(store::Store& store, const std::string& message_id,
                                    const std::string& destination);

/// The sharing.decided entry that held a delivery for approval: about
/// `message_id`, for the outbound adapter `destination`, decision hold. Its
/// details name the agreement, flow, rule, approver and explanation.
/// nullopt if the trail has none.
Result<std::optional<AuditRecord>> holdDecision(store::Store& store, const std::string& message_id,
                                                const std::string& destination);

/// A query's filters as name/value pairs, for the audit.viewed entry that
/// records who ran it (subject keys are keyed hashes already).
std::vector<std::pair<std::string, std::string>> describe(const AuditQuery& query);

// ---- Subject access report ----

/// A sharing decision about the person, with what became of it.
struct SarDecision {
  std::int64_t seq = 0;  ///< the sharing.decided entry
  std::int64_t time_ms = 0;
  std::string message_id;
  std::string record_type;
  std::string source_org;
  std::string destination_org;
  std::string destination;  ///< outbound adapter instance
  std::string decision;     ///< share | share-withheld | hold | refuse
  std::string rule;
  std::string agreement;
  std::string flow;
  std::string purpose;
  std::string lawful_basis;
  std::string withheld;  ///< comma-separated items withheld
  std::string explanation;
  /// For a hold: how it was settled ("approved by person:x: reason",
  /// "refused by person:y: reason"), or "" while it waits.
  std::string settled;
  /// The successful delivery that disclosed the record, if any.
  std::optional<std::int64_t> delivered_seq;
  std::optional<std::int64_t> delivered_ms;
};

/// Everything the trail says was done with one person's records.
struct SubjectAccessReport {
  /// Share, share-withheld (or approved hold) decisions followed by a
  /// successful delivery: what actually left, to whom and when.
  std::vector<SarDecision> disclosures;
  /// Share decisions not (yet) delivered: queued, retrying or dead-lettered.
  std::vector<SarDecision> undelivered;
  std::vector<SarDecision> refusals;
  std::vector<SarDecision> holds;  ///< held for approval (delivered ones appear under disclosures too)
  std::size_t entries = 0;         ///< audit entries about the person examined
};

/// Builds the report from every entry keyed with one of `subject_keys`.
Result<SubjectAccessReport> subjectAccessReport(store::Store& store, const std::vector<std::string>& subject_keys);

}  // namespace cb::audit
