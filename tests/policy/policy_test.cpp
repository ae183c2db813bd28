// The decision engine against the seed agreements and small agreements
// written per test: every verdict, validity by a fake clock, load errors with
// file:line, and withheld items verified absent from the rendered bytes.

#include "mapping/canonical.h"
#include "mapping/mapping.h"
#include "mapping/xml_compare.h"
#include "policy_test_support.h"

#include <gmock/gmock.h>

#include <algorithm>
#include <set>

namespace cb::policy::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Verdict = Decision::Verdict;

constexpr const char* kOxleas = "RPG";
constexpr const char* kBromley = "00AF";

std::shared_ptr<const PolicySet> loadSet(const std::vector<std::string>& files, const Clock& clock) {
  auto set = PolicySet::loadFiles(files, schema(), clock);
  if (!set) throw std::runtime_error(set.error().message);
  return *set;
}

// A minimal agreement between A1 and B1 with one flow; `flow_extra` goes
// after <Consent> (Sensitive, Hold), `items` replaces the allow-list.
std::string smallAgreement(const std::string& consent = R"(<Consent mode="required"/>)",
                           const std::string& flow_extra = "",
                           const std::string& items = "<Item>Person.NHSNumber</Item>",
                           const std::string& id = "small") {
  return R"(<?xml version="1.0" encoding="UTF-8"?>
<Agreement xmlns="urn:carebridge:agreement:1" id=")" + id + R"(" version="1">
  <Title>Test agreement</Title>
  <Parties>
    <Party id="a" code="A1" codeSystem="ods" role="controller"><Name>Org A</Name></Party>
    <Party id="b" code="B1" codeSystem="ods" role="controller"><Name>Org B</Name></Party>
  </Parties>
  <Validity>
    <From>2026-01-01</From>
    <To>2026-12-31</To>
    <ReviewDate>2026-06-30</ReviewDate>
  </Validity>
  <Flow id="a-to-b" from="a" to="b">
    <RecordTypes><RecordType>SafeguardingEnquiry</RecordType></RecordTypes>
    <Purpose>safeguarding</Purpose>
    <LawfulBasis>
      <Article6 condition="e">Care Act 2014 s42.</Article6>
      <Article9 condition="g">Substantial public interest.</Article9>
      <Schedule1 paragraph="18">Safeguarding.</Schedule1>
    </LawfulBasis>
    <Items>)" + items + R"(</Items>
    )" + consent + "\n    " + flow_extra + R"(
  </Flow>
</Agreement>
)";
}

class Written {
 public:
  std::string write(const std::string& name, const std::string& text) {
    const auto p = dir_ / name;
    cb::test::writeFile(p, text);
    return p.string();
  }
  const fs::path& dir() const { return dir_.path(); }

 private:
  cb::test::TempDir dir_;
};

std::string loadError(const std::string& text, Written& w, const std::string& name = "bad.xml") {
  const auto file = w.write(name, text);
  auto a = loadAgreement(file, schema());
  if (a) return "(loaded)";
  return a.error().message;
}

// --------------------------------------------------------------- seeds ----

TEST(SeedAgreements, AllLoadFromTheDirectoryAndTheDemoFolderIsNotRead) {
  FakeClock clock(ukMs(2026, 11, 29));
  auto set = PolicySet::loadDirectory(agreementsDir().string(), schema(), clock);
  ASSERT_TRUE(set) << set.error().message;
  std::vector<std::string> ids;
  for (const auto& a : (*set)->agreements()) ids.push_back(a->id);
  EXPECT_THAT(ids, ElementsAre("barking-dagenham-nelft-s75", "bromley-oxleas-s75", "warwickshire-cwpt-s75",
                               "west-sussex-spft-s75"));
  EXPECT_EQ((*set)->digest().size(), 64u);
  auto demo = loadAgreement(demoAgreement(), schema());
  ASSERT_TRUE(demo) << demo.error().message;
}

TEST(SeedAgreements, EveryPartnershipIsCoveredBothWays) {
  FakeClock clock(ukMs(2026, 11, 29));
  auto set = loadSet({seed("bromley-oxleas.xml"), seed("barking-dagenham-nelft.xml"), seed("west-sussex-spft.xml"),
                      seed("warwickshire-cwpt.xml")},
                     clock);
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"RPG", "00AF"}, {"RAT", "00AB"}, {"RX2", "E10000032"}, {"RYG", "E10000031"}};
  for (const auto& [trust, council] : pairs) {
    EXPECT_TRUE(set->covers(trust, council, "SafeguardingEnquiry")) << trust;
    EXPECT_TRUE(set->covers(council, trust, "Referral")) << council;
    EXPECT_TRUE(set->coversNow(trust, council)) << trust;
  }
  EXPECT_FALSE(set->covers("RPG", "00AF", "Referral"));
  EXPECT_FALSE(set->covers("RPG", "RAT"));
  EXPECT_FALSE(set->covers("00AF", "00AB"));
}

