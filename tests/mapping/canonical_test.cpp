// The canonical model: the XSD and the code-level rules, the item registry
// checked against the schema, withholding items, and the summary.

#include "mapping/canonical.h"
#include "mapping/xpath.h"
#include "mapping_test_support.h"
#include "mapping/xml_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>

namespace cb::mapping {
namespace {

namespace fs = std::filesystem;

using test::dataDir;
using test::parseFileOrDie;
using test::parseOrDie;
using test::schemas;

const std::vector<std::string> kSamples = {"person",           "referral",         "care-act-assessment",
                                           "carers-assessment", "statutory-review", "safeguarding-concern",
                                           "safeguarding-enquiry"};

fs::path sample(const std::string& name) { return dataDir() / "canonical" / (name + ".xml"); }

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("no '" + from + "' in sample");
  return text.replace(at, from.size(), to);
}

TEST(CanonicalModel, SchemaCompilesAndEveryRecordTypeValidates) {
  ASSERT_TRUE(schemas().canonical);
  for (const auto& name : kSamples) {
    auto doc = parseFileOrDie(sample(name));
    auto st = schemas().canonical->validate(doc.get(), name);
    EXPECT_TRUE(st) << name << ": " << (st ? "" : st.error().message);
  }
}

TEST(CanonicalModel, EveryElementIsDocumented) {
  // Each xs:element and xs:simpleType/xs:complexType with a name carries its
  // own xs:annotation/xs:documentation.
  auto doc = parseFileOrDie(test::mappingsRoot() / "canonical" / "canonical.xsd");
  int undocumented = 0, elements = 0;
  std::string missing;
  std::function<void(const xmlNode*)> walk = [&](const xmlNode* n) {
    for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
      if (c->type != XML_ELEMENT_NODE) continue;
      const std::string_view local = xmlutil::localName(c);
      if (local == "element" || ((local == "simpleType" || local == "complexType") && xmlutil::attr(c, "name"))) {
        ++elements;
        const xmlNode* a = xmlutil::firstChild(c, "http://www.w3.org/2001/XMLSchema", "annotation");
        if (a == nullptr || xmlutil::firstChild(a, "http://www.w3.org/2001/XMLSchema", "documentation") == nullptr) {
          ++undocumented;
          missing += " " + xmlutil::attr(c, "name").value_or("?") + "@" + std::to_string(xmlutil::lineOf(c));
        }
      }
      walk(c);
    }
  };
  walk(xmlDocGetRootElement(doc.get()));
  EXPECT_GT(elements, 150);
  EXPECT_EQ(undocumented, 0) << missing;
}

TEST(CanonicalModel, PartialDatesKeepTheirPrecision) {
  const std::string base = test::readFile(sample("person"));
  for (const char* date : {"1941", "1941-07", "1941-07-03"}) {
    auto doc = parseOrDie(replaced(base, "<BirthDate>1941-07-03</BirthDate>", std::string("<BirthDate>") + date + "</BirthDate>"));
    EXPECT_TRUE(schemas().canonical->validate(doc.get(), "t")) << date;
  }
  for (const char* date : {"41", "1941-7", "1941-07-03Z", "1941-07-03T10:00:00", "03/07/1941"}) {
    auto doc = parseOrDie(replaced(base, "<BirthDate>1941-07-03</BirthDate>", std::string("<BirthDate>") + date + "</BirthDate>"));
    EXPECT_FALSE(schemas().canonical->validate(doc.get(), "t")) << date;
  }
  // LastUpdated is an instant: a time zone is required.
  auto no_zone = parseOrDie(replaced(base, "2024-05-14T16:42:07+01:00", "2024-05-14T16:42:07"));
  EXPECT_FALSE(schemas().canonical->validate(no_zone.get(), "t"));
}

