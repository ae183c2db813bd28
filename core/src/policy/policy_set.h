#pragma once
// The decision engine: for one canonical record, from one organisation to
// another, decide share / share with items withheld / refuse / hold, with
// the agreement, flow, rule and lawful basis that decided it and a one-line
// explanation (PRODUCT.md "Information-sharing rules").
//
// A PolicySet is every agreement in one directory, loaded and compiled once;
// it is immutable and decide() is const and thread-safe, so a reload builds a
// new set beside the old one and swaps a shared_ptr. decide() walks the record
// tree once and does no file, XPath or schema work.
//
// Fail closed: no agreement covering the two organisations, an agreement not
// yet in force or ended (by the injected clock), a record type or purpose
// not in any flow, a record that is not canonical: Refuse.
//
// How a decision is reached (the order is part of the contract):
//  1. agreements naming both organisations, then those in force, then flows
//     from -> to carrying the record type, then (if given) for the purpose;
//     an empty candidate list refuses with the most specific reason;
//  2. the first candidate flow, in agreement id order then file order,
//     decides, refusal included: a record refused under one purpose is never
//     shared under another. A route that means a later flow names its purpose.
//  Within a flow: sensitivity markers (refuse > hold > withhold; "sealed"
//  with no rule refuses), then consent, then Hold conditions, then the
//  allow-list.

#include "common/clock.h"
#include "common/result.h"
#include "policy/agreement.h"

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

struct _xmlDoc;

namespace cb::policy {

/// One decision for one record and one destination.
struct Decision {
  enum class Verdict { Share, ShareWithheld, Refuse, Hold };
  Verdict verdict = Verdict::Refuse;
  std::string agreement;      ///< agreement id, "" when none applied
  int agreement_version = 0;
  std::string agreement_file;
  std::string flow;           ///< flow id, "" when none applied
  /// The rule that decided, as "<name> (<file>:<line>)" where a line of the
  /// agreement decided, e.g. "consent.override (agreements/x.xml:57)".
  std::string rule;
  std::string purpose;        ///< "safeguarding", ... ("" when refused before a flow)
  std::string lawful_basis;   ///< LawfulBasis::summary(), override paragraph applied
  std::vector<std::string> withheld;  ///< item paths removed before rendering, document order
  /// The concrete canonical item paths that may leave (input to
  /// applyDecision); empty for Refuse.
  std::vector<std::string> allowed;
  std::string approver;       ///< for Hold: the role that approves
  std::string justification;  ///< the recorded justification when consent was overridden
  std::string explanation;    ///< one line for people; never record content or identifiers

  bool shares() const { return verdict == Verdict::Share || verdict == Verdict::ShareWithheld; }
};
std::string_view toString(Decision::Verdict v);

/// An agreement whose end date is near (for the daemon's warning).
struct EndingAgreement {
  std::string id;
  std::string file;
  std::string end;  ///< last day in force, YYYY-MM-DD
  int days_left = 0;  ///< whole days from now until validUntil(), rounded up
};

struct PolicyLoadOptions {
  /// Organisation codes the daemon knows (its adapters' `organisation`
  /// values). When set, a party whose code is not in it is a load error.
  std::optional<std::set<std::string>> known_parties;
};

/// Every agreement of one directory (the *.xml files directly in it; the
/// schema/ and demo/ subfolders are not read). Immutable, thread-safe.
class PolicySet {
 public:
  /// Loads all or nothing. `clock` must outlive the set. Errors name
  /// file:line and the element; several files' errors are joined by lines.
  static Result<std::shared_ptr<const PolicySet>> loadDirectory(const std::string& dir,
                                                                const AgreementSchema& schema,
                                                                const Clock& clock = SystemClock::instance(),
                                                                const PolicyLoadOptions& options = {});
  /// Loads the given files (for tests and `carebridge agreement explain`).
  static Result<std::shared_ptr<const PolicySet>> loadFiles(const std::vector<std::string>& files,
                                                            const AgreementSchema& schema,
                                                            const Clock& clock = SystemClock::instance(),
                                                            const PolicyLoadOptions& options = {});
  /// Builds a set from agreements already loaded (ids must be unique).
  static Result<std::shared_ptr<const PolicySet>> fromAgreements(
      std::vector<std::shared_ptr<const Agreement>> agreements, const Clock& clock = SystemClock::instance(),
      const PolicyLoadOptions& options = {});

  /// Decides for a canonical record (a parsed canonical Record document)
  /// going from organisation `from_org` to `to_org` (ODS or ONS codes as in
  /// the daemon config), optionally for one purpose ("safeguarding", ...).
  /// Never fails: anything it cannot decide is a Refuse.
  Decision decide(const _xmlDoc* canonical, std::string_view from_org, std::string_view to_org,
                  std::string_view purpose = {}) const;
  /// As decide(), at a given instant instead of the clock's now.
  Decision decideAt(std::chrono::system_clock::time_point now, const _xmlDoc* canonical, std::string_view from_org,
                    std::string_view to_org, std::string_view purpose = {}) const;

  /// Agreements whose last instant in force is within `days` of now (and
  /// not already past), soonest first.
  std::vector<EndingAgreement> endingWithin(int days = 60) const;
  std::vector<EndingAgreement> endingWithinAt(std::chrono::system_clock::time_point now, int days = 60) const;

  /// Whether any flow of any agreement (in force or not) allows
  /// `record_type` from `from_org` to `to_org`; an empty record_type asks
  /// whether any flow between them exists. For `carebridged --check-config`.
  bool covers(std::string_view from_org, std::string_view to_org, std::string_view record_type = {}) const;
  /// As covers(), counting only agreements in force at now.
  bool coversNow(std::string_view from_org, std::string_view to_org, std::string_view record_type = {}) const;

  const std::vector<std::shared_ptr<const Agreement>>& agreements() const { return agreements_; }
  const Agreement* find(std::string_view id) const;
  /// SHA-256 over the agreements' digests in id order, for the audit trail.
  const std::string& digest() const { return digest_; }

 private:
  PolicySet() = default;
  std::vector<std::shared_ptr<const Agreement>> agreements_;  // sorted by id
  const Clock* clock_ = nullptr;
  std::string digest_;
};

/// Removes from `canonical` everything `decision` does not allow, using
/// cb::mapping::withholdExcept with decision.allowed, and checks that what
/// was removed is exactly decision.withheld (fail closed if the document is
/// not the one decided on). Refuses a Refuse decision. Returns the removed
/// item paths.
Result<std::vector<std::string>> applyDecision(_xmlDoc* canonical, const Decision& decision);

}  // namespace cb::policy
