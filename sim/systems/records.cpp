#include "systems/records.h"

#include "systems/casework.h"
#include "systems/random.h"
#include "systems/text.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace cb::sim {

namespace json = boost::json;
using namespace detail;

std::string_view systemName(SeedSystem s) {
  switch (s) {
    case SeedSystem::Rio: return "rio";
    case SeedSystem::Carenotes: return "carenotes";
    case SeedSystem::Mosaic: return "mosaic";
    case SeedSystem::Las: return "las";
    case SeedSystem::Ais: return "ais";
    case SeedSystem::UkCore: return "ukcore";
  }
  return "?";
}

const std::vector<SeedSystem>& allSeedSystems() {
  static const std::vector<SeedSystem> all = {SeedSystem::Rio, SeedSystem::Carenotes, SeedSystem::Mosaic,
                                              SeedSystem::Las, SeedSystem::Ais,       SeedSystem::UkCore};
  return all;
}

std::optional<SeedSystem> systemFromName(std::string_view name) {
  for (SeedSystem s : allSeedSystems()) {
    if (systemName(s) == name) return s;
  }
  return std::nullopt;
}

const std::vector<RecordKind>& recordKinds(SeedSystem system) {
  static const std::vector<RecordKind> rio = {{"adt-a28", "Person"},
                                              {"adt-a31", "Person"},
                                              {"enquiry", "SafeguardingEnquiry"},
                                              {"concern", "SafeguardingConcern"},
                                              {"review", "StatutoryReview"},
                                              {"assessment", "CareActAssessment"},
                                              {"carers", "CarersAssessment"}};
  static const std::vector<RecordKind> fhir = {{"patient", "Person"},
                                               {"enquiry", "SafeguardingEnquiry"},
                                               {"concern", "SafeguardingConcern"},
                                               {"assessment", "CareActAssessment"},
                                               {"carers", "CarersAssessment"},
                                               {"review", "StatutoryReview"},
                                               {"referral", "Referral"}};
  static const std::vector<RecordKind> mosaic = {
      {"person", "Person"}, {"referral", "Referral"}, {"enquiry", "SafeguardingEnquiry"}};
  static const std::vector<RecordKind> las = {{"person", "Person"}, {"referral", "Referral"}};
  static const std::vector<RecordKind> ais = {{"client", "Person"}, {"referral", "Referral"}};
  switch (system) {
    case SeedSystem::Rio: return rio;
    case SeedSystem::Carenotes:
    case SeedSystem::UkCore: return fhir;
    case SeedSystem::Mosaic: return mosaic;
    case SeedSystem::Las: return las;
    case SeedSystem::Ais: return ais;
  }
  return rio;
}

std::vector<std::string> splitList(std::string_view text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at <= text.size()) {
    std::size_t comma = text.find(',', at);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view part = text.substr(at, comma - at);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) out.emplace_back(part);
    at = comma + 1;
  }
  return out;
}

namespace {

using std::chrono::sys_days;

std::string padded(std::uint64_t n, std::size_t width) {
  std::string s = std::to_string(n);
  return s.size() >= width ? s : std::string(width - s.size(), '0') + s;
}

std::string upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

std::string yearOf(sys_days d) { return isoDate(d).substr(0, 4); }

// ---- XML --------------------------------------------------------------------

std::string el(std::string_view name, std::string_view value) {
  return "<" + std::string(name) + ">" + xmlEscape(value) + "</" + std::string(name) + ">";
}

/// Accumulates an indented XML document, one element per line.
class XmlLines {
 public:
  explicit XmlLines(std::string root) : root_(std::move(root)) {
    text_ = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<" + root_ + " schemaVersion=\"1\">\n";
  }
  void open(std::string_view name) { line("<" + std::string(name) + ">"), ++depth_; }
  void close(std::string_view name) { --depth_, line("</" + std::string(name) + ">"); }
  void add(std::string_view name, std::string_view value) { line(el(name, value)); }
  void line(const std::string& raw) { text_ += std::string(static_cast<std::size_t>(2 * depth_), ' ') + raw + "\n"; }
  std::string done() { return text_ + "</" + root_ + ">\n"; }