TEST(SeedAgreements, KnownPartiesAreCheckedWhenGiven) {
  PolicyLoadOptions options;
  options.known_parties = std::set<std::string>{"RPG", "00AF"};
  auto ok = PolicySet::loadFiles({seed("bromley-oxleas.xml")}, schema(), SystemClock::instance(), options);
  EXPECT_TRUE(ok) << ok.error().message;
  auto bad = PolicySet::loadFiles({seed("barking-dagenham-nelft.xml")}, schema(), SystemClock::instance(), options);
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("barking-dagenham-nelft.xml:17: Party: organisation code '00AB'"));
  EXPECT_THAT(bad.error().message, HasSubstr("barking-dagenham-nelft.xml:21: Party: organisation code 'RAT'"));
}

// ------------------------------------------------------------ scenarios ----

struct Scenario {
  const char* name;
  std::vector<std::pair<std::string, std::string>> edits;  // on the enquiry sample
  const char* agreement;                                   // seed file, or "demo"
  const char* from;
  const char* to;
  const char* purpose;
  Verdict verdict;
  const char* rule;         // prefix of Decision::rule
  const char* explanation;  // substring of Decision::explanation
};

const std::pair<std::string, std::string> kConsentRefused{"<Status>given</Status>", "<Status>refused</Status>"};
const std::vector<std::pair<std::string, std::string>> kNoRisk = {
    {"<EnquiryType>section-42</EnquiryType>", "<EnquiryType>other</EnquiryType>"},
    {"<Result>risk-remains</Result>", "<Result>risk-reduced</Result>"},
    {"<LacksCapacity>yes</LacksCapacity>", "<LacksCapacity>no</LacksCapacity>"}};

