#pragma once
// The canonical model (mappings/canonical/canonical.xsd) seen from C++:
//  - CanonicalModel validates a document against the XSD plus the rules XSD
//    1.0 cannot state, with error messages that never quote values;
//  - CanonicalItems is the registry of data items that sharing agreements
//    allow or withhold ("Person.NHSNumber", "SafeguardingEnquiry.Plan", ...);
//  - withholdExcept removes every item an agreement does not allow (how
//    "share with items withheld" is done, Caldicott principle 3: minimum
//    necessary);
//  - canonicalSummary reads what the decision engine needs without XPath.
// See mappings/canonical/README.md for the model and the item list.

#include "common/result.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct _xmlDoc;

namespace cb::xml {
class Schema;
}

namespace cb::mapping {

/// The canonical namespace (version 1 of the model).
inline constexpr std::string_view kCanonicalNs = "urn:carebridge:canonical:1";
/// The prefix bound to kCanonicalNs in every mapping file and in the item
/// registry's XPaths.
inline constexpr std::string_view kCanonicalPrefix = "c";

/// The compiled canonical schema plus the checks XSD 1.0 cannot express:
/// Record/@type names the body element (or "Person" with none), and every
/// NHS number passes the Modulus 11 check. Immutable, thread-safe.
class CanonicalModel {
 public:
  /// Loads mappings/canonical/canonical.xsd (or another copy of it).
  static Result<std::shared_ptr<const CanonicalModel>> load(const std::string& xsd_path);

  /// Validates `doc`. Errors read "<doc_name>:<line>: <what>", one per line;
  /// values quoted by libxml2 are replaced by "[value withheld]" so a
  /// refusal never repeats an NHS number, name or date of birth.
  Status validate(const _xmlDoc* doc, const std::string& doc_name) const;

  const std::string& schemaPath() const;

 private:
  CanonicalModel() = default;
  std::shared_ptr<const xml::Schema> schema_;
};

/// Replaces values that libxml2 quotes in schema validation messages
/// ("The value '...'", "'...' is not a valid value") by "[value withheld]".
std::string withholdValuesInMessage(std::string_view message);

/// What kind of personal data an item carries by default.
enum class ItemSensitivity {
  Ordinary,
  SpecialCategory,  ///< UK GDPR Art 9: health (incl. mental capacity), racial or ethnic origin
  ThirdParty,       ///< about or from someone other than the subject
};
std::string_view toString(ItemSensitivity s);

/// One data item of the canonical model, at the granularity agreements use:
/// a direct child of Meta, Person or the record body, with everything in it.
struct CanonicalItem {
  std::string_view path;         ///< "Section.Element", e.g. "SafeguardingEnquiry.RiskTypes"
  std::string_view section;      ///< "Meta", "Person", or the body element name
  std::string_view element;      ///< local name of the element
  std::string_view xpath;        ///< absolute XPath with prefix c bound to kCanonicalNs
  std::string_view description;
  bool identifying;              ///< can identify a living individual (the subject or someone else)
  ItemSensitivity sensitivity;   ///< default sensitivity of the content
  bool structural;               ///< needed to render the record; never withheld
};

/// The registry of canonical items, in schema order. Static data, no state.
class CanonicalItems {
 public:
  static const std::vector<CanonicalItem>& all();
  /// The item with this exact path, or nullptr.
  static const CanonicalItem* find(std::string_view path);
  /// True if `pattern` is an item path or "<Section>.*" for a known section;
  /// agreement loaders use this to refuse misspelt item names.
  static bool isValidPattern(std::string_view pattern);
  /// The sections: "Meta", "Person" and the body element names.
  static const std::vector<std::string_view>& sections();
};

/// Removes from `doc` every non-structural item that `allowed` does not
/// list; "<Section>.*" allows a whole section. Unknown entries in `allowed`
/// allow nothing. Elements the registry does not know are removed too (fail
/// closed). Returns the removed item paths, each once, in document order.
/// A canonical-valid document stays valid (withholdable items are optional
/// in the XSD). Refuses a document that is not a canonical Record.
Result<std::vector<std::string>> withholdExcept(_xmlDoc* doc, const std::vector<std::string>& allowed);

/// The consent status recorded in Meta/Consent.
enum class ConsentStatus { NotRecorded, Given, Refused, NotSought, LacksCapacity };
std::string_view toString(ConsentStatus s);

/// A local identifier of the subject.
struct LocalIdentifier {
  std::string system;
  std::string value;
};

/// Risk indicators for the decision engine (SAC SG2-SG4 items).
struct RiskIndicators {
  std::vector<std::string> risk_types;  ///< SAC SG2a codes recorded (enquiry or concern)
  bool risk_identified = false;         ///< RiskAssessment/Outcome is risk-identified-*
  bool risk_remains = false;            ///< Result risk-remains, or risk identified and no action taken
  bool lacks_capacity = false;          ///< MentalCapacity/LacksCapacity = yes
  bool enquiry_open = false;            ///< a SafeguardingEnquiry without Closure
  bool section_42 = false;              ///< EnquiryType section-42, or a concern decided as one
};

/// What the decision engine reads from a canonical record.
struct CanonicalSummary {
  std::string record_type;       ///< Record/@type
  std::string source_system;
  std::string source_id;
  std::string last_updated;
  std::string nhs_number;        ///< Person/NHSNumber as written ("" if absent)
  bool nhs_number_valid = false; ///< present and passes normalisation and Modulus 11
  std::vector<LocalIdentifier> local_ids;
  std::vector<std::string> sensitivity;  ///< Meta/Sensitivity/Marker values
  ConsentStatus consent = ConsentStatus::NotRecorded;
  std::string consent_date;
  RiskIndicators risk;
};

/// Reads the summary by walking the tree (no XPath compiled or evaluated).
/// Refuses a document whose root is not a canonical Record.
Result<CanonicalSummary> canonicalSummary(const _xmlDoc* doc);

}  // namespace cb::mapping