TEST(CanonicalModel, CodeLevelRules) {
  const std::string enquiry = test::readFile(sample("safeguarding-enquiry"));
  // Record/@type must name the body.
  auto mismatch = parseOrDie(replaced(enquiry, "type=\"SafeguardingEnquiry\"", "type=\"Referral\""));
  auto st = schemas().canonical->validate(mismatch.get(), "m.xml");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("Record type \"Referral\" does not match its body (element SafeguardingEnquiry)"),
            std::string::npos)
      << st.error().message;
  auto person_with_body = parseOrDie(replaced(enquiry, "type=\"SafeguardingEnquiry\"", "type=\"Person\""));
  EXPECT_FALSE(schemas().canonical->validate(person_with_body.get(), "m.xml"));

  // The NHS number's check digit, with the number kept out of the message.
  auto bad = parseOrDie(replaced(enquiry, "9990000018", "9990000019"));
  st = schemas().canonical->validate(bad.get(), "m.xml");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("m.xml:"), std::string::npos);
  EXPECT_NE(st.error().message.find("Person/NHSNumber: NHS number fails the Modulus 11 check"), std::string::npos)
      << st.error().message;
  EXPECT_EQ(st.error().message.find("9990000019"), std::string::npos) << st.error().message;

  auto cared_for = parseOrDie(replaced(test::readFile(sample("carers-assessment")), "9990000026", "9990000027"));
  st = schemas().canonical->validate(cared_for.get(), "c.xml");
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().message.find("CarersAssessment/CaredFor/NHSNumber"), std::string::npos) << st.error().message;
}

TEST(CanonicalModel, SchemaErrorsDoNotQuoteValues) {
  const std::string base = test::readFile(sample("person"));
  auto short_number = parseOrDie(replaced(base, "9990000018", "99900018"));
  auto st = schemas().canonical->validate(short_number.get(), "p.xml");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message.find("99900018"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("[value withheld]"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("NHSNumber"), std::string::npos) << st.error().message;

  auto bad_date = parseOrDie(replaced(base, "<BirthDate>1941-07-03</BirthDate>", "<BirthDate>3rd July 1941</BirthDate>"));
  st = schemas().canonical->validate(bad_date.get(), "p.xml");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message.find("3rd July"), std::string::npos) << st.error().message;

  auto bad_use = parseOrDie(replaced(base, "use=\"usual\"", "use=\"Maggie's'is not'\""));
  st = schemas().canonical->validate(bad_use.get(), "p.xml");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().message.find("Maggie"), std::string::npos) << st.error().message;
}

TEST(CanonicalModel, MessageRedaction) {
  EXPECT_EQ(withholdValuesInMessage("Element 'NHSNumber': [facet 'pattern'] The value '123' is not accepted by the pattern '[0-9]{10}'."),
            "Element 'NHSNumber': [facet 'pattern'] The value [value withheld] is not accepted by the pattern '[0-9]{10}'.");
  EXPECT_EQ(withholdValuesInMessage("Element 'BirthDate': 'x' is not a valid value of the union type 'PartialDate'."),
            "Element 'BirthDate': [value withheld] is not a valid value of the union type 'PartialDate'.");
  EXPECT_EQ(withholdValuesInMessage("Element 'Name', attribute 'use': 'a': 'b' is not a valid value of the atomic type 'NameUse'."),
            "Element 'Name', attribute 'use': [value withheld] is not a valid value of the atomic type 'NameUse'.");
  EXPECT_EQ(withholdValuesInMessage("Element 'X': This element is not expected."), "Element 'X': This element is not expected.");
}

