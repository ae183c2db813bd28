// `carebridge agreement show` and `explain` against the seed agreements.

#include "cli/agreement_command.h"
#include "policy_test_support.h"

#include <gmock/gmock.h>

#include <sstream>

namespace cb::policy::test {
namespace {

using ::testing::HasSubstr;

std::string enquiryFile(const cb::test::TempDir& dir, const std::vector<std::pair<std::string, std::string>>& edits) {
  const auto p = dir / "record.xml";
  cb::test::writeFile(p, sampleText("safeguarding-enquiry.xml", edits));
  return p.string();
}

TEST(AgreementShow, PrintsPartiesValidityFlowsBasesAndItems) {
  std::ostringstream out;
  std::ostringstream err;
  cli::AgreementShowOptions o;
  o.file = seed("bromley-oxleas.xml");
  ASSERT_EQ(cli::runAgreementShow(o, out, err), 0) << err.str();
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("Agreement bromley-oxleas-s75, version 4"));
  EXPECT_THAT(text, HasSubstr("Oxleas NHS Foundation Trust: ods code RPG, controller"));
  EXPECT_THAT(text, HasSubstr("London Borough of Bromley: ons-snac code 00AF"));
  EXPECT_THAT(text, HasSubstr("In force: 2017-04-01 to 2027-11-30 inclusive (UK time); originally to 2022-03-31"));
  EXPECT_THAT(text, HasSubstr("Flow oxleas-to-bromley-safeguarding: Oxleas NHS Foundation Trust -> London Borough of Bromley"));
  EXPECT_THAT(text, HasSubstr("Purpose:      safeguarding"));
  EXPECT_THAT(text, HasSubstr("DPA 2018 Sch 1 para 18: Safeguarding of children and of individuals at risk."));
  EXPECT_THAT(text, HasSubstr("    Person.NHSNumber  (NHS number)"));
  EXPECT_THAT(text, HasSubstr("    SafeguardingEnquiry.*  (every item of SafeguardingEnquiry)"));
  EXPECT_THAT(text, HasSubstr("Held for:     Bromley Head of Safeguarding Adults when any of: consent-overridden"));
}

TEST(AgreementShow, ABrokenFileIsExitStatus2WithFileLine) {
  cb::test::TempDir dir;
  cb::test::writeFile(dir / "schema" / "agreement.xsd",
                      cb::test::readFile(agreementsDir() / "schema" / "agreement.xsd"));
  cb::test::writeFile(dir / "broken.xml", "<Agreement xmlns='urn:carebridge:agreement:1'>\n<Title>\n");
  std::ostringstream out;
  std::ostringstream err;
  cli::AgreementShowOptions o;
  o.file = (dir / "broken.xml").string();
  EXPECT_EQ(cli::runAgreementShow(o, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("broken.xml:"));
}

TEST(AgreementExplain, PrintsTheDecisionAndWhy) {
  cb::test::TempDir dir;
  std::ostringstream out;
  std::ostringstream err;
  cli::AgreementExplainOptions o;
  o.agreement = seed("bromley-oxleas.xml");
  o.record = enquiryFile(dir, {{"<Status>given</Status>", "<Status>refused</Status>"}});
  o.to = "bromley";
  o.at = "2026-11-29";
  o.canonical = (sourceDir() / "mappings" / "canonical" / "canonical.xsd").string();
  ASSERT_EQ(cli::runAgreementExplain(o, out, err), 0) << err.str();
  const std::string text = out.str();
  EXPECT_THAT(text, HasSubstr("decision:      hold"));
  EXPECT_THAT(text, HasSubstr("from -> to:    RPG -> 00AF"));
  EXPECT_THAT(text, HasSubstr("flow:          oxleas-to-bromley-safeguarding"));
  EXPECT_THAT(text, HasSubstr("lawful basis:  UK GDPR Art 6(1)(e); Art 9(2)(g); DPA 2018 Sch 1 para 18"));
  EXPECT_THAT(text, HasSubstr("approver:      Bromley Head of Safeguarding Adults"));
  EXPECT_THAT(text, HasSubstr("justification: "));
  EXPECT_THAT(text, HasSubstr("(nothing was sent)"));
}

TEST(AgreementExplain, RefusedAfterTheEndDateIsExitStatus1) {
  cb::test::TempDir dir;
  std::ostringstream out;
  std::ostringstream err;
  cli::AgreementExplainOptions o;
  o.agreement = seed("bromley-oxleas.xml");
  o.record = enquiryFile(dir, {});
  o.to = "00AF";
  o.from = "oxleas";
  o.at = "2027-12-01";
  o.canonical = (sourceDir() / "mappings" / "canonical" / "canonical.xsd").string();
  EXPECT_EQ(cli::runAgreementExplain(o, out, err), 1) << err.str();
  EXPECT_THAT(out.str(), HasSubstr("decision:      refuse"));
  EXPECT_THAT(out.str(), HasSubstr("ended on 2027-11-30"));
}

TEST(AgreementExplain, AnInvalidRecordOrUnknownPartyIsExitStatus2) {
  cb::test::TempDir dir;
  std::ostringstream out;
  std::ostringstream err;
  cli::AgreementExplainOptions o;
  o.agreement = seed("bromley-oxleas.xml");
  o.record = enquiryFile(dir, {{"<NHSNumber>9990000018</NHSNumber>", "<NHSNumber>9990000019</NHSNumber>"}});
  o.to = "00AF";
  o.canonical = (sourceDir() / "mappings" / "canonical" / "canonical.xsd").string();
  EXPECT_EQ(cli::runAgreementExplain(o, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("not a valid canonical record"));
  EXPECT_THAT(err.str(), ::testing::Not(HasSubstr("9990000019")));
  o.to = "RAT";
  EXPECT_EQ(cli::runAgreementExplain(o, out, err), 2);
  EXPECT_THAT(err.str(), HasSubstr("--to RAT is not a party"));
}

}  // namespace
}  // namespace cb::policy::test