 private:
  std::string root_, text_;
  int depth_ = 1;
};

std::string addressXml(const SyntheticPerson& p, const char* postcode_element, SeededRandom& r) {
  std::string a = "<Address>" + el("Line", p.address_line1);
  if (!p.address_line2.empty()) a += el("Line", p.address_line2);
  a += el("Town", p.town);
  // Exports write postcodes as they were keyed: sometimes lower case or without the space.
  std::string pc = p.postcode;
  const auto style = r.below(6);
  if (style == 0) {
    for (char& c : pc) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  } else if (style == 1) {
    pc.erase(std::remove(pc.begin(), pc.end(), ' '), pc.end());
  }
  return a + el(postcode_element, pc) + "</Address>";
}

std::string nhsAsKeyed(const std::string& nhs, SeededRandom& r) {
  // Exports show the number 3-3-4 spaced as often as not.
  return r.oneIn(2) ? nhs : nhs.substr(0, 3) + " " + nhs.substr(3, 3) + " " + nhs.substr(6);
}

std::string sexLetter(Sex s) { return s == Sex::Male ? "M" : s == Sex::Female ? "F" : "U"; }
std::string sexWord(Sex s) { return s == Sex::Male ? "Male" : s == Sex::Female ? "Female" : "Not Known"; }
std::string fhirGender(Sex s) { return s == Sex::Male ? "male" : s == Sex::Female ? "female" : "unknown"; }

// The RiO/Mosaic client block: local id, NHS number, name, birth date (DD/MM/YYYY), sex, address.
void clientBlock(XmlLines& x, const char* block, const char* id_element, const std::string& local_id,
                 const SyntheticPerson& p, SeededRandom& r) {
  x.open(block);
  x.add(id_element, local_id);
  x.add("NHSNumber", nhsAsKeyed(p.nhs_number, r));
  x.add("Title", p.title);
  x.add("Forenames", p.forenames());
  x.add("Surname", upper(p.family));
  x.add("DateOfBirth", ukDate(p.birth_date));
  x.add("Gender", sexLetter(p.sex));
  x.line(addressXml(p, "PostCode", r));
}

std::string practitionerXml(const char* element, const Practitioner& p, bool with_role, bool with_ods) {
  std::string s = "<" + std::string(element) + ">" + el("Name", p.name);
  if (with_role) s += el("Role", p.role);
  s += el("Team", p.team);
  if (with_ods) s += el("ODSCode", p.ods);
  return s + "</" + element + ">";
}

// The enquiry block RiO and Mosaic share (mappings/rio/enquiry-in.xml, mappings/mosaic/enquiry-in.xml).
void enquiryBlock(XmlLines& x, const std::string& id, const LocalTime& amended, const Enquiry& e) {
  x.open("Enquiry");
  x.add("EnquiryID", id);
  x.add("LastAmended", csvDateTime(amended));
  x.add("EnquiryType", e.type.wording);
  x.add("ConcernReceived", ukDate(e.concern));
  x.add("EnquiryStarted", ukDate(e.started));
  std::string risks = "<RiskTypes>";
  for (const auto& k : e.risks) risks += el("RiskType", k.wording);
  x.line(risks + "</RiskTypes>");
  x.add("LocationOfRisk", e.location.wording);
  x.add("SourceOfRisk", e.source.wording);
  if (e.has_outcome) {
    x.add("RiskOutcome", e.outcome.wording);
    x.add("RiskResult", e.result.wording);
  }
  if (e.capacity_recorded) {
    x.line("<LacksCapacity assessed=\"" + ukDate(e.capacity_assessed) + "\">" + xmlEscape(e.lacks_capacity.wording) +
           "</LacksCapacity>");
  }
  x.line("<Advocacy provided=\"" + e.advocacy.wording + "\"" +
         (e.advocacy_by.token.empty() ? std::string() : " by=\"" + e.advocacy_by.wording + "\"") + "/>");
  std::string msp = "<MSP asked=\"" + e.msp_asked.wording + "\"" +
                    (e.msp_achieved.token.empty() ? std::string() : " achieved=\"" + e.msp_achieved.wording + "\"");
  if (e.msp_outcomes.empty()) {
    x.line(msp + "/>");
  } else {
    msp += ">";
    for (const auto& o : e.msp_outcomes) msp += el("Outcome", o);
    x.line(msp + "</MSP>");
  }
  x.line(practitionerXml("SafeguardingAdultsManager", e.manager, false, false));
  x.line(practitionerXml("EnquiryOfficer", e.officer, true, false));
  x.line("<Plan>" + el("Summary", e.plan_summary) + "<Action due=\"" + ukDate(e.action_due) + "\" done=\"" +
         (e.action_done ? "Yes" : "No") + "\">" + el("What", e.action_what) + el("Who", e.action_who) +
         "</Action></Plan>");
  if (e.reviewed) {
    x.line("<Review date=\"" + ukDate(e.review_date) + "\">" + xmlEscape(e.review_notes) + "</Review>");
  }
  if (e.closed) {
    x.line("<Closed date=\"" + ukDate(e.closed_date) + "\">" + xmlEscape(e.closure_reason) + "</Closed>");
  }
  x.close("Enquiry");
}

// ---- the record being made ---------------------------------------------------

struct Draw {
  SeedSystem system;
  std::uint64_t seed, seq, persons;
  std::string kind;
  SeededRandom r;
  SyntheticPerson person;
  std::uint64_t serial;  // distinct per (seed, seq): record ids are built from it
  LocalTime amended;
};

/// Someone else from the population: the adult a carer cares for.
SyntheticPerson otherPerson(Draw& d) {
  if (d.persons <= 1) return makePerson(d.seed, d.person.index + 1);
  const std::uint64_t other = (d.person.index + 1 + d.r.below(d.persons - 1)) % d.persons;
  return makePerson(d.seed, other);
}

// ---- RiO ---------------------------------------------------------------------

void rioAdt(Draw& d, SyntheticRecord& out, bool add) {
  // HL7 v2.5 ADT^A28 (add person information) / ADT^A31 (update person
  // information), message structure ADT_A05 (v2.5 chapter 3.3.28, 3.3.31).
  const SyntheticPerson& p = d.person;
  const std::string trigger = add ? "A28" : "A31";
  const std::string ts = hl7DateTime(d.amended);
  out.source_id = "RIO-ADT-" + padded(d.serial, 9);
  out.message_type = "ADT^" + trigger;
  const std::string second_given = p.given.size() > 1 ? p.given[1] : "";
  std::string m = "MSH|^~\\&|RIO|RAT|CAREBRIDGE|" + std::string(d.r.oneIn(2) ? "LBBD" : "LBB") + "|" + ts +
                  "||ADT^" + trigger + "^ADT_A05|" + out.source_id + "|P|2.5|||AL|NE|GBR|UNICODE UTF-8\r";
  m += "EVN|" + trigger + "|" + ts + "\r";
  m += "PID|1||" + p.nhs_number + "^^^NHS^NH~" + p.rio_id + "^^^RIO^PI||" + er7Escape(upper(p.family)) + "^" +
       er7Escape(p.given.front()) + "^" + er7Escape(second_given) + "^^" + er7Escape(p.title) + "||" +
       hl7Date(p.birth_date) + "|" + sexLetter(p.sex) + "|||" + er7Escape(p.address_line1) + "^" +
       er7Escape(p.address_line2) + "^" + er7Escape(p.town) + "^^" + er7Escape(p.postcode) + "^GBR^H||" +
       er7Escape(p.phone) + "^PRN^" + (p.phone_is_mobile ? "CP" : "PH") + "|||||||||" + p.ethnicity + "\r";
  m += "PD1|||" + er7Escape(p.town + " Medical Practice") + "^^" + p.gp_practice + "\r";
  if (d.r.oneIn(3)) {
    const NextOfKin k = drawNextOfKin(d.r, p);
    m += "NK1|1|" + er7Escape(upper(k.family)) + "^" + er7Escape(k.given) + "|" + er7Escape(upper(k.relationship)) +
         "^" + er7Escape(k.relationship) + "||" + er7Escape(k.phone) + "\r";
  }
  out.bytes = std::move(m);
  out.content_type = "application/hl7-v2";
  out.file_name = out.source_id + ".hl7";
}

void rioExport(Draw& d, SyntheticRecord& out) {
  const SyntheticPerson& p = d.person;
  SeededRandom& r = d.r;
  const std::string year = yearOf(d.amended.day);
  if (d.kind == "enquiry") {
    const Enquiry e = drawEnquiry(r, d.system, d.amended);
    out.source_id = "SG-" + year + "-" + padded(d.serial, 6);
    XmlLines x("RiOSafeguardingExport");
    clientBlock(x, "Client", "ClientID", p.rio_id, p, r);
    x.close("Client");
    enquiryBlock(x, out.source_id, d.amended, e);
    out.bytes = x.done();
    out.file_name = "RiO_SafeguardingEnquiry_" + out.source_id + ".xml";
  } else if (d.kind == "concern") {
    const Concern c = drawConcern(r, d.system, d.amended);
    out.source_id = "SGC-" + year + "-" + padded(d.serial, 6);
    XmlLines x("RiOSafeguardingConcernExport");
    clientBlock(x, "Client", "ClientID", p.rio_id, p, r);
    x.close("Client");
    x.open("Concern");
    x.add("RecordID", out.source_id);
    x.add("LastAmended", csvDateTime(d.amended));
    x.add("Received", ukDate(c.received));
    x.add("RaisedBy", c.raised_by);
    std::string risks = "<RiskTypes>";
    for (const auto& k : c.risks) risks += el("RiskType", k.wording);
    x.line(risks + "</RiskTypes>");
    x.add("LocationOfRisk", c.location.wording);
    x.add("SourceOfRisk", c.source.wording);
    x.add("Description", c.description);
    x.add("ImmediateActions", c.immediate_actions);
    if (c.decided) {
      x.line("<Decision date=\"" + ukDate(c.decision_date) + "\">" + xmlEscape(c.decision.wording) + "</Decision>");
    }
    x.close("Concern");
    out.bytes = x.done();
    out.file_name = "RiO_SafeguardingConcern_" + out.source_id + ".xml";
  } else if (d.kind == "review") {
    const Review v = drawReview(r, d.system, d.amended);
    out.source_id = "CPA-" + padded(d.serial, 7);
    XmlLines x("RiOCPAReviewExport");
    clientBlock(x, "Client", "ClientID", p.rio_id, p, r);
    x.close("Client");
    x.open("CPAReview");
    x.add("ReviewID", out.source_id);
    x.add("LastAmended", csvDateTime(d.amended));
    x.add("ReviewDate", ukDate(v.date));
    x.add("ReviewType", v.kind.wording);
    x.line(practitionerXml("CareCoordinator", v.reviewer, true, false));
    x.add("Outcome", v.outcome);
    x.add("CarePlanChanged", v.plan_changed ? "Yes" : "No");
    x.add("NextReviewDue", ukDate(v.next_due));
    x.close("CPAReview");
    out.bytes = x.done();
    out.file_name = "RiO_CPAReview_" + out.source_id + ".xml";
  } else {
    const bool carers = d.kind == "carers";
    const Assessment a = drawAssessment(r, d.system, d.amended, carers);
    out.source_id = (carers ? "CRA-" : "CAA-") + year + "-" + padded(d.serial, 6);
    XmlLines x(carers ? "RiOCarersAssessmentExport" : "RiOCareActAssessmentExport");
    clientBlock(x, "Client", "ClientID", p.rio_id, p, r);
    x.close("Client");
    x.open("Assessment");
    x.add("RecordID", out.source_id);
    x.add("LastAmended", csvDateTime(d.amended));
    x.add("Started", ukDate(a.started));
    if (a.completed) x.add("Completed", ukDate(a.completed_date));
    x.line(practitionerXml("Assessor", a.assessor, true, true));
    if (carers) {
      const SyntheticPerson cared = otherPerson(d);
      x.line("<CaredFor>" + el("ClientID", cared.rio_id) + el("NHSNumber", cared.nhs_number) +
             el("Forenames", cared.forenames()) + el("Surname", upper(cared.family)) +
             el("Relationship", a.relationship) + "</CaredFor>");
      x.add("Needs", a.needs);
      x.add("AbleAndWilling", a.able_and_willing ? "Yes" : "No");
      x.add("Eligibility", a.eligibility.wording);
    } else {
      x.add("PrimarySupportReason", a.support_reason.wording);
      x.add("Needs", a.needs);
      for (const auto& o : a.desired_outcomes) x.add("DesiredOutcome", o);
      x.add("Eligibility", a.eligibility.wording);
      if (a.has_advocacy) {
        x.line("<Advocacy provided=\"" + a.advocacy.wording + "\"" +
               (a.advocacy_by.token.empty() ? std::string() : " by=\"" + a.advocacy_by.wording + "\"") + "/>");
      }
      x.add("CarerInvolved", a.carer_involved ? "Yes" : "No");
    }
    if (a.completed) x.add("Outcome", a.outcome);
    x.close("Assessment");
    out.bytes = x.done();
    out.file_name = std::string(carers ? "RiO_CarersAssessment_" : "RiO_CareActAssessment_") + out.source_id + ".xml";
  }
  out.content_type = "application/xml";
}

// ---- FHIR R4 (Carenotes, UK Core) -------------------------------------------

struct FhirSystem {
  std::string local_system;  // urn:carebridge:local-id:<this>
  std::string record_system;  // urn:carebridge:record:<this>
  std::string id_prefix;
};
FhirSystem fhirSystemOf(SeedSystem s) {
  if (s == SeedSystem::Carenotes) return {"carenotes", "carenotes", "CN"};
  return {"cwpt", "cwpt", "CW"};
}

json::object identifier(std::string_view system, std::string_view value) {
  json::object o;
  o["system"] = system;
  o["value"] = value;
  return o;
}

json::object patientResource(const SyntheticPerson& p, SeedSystem s, SeededRandom& r, bool full) {
  const FhirSystem fs = fhirSystemOf(s);
  const std::string& local = s == SeedSystem::Carenotes ? p.carenotes_id : p.ukcore_id;
  json::object pt;
  pt["resourceType"] = "Patient";
  json::object meta;
  meta["profile"] = json::array{"https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"};
  pt["meta"] = std::move(meta);
  if (full) {
    json::object coding;
    coding["system"] = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland";
    coding["code"] = p.ethnicity;
    json::object concept_;
    concept_["coding"] = json::array{coding};
    json::object ext;
    ext["url"] = "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory";
    ext["valueCodeableConcept"] = std::move(concept_);
    pt["extension"] = json::array{ext};
  }
  pt["identifier"] = json::array{identifier("https://fhir.nhs.uk/Id/nhs-number", p.nhs_number),
                                 identifier("urn:carebridge:local-id:" + fs.local_system, local)};
  json::object name;
  name["use"] = "official";
  name["family"] = p.family;
  json::array given;
  for (const auto& g : p.given) given.emplace_back(g);
  name["given"] = std::move(given);
  name["prefix"] = json::array{json::value(p.title)};
  pt["name"] = json::array{name};
  if (full) {
    json::object tel;
    tel["system"] = "phone";
    tel["value"] = p.phone;
    tel["use"] = p.phone_is_mobile ? "mobile" : "home";
    pt["telecom"] = json::array{tel};
  }
  pt["gender"] = fhirGender(p.sex);
  pt["birthDate"] = isoDate(p.birth_date);
  json::object addr;
  addr["use"] = "home";
  json::array lines{json::value(p.address_line1)};
  if (!p.address_line2.empty()) lines.emplace_back(p.address_line2);
  addr["line"] = std::move(lines);
  addr["city"] = p.town;
  addr["postalCode"] = p.postcode;
  pt["address"] = json::array{addr};
  if (full) {
    if (r.oneIn(3)) {
      const NextOfKin k = drawNextOfKin(r, p);
      json::object rel;
      rel["text"] = k.relationship;
      json::object kn;
      kn["family"] = k.family;
      kn["given"] = json::array{json::value(k.given)};
      json::object kt;
      kt["system"] = "phone";
      kt["value"] = k.phone;
      json::object contact;
      contact["relationship"] = json::array{rel};
      contact["name"] = std::move(kn);
      contact["telecom"] = json::array{kt};
      pt["contact"] = json::array{contact};
    }
    json::object gp;
    gp["identifier"] = identifier("https://fhir.nhs.uk/Id/ods-organization-code", p.gp_practice);
    pt["generalPractitioner"] = json::array{gp};
  }
  return pt;
}

/// QuestionnaireResponse items (FHIR R4 QuestionnaireResponse.item), built in order.
class Items {
 public:
  json::array& array() { return items_; }
  void add(const char* link, json::array answers) {
    json::object it;
    it["linkId"] = link;
    it["answer"] = std::move(answers);
    items_.emplace_back(std::move(it));
  }
  void str(const char* link, std::string_view v) { add(link, json::array{answer("valueString", json::value(v))}); }
  void date(const char* link, sys_days d) { add(link, json::array{answer("valueDate", json::value(isoDate(d)))}); }
  void boolean(const char* link, bool b) { add(link, json::array{answer("valueBoolean", json::value(b))}); }
  void code(const char* link, const char* system, std::string_view token) {
    add(link, json::array{coding(system, token)});
  }
  static json::object answer(const char* type, json::value v) {
    json::object a;
    a[type] = std::move(v);
    return a;
  }
  static json::object coding(const char* system, std::string_view token) {
    json::object c;
    c["system"] = std::string("urn:carebridge:codesystem:") + system;
    c["code"] = token;
    return answer("valueCoding", c);
  }

