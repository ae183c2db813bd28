// Golden cases: the example system's cases all pass, and the runner really
// fails cases that are wrong (with the first difference), plus the XML
// comparison it relies on.

#include "mapping/golden.h"
#include "mapping/mapping.h"
#include "mapping/xml_compare.h"
#include "mapping_test_support.h"

#include <gtest/gtest.h>

#include <map>

namespace cb::mapping {
namespace {

namespace fs = std::filesystem;

using test::parseOrDie;
using test::schemas;
using test::TempDir;
using test::writeFile;

std::optional<std::string> diff(const std::string& a, const std::string& b) {
  return firstDifference(parseOrDie(a).get(), parseOrDie(b).get());
}

TEST(XmlCompare, IgnoresWhatDoesNotMatter) {
  EXPECT_FALSE(diff("<a x='1' y='2'><b>t</b></a>", "<a y='2' x='1'>\n  <b> t </b>\n  <!-- c -->\n</a>"));
  EXPECT_FALSE(diff("<p:a xmlns:p='urn:x'><p:b/></p:a>", "<a xmlns='urn:x'><b/></a>"));
}

TEST(XmlCompare, ReportsTheFirstDifferenceWithItsPath) {
  EXPECT_EQ(*diff("<a><b>1</b><b>2</b></a>", "<a><b>1</b><b>3</b></a>"), "/a[1]/b[2]: text differs: expected \"2\", got \"3\"");
  EXPECT_EQ(*diff("<a><b/></a>", "<a><c/></a>"), "/a[1]/b[1]: expected element b, got c");
  EXPECT_EQ(*diff("<a xmlns='urn:x'/>", "<a xmlns='urn:y'/>"), "/a[1]: expected element {urn:x}a, got {urn:y}a");
  EXPECT_EQ(*diff("<a x='1'/>", "<a x='2'/>"), "/a[1]: attribute @x differs: expected \"1\", got \"2\"");
  EXPECT_EQ(*diff("<a x='1'/>", "<a/>"), "/a[1]: attribute @x is missing (expected \"1\")");
  EXPECT_EQ(*diff("<a/>", "<a y='1'/>"), "/a[1]: unexpected attribute @y=\"1\"");
  EXPECT_EQ(*diff("<a><b/><c/></a>", "<a><b/></a>"), "/a[1]/c[1]: missing element c");
  EXPECT_EQ(*diff("<a><b/></a>", "<a><b/><b/></a>"), "/a[1]/b[2]: unexpected element b");
}

std::shared_ptr<const MappingSet> exampleSet() {
  auto r = MappingSet::load(test::exampleSystem().string(), schemas());
  if (!r) throw std::runtime_error(r.error().message);
  return *r;
}

TEST(Golden, ExampleSystemCasesAllPass) {
  auto report = runGoldenCases(*exampleSet(), (test::exampleSystem() / "golden").string());
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_GE(report->cases.size(), 10u);
  EXPECT_EQ(report->failures(), 0u) << report->format();
  bool refusals = false, successes = false;
  for (const auto& c : report->cases) {
    const bool refusal = fs::exists(test::exampleSystem() / "golden" / c.name / "expected-refusal.txt");
    (refusal ? refusals : successes) = true;
  }
  EXPECT_TRUE(refusals && successes) << "the example cases cover translations and refusals";
}

TEST(Golden, WrongCasesFail) {
  TempDir dir;
  const fs::path src = test::exampleSystem() / "golden";
  auto copyCase = [&](const std::string& from, const std::string& to) {
    fs::copy(src / from, dir / to, fs::copy_options::recursive);
  };
  // A changed expected value.
  copyCase("enquiry-full", "changed");
  std::string expected = test::readFile(dir / "changed" / "expected.xml");
  expected.replace(expected.find("<Town>London</Town>"), 19, "<Town>Leeds</Town>");
  writeFile(dir / "changed" / "expected.xml", expected);
  // A refusal that does not happen.
  copyCase("enquiry-full", "not-refused");
  fs::remove(dir / "not-refused" / "expected.xml");
  writeFile(dir / "not-refused" / "expected-refusal.txt", "NHS number\n");
  // A refusal with different words.
  copyCase("refuse-bad-nhs-number", "other-words");
  writeFile(dir / "other-words" / "expected-refusal.txt", "field 'Person/NHSNumber'\nsomething else entirely\n");
  // The wrong mapping named.
  copyCase("person-update", "wrong-mapping");
  writeFile(dir / "wrong-mapping" / "case.toml", "direction = \"inbound\"\nmapping = \"enquiry-in.xml\"\n");
  // Unknown keys and both expectations.
  copyCase("person-update", "bad-toml");
  writeFile(dir / "bad-toml" / "case.toml", "direction = \"inbound\"\nexpect = \"x\"\n");
  copyCase("person-update", "both");
  writeFile(dir / "both" / "expected-refusal.txt", "x\n");
  copyCase("person-update", "passes");

  auto report = runGoldenCases(*exampleSet(), dir.path().string());
  ASSERT_TRUE(report) << report.error().message;
  std::map<std::string, GoldenCaseResult> by_name;
  for (const auto& c : report->cases) by_name[c.name] = c;
  EXPECT_EQ(report->failures(), 6u) << report->format();
  EXPECT_TRUE(by_name["passes"].passed) << by_name["passes"].detail;
  EXPECT_EQ(by_name["changed"].detail,
            "first difference at /Record[1]/Person[1]/Address[1]/Town[1]: text differs: expected \"Leeds\", got \"London\"");
  EXPECT_EQ(by_name["not-refused"].detail, "expected a refusal, but the record was translated");
  EXPECT_NE(by_name["other-words"].detail.find("the refusal does not contain \"something else entirely\""), std::string::npos)
      << by_name["other-words"].detail;
  EXPECT_EQ(by_name["wrong-mapping"].detail, "expected mapping enquiry-in.xml to be used, but person-in.xml was");
  EXPECT_NE(by_name["bad-toml"].detail.find("unknown key 'expect'"), std::string::npos) << by_name["bad-toml"].detail;
  EXPECT_EQ(by_name["both"].detail, "give exactly one of expected.xml and expected-refusal.txt");
  const std::string text = report->format();
  EXPECT_NE(text.find("PASS passes\n"), std::string::npos);
  EXPECT_NE(text.find("FAIL changed: first difference"), std::string::npos);
  EXPECT_NE(text.find("1 passed, 6 failed\n"), std::string::npos) << text;

  TempDir empty;
  EXPECT_FALSE(runGoldenCases(*exampleSet(), empty.path().string()));
}

}  // namespace
}  // namespace cb::mapping
