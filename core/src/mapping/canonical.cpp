#include "mapping/canonical.h"

#include "mapping/nhs_number.h"
#include "mapping/xml_util.h"
#include "xml/schema.h"

#include <algorithm>
#include <set>

namespace cb::mapping {
namespace {

using namespace xmlutil;

constexpr ItemSensitivity kOrd = ItemSensitivity::Ordinary;
constexpr ItemSensitivity kArt9 = ItemSensitivity::SpecialCategory;
constexpr ItemSensitivity k3rd = ItemSensitivity::ThirdParty;

// One row per item; the XPath is derived from section and element so the two
// cannot disagree.
#define CB_ITEM(section, element, description, identifying, sensitivity, structural) \
  CanonicalItem{section "." element, section, element, "/c:Record/c:" section "/c:" element, description,  \
                identifying, sensitivity, structural}

const std::vector<CanonicalItem> kItems = {
    // Meta: the envelope. Source, id and time are structural.
    CB_ITEM("Meta", "SourceSystem", "System the record came from", false, kOrd, true),
    CB_ITEM("Meta", "SourceId", "Record id in the source system", false, kOrd, true),
    CB_ITEM("Meta", "LastUpdated", "When the source last changed the record", false, kOrd, true),
    CB_ITEM("Meta", "Sensitivity", "Sensitivity markers of the record", false, kOrd, false),
    CB_ITEM("Meta", "Consent", "Consent to sharing: status, date, who recorded it", false, kOrd, false),
    // Person
    CB_ITEM("Person", "NHSNumber", "NHS number", true, kOrd, false),
    CB_ITEM("Person", "LocalId", "Local identifiers per system", true, kOrd, false),
    CB_ITEM("Person", "Name", "Names", true, kOrd, false),
    CB_ITEM("Person", "BirthDate", "Date of birth", true, kOrd, false),
    CB_ITEM("Person", "DeathDate", "Date of death", false, kOrd, false),
    CB_ITEM("Person", "Gender", "Administrative gender", false, kOrd, false),
    CB_ITEM("Person", "Ethnicity", "Ethnic category (NHS Data Dictionary)", false, kArt9, false),
    CB_ITEM("Person", "Address", "Postal addresses", true, kOrd, false),
    CB_ITEM("Person", "Telecom", "Telephone numbers and e-mail addresses", true, kOrd, false),
    CB_ITEM("Person", "Contact", "Contact people (next of kin, family, carers)", true, k3rd, false),
    CB_ITEM("Person", "GPPracticeCode", "Registered GP practice (ODS code)", false, kOrd, false),
    // Referral
    CB_ITEM("Referral", "ReceivedDate", "When the referral was received", false, kOrd, true),
    CB_ITEM("Referral", "Source", "Who made the referral", false, k3rd, false),
    CB_ITEM("Referral", "Reason", "Why support was requested", false, kArt9, false),
    CB_ITEM("Referral", "Urgency", "Urgency", false, kOrd, false),
    CB_ITEM("Referral", "Team", "Team allocated", false, kOrd, false),
    CB_ITEM("Referral", "Outcome", "What happened next (CLD Event_Outcome)", false, kOrd, false),
    CB_ITEM("Referral", "OutcomeDate", "When the outcome was decided", false, kOrd, false),
    // Care Act s9 assessment
    CB_ITEM("CareActAssessment", "StartDate", "When the assessment started", false, kOrd, true),
    CB_ITEM("CareActAssessment", "CompletedDate", "When it was completed", false, kOrd, false),
    CB_ITEM("CareActAssessment", "Assessor", "Who assessed", false, kOrd, false),
    CB_ITEM("CareActAssessment", "PrimarySupportReason", "Primary support reason (CLD)", false, kArt9, false),
    CB_ITEM("CareActAssessment", "Needs", "Needs identified (s9(4))", false, kArt9, false),
    CB_ITEM("CareActAssessment", "DesiredOutcomes", "Outcomes the adult wishes to achieve (s9(4)(c))", false, kArt9, false),
    CB_ITEM("CareActAssessment", "Eligibility", "Eligibility determination (s13)", false, kOrd, false),
    CB_ITEM("CareActAssessment", "Advocacy", "Independent advocacy (s67)", false, kOrd, false),
    CB_ITEM("CareActAssessment", "CarerInvolved", "Whether a carer was involved (s9(5))", false, kOrd, false),
    CB_ITEM("CareActAssessment", "Outcome", "What happened next (CLD Event_Outcome)", false, kOrd, false),
    // Carer's assessment s10
    CB_ITEM("CarersAssessment", "StartDate", "When the assessment started", false, kOrd, true),
    CB_ITEM("CarersAssessment", "CompletedDate", "When it was completed", false, kOrd, false),
    CB_ITEM("CarersAssessment", "Assessor", "Who assessed", false, kOrd, false),
    CB_ITEM("CarersAssessment", "CaredFor", "The adult cared for (identifiers, name, relationship)", true, k3rd, false),
    CB_ITEM("CarersAssessment", "Needs", "The carer's needs (s10(5))", false, kArt9, false),
    CB_ITEM("CarersAssessment", "AbleAndWilling", "Whether the carer is able and willing to continue (s10(5))", false, kOrd, false),
    CB_ITEM("CarersAssessment", "Eligibility", "Eligibility determination (s13)", false, kOrd, false),
    CB_ITEM("CarersAssessment", "Outcome", "Support provided or next step", false, kOrd, false),
    // Statutory review s27
    CB_ITEM("StatutoryReview", "ReviewDate", "When the review took place", false, kOrd, true),
    CB_ITEM("StatutoryReview", "ReviewType", "Planned or unplanned", false, kOrd, false),
    CB_ITEM("StatutoryReview", "Reviewer", "Who reviewed", false, kOrd, false),
    CB_ITEM("StatutoryReview", "Outcome", "Review outcome (CLD Event_Outcome)", false, kOrd, false),
    CB_ITEM("StatutoryReview", "PlanRevised", "Whether the plan was revised (s27(4))", false, kOrd, false),
    CB_ITEM("StatutoryReview", "NextReviewDate", "When the next review is due", false, kOrd, false),
    // Safeguarding concern
    CB_ITEM("SafeguardingConcern", "ReceivedDate", "When the concern was received", false, kOrd, true),
    CB_ITEM("SafeguardingConcern", "RaisedBy", "Who raised the concern", false, k3rd, false),
    CB_ITEM("SafeguardingConcern", "RiskTypes", "Types of risk alleged (SAC SG2a)", false, kArt9, false),
    CB_ITEM("SafeguardingConcern", "LocationOfRisk", "Location of risk (SAC SG2b)", false, kOrd, false),
    CB_ITEM("SafeguardingConcern", "SourceOfRisk", "Source of risk (SAC)", false, k3rd, false),
    CB_ITEM("SafeguardingConcern", "Description", "The concern as described", false, k3rd, false),
    CB_ITEM("SafeguardingConcern", "ImmediateActions", "Immediate safety actions", false, kOrd, false),
    CB_ITEM("SafeguardingConcern", "Decision", "Section 42, other or no enquiry", false, kOrd, false),
    CB_ITEM("SafeguardingConcern", "DecisionDate", "When that was decided", false, kOrd, false),
    // Safeguarding enquiry
    CB_ITEM("SafeguardingEnquiry", "EnquiryType", "Section 42 or other enquiry (SAC SG1f)", false, kOrd, true),
    CB_ITEM("SafeguardingEnquiry", "StartDate", "When the enquiry started", false, kOrd, true),
    CB_ITEM("SafeguardingEnquiry", "ConcernDate", "When the concern was received", false, kOrd, false),
    CB_ITEM("SafeguardingEnquiry", "RiskTypes", "Types of risk (SAC SG2a)", false, kArt9, false),
    CB_ITEM("SafeguardingEnquiry", "LocationOfRisk", "Location of risk (SAC SG2b)", false, kOrd, false),
    CB_ITEM("SafeguardingEnquiry", "SourceOfRisk", "Source of risk (SAC)", false, k3rd, false),
    CB_ITEM("SafeguardingEnquiry", "SourceOfRiskDetail", "Local category of the source of risk", false, k3rd, false),
    CB_ITEM("SafeguardingEnquiry", "RiskAssessment", "Risk assessment outcome and result (SAC SG3)", false, kOrd, false),
    CB_ITEM("SafeguardingEnquiry", "MentalCapacity", "Whether the adult lacked capacity (SAC SG4)", false, kArt9, false),
    CB_ITEM("SafeguardingEnquiry", "Advocacy", "Support by advocate, family or friend (SAC SG4; s68)", false, kOrd, false),
    CB_ITEM("SafeguardingEnquiry", "MakingSafeguardingPersonal", "Outcomes asked, expressed, achieved (SAC SG5)", false, kArt9, false),
    CB_ITEM("SafeguardingEnquiry", "SafeguardingAdultsManager", "The Safeguarding Adults Manager", false, kOrd, false),
    CB_ITEM("SafeguardingEnquiry", "EnquiryOfficer", "The Enquiry Officer", false, kOrd, false),
    CB_ITEM("SafeguardingEnquiry", "Plan", "The safeguarding plan and its actions", false, k3rd, false),
    CB_ITEM("SafeguardingEnquiry", "Review", "Reviews of the enquiry", false, k3rd, false),
    CB_ITEM("SafeguardingEnquiry", "Closure", "Closure date and reason", false, kOrd, false),
};

#undef CB_ITEM

const std::vector<std::string_view> kSections = {"Meta",           "Person",          "Referral",
                                                 "CareActAssessment", "CarersAssessment", "StatutoryReview",
                                                 "SafeguardingConcern", "SafeguardingEnquiry"};

bool isBodySection(std::string_view name) {
  return std::find(kSections.begin() + 2, kSections.end(), name) != kSections.end();
}

const std::string_view kNs = kCanonicalNs;

xmlNode* child(const xmlNode* n, std::string_view local) { return firstChild(n, kNs, local); }

std::string childText(const xmlNode* n, std::string_view local) {
  const xmlNode* c = n != nullptr ? child(n, local) : nullptr;
  return c != nullptr ? text(c) : std::string();
}

const xmlNode* recordRoot(const _xmlDoc* doc) {
  const xmlNode* root = doc != nullptr ? xmlDocGetRootElement(const_cast<xmlDocPtr>(doc)) : nullptr;
  return is(root, kNs, "Record") ? root : nullptr;
}

const xmlNode* bodyOf(const xmlNode* record) {
  for (const xmlNode* c : elementChildren(record)) {
    if (nsHref(c) == kNs && isBodySection(localName(c))) return c;
  }
  return nullptr;
}

// Replace [from, to) of s by the marker.
void cut(std::string& s, std::size_t from, std::size_t to) { s.replace(from, to - from, "[value withheld]"); }

}  // namespace

// ------------------------------------------------------------ the model ----

Result<std::shared_ptr<const CanonicalModel>> CanonicalModel::load(const std::string& xsd_path) {
  auto schema = xml::Schema::load(xsd_path);
  if (!schema) return schema.error();
  std::shared_ptr<CanonicalModel> m(new CanonicalModel());
  m->schema_ = std::move(*schema);
  return std::shared_ptr<const CanonicalModel>(std::move(m));
}

const std::string& CanonicalModel::schemaPath() const { return schema_->path(); }

std::string withholdValuesInMessage(std::string_view message) {
  std::string out(message);
  // libxml2 xmlschemas.c quotes values in two shapes:
  //   "... The value '<v>' is not accepted by the pattern ..." (facets)
  //   "Element 'X'[, attribute 'a']: '<v>' is not a valid value of ..."
  std::size_t pos = 0;
  static constexpr std::string_view kValue = "The value '";
  while ((pos = out.find(kValue, pos)) != std::string::npos) {
    const std::size_t open = pos + kValue.size();
    std::size_t close = std::string::npos;
    for (std::string_view tail : {"' is ", "' has ", "' does "}) {
      const std::size_t c = out.find(tail, open);
      if (c != std::string::npos && c < close) close = c;
    }
    if (close == std::string::npos) close = out.find('\n', open) == std::string::npos ? out.size() : out.find('\n', open);
    cut(out, open - 1, std::min(close + 1, out.size()));
    pos = open;
  }
  static constexpr std::string_view kNotValid = "' is not a valid value";
  const std::size_t end = out.rfind(kNotValid);
  if (end != std::string::npos) {
    const std::size_t open = out.find("': '");
    if (open != std::string::npos && open + 3 <= end) cut(out, open + 3, end + 1);
  }
  return out;
}

Status CanonicalModel::validate(const _xmlDoc* doc, const std::string& doc_name) const {
  if (auto st = schema_->validate(doc, doc_name); !st) {
    std::string redacted;
    std::size_t start = 0;
    const std::string& all = st.error().message;
    while (start <= all.size()) {
      std::size_t nl = all.find('\n', start);
      if (nl == std::string::npos) nl = all.size();
      if (!redacted.empty()) redacted += "\n";
      redacted += withholdValuesInMessage(std::string_view(all).substr(start, nl - start));
      start = nl + 1;
    }
    return fail(redacted);
  }
  const xmlNode* root = recordRoot(doc);
  if (root == nullptr) return fail(doc_name + ": not a canonical Record");
  const std::string type = attr(root, "type").value_or("");
  const xmlNode* body = bodyOf(root);
  const std::string body_name = body != nullptr ? std::string(localName(body)) : "Person";
  if (type != body_name) {
    return fail(doc_name + ":" + std::to_string(lineOf(root)) + ": Record type \"" + type +
                "\" does not match its body (" + (body != nullptr ? "element " + body_name : "no body element") + ")");
  }
  // XSD checks the NHS number's shape; the check digit is checked here.
  std::vector<std::pair<const xmlNode*, const char*>> numbers;
  if (const xmlNode* person = child(root, "Person")) {
    if (const xmlNode* n = child(person, "NHSNumber")) numbers.emplace_back(n, "Person/NHSNumber");
  }
  if (body != nullptr && localName(body) == "CarersAssessment") {
    if (const xmlNode* cared = child(body, "CaredFor")) {
      if (const xmlNode* n = child(cared, "NHSNumber")) numbers.emplace_back(n, "CarersAssessment/CaredFor/NHSNumber");
    }
  }
  for (const auto& [node, where] : numbers) {
    const NhsNumberCheck check = checkNhsNumber(text(node));
    if (!check.valid()) {
      return fail(doc_name + ":" + std::to_string(lineOf(node)) + ": " + where + ": " + std::string(describe(check.status)));
    }
  }
  return {};
}

// ------------------------------------------------------------ the items ----

std::string_view toString(ItemSensitivity s) {
  switch (s) {
    case ItemSensitivity::Ordinary:
      return "ordinary";
    case ItemSensitivity::SpecialCategory:
      return "special-category";
    case ItemSensitivity::ThirdParty:
      return "third-party";
  }
  return "ordinary";
}

const std::vector<CanonicalItem>& CanonicalItems::all() { return kItems; }

const std::vector<std::string_view>& CanonicalItems::sections() { return kSections; }

const CanonicalItem* CanonicalItems::find(std::string_view path) {
  for (const auto& item : kItems) {
    if (item.path == path) return &item;
  }
  return nullptr;
}

bool CanonicalItems::isValidPattern(std::string_view pattern) {
  if (find(pattern) != nullptr) return true;
  if (pattern.size() > 2 && pattern.substr(pattern.size() - 2) == ".*") {
    const std::string_view section = pattern.substr(0, pattern.size() - 2);
    return std::find(kSections.begin(), kSections.end(), section) != kSections.end();
  }
  return false;
}

Result<std::vector<std::string>> withholdExcept(_xmlDoc* doc, const std::vector<std::string>& allowed) {
  const xmlNode* root_c = recordRoot(doc);
  if (root_c == nullptr) return fail("withholding items: the document is not a canonical Record");
  xmlNode* root = const_cast<xmlNode*>(root_c);
  auto is_allowed = [&](std::string_view section, const std::string& path) {
    for (const auto& a : allowed) {
      if (a == path) return true;
      if (a.size() == section.size() + 2 && a.compare(0, section.size(), section) == 0 &&
          a.compare(section.size(), 2, ".*") == 0) {
        return true;
      }
    }
    return false;
  };
  std::vector<std::string> removed;
  auto note = [&](std::string path) {
    if (std::find(removed.begin(), removed.end(), path) == removed.end()) removed.push_back(std::move(path));
  };
  for (xmlNode* section : elementChildren(root)) {
    const std::string section_name(localName(section));
    const bool known_section =
        nsHref(section) == kNs && std::find(kSections.begin(), kSections.end(), section_name) != kSections.end();
    if (!known_section) {
      // Not part of the model: fail closed.
      note(section_name);
      xmlUnlinkNode(section);
      xmlFreeNode(section);
      continue;
    }
    for (xmlNode* item_node : elementChildren(section)) {
      const std::string path = section_name + "." + std::string(localName(item_node));
      const CanonicalItem* item = nsHref(item_node) == kNs ? CanonicalItems::find(path) : nullptr;
      if (item != nullptr && (item->structural || is_allowed(section_name, path))) continue;
      note(path);
      xmlUnlinkNode(item_node);
      xmlFreeNode(item_node);
    }
  }
  return removed;
}

// ---------------------------------------------------------- the summary ----

std::string_view toString(ConsentStatus s) {
  switch (s) {
    case ConsentStatus::NotRecorded:
      return "not-recorded";
    case ConsentStatus::Given:
      return "given";
    case ConsentStatus::Refused:
      return "refused";
    case ConsentStatus::NotSought:
      return "not-sought";
    case ConsentStatus::LacksCapacity:
      return "lacks-capacity";
  }
  return "not-recorded";
}

Result<CanonicalSummary> canonicalSummary(const _xmlDoc* doc) {
  const xmlNode* root = recordRoot(doc);
  if (root == nullptr) return fail("summary: the document is not a canonical Record");
  CanonicalSummary s;
  s.record_type = attr(root, "type").value_or("");
  if (const xmlNode* meta = child(root, "Meta")) {
    s.source_system = childText(meta, "SourceSystem");
    s.source_id = childText(meta, "SourceId");
    s.last_updated = childText(meta, "LastUpdated");
    if (const xmlNode* sens = child(meta, "Sensitivity")) {
      for (const xmlNode* m : elementChildren(sens)) s.sensitivity.push_back(text(m));
    }
    if (const xmlNode* consent = child(meta, "Consent")) {
      const std::string status = childText(consent, "Status");
      if (status == "given") s.consent = ConsentStatus::Given;
      else if (status == "refused") s.consent = ConsentStatus::Refused;
      else if (status == "not-sought") s.consent = ConsentStatus::NotSought;
      else if (status == "lacks-capacity") s.consent = ConsentStatus::LacksCapacity;
      s.consent_date = childText(consent, "Date");
    }
  }
  if (const xmlNode* person = child(root, "Person")) {
    if (const xmlNode* n = child(person, "NHSNumber")) {
      s.nhs_number = text(n);
      s.nhs_number_valid = checkNhsNumber(s.nhs_number).valid();
    }
    for (const xmlNode* c : elementChildren(person)) {
      if (localName(c) == "LocalId") s.local_ids.push_back({attr(c, "system").value_or(""), text(c)});
    }
  }
  if (const xmlNode* body = bodyOf(root)) {
    if (const xmlNode* types = child(body, "RiskTypes")) {
      for (const xmlNode* t : elementChildren(types)) s.risk.risk_types.push_back(text(t));
    }
    if (localName(body) == "SafeguardingEnquiry") {
      s.risk.section_42 = childText(body, "EnquiryType") == "section-42";
      s.risk.enquiry_open = child(body, "Closure") == nullptr;
      if (const xmlNode* ra = child(body, "RiskAssessment")) {
        const std::string outcome = childText(ra, "Outcome");
        const std::string result = childText(ra, "Result");
        s.risk.risk_identified = outcome.rfind("risk-identified", 0) == 0;
        s.risk.risk_remains = result == "risk-remains" || outcome == "risk-identified-no-action-taken";
      }
      if (const xmlNode* mc = child(body, "MentalCapacity")) s.risk.lacks_capacity = childText(mc, "LacksCapacity") == "yes";
    } else if (localName(body) == "SafeguardingConcern") {
      s.risk.section_42 = childText(body, "Decision") == "section-42-enquiry";
    }
  }
  return s;
}

}  // namespace cb::mapping