 private:
  json::array items_;
};

void practitionerItems(Items& it, const char* prefix, const Practitioner& p, bool with_org) {
  const std::string base = prefix;
  it.str(prefix, p.name);
  it.str((base == "assessor" ? "assessor-role" : "reviewer-role"), p.role);
  it.str((base == "assessor" ? "assessor-team" : "reviewer-team"), p.team);
  if (with_org) it.str((base == "assessor" ? "assessor-organisation" : "reviewer-organisation"), p.ods);
}

void fhirRecord(Draw& d, SyntheticRecord& out) {
  const SyntheticPerson& p = d.person;
  SeededRandom& r = d.r;
  const FhirSystem fs = fhirSystemOf(d.system);
  const std::string when = fhirDateTime(d.amended);
  out.content_type = "application/fhir+json";
  if (d.kind == "patient") {
    json::object pt = patientResource(p, d.system, r, true);
    const std::string& local = d.system == SeedSystem::Carenotes ? p.carenotes_id : p.ukcore_id;
    // The logical id is the system's own client id; meta.source names this
    // version so two updates of one patient are two records.
    json::object rebuilt;
    rebuilt["resourceType"] = "Patient";
    rebuilt["id"] = local;
    json::object meta = pt["meta"].as_object();
    json::object ordered_meta;
    ordered_meta["lastUpdated"] = when;
    ordered_meta["source"] = "urn:carebridge:record:" + fs.record_system + ":" + local + "-" + padded(d.serial, 6);
    ordered_meta["profile"] = meta["profile"];
    rebuilt["meta"] = std::move(ordered_meta);
    for (auto& kv : pt) {
      if (kv.key() != "resourceType" && kv.key() != "meta") rebuilt[kv.key()] = kv.value();
    }
    out.source_id = local;
    out.fhir_type = "Patient";
    out.bytes = json::serialize(rebuilt);
    out.file_name = "Patient-" + local + "-" + padded(d.serial, 6) + ".json";
    return;
  }

  const std::string year = yearOf(d.amended.day);
  Items it;
  std::string questionnaire, status = "completed";
  if (d.kind == "enquiry") {
    const Enquiry e = drawEnquiry(r, d.system, d.amended);
    out.source_id = "SG-" + year + "-" + padded(d.serial, 6);
    questionnaire = "safeguarding-enquiry";
    status = e.closed ? "completed" : "in-progress";
    it.code("enquiry-type", "enquiry-kind", e.type.token);
    it.date("start-date", e.started);
    it.date("concern-date", e.concern);
    json::array risks;
    for (const auto& k : e.risks) risks.emplace_back(Items::coding("risk-type", k.token));
    it.add("risk-type", std::move(risks));
    it.code("location-of-risk", "location-of-risk", e.location.token);
    it.code("source-of-risk", "source-of-risk", e.source.token);
    it.str("source-of-risk-detail", e.source.wording);
    if (e.has_outcome) {
      it.code("risk-assessment-outcome", "risk-assessment-outcome", e.outcome.token);
      it.code("risk-assessment-result", "risk-result", e.result.token);
    }
    if (e.capacity_recorded) {
      it.code("lacks-capacity", "sac-answer", e.lacks_capacity.token);
      it.date("capacity-assessed-date", e.capacity_assessed);
    }
    it.code("advocacy-provided", "sac-answer", e.advocacy.token);
    if (!e.advocacy_by.token.empty()) it.code("advocacy-by", "supporter", e.advocacy_by.token);
    it.code("msp-asked", "msp-asked", e.msp_asked.token);
    if (!e.msp_outcomes.empty()) {
      json::array outs;
      for (const auto& o : e.msp_outcomes) outs.emplace_back(Items::answer("valueString", json::value(o)));
      it.add("msp-outcome-expressed", std::move(outs));
    }
    if (!e.msp_achieved.token.empty()) it.code("msp-outcomes-achieved", "outcomes-achieved", e.msp_achieved.token);
    it.str("safeguarding-adults-manager", e.manager.name);
    it.str("safeguarding-adults-manager-team", e.manager.team);
    it.str("enquiry-officer", e.officer.name);
    it.str("enquiry-officer-team", e.officer.team);
    it.str("plan-summary", e.plan_summary);
    if (e.reviewed) it.date("review-date", e.review_date);
    if (e.closed) {
      it.date("closure-date", e.closed_date);
      it.str("closure-reason", e.closure_reason);
    }
  } else if (d.kind == "concern") {
    const Concern c = drawConcern(r, d.system, d.amended);
    out.source_id = "SGC-" + year + "-" + padded(d.serial, 6);
    questionnaire = "safeguarding-concern";
    status = c.decided ? "completed" : "in-progress";
    it.add("received-date", json::array{Items::answer("valueDateTime", json::value(isoDate(c.received)))});
    it.str("raised-by", c.raised_by);
    json::array risks;
    for (const auto& k : c.risks) risks.emplace_back(Items::coding("risk-type", k.token));
    it.add("risk-type", std::move(risks));
    it.code("location-of-risk", "location-of-risk", c.location.token);
    it.code("source-of-risk", "source-of-risk", c.source.token);
    it.str("description", c.description);
    it.str("immediate-actions", c.immediate_actions);
    if (c.decided) {
      it.code("decision", "concern-decision", c.decision.token);
      it.date("decision-date", c.decision_date);
    }
  } else if (d.kind == "assessment" || d.kind == "carers") {
    const bool carers = d.kind == "carers";
    const Assessment a = drawAssessment(r, d.system, d.amended, carers);
    out.source_id = (carers ? "CRA-" : "CAA-") + year + "-" + padded(d.serial, 6);
    questionnaire = carers ? "carers-assessment" : "care-act-assessment";
    status = a.completed ? "completed" : "in-progress";
    it.date("start-date", a.started);
    if (a.completed) it.date("completed-date", a.completed_date);
    practitionerItems(it, "assessor", a.assessor, true);
    if (carers) {
      const SyntheticPerson cared = otherPerson(d);
      it.str("cared-for-nhs-number", cared.nhs_number);
      json::array given;
      for (const auto& g : cared.given) given.emplace_back(Items::answer("valueString", json::value(g)));
      json::object gi;
      gi["linkId"] = "cared-for-given";
      gi["answer"] = std::move(given);
      json::object fi;
      fi["linkId"] = "cared-for-family";
      fi["answer"] = json::array{Items::answer("valueString", json::value(cared.family))};
      json::object name;
      name["linkId"] = "cared-for-name";
      name["item"] = json::array{gi, fi};
      it.array().emplace_back(std::move(name));
      it.str("cared-for-relationship", a.relationship);
      it.str("needs", a.needs);
      it.boolean("able-and-willing", a.able_and_willing);
      it.code("eligibility", "eligibility", a.eligibility.token);
    } else {
      it.code("primary-support-reason", "primary-support-reason", a.support_reason.token);
      it.str("needs", a.needs);
      json::array outs;
      for (const auto& o : a.desired_outcomes) outs.emplace_back(Items::answer("valueString", json::value(o)));
      it.add("desired-outcome", std::move(outs));
      it.code("eligibility", "eligibility", a.eligibility.token);
      if (a.has_advocacy) {
        it.code("advocacy-provided", "sac-answer", a.advocacy.token);
        if (!a.advocacy_by.token.empty()) it.code("advocacy-by", "supporter", a.advocacy_by.token);
      }
      it.boolean("carer-involved", a.carer_involved);
    }
    if (a.completed) it.str("outcome", a.outcome);
  } else if (d.kind == "review") {
    const Review v = drawReview(r, d.system, d.amended);
    out.source_id = "REV-" + year + "-" + padded(d.serial, 6);
    questionnaire = "statutory-review";
    it.date("review-date", v.date);
    it.code("review-type", "review-kind", v.kind.token);
    practitionerItems(it, "reviewer", v.reviewer, true);
    it.str("outcome", v.outcome);
    it.boolean("plan-revised", v.plan_changed);
    it.date("next-review-date", v.next_due);
  } else {  // referral
    const Referral f = drawReferral(r, d.system, d.amended);
    out.source_id = "REF-" + year + "-" + padded(d.serial, 6);
    questionnaire = "referral";
    status = f.has_outcome ? "completed" : "in-progress";
    it.add("received-date", json::array{Items::answer("valueDateTime", json::value(fhirDateTime(f.received)))});
    it.str("source", f.source);
    it.str("reason", f.reason);
    it.code("urgency", "urgency", f.urgency.token);
    it.str("team", f.team);
    if (f.has_outcome) {
      it.str("outcome", f.outcome);
      it.add("outcome-date", json::array{Items::answer("valueDateTime", json::value(isoDate(f.outcome_date)))});
    }
  }

  const std::string record_system = "urn:carebridge:record:" + fs.record_system;
  json::object qr;
  qr["resourceType"] = "QuestionnaireResponse";
  qr["identifier"] = identifier(record_system, out.source_id);
  qr["questionnaire"] = "urn:carebridge:questionnaire:" + questionnaire + ":1";
  qr["status"] = status;
  json::object subject;
  subject["identifier"] = identifier("https://fhir.nhs.uk/Id/nhs-number", p.nhs_number);
  qr["subject"] = std::move(subject);
  qr["authored"] = when;
  qr["item"] = std::move(it.array());

  json::object bundle;
  bundle["resourceType"] = "Bundle";
  json::object meta;
  meta["lastUpdated"] = when;
  bundle["meta"] = std::move(meta);
  bundle["identifier"] = identifier(record_system, out.source_id);
  bundle["type"] = "collection";
  bundle["timestamp"] = when;
  json::object e1, e2;
  e1["resource"] = patientResource(p, d.system, r, false);
  e2["resource"] = std::move(qr);
  bundle["entry"] = json::array{e1, e2};
  // The person's consent to share, as the worker recorded it: a FHIR R4
  // Consent (scope patient-privacy, http://hl7.org/fhir/R4/consent.html) in
  // most Bundles, permit or deny; none in some (consent not recorded).
  if (const std::uint64_t c = r.below(10); c < 7) {
    json::object consent;
    consent["resourceType"] = "Consent";
    consent["status"] = "active";
    json::object scope_coding;
    scope_coding["system"] = "http://terminology.hl7.org/CodeSystem/consentscope";
    scope_coding["code"] = "patient-privacy";
    json::object scope;
    scope["coding"] = json::array{scope_coding};
    consent["scope"] = std::move(scope);
    json::object category_coding;
    category_coding["system"] = "http://loinc.org";
    category_coding["code"] = "59284-0";  // Patient Consent
    json::object category;
    category["coding"] = json::array{category_coding};
    consent["category"] = json::array{category};
    json::object patient;
    patient["identifier"] = identifier("https://fhir.nhs.uk/Id/nhs-number", p.nhs_number);
    consent["patient"] = std::move(patient);
    consent["dateTime"] = when;
    json::object performer;
    performer["display"] = drawPractitioner(r, d.system).name;
    consent["performer"] = json::array{performer};
    json::object provision;
    provision["type"] = c < 6 ? "permit" : "deny";
    consent["provision"] = std::move(provision);
    json::object e3;
    e3["resource"] = std::move(consent);
    bundle["entry"].as_array().push_back(std::move(e3));
  }
  out.fhir_type = "Bundle";
  out.bytes = json::serialize(bundle);
  out.file_name = "Bundle-" + out.source_id + ".json";
}

// ---- Mosaic ------------------------------------------------------------------

void mosaicRecord(Draw& d, SyntheticRecord& out) {
  const SyntheticPerson& p = d.person;
  SeededRandom& r = d.r;
  out.content_type = "application/xml";
  if (d.kind == "enquiry") {
    const Enquiry e = drawEnquiry(r, d.system, d.amended);
    out.source_id = "MOS-ENQ-" + padded(d.serial, 6);
    XmlLines x("MosaicSafeguardingExport");
    clientBlock(x, "Person", "PersonID", p.mosaic_id, p, r);
    x.close("Person");
    enquiryBlock(x, out.source_id, d.amended, e);
    out.bytes = x.done();
    out.file_name = "MOSAIC_SafeguardingEnquiry_" + out.source_id + ".xml";
    return;
  }
  const bool referral = d.kind == "referral";
  out.source_id = referral ? "MOS-CON-" + padded(d.serial, 7) : "MOS-PER-" + p.mosaic_id.substr(4) + "-" +
                                                                     padded(d.serial, 6);
  XmlLines x(referral ? "MosaicReferralExport" : "MosaicPersonExport");
  x.open("Export");
  x.add("ExportID", out.source_id);
  x.add("LastAmended", csvDateTime(d.amended));
  x.close("Export");
  clientBlock(x, "Person", "PersonID", p.mosaic_id, p, r);
  if (!referral) {
    // Mosaic's person export carries the full demographics (mappings/mosaic/person-in.xml).
    x.add("EthnicityCode", p.ethnicity);
    x.line("<Phone type=\"" + std::string(p.phone_is_mobile ? "Mobile" : "Home") + "\">" + xmlEscape(p.phone) +
           "</Phone>");
    x.add("GPPracticeCode", p.gp_practice);
  }
  x.close("Person");
  if (referral) {
    const Referral f = drawReferral(r, d.system, d.amended);
    x.open("Referral");
    x.add("ContactDate", ukDate(f.received.day));
    x.add("ContactSource", f.source);
    x.add("Reason", f.reason);
    x.add("Priority", f.urgency.wording);
    x.add("Team", f.team);
    if (f.has_outcome) {
      x.add("NextAction", f.outcome);
      x.add("NextActionDate", ukDate(f.outcome_date));
    }
    x.close("Referral");
  }
  out.bytes = x.done();
  out.file_name = std::string(referral ? "MOSAIC_Referral_" : "MOSAIC_Person_") + out.source_id + ".xml";
}

// ---- Liquidlogic LAS ---------------------------------------------------------

void lasRecord(Draw& d, SyntheticRecord& out) {
  const SyntheticPerson& p = d.person;
  SeededRandom& r = d.r;
  const bool referral = d.kind == "referral";
  out.content_type = "application/xml";
  out.source_id = referral ? "LAS-REF-" + yearOf(d.amended.day) + "-" + padded(d.serial, 6)
                           : "LAS-PER-" + padded(d.serial, 7);
  XmlLines x(referral ? "ReferralExport" : "PersonExport");
  x.open("Header");
  x.add("RecordID", out.source_id);
  x.add("LastUpdated", isoDateTime(d.amended));
  x.close("Header");
  x.open("Person");
  x.add("LASPersonID", p.las_id);
  x.add("NHSNumber", nhsAsKeyed(p.nhs_number, r));
  x.add("Title", p.title);
  x.add("Forenames", p.forenames());
  x.add("Surname", p.family);
  x.add("DateOfBirth", isoDate(p.birth_date));
  x.add("Gender", sexWord(p.sex));
  if (!referral) x.add("EthnicityCode", p.ethnicity);
  x.line(addressXml(p, "Postcode", r));
  if (!referral) {
    x.line("<Phone type=\"" + std::string(p.phone_is_mobile ? "Mobile" : "Home") + "\">" + xmlEscape(p.phone) +
           "</Phone>");
    x.add("GPPracticeCode", p.gp_practice);
  }
  x.close("Person");
  if (referral) {
    const Referral f = drawReferral(r, d.system, d.amended);
    x.open("Referral");
    x.add("ReceivedDateTime", isoDateTime(f.received));
    x.add("Source", f.source);
    x.add("Reason", f.reason);
    x.add("Priority", f.urgency.wording);
    x.add("AllocatedTeam", f.team);
    if (f.has_outcome) {
      x.add("Outcome", f.outcome);
      x.add("OutcomeDate", isoDate(f.outcome_date));
    }
    x.close("Referral");
  }
  out.bytes = x.done();
  out.file_name = std::string(referral ? "LAS_Referral_" : "LAS_Person_") + out.source_id + ".xml";
}

// ---- AIS ---------------------------------------------------------------------

void aisRecord(Draw& d, SyntheticRecord& out) {
  // One row per file, header first, CRLF line ends (RFC 4180 section 2.1),
  // columns as mappings/ais/README.md lists them.
  const SyntheticPerson& p = d.person;
  SeededRandom& r = d.r;
  const bool referral = d.kind == "referral";
  out.content_type = "text/csv";
  out.source_id = referral ? "AIS-REF-" + yearOf(d.amended.day) + "-" + padded(d.serial, 6)
                           : "AIS-CLI-" + isoDate(d.amended.day).substr(0, 4) + isoDate(d.amended.day).substr(5, 2) +
                                 isoDate(d.amended.day).substr(8, 2) + "-" + padded(d.serial, 6);
  std::vector<std::string> header = {"Record Type", "Export ID",   "Last Updated",  "AIS Person ID", "NHS Number",
                                     "Title",       "Forename",    "Middle Names",  "Surname",       "Date of Birth",
                                     "Gender",      "Ethnicity",   "Address Line 1", "Address Line 2", "Town",
                                     "Postcode",    "Phone",       "GP Practice"};
  std::string middle;
  for (std::size_t i = 1; i < p.given.size(); ++i) middle += (middle.empty() ? "" : " ") + p.given[i];
  std::vector<std::string> row = {referral ? "Referral" : "Client", out.source_id, csvDateTime(d.amended), p.ais_id,
                                  nhsAsKeyed(p.nhs_number, r), p.title, p.given.front(), middle, upper(p.family),
                                  ukDate(p.birth_date), sexWord(p.sex), p.ethnicity, p.address_line1,
                                  p.address_line2, p.town, p.postcode, p.phone, p.gp_practice};
  if (referral) {
    const Referral f = drawReferral(r, d.system, d.amended);
    for (const char* h : {"Referral Received", "Referral Source", "Referral Reason", "Priority", "Team",
                          "Referral Outcome", "Outcome Date"}) {
      header.emplace_back(h);
    }
    for (const std::string& v : {ukDate(f.received.day), f.source, f.reason, f.urgency.wording, f.team,
                                 f.has_outcome ? f.outcome : std::string(),
                                 f.has_outcome ? ukDate(f.outcome_date) : std::string()}) {
      row.push_back(v);
    }
  }
  // Consent to share (optional columns; empty = not recorded), drawn last so
  // the columns before it do not depend on it.
  header.insert(header.end(), {"Consent to Share", "Consent Date", "Consent Recorded By"});
  if (const std::uint64_t c = r.below(10); c < 8) {
    static constexpr std::array kConsent = {"Yes", "Yes", "Yes", "Yes", "Yes", "No", "Not Asked", "Lacks Capacity"};
    row.insert(row.end(), {kConsent[c], ukDate(d.amended.day), drawPractitioner(r, d.system).name});
  } else {
    row.insert(row.end(), {"", "", ""});
  }
  auto line = [](const std::vector<std::string>& cells) {
    std::string s;
    for (std::size_t i = 0; i < cells.size(); ++i) s += (i == 0 ? "" : ",") + csvField(cells[i]);
    return s + "\r\n";
  };
  out.bytes = line(header) + line(row);
  out.file_name = std::string(referral ? "AIS_Referral_" : "AIS_Client_") + out.source_id + ".csv";
}

}  // namespace

