#pragma once
// Information-sharing agreements (agreements/*.xml, schema
// agreements/schema/agreement.xsd) compiled into immutable C++ objects.
//
// Loading parses the file with the safe parser, validates it against the XSD,
// then checks what XSD 1.0 cannot (party references, canonical item names,
// consent and hold co-constraints, date order) and resolves every item
// pattern to the canonical item registry, so deciding later needs no file,
// XPath or schema work. Errors read "<file>:<line>: <Element>: <what>".

#include "common/result.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cb::xml {
class Schema;
}

namespace cb::policy {

/// The purposes a flow may name (agreement.xsd Purpose).
enum class Purpose { DirectCare, Safeguarding, PerformanceMonitoring, StatutoryReturn };
std::string_view toString(Purpose p);
/// Parses "direct-care", "safeguarding", "performance-monitoring", "statutory-return".
Result<Purpose> parsePurpose(std::string_view s);

enum class PartyRole { Controller, JointController, Processor };
std::string_view toString(PartyRole r);

enum class ConsentMode { Required, NotRequired, SafeguardingOverride };
std::string_view toString(ConsentMode m);

/// Conditions read from a canonical record (agreement.xsd Condition).
enum class Condition {
  RiskIdentified,
  RiskRemains,
  LacksCapacity,
  Section42,
  EnquiryOpen,
  ConsentOverridden,
  ConsentNotRecorded,
  NoValidNhsNumber,
};
std::string_view toString(Condition c);

enum class SensitiveAction { Refuse, Withhold, Hold };
std::string_view toString(SensitiveAction a);

/// A calendar day (UK). Validity runs from the start of `from` to the end of
/// the end day, in UK time (GMT/BST).
struct Day {
  std::chrono::sys_days days{};
  std::string text;  ///< as written, YYYY-MM-DD
};

struct Party {
  std::string id;           ///< short name used inside the file
  std::string code;         ///< organisation code (ODS or ONS), as in the daemon config
  std::string code_system;  ///< "ods", "ons-snac", "ons-gss"
  PartyRole role = PartyRole::Controller;
  std::string name;
  std::string contact;
  int line = 0;
};

struct Extension {
  Day agreed;
  Day new_end;
  std::string authority;
  std::string note;
  int line = 0;
};

struct Termination {
  Day notice_given;
  Day effective_end;
  std::string by;  ///< party id
  int line = 0;
};

struct SignOff {
  std::string party;
  std::string role;
  Day date;
};

/// UK GDPR Art 6 and Art 9 conditions and the DPA 2018 Schedule 1 paragraph.
struct LawfulBasis {
  std::string article6;       ///< condition letter, "e"
  std::string article6_text;  ///< the law it rests on
  std::string article9;       ///< condition letter, "h"
  std::string article9_text;
  int schedule1_paragraph = 0;
  std::string schedule1_text;
  /// "UK GDPR Art 6(1)(e); Art 9(2)(h); DPA 2018 Sch 1 para 2", or with
  /// `schedule1_override` (>0) that paragraph instead of the flow's.
  std::string summary(int schedule1_override = 0) const;
};

/// A Sensitive rule: what a marker on the record does to this flow.
struct SensitiveRule {
  std::string marker;
  SensitiveAction action = SensitiveAction::Refuse;
  std::string approver;                 ///< for Hold
  std::vector<std::string> items;       ///< for Withhold, as written
  std::vector<std::size_t> item_index;  ///< resolved to CanonicalItems::all() indexes
  int line = 0;
};

/// One compiled flow of an agreement.
struct Flow {
  std::string id;
  std::string from_party;  ///< party id
  std::string to_party;
  std::string from_code;   ///< organisation codes, resolved at load
  std::string to_code;
  std::string description;
  std::vector<std::string> record_types;
  Purpose purpose = Purpose::DirectCare;
  LawfulBasis basis;
  std::vector<std::string> items;  ///< allow-list as written
  /// allowed[i] is true when CanonicalItems::all()[i] may be shared.
  std::vector<bool> allowed;
  ConsentMode consent = ConsentMode::Required;
  std::string consent_reason;                  ///< NotRequired
  std::vector<Condition> override_when;        ///< SafeguardingOverride
  std::string override_justification;
  int override_schedule1_paragraph = 0;
  std::vector<SensitiveRule> sensitive;
  std::string hold_approver;                   ///< "" if the flow has no Hold
  std::vector<Condition> hold_when;
  int line = 0;
  int consent_line = 0;
  int hold_line = 0;

  bool carries(std::string_view record_type) const;
};

/// One compiled agreement. Immutable after load.
struct Agreement {
  std::string id;
  int version = 0;
  std::string title;
  std::string summary;
  std::string file;    ///< path it was loaded from
  std::string digest;  ///< SHA-256 (hex) of the file bytes, for the audit trail
  std::vector<Party> parties;
  Day from;
  Day to;              ///< as originally signed
  std::vector<Extension> extensions;
  std::vector<Termination> terminations;  ///< zero or one
  Day review;
  std::vector<SignOff> sign_offs;
  std::vector<Flow> flows;
  Day end;             ///< last day in force: after extensions and termination

  const Party* party(std::string_view id) const;
  /// The first instant the agreement is in force (start of `from`, UK time).
  std::chrono::system_clock::time_point validFrom() const;
  /// The first instant it is no longer in force (end of `end`, UK time).
  std::chrono::system_clock::time_point validUntil() const;
  bool inForceAt(std::chrono::system_clock::time_point t) const { return t >= validFrom() && t < validUntil(); }
};

/// The compiled agreement schema, loaded once (agreements/schema/agreement.xsd).
class AgreementSchema {
 public:
  static Result<std::shared_ptr<const AgreementSchema>> load(const std::string& xsd_path);
  const xml::Schema& schema() const { return *schema_; }

 private:
  AgreementSchema() = default;
  std::shared_ptr<const xml::Schema> schema_;
};

/// Loads and compiles one agreement file. Errors name file:line and element.
Result<std::shared_ptr<const Agreement>> loadAgreement(const std::string& file, const AgreementSchema& schema);

/// The start of a UK calendar day as an instant (00:00 GMT or BST).
std::chrono::system_clock::time_point ukStartOfDay(std::chrono::sys_days day);

}  // namespace cb::policy
