#pragma once
// What one audit entry says. Entries record who did what to which record,
// for whom, under which rule, and with what outcome; never the record's
// content (PRODUCT.md "Audit": the audit trail carries no clinical content).
// The person concerned appears only as a keyed hash of their identifier.
//
// The store writes each entry in the same transaction as the state change it
// records, and the entry's canonical bytes are a leaf of the Merkle tree log
// (RFC 9162 section 2.1), so any later change to an entry is detectable.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace cb::audit {

/// Who acted: the daemon itself, an adapter instance, or a person (an
/// operator, approver or IG reviewer) with their organisation and role.
struct Actor {
  enum class Kind { System, Adapter, Person };
  Kind kind = Kind::System;
  std::string name;          ///< "carebridged", the adapter instance, or the person's user id
  std::string organisation;  ///< ODS code or council code, if known
  std::string role;          ///< operator, approver, ig-reviewer, auditor (people only)

  static Actor system() { return {Kind::System, "carebridged", "", ""}; }
  static Actor adapter(std::string instance, std::string org) { return {Kind::Adapter, std::move(instance), std::move(org), ""}; }
  static Actor person(std::string user, std::string org, std::string role) {
    return {Kind::Person, std::move(user), std::move(org), std::move(role)};
  }
};

/// Action names recorded in the trail. Dotted, stable: queries and exports
/// depend on them.
namespace action {
inline constexpr const char* kReceived = "record.received";
inline constexpr const char* kDuplicate = "record.duplicate";
inline constexpr const char* kTranslated = "record.translated";
inline constexpr const char* kQuarantined = "record.quarantined";
inline constexpr const char* kDecided = "sharing.decided";
inline constexpr const char* kDeliveryAttempt = "delivery.attempt";
inline constexpr const char* kDeadLettered = "delivery.dead-lettered";
inline constexpr const char* kReplayed = "delivery.replayed";
inline constexpr const char* kHoldApproved = "hold.approved";
inline constexpr const char* kHoldRefused = "hold.refused";
inline constexpr const char* kConfigLoaded = "config.loaded";
inline constexpr const char* kConfigRejected = "config.rejected";
inline constexpr const char* kPluginLoaded = "plugin.loaded";
inline constexpr const char* kPluginRefused = "plugin.refused";
inline constexpr const char* kTlsRefused = "tls.refused";
inline constexpr const char* kStarted = "daemon.started";
inline constexpr const char* kStopped = "daemon.stopped";
inline constexpr const char* kViewed = "audit.viewed";
inline constexpr const char* kRecordViewed = "record.viewed";
/// Payloads purged under the retention policy (one entry per batch).
inline constexpr const char* kPurged = "record.purged";
/// A call to the admin API (issue #6): who (certificate CN, organisation,
/// roles) asked for what; refused (403) when their roles do not allow it.
/// Reads of the audit trail itself are recorded as kViewed.
inline constexpr const char* kAdminRequest = "admin.request";
}  // namespace action

/// Outcomes: what became of the action.
namespace outcome {
inline constexpr const char* kSuccess = "success";
inline constexpr const char* kRetry = "retry";
inline constexpr const char* kFailure = "failure";
inline constexpr const char* kRefused = "refused";
}  // namespace outcome

struct AuditEvent {
  std::int64_t time_ms = 0;  ///< Unix ms, UTC; the store fills it if 0
  Actor actor;
  std::string action;          ///< one of audit::action
  std::string outcome;         ///< one of audit::outcome
  std::string message_id;      ///< carebridge's message id, if about a record
  std::string record_type;
  std::string source_org;
  std::string destination_org;
  std::string subject_key;     ///< keyed hash (hex) of the person's identifier; never the identifier
  std::string payload_sha256;  ///< hex digest of the payload concerned
  /// Further facts as name/value pairs: adapter, destination, attempt,
  /// agreement, flow, rule, purpose, lawful basis, withheld items, reason,
  /// file digests. Never record content or identifiers of people.
  std::vector<std::pair<std::string, std::string>> details;

  AuditEvent& with(std::string name, std::string value) {
    details.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

/// The exact bytes hashed into the Merkle tree for `event`: a JSON object
/// with keys in a fixed order and no insignificant whitespace, so the same
/// event always yields the same leaf.
std::string canonicalBytes(const AuditEvent& event);

}  // namespace cb::audit