RecordGenerator::RecordGenerator(SeedSystem system, std::uint64_t seed, std::uint64_t persons,
                                 std::vector<std::string> kinds)
    : system_(system), seed_(seed), persons_(std::max<std::uint64_t>(1, persons)), kinds_(std::move(kinds)) {
  const auto& known = recordKinds(system);
  if (kinds_.empty()) {
    for (const auto& k : known) kinds_.push_back(k.name);
  }
  for (const auto& k : kinds_) {
    const bool ok = std::any_of(known.begin(), known.end(), [&](const RecordKind& rk) { return rk.name == k; });
    if (!ok) {
      std::string names;
      for (const auto& rk : known) names += (names.empty() ? "" : ", ") + rk.name;
      throw std::invalid_argument("unknown record type '" + k + "' for " + std::string(systemName(system)) +
                                  " (known: " + names + ")");
    }
  }
}

SyntheticRecord RecordGenerator::make(std::uint64_t seq) const {
  return make(seq, kinds_[static_cast<std::size_t>(seq % kinds_.size())]);
}

SyntheticRecord RecordGenerator::make(std::uint64_t seq, const std::string& kind) const {
  const auto& known = recordKinds(system_);
  auto it = std::find_if(known.begin(), known.end(), [&](const RecordKind& rk) { return rk.name == kind; });
  if (it == known.end()) throw std::invalid_argument("unknown record type '" + kind + "'");

  // The record's draws depend on (seed, seq) only, so record n is the same
  // whatever else was generated before it.
  Draw d{system_, seed_, seq, persons_, kind, SeededRandom(mixSeed(mixSeed(seed_, seq), static_cast<std::uint64_t>(system_))),
         {}, (seed_ % 1000) * 1000000 + seq % 1000000, {}};
  d.person = makePerson(seed_, d.r.below(persons_));
  d.amended = lastAmended(d.r);

  SyntheticRecord out;
  out.system = system_;
  out.kind = kind;
  out.record_type = it->record_type;
  out.nhs_number = d.person.nhs_number;
  out.person = d.person.index;
  switch (system_) {
    case SeedSystem::Rio:
      if (kind == "adt-a28" || kind == "adt-a31") {
        rioAdt(d, out, kind == "adt-a28");
      } else {
        rioExport(d, out);
      }
      break;
    case SeedSystem::Carenotes:
    case SeedSystem::UkCore: fhirRecord(d, out); break;
    case SeedSystem::Mosaic: mosaicRecord(d, out); break;
    case SeedSystem::Las: lasRecord(d, out); break;
    case SeedSystem::Ais: aisRecord(d, out); break;
  }
  return out;
}

}  // namespace cb::sim