std::vector<std::pair<std::string, std::string>> with(std::vector<std::pair<std::string, std::string>> a,
                                                      const std::vector<std::pair<std::string, std::string>>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const std::vector<Scenario>& scenarios() {
  static const std::vector<Scenario> all = {
      {"consent_given_shared_with_items_withheld", {}, "bromley-oxleas.xml", kOxleas, kBromley, "",
       Verdict::ShareWithheld, "flow.allow-list", "not on the allow-list: Person.DeathDate"},
      {"consent_refused_risk_shared_under_para_18", {kConsentRefused}, "demo", kOxleas, kBromley, "",
       Verdict::ShareWithheld, "consent.override", "consent refused overridden under DPA 2018 Sch 1 para 18 because risk-remains"},
      {"consent_refused_risk_held_when_agreement_says_so", {kConsentRefused}, "bromley-oxleas.xml", kOxleas, kBromley,
       "", Verdict::Hold, "hold.consent-overridden", "held for Bromley Head of Safeguarding Adults"},
      {"consent_refused_no_risk_refused", with({kConsentRefused}, kNoRisk), "bromley-oxleas.xml", kOxleas, kBromley, "",
       Verdict::Refuse, "consent.not-given-no-risk", "consent is refused and no override condition holds"},
      {"consent_refused_no_risk_not_shared_under_another_purpose", with({kConsentRefused}, kNoRisk),
       "bromley-oxleas.xml", kOxleas, kBromley, "", Verdict::Refuse, "consent.not-given-no-risk", "safeguarding"},
      {"performance_flow_needs_no_consent_when_asked_for", with({kConsentRefused}, kNoRisk), "bromley-oxleas.xml",
       kOxleas, kBromley, "performance-monitoring", Verdict::ShareWithheld, "flow.allow-list",
       "consent not required (refused)"},
      {"sexual_health_items_withheld", {{"<Marker>mental-health</Marker>", "<Marker>sexual-health</Marker>"}},
       "bromley-oxleas.xml", kOxleas, kBromley, "", Verdict::ShareWithheld, "flow.allow-list",
       "withheld for marker sexual-health/third-party: SafeguardingEnquiry.SourceOfRiskDetail, "
       "SafeguardingEnquiry.Plan, SafeguardingEnquiry.Review"},
      {"sealed_held_for_caldicott_guardian", {{"<Marker>mental-health</Marker>", "<Marker>sealed</Marker>"}},
       "bromley-oxleas.xml", kOxleas, kBromley, "", Verdict::Hold, "sensitive.hold",
       "held for Oxleas Caldicott Guardian"},
      {"sealed_refused_for_performance_monitoring", {{"<Marker>mental-health</Marker>", "<Marker>sealed</Marker>"}},
       "bromley-oxleas.xml", kOxleas, kBromley, "performance-monitoring", Verdict::Refuse, "sensitive.refuse",
       "records marked sealed are not shared"},
      {"purpose_not_in_agreement_refused", {}, "bromley-oxleas.xml", kOxleas, kBromley, "direct-care", Verdict::Refuse,
       "flow.purpose-not-covered", "for direct-care"},
      {"unknown_purpose_refused", {}, "bromley-oxleas.xml", kOxleas, kBromley, "marketing", Verdict::Refuse,
       "purpose.unknown", "unknown purpose 'marketing'"},
      {"no_agreement_between_the_organisations", {}, "bromley-oxleas.xml", kOxleas, "RAT", "", Verdict::Refuse,
       "agreement.none", "no information-sharing agreement has both RPG and RAT"},
      {"no_flow_in_that_direction", {}, "demo", kBromley, kOxleas, "", Verdict::Refuse, "flow.none",
       "no flow from 00AF to RPG"},
      {"no_valid_nhs_number_held", {{"<NHSNumber>9990000018</NHSNumber>", ""}}, "barking-dagenham-nelft.xml", "RAT",
       "00AB", "", Verdict::Hold, "hold.no-valid-nhs-number", "held for LBBD Safeguarding Adults Manager"},
      {"consent_not_recorded_not_overridden_without_risk",
       with({{"<Status>given</Status>", "<Status>not-sought</Status>"}}, kNoRisk), "demo", kOxleas, kBromley, "",
       Verdict::Refuse, "consent.not-given-no-risk", "needs one of: risk-remains"},
  };
  return all;
}

class DecisionScenarios : public ::testing::TestWithParam<Scenario> {};

TEST_P(DecisionScenarios, DecidesWithTheRuleAndExplanation) {
  const Scenario& s = GetParam();
  FakeClock clock(ukMs(2026, 11, 29));
  const std::string file = std::string(s.agreement) == "demo" ? demoAgreement() : seed(s.agreement);
  auto set = loadSet({file}, clock);
  auto doc = enquiry(s.edits);
  const Decision d = set->decide(doc.get(), s.from, s.to, s.purpose);
  EXPECT_EQ(toString(d.verdict), toString(s.verdict)) << d.explanation;
  EXPECT_EQ(d.rule.rfind(s.rule, 0), 0u) << d.rule;
  EXPECT_THAT(d.explanation, HasSubstr(s.explanation));
  if (d.verdict == Verdict::Hold) {
    EXPECT_FALSE(d.approver.empty());
  }
  if (d.verdict != Verdict::Refuse) {
    EXPECT_FALSE(d.agreement.empty());
    EXPECT_FALSE(d.flow.empty());
    EXPECT_THAT(d.lawful_basis, HasSubstr("UK GDPR Art 6(1)("));
  }
  // The explanation never carries record content or identifiers.
  EXPECT_THAT(d.explanation, ::testing::Not(HasSubstr("9990000018")));
  EXPECT_THAT(d.explanation, ::testing::Not(HasSubstr("Smith")));
}

INSTANTIATE_TEST_SUITE_P(Issue4, DecisionScenarios, ::testing::ValuesIn(scenarios()),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(Decide, ConsentOverrideCarriesJustificationAndParagraph18) {
  FakeClock clock(ukMs(2026, 11, 29));
  auto set = loadSet({seed("bromley-oxleas.xml")}, clock);
  auto doc = enquiry({kConsentRefused});
  const Decision d = set->decide(doc.get(), kOxleas, kBromley);
  EXPECT_EQ(d.verdict, Verdict::Hold);
  EXPECT_EQ(d.agreement, "bromley-oxleas-s75");
  EXPECT_EQ(d.agreement_version, 4);
  EXPECT_EQ(d.flow, "oxleas-to-bromley-safeguarding");
  EXPECT_EQ(d.purpose, "safeguarding");
  EXPECT_EQ(d.lawful_basis, "UK GDPR Art 6(1)(e); Art 9(2)(g); DPA 2018 Sch 1 para 18");
  EXPECT_THAT(d.justification, HasSubstr("Section 42 enquiry"));
  EXPECT_EQ(d.approver, "Bromley Head of Safeguarding Adults");
  EXPECT_THAT(d.rule, HasSubstr("bromley-oxleas.xml:"));
}

TEST(Decide, ShareWithNothingWithheld) {
  FakeClock clock(ukMs(2026, 6, 1));
  Written w;
  const auto file = w.write("all.xml", smallAgreement(R"(<Consent mode="required"/>)", "",
                                                      "<Item>Meta.*</Item><Item>Person.*</Item><Item>SafeguardingEnquiry.*</Item>"));
  auto set = loadSet({file}, clock);
  auto doc = enquiry();
  const Decision d = set->decide(doc.get(), "A1", "B1");
  EXPECT_EQ(d.verdict, Verdict::Share) << d.explanation;
  EXPECT_THAT(d.withheld, IsEmpty());
  EXPECT_THAT(d.explanation, HasSubstr("nothing withheld"));
  auto removed = applyDecision(doc.get(), d);
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_THAT(*removed, IsEmpty());
}

TEST(Decide, ConsentRequiredRefusesWithoutConsent) {
  FakeClock clock(ukMs(2026, 6, 1));
  Written w;
  auto set = loadSet({w.write("r.xml", smallAgreement())}, clock);
  auto refused = enquiry({kConsentRefused});
  const Decision d = set->decide(refused.get(), "A1", "B1");
  EXPECT_EQ(d.verdict, Verdict::Refuse);
  EXPECT_THAT(d.rule, HasSubstr("consent.required"));
  EXPECT_THAT(d.explanation, HasSubstr("consent status is refused"));
}

TEST(Decide, SealedWithoutARuleIsRefused) {
  FakeClock clock(ukMs(2026, 6, 1));
  Written w;
  auto set = loadSet({w.write("s.xml", smallAgreement())}, clock);
  auto doc = enquiry({{"<Marker>mental-health</Marker>", "<Marker>sealed</Marker>"}});
  const Decision d = set->decide(doc.get(), "A1", "B1");
  EXPECT_EQ(d.verdict, Verdict::Refuse);
  EXPECT_THAT(d.rule, HasSubstr("sensitive.sealed-without-rule"));
}

TEST(Decide, RefuseWinsOverHoldAcrossMarkers) {
  FakeClock clock(ukMs(2026, 6, 1));
  Written w;
  auto set = loadSet({w.write("m.xml", smallAgreement(R"(<Consent mode="required"/>)",
                                                      R"(<Sensitive marker="mental-health" action="hold" approver="Caldicott Guardian"/>
    <Sensitive marker="third-party" action="refuse"/>)"))},
                     clock);
  auto doc = enquiry();
  const Decision d = set->decide(doc.get(), "A1", "B1");
  EXPECT_EQ(d.verdict, Verdict::Refuse);
  EXPECT_THAT(d.rule, HasSubstr("sensitive.refuse"));
}

TEST(Decide, RecordTypeNotCoveredIsRefused) {
  FakeClock clock(ukMs(2026, 11, 29));
  auto set = loadSet({seed("bromley-oxleas.xml")}, clock);
  auto referral = parsed(sampleText("referral.xml"));
  const Decision d = set->decide(referral.get(), kOxleas, kBromley);
  EXPECT_EQ(d.verdict, Verdict::Refuse);
  EXPECT_THAT(d.rule, HasSubstr("flow.record-type-not-covered"));
  EXPECT_THAT(d.explanation, HasSubstr("carries Referral records"));
  // The other way round the referral flow carries it.
  const Decision back = set->decide(referral.get(), kBromley, kOxleas);
  EXPECT_NE(back.verdict, Verdict::Refuse) << back.explanation;
  EXPECT_EQ(back.flow, "bromley-to-oxleas-direct-care");
}

TEST(Decide, NotACanonicalRecordIsRefused) {
  FakeClock clock(ukMs(2026, 11, 29));
  auto set = loadSet({seed("bromley-oxleas.xml")}, clock);
  auto doc = parsed("<Other xmlns='urn:x'/>");
  const Decision d = set->decide(doc.get(), kOxleas, kBromley);
  EXPECT_EQ(d.verdict, Verdict::Refuse);
  EXPECT_EQ(d.rule, "record.not-canonical");
  EXPECT_EQ(set->decide(nullptr, kOxleas, kBromley).verdict, Verdict::Refuse);
}

TEST(Decide, IsDeterministicAcrossCallsAndReloads) {
  FakeClock clock(ukMs(2026, 11, 29));
  auto a = loadSet({seed("bromley-oxleas.xml"), seed("barking-dagenham-nelft.xml")}, clock);
  auto b = loadSet({seed("barking-dagenham-nelft.xml"), seed("bromley-oxleas.xml")}, clock);
  EXPECT_EQ(a->digest(), b->digest());
  for (const auto& s : scenarios()) {
    auto doc = enquiry(s.edits);
    const Decision x = a->decide(doc.get(), s.from, s.to, s.purpose);
    const Decision y = a->decide(doc.get(), s.from, s.to, s.purpose);
    const Decision z = b->decide(doc.get(), s.from, s.to, s.purpose);
    for (const Decision* o : {&y, &z}) {
      EXPECT_EQ(x.verdict, o->verdict) << s.name;
      EXPECT_EQ(x.rule, o->rule) << s.name;
      EXPECT_EQ(x.explanation, o->explanation) << s.name;
      EXPECT_EQ(x.withheld, o->withheld) << s.name;
      EXPECT_EQ(x.allowed, o->allowed) << s.name;
    }
  }
}

// ------------------------------------------------------------- validity ----

TEST(Validity, ExpiredYesterdayIsRefusedAndTheFlowStopsWithoutReload) {
  // West Sussex gave notice: the agreement ends on 2026-12-31.
  FakeClock clock(ukMs(2026, 12, 31, 23));
  auto set = loadSet({seed("west-sussex-spft.xml")}, clock);
  auto doc = enquiry();
  const Decision before = set->decide(doc.get(), "RX2", "E10000032");
  EXPECT_NE(before.verdict, Verdict::Refuse) << before.explanation;
  clock.set(ukMs(2027, 1, 1, 12));  // the day after the end
  const Decision after = set->decide(doc.get(), "RX2", "E10000032");
  EXPECT_EQ(after.verdict, Verdict::Refuse);
  EXPECT_EQ(after.agreement, "west-sussex-spft-s75");
  EXPECT_THAT(after.rule, HasSubstr("agreement.ended"));
  EXPECT_THAT(after.explanation, HasSubstr("ended on 2026-12-31"));
  EXPECT_TRUE(set->covers("RX2", "E10000032", "SafeguardingEnquiry"));
  EXPECT_FALSE(set->coversNow("RX2", "E10000032", "SafeguardingEnquiry"));
}

TEST(Validity, NotYetValidIsRefused) {
  FakeClock clock(ukMs(2025, 12, 31));
  auto set = loadSet({demoAgreement()}, clock);
  auto doc = enquiry();
  const Decision d = set->decide(doc.get(), kOxleas, kBromley);
  EXPECT_EQ(d.verdict, Verdict::Refuse);
  EXPECT_THAT(d.rule, HasSubstr("agreement.not-yet-valid"));
  EXPECT_THAT(d.explanation, HasSubstr("starts on 2026-01-01"));
  clock.set(ukMs(2026, 1, 1, 0));
  EXPECT_NE(set->decide(doc.get(), kOxleas, kBromley).verdict, Verdict::Refuse);
}

TEST(Validity, DaysAreUkDays) {
  using namespace std::chrono;
  // Winter: UK midnight is UTC midnight; summer: 23:00 UTC the day before.
  EXPECT_EQ(ukStartOfDay(sys_days(2026y / 1 / 15)), system_clock::time_point(sys_days(2026y / 1 / 15)));
  EXPECT_EQ(ukStartOfDay(sys_days(2026y / 7 / 1)), system_clock::time_point(sys_days(2026y / 7 / 1)) - hours(1));
  // 2026: BST from Sunday 29 March to Sunday 25 October.
  EXPECT_EQ(ukStartOfDay(sys_days(2026y / 3 / 29)), system_clock::time_point(sys_days(2026y / 3 / 29)));
  EXPECT_EQ(ukStartOfDay(sys_days(2026y / 3 / 30)), system_clock::time_point(sys_days(2026y / 3 / 30)) - hours(1));
  EXPECT_EQ(ukStartOfDay(sys_days(2026y / 10 / 25)), system_clock::time_point(sys_days(2026y / 10 / 25)) - hours(1));
  EXPECT_EQ(ukStartOfDay(sys_days(2026y / 10 / 26)), system_clock::time_point(sys_days(2026y / 10 / 26)));

  // An agreement ending on a summer day stops at 23:00 UTC.
  Written w;
  std::string text = smallAgreement(R"(<Consent mode="not-required"><Reason>Test.</Reason></Consent>)");
  text.replace(text.find("2026-12-31"), 10, "2026-07-31");
  auto a = loadAgreement(w.write("summer.xml", text), schema());
  ASSERT_TRUE(a) << a.error().message;
  const auto until = (*a)->validUntil();
  EXPECT_EQ(until, system_clock::time_point(sys_days(2026y / 8 / 1)) - hours(1));
  EXPECT_TRUE((*a)->inForceAt(until - seconds(1)));
  EXPECT_FALSE((*a)->inForceAt(until));
}

TEST(Validity, EndingWithinSixtyDaysIsReported) {
  FakeClock clock(ukMs(2026, 11, 29));
  auto set = PolicySet::loadDirectory(agreementsDir().string(), schema(), clock);
  ASSERT_TRUE(set) << set.error().message;
  const auto ending = (*set)->endingWithin(60);
  ASSERT_EQ(ending.size(), 1u);
  EXPECT_EQ(ending[0].id, "west-sussex-spft-s75");
  EXPECT_EQ(ending[0].end, "2026-12-31");
  EXPECT_EQ(ending[0].days_left, 33);  // 12:00 on 29 Nov to midnight after 31 Dec
  EXPECT_THAT((*set)->endingWithin(30), IsEmpty());
  clock.set(ukMs(2027, 2, 1));
  const auto later = (*set)->endingWithin(60);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].id, "warwickshire-cwpt-s75");  // West Sussex has ended: not "ending"
}

TEST(Validity, ExtensionsAndTerminationSetTheEnd) {
  auto bromley = loadAgreement(seed("bromley-oxleas.xml"), schema());
  ASSERT_TRUE(bromley) << bromley.error().message;
  EXPECT_EQ((*bromley)->to.text, "2022-03-31");
  EXPECT_EQ((*bromley)->end.text, "2027-11-30");
  EXPECT_EQ((*bromley)->extensions.size(), 2u);
  auto wsx = loadAgreement(seed("west-sussex-spft.xml"), schema());
  ASSERT_TRUE(wsx) << wsx.error().message;
  EXPECT_EQ((*wsx)->end.text, "2026-12-31");
}

// --------------------------------------------------------- load errors ----

TEST(LoadErrors, MalformedXmlNamesFileAndLine) {
  Written w;
  const auto msg = loadError("<?xml version=\"1.0\"?>\n<Agreement xmlns=\"urn:carebridge:agreement:1\">\n  <Title>x\n</Agreement>\n", w);
  EXPECT_THAT(msg, HasSubstr("bad.xml:"));
  EXPECT_NE(msg, "(loaded)");
}

TEST(LoadErrors, SchemaViolationNamesFileAndLine) {
  Written w;
  std::string text = smallAgreement();
  text.replace(text.find("<Purpose>safeguarding</Purpose>"), 31, "<Purpose>marketing</Purpose>");
  const auto msg = loadError(text, w);
  EXPECT_THAT(msg, HasSubstr("bad.xml:15:"));
  EXPECT_THAT(msg, HasSubstr("agreement.xsd"));
}

TEST(LoadErrors, UnknownItemIsRefusedWithFileLineAndElement) {
  Written w;
  const auto msg = loadError(smallAgreement(R"(<Consent mode="required"/>)", "",
                                            "<Item>Person.NHSNumber</Item>\n      <Item>Person.ShoeSize</Item>"),
                             w);
  EXPECT_THAT(msg, HasSubstr("bad.xml:22: Item: 'Person.ShoeSize' is not a canonical data item"));
}

TEST(LoadErrors, ItemOfARecordTypeTheFlowDoesNotCarry) {
  Written w;
  const auto msg = loadError(smallAgreement(R"(<Consent mode="required"/>)", "", "<Item>Referral.Reason</Item>"), w);
  EXPECT_THAT(msg, HasSubstr("bad.xml:21: Item: 'Referral.Reason' belongs to Referral records"));
}

TEST(LoadErrors, CoConstraintsXsdCannotState) {
  Written w;
  EXPECT_THAT(loadError(smallAgreement(R"(<Consent mode="not-required"/>)"), w),
              HasSubstr("Consent: mode 'not-required' needs a <Reason>"));
  EXPECT_THAT(loadError(smallAgreement(R"(<Consent mode="safeguarding-override"/>)"), w),
              HasSubstr("needs an <Override>"));
  EXPECT_THAT(loadError(smallAgreement(R"(<Consent mode="required"/>)", R"(<Sensitive marker="sealed" action="hold"/>)"), w),
              HasSubstr("Sensitive: action 'hold' needs approver"));
  EXPECT_THAT(loadError(smallAgreement(R"(<Consent mode="required"/>)", R"(<Sensitive marker="sealed" action="withhold"/>)"), w),
              HasSubstr("action 'withhold' needs the <Item>s"));
  EXPECT_THAT(loadError(smallAgreement(R"(<Consent mode="required"/>)",
                                       R"(<Hold approver="DPO"><When>consent-overridden</When></Hold>)"),
                        w),
              HasSubstr("'consent-overridden' can only occur with consent mode 'safeguarding-override'"));
  std::string unknown_party = smallAgreement();
  unknown_party.replace(unknown_party.find(R"(to="b")"), 6, R"(to="c")");
  EXPECT_THAT(loadError(unknown_party, w), HasSubstr("Flow: to='c' is not a party of this agreement"));
  std::string backwards = smallAgreement();
  backwards.replace(backwards.find("<ReviewDate>"), 0,
                    R"(<Extension agreed="2026-02-01" authority="Board"><NewEnd>2026-06-30</NewEnd></Extension>
    )");
  EXPECT_THAT(loadError(backwards, w), HasSubstr("Extension: the new end 2026-06-30 is not after the end it extends"));
}

TEST(LoadErrors, DuplicateIdsAcrossFilesAreRefused) {
  Written w;
  const auto a = w.write("one.xml", smallAgreement());
  const auto b = w.write("two.xml", smallAgreement());
  auto set = PolicySet::loadFiles({a, b}, schema());
  ASSERT_FALSE(set);
  EXPECT_THAT(set.error().message, HasSubstr("id 'small' is also used by"));
}

TEST(LoadErrors, OneBadFileRefusesTheWholeDirectory) {
  Written w;
  w.write("good.xml", smallAgreement());
  w.write("worse.xml", smallAgreement(R"(<Consent mode="required"/>)", "", "<Item>Person.Nope</Item>", "other"));
  auto set = PolicySet::loadDirectory(w.dir().string(), schema());
  ASSERT_FALSE(set);
  EXPECT_THAT(set.error().message, HasSubstr("worse.xml:21: Item: 'Person.Nope'"));
  EXPECT_FALSE(PolicySet::loadDirectory((w.dir() / "missing").string(), schema()));
}

// ------------------------------------------------------------ withhold ----

TEST(Withholding, WithheldItemsAreAbsentFromTheRenderedOutput) {
  FakeClock clock(ukMs(2026, 11, 29));
  auto set = loadSet({demoAgreement()}, clock);
  const fs::path golden = sourceDir() / "mappings" / "example" / "golden" / "enquiry-outbound-withheld";
  auto doc = parsed(cb::test::readFile(golden / "input.xml"));
  const Decision d = set->decide(doc.get(), kOxleas, kBromley);
  ASSERT_EQ(d.verdict, Verdict::ShareWithheld) << d.explanation;
  // The same items the mapping's own golden case withholds.
  EXPECT_THAT(d.withheld,
              ElementsAre("Meta.Sensitivity", "Meta.Consent", "Person.LocalId", "Person.BirthDate", "Person.Ethnicity",
                          "Person.Address", "Person.Telecom", "Person.Contact", "Person.GPPracticeCode",
                          "SafeguardingEnquiry.ConcernDate", "SafeguardingEnquiry.LocationOfRisk",
                          "SafeguardingEnquiry.SourceOfRisk", "SafeguardingEnquiry.SourceOfRiskDetail",
                          "SafeguardingEnquiry.RiskAssessment", "SafeguardingEnquiry.MentalCapacity",
                          "SafeguardingEnquiry.Advocacy", "SafeguardingEnquiry.MakingSafeguardingPersonal",
                          "SafeguardingEnquiry.Plan", "SafeguardingEnquiry.Review", "SafeguardingEnquiry.Closure"));
  const std::string before = xml::serialize(doc.get());
  auto removed = applyDecision(doc.get(), d);
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ(*removed, d.withheld);

  auto schemas = mapping::MappingSchemas::load((sourceDir() / "mappings").string());
  ASSERT_TRUE(schemas) << schemas.error().message;
  auto system = mapping::MappingSet::load((sourceDir() / "mappings" / "example").string(), *schemas);
  ASSERT_TRUE(system) << system.error().message;
  ASSERT_TRUE((*schemas).canonical->validate(doc.get(), "withheld record")) << "withholding kept the record valid";
  auto rendered = (*system)->fromCanonical(doc.get());
  ASSERT_TRUE(rendered) << rendered.error().message;
  const std::string bytes = xml::serialize(rendered->document.get());

  // Present in the source record, absent from what leaves.
  for (const char* value : {"1941-07-03", "IG11 7AA", "F84001", "07700 900123", "David", "EX123456"}) {
    EXPECT_NE(before.find(value), std::string::npos) << value;
  }
  for (const char* absent : {"19410703", "BirthDate", "Postcode", "IG11", "<GP", "F84001", "Location", "RiskOutcome",
                             "LacksCapacity", "OutcomesAchieved", "Closed", "20240514</", "David", "EX123456"}) {
    EXPECT_EQ(bytes.find(absent), std::string::npos) << absent << " leaked into:\n" << bytes;
  }
  EXPECT_NE(bytes.find("<Manager>Jo Bloggs</Manager>"), std::string::npos) << bytes;
  EXPECT_NE(bytes.find("999 000 0018"), std::string::npos) << bytes;
  auto expected = parsed(cb::test::readFile(golden / "expected.xml"));
  EXPECT_EQ(mapping::firstDifference(expected.get(), rendered->document.get()), std::nullopt);
}

TEST(Withholding, MarkerWithheldItemsAreRemovedEvenWhenAllowed) {
  FakeClock clock(ukMs(2026, 11, 29));
  auto set = loadSet({seed("bromley-oxleas.xml")}, clock);
  auto doc = enquiry({{"<Marker>mental-health</Marker>", "<Marker>sexual-health</Marker>"}});
  const Decision d = set->decide(doc.get(), kOxleas, kBromley);
  ASSERT_EQ(d.verdict, Verdict::ShareWithheld);
  EXPECT_EQ(std::count(d.allowed.begin(), d.allowed.end(), "SafeguardingEnquiry.Plan"), 0);
  ASSERT_TRUE(applyDecision(doc.get(), d));
  const std::string bytes = xml::serialize(doc.get());
  EXPECT_EQ(bytes.find("Second signatory"), std::string::npos);
  EXPECT_EQ(bytes.find("Finances protected"), std::string::npos);
  EXPECT_NE(bytes.find("<Closure>"), std::string::npos);
}

TEST(Withholding, RefusesADecisionToRefuseAndADifferentDocument) {
  FakeClock clock(ukMs(2026, 11, 29));
  auto set = loadSet({demoAgreement()}, clock);
  auto small = enquiry({{"<GPPracticeCode>F84001</GPPracticeCode>", ""}});
  const Decision d = set->decide(small.get(), kOxleas, kBromley);
  ASSERT_TRUE(d.shares());
  auto full = enquiry();  // has an item the decision did not see
  auto mismatch = applyDecision(full.get(), d);
  ASSERT_FALSE(mismatch);
  EXPECT_THAT(mismatch.error().message, HasSubstr("not the one decided on"));

  Decision refuse;
  refuse.rule = "agreement.none";
  EXPECT_FALSE(applyDecision(full.get(), refuse));
}

TEST(Withholding, UnknownElementsAreWithheld) {
  FakeClock clock(ukMs(2026, 6, 1));
  Written w;
  auto set = loadSet({w.write("u.xml", smallAgreement(R"(<Consent mode="required"/>)", "",
                                                      "<Item>Meta.*</Item><Item>Person.*</Item><Item>SafeguardingEnquiry.*</Item>"))},
                     clock);
  auto doc = enquiry({{"<GPPracticeCode>F84001</GPPracticeCode>", "<GPPracticeCode>F84001</GPPracticeCode><Shoe>9</Shoe>"}});
  const Decision d = set->decide(doc.get(), "A1", "B1");
  EXPECT_EQ(d.verdict, Verdict::ShareWithheld);
  EXPECT_THAT(d.withheld, ElementsAre("Person.Shoe"));
  ASSERT_TRUE(applyDecision(doc.get(), d));
  EXPECT_EQ(xml::serialize(doc.get()).find("Shoe"), std::string::npos);
}

}  // namespace
}  // namespace cb::policy::test