// Every registry item names an element that exists in a full sample of its
// record type, and every child of Meta, Person and the body in those samples
// is a registry item: the registry and the schema agree.
TEST(CanonicalItems, RegistryMatchesTheSchema) {
  const NamespaceBindings ns = {{std::string(kCanonicalPrefix), std::string(kCanonicalNs)}};
  std::set<std::string> found;
  for (const auto& name : kSamples) {
    auto doc = parseFileOrDie(sample(name));
    XPathEvaluator xp(doc.get(), ns);
    for (const auto& item : CanonicalItems::all()) {
      auto e = XPathExpr::compile(std::string(item.xpath), ns);
      ASSERT_TRUE(e) << item.path;
      auto nodes = xp.nodes(**e, xmlDocGetRootElement(doc.get()));
      ASSERT_TRUE(nodes);
      if (!nodes->empty()) found.insert(std::string(item.path));
    }
    const xmlNode* root = xmlDocGetRootElement(doc.get());
    for (const xmlNode* section : xmlutil::elementChildren(root)) {
      for (const xmlNode* child : xmlutil::elementChildren(section)) {
        const std::string path = std::string(xmlutil::localName(section)) + "." + std::string(xmlutil::localName(child));
        EXPECT_NE(CanonicalItems::find(path), nullptr) << path << " in " << name << " is not a registry item";
      }
    }
  }
  for (const auto& item : CanonicalItems::all()) {
    EXPECT_TRUE(found.count(std::string(item.path))) << item.path << " matches nothing in the samples";
    EXPECT_FALSE(item.description.empty()) << item.path;
  }
  EXPECT_TRUE(CanonicalItems::isValidPattern("Person.NHSNumber"));
  EXPECT_TRUE(CanonicalItems::isValidPattern("SafeguardingEnquiry.*"));
  EXPECT_FALSE(CanonicalItems::isValidPattern("Person.NHSnumber"));
  EXPECT_FALSE(CanonicalItems::isValidPattern("Persons.*"));
  EXPECT_TRUE(CanonicalItems::find("Person.NHSNumber")->identifying);
  EXPECT_EQ(CanonicalItems::find("Person.Ethnicity")->sensitivity, ItemSensitivity::SpecialCategory);
  EXPECT_TRUE(CanonicalItems::find("SafeguardingEnquiry.EnquiryType")->structural);
}

TEST(WithholdExcept, RemovesWhatIsNotAllowedAndStaysValid) {
  auto doc = parseFileOrDie(sample("safeguarding-enquiry"));
  auto removed = withholdExcept(doc.get(), {"Person.NHSNumber", "Person.Name", "SafeguardingEnquiry.RiskTypes",
                                            "SafeguardingEnquiry.Plan", "Meta.Consent", "No.SuchItem"});
  ASSERT_TRUE(removed) << removed.error().message;
  const std::vector<std::string> want = {
      "Meta.Sensitivity", "Person.LocalId", "Person.BirthDate", "Person.DeathDate", "Person.Gender",
      "Person.Ethnicity", "Person.Address", "Person.Telecom", "Person.Contact", "Person.GPPracticeCode",
      "SafeguardingEnquiry.ConcernDate", "SafeguardingEnquiry.LocationOfRisk", "SafeguardingEnquiry.SourceOfRisk",
      "SafeguardingEnquiry.SourceOfRiskDetail", "SafeguardingEnquiry.RiskAssessment", "SafeguardingEnquiry.MentalCapacity",
      "SafeguardingEnquiry.Advocacy", "SafeguardingEnquiry.MakingSafeguardingPersonal",
      "SafeguardingEnquiry.SafeguardingAdultsManager", "SafeguardingEnquiry.EnquiryOfficer", "SafeguardingEnquiry.Review",
      "SafeguardingEnquiry.Closure"};
  EXPECT_EQ(*removed, want);
  auto st = schemas().canonical->validate(doc.get(), "withheld");
  EXPECT_TRUE(st) << (st ? "" : st.error().message);
  const std::string out = test::serialize(doc.get());
  EXPECT_NE(out.find("<NHSNumber>9990000018</NHSNumber>"), std::string::npos);
  EXPECT_NE(out.find("<Plan>"), std::string::npos);
  EXPECT_NE(out.find("<EnquiryType>section-42</EnquiryType>"), std::string::npos);  // structural
  EXPECT_NE(out.find("<SourceId>"), std::string::npos);                             // structural
  EXPECT_EQ(out.find("EX123456"), std::string::npos);
  EXPECT_EQ(out.find("IG11"), std::string::npos);
}

