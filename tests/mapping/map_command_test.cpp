// `carebridge map` and `carebridge map test`, driven through CLI11 as the
// carebridge executable will drive them.

#include "cli/map_command.h"
#include "mapping_test_support.h"

#include <CLI/CLI.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <sstream>

namespace cb::cli {
namespace {

namespace fs = std::filesystem;

using mapping::test::exampleSystem;
using mapping::test::TempDir;
using mapping::test::writeFile;

struct Run {
  int exit_code = 0;
  std::string out;
  std::string err;
};

// Parses `args` with a fresh app, capturing std::cout and std::cerr.
Run run(std::vector<std::string> args) {
  CLI::App app("carebridge");
  addMapCommands(app);
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  Run r;
  std::reverse(args.begin(), args.end());  // CLI11 takes them last-first
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    r.exit_code = e.get_exit_code();
    if (r.exit_code != 0 && dynamic_cast<const CLI::RuntimeError*>(&e) == nullptr) err << e.what();
  }
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

std::string golden(const std::string& c) { return (exampleSystem() / "golden" / c / "input.xml").string(); }

TEST(MapCommand, TranslatesWithOneMapping) {
  auto r = run({"map", "--mapping", (exampleSystem() / "enquiry-in.xml").string(), "--in", golden("enquiry-full")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("<Record xmlns=\"urn:carebridge:canonical:1\" type=\"SafeguardingEnquiry\">"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("<RiskType>financial-or-material-abuse</RiskType>"), std::string::npos);

  // Outbound: the input is a canonical record.
  TempDir dir;
  writeFile(dir / "canonical.xml", r.out);
  auto o = run({"map", "--mapping", (exampleSystem() / "enquiry-out.xml").string(), "--in", (dir / "canonical.xml").string()});
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("<NHSNumber>999 000 0018</NHSNumber>"), std::string::npos) << o.out;
}

TEST(MapCommand, PrintsThePreciseRefusal) {
  auto r = run({"map", "--mapping", (exampleSystem() / "enquiry-in.xml").string(), "--in", golden("refuse-bad-nhs-number")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("refused: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("enquiry-in.xml:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("field 'Person/NHSNumber': nhs-number: NHS number fails the Modulus 11 check"), std::string::npos)
      << r.err;

  auto no_match = run({"map", "--mapping", (exampleSystem() / "person-in.xml").string(), "--in", golden("enquiry-full")});
  EXPECT_EQ(no_match.exit_code, 1);
  EXPECT_NE(no_match.err.find("<match> is false"), std::string::npos) << no_match.err;

  auto not_canonical = run({"map", "--mapping", (exampleSystem() / "enquiry-out.xml").string(), "--in", golden("enquiry-full")});
  EXPECT_EQ(not_canonical.exit_code, 1);
  EXPECT_NE(not_canonical.err.find("not a valid canonical record"), std::string::npos) << not_canonical.err;
}

TEST(MapCommand, UsageErrors) {
  EXPECT_EQ(run({"map"}).exit_code, 2);
  auto fmt = run({"map", "--mapping", (exampleSystem() / "enquiry-in.xml").string(), "--in", golden("enquiry-full"),
                  "--format", "hl7v2"});
  EXPECT_EQ(fmt.exit_code, 2);
  EXPECT_NE(fmt.err.find("--format hl7v2 is not supported here"), std::string::npos) << fmt.err;
  TempDir dir;
  writeFile(dir / "m.xml", "<mapping/>");
  writeFile(dir / "in.xml", "<x/>");
  auto no_schemas = run({"map", "--mapping", (dir / "m.xml").string(), "--in", (dir / "in.xml").string()});
  EXPECT_EQ(no_schemas.exit_code, 2);
  EXPECT_NE(no_schemas.err.find("give --schemas"), std::string::npos) << no_schemas.err;
  auto broken = run({"map", "--mapping", (dir / "m.xml").string(), "--in", (dir / "in.xml").string(), "--schemas",
                     mapping::test::mappingsRoot().string()});
  EXPECT_EQ(broken.exit_code, 2);
  EXPECT_NE(broken.err.find("m.xml:1:"), std::string::npos) << broken.err;
}

TEST(MapCommand, RunsGoldenCases) {
  auto r = run({"map", "test", exampleSystem().string()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS enquiry-full\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" 0 failed\n"), std::string::npos) << r.out;

  // One failing case makes the exit status non-zero.
  TempDir cases;
  fs::copy(exampleSystem() / "golden" / "person-update", cases / "person-update", fs::copy_options::recursive);
  writeFile(cases / "person-update" / "case.toml", "direction = \"inbound\"\nmapping = \"enquiry-in.xml\"\n");
  auto f = run({"map", "test", exampleSystem().string(), "--cases", cases.path().string()});
  EXPECT_EQ(f.exit_code, 1);
  EXPECT_NE(f.out.find("FAIL person-update: expected mapping enquiry-in.xml"), std::string::npos) << f.out;
  EXPECT_NE(f.out.find("0 passed, 1 failed"), std::string::npos) << f.out;

  // A system that does not load is a different failure.
  TempDir broken;
  fs::copy(exampleSystem(), broken.path(), fs::copy_options::recursive);
  writeFile(broken / "enquiry-in.xml", "<mapping");
  auto b = run({"map", "test", broken.path().string(), "--schemas", mapping::test::mappingsRoot().string()});
  EXPECT_EQ(b.exit_code, 2);
  EXPECT_NE(b.err.find("enquiry-in.xml:"), std::string::npos) << b.err;
}

}  // namespace
}  // namespace cb::cli