TEST(WithholdExcept, NothingAllowedLeavesOnlyStructureForEveryType) {
  for (const auto& name : kSamples) {
    auto doc = parseFileOrDie(sample(name));
    auto removed = withholdExcept(doc.get(), {});
    ASSERT_TRUE(removed);
    EXPECT_FALSE(removed->empty());
    auto st = schemas().canonical->validate(doc.get(), name);
    EXPECT_TRUE(st) << name << ": " << (st ? "" : st.error().message);
    for (const auto& path : *removed) EXPECT_FALSE(CanonicalItems::find(path)->structural) << path;
  }
}

TEST(WithholdExcept, WildcardsAndFailClosed) {
  auto doc = parseFileOrDie(sample("safeguarding-enquiry"));
  auto removed = withholdExcept(doc.get(), {"Person.*", "Meta.*", "SafeguardingEnquiry.*"});
  ASSERT_TRUE(removed);
  EXPECT_TRUE(removed->empty());

  // Elements the registry does not know are removed, not passed on.
  auto odd = parseOrDie(replaced(test::readFile(sample("person")), "<GPPracticeCode>",
                                 "<Religion>x</Religion><GPPracticeCode>"));
  removed = withholdExcept(odd.get(), {"Person.*", "Meta.*"});
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, std::vector<std::string>{"Person.Religion"});
  EXPECT_EQ(test::serialize(odd.get()).find("Religion"), std::string::npos);

  auto not_canonical = parseOrDie("<Record xmlns='urn:other'/>");
  EXPECT_FALSE(withholdExcept(not_canonical.get(), {}));
}

TEST(CanonicalSummary, ReadsWhatTheDecisionEngineNeeds) {
  auto doc = parseFileOrDie(sample("safeguarding-enquiry"));
  auto s = canonicalSummary(doc.get());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->record_type, "SafeguardingEnquiry");
  EXPECT_EQ(s->source_system, "example");
  EXPECT_EQ(s->source_id, "SAFEGUARDING-ENQUIRY-1");
  EXPECT_EQ(s->last_updated, "2024-05-14T16:42:07+01:00");
  EXPECT_EQ(s->nhs_number, "9990000018");
  EXPECT_TRUE(s->nhs_number_valid);
  ASSERT_EQ(s->local_ids.size(), 2u);
  EXPECT_EQ(s->local_ids[1].system, "rio-nelft");
  EXPECT_EQ(s->local_ids[1].value, "RIO998877");
  EXPECT_EQ(s->sensitivity, (std::vector<std::string>{"mental-health", "third-party"}));
  EXPECT_EQ(s->consent, ConsentStatus::Given);
  EXPECT_EQ(s->consent_date, "2024-04-02");
  EXPECT_EQ(s->risk.risk_types, (std::vector<std::string>{"financial-or-material-abuse", "neglect-and-acts-of-omission"}));
  EXPECT_TRUE(s->risk.risk_identified);
  EXPECT_TRUE(s->risk.risk_remains);
  EXPECT_TRUE(s->risk.lacks_capacity);
  EXPECT_TRUE(s->risk.section_42);
  EXPECT_FALSE(s->risk.enquiry_open);

  auto concern = canonicalSummary(parseFileOrDie(sample("safeguarding-concern")).get());
  ASSERT_TRUE(concern);
  EXPECT_TRUE(concern->risk.section_42);
  EXPECT_FALSE(concern->risk.risk_remains);

  auto person = parseOrDie(replaced(test::readFile(sample("person")), "9990000018", "9990000019"));
  auto p = canonicalSummary(person.get());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->record_type, "Person");
  EXPECT_FALSE(p->nhs_number_valid);
  EXPECT_TRUE(p->risk.risk_types.empty());

  EXPECT_FALSE(canonicalSummary(parseOrDie("<Other/>").get()));
}

TEST(CanonicalSummary, CompilesNoXPath) {
  auto doc = parseFileOrDie(sample("safeguarding-enquiry"));
  const auto before = XPathExpr::compilationCount();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(canonicalSummary(doc.get()));
  EXPECT_EQ(XPathExpr::compilationCount(), before);
}

}  // namespace
}  // namespace cb::mapping
