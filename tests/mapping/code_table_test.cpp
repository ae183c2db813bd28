// Code tables: loading, unknown-code rules, matching, and the example
// system's tables against the SAC/CLD reference lists (with their spelling
// traps, ../shared/reference/MANIFEST.md finding 7).

#include "mapping/code_table.h"
#include "mapping_test_support.h"
#include "xml/schema.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <vector>

namespace cb::mapping {
namespace {

namespace fs = std::filesystem;

using test::schemas;
using test::TempDir;
using test::writeFile;

const CodeTables& exampleTables() {
  static const CodeTables t = [] {
    auto r = loadCodeTables((test::exampleSystem() / "codes").string(), *schemas().code_table);
    if (!r) throw std::runtime_error(r.error().message);
    return std::move(*r);
  }();
  return t;
}

const CodeTable& table(const std::string& name) {
  auto it = exampleTables().find(name);
  if (it == exampleTables().end()) throw std::runtime_error("no table " + name);
  return *it->second;
}

// Very small CSV reader for the reference files: quoted fields with commas.
std::vector<std::vector<std::string>> csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows(1);
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(field);
      field.clear();
    } else if (c == '\n') {
      rows.back().push_back(field);
      field.clear();
      rows.emplace_back();
    } else if (c != '\r') {
      field.push_back(c);
    }
  }
  if (!field.empty() || !rows.back().empty()) rows.back().push_back(field);
  if (rows.back().empty()) rows.pop_back();
  return rows;
}

// The canonical enumeration values of one simple type, read from the XSD
// itself so the test cannot drift from the schema.
std::set<std::string> canonicalEnumeration(const std::string& type) {
  auto doc = test::parseFileOrDie(test::mappingsRoot() / "canonical" / "canonical.xsd");
  std::set<std::string> out;
  for (xmlNode* n = xmlDocGetRootElement(doc.get())->children; n != nullptr; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    xmlChar* name = xmlGetProp(n, reinterpret_cast<const xmlChar*>("name"));
    const bool match = name != nullptr && type == reinterpret_cast<const char*>(name);
    xmlFree(name);
    if (!match) continue;
    // simpleType/restriction/enumeration
    for (xmlNode* r = n->children; r != nullptr; r = r->next) {
      if (r->type != XML_ELEMENT_NODE) continue;
      for (xmlNode* e = r->children; e != nullptr; e = e->next) {
        if (e->type != XML_ELEMENT_NODE) continue;
        xmlChar* v = xmlGetProp(e, reinterpret_cast<const xmlChar*>("value"));
        if (v != nullptr) out.insert(reinterpret_cast<const char*>(v));
        xmlFree(v);
      }
    }
  }
  if (out.empty()) throw std::runtime_error("no enumeration " + type);
  return out;
}

TEST(CodeTables, ExampleTablesLoad) {
  EXPECT_GE(exampleTables().size(), 20u);
  EXPECT_TRUE(table("risk-type").refusesUnknown());
  EXPECT_EQ(table("ethnicity").defaultCode().value_or(""), "99");
}

TEST(CodeTables, EveryReferenceTypeOfRiskTranslatesToTheSacCategories) {
  const auto allowed = canonicalEnumeration("RiskType");
  std::set<std::string> produced;
  int n = 0;
  // The council pick list (short forms) ...
  for (const auto& row : csv(test::readFile(test::referenceDir() / "sac" / "sac-risk-pick-lists-hackney-form.csv"))) {
    if (row.size() < 2 || row[0] != "Type of Risk") continue;
    auto r = table("risk-type").translate(row[1]);
    ASSERT_TRUE(r) << row[1] << ": " << r.error().message;
    EXPECT_TRUE(allowed.count(*r)) << *r;
    produced.insert(*r);
    ++n;
  }
  EXPECT_EQ(n, 11);
  // ... and the NHS England SAC names, in both spellings of Self-Neglect.
  n = 0;
  for (const auto& row : csv(test::readFile(test::referenceDir() / "sac" / "sac-categories-from-python.csv"))) {
    if (row.size() < 4 || row[0] != "SG2a" || row[1].rfind("Type of Risk", 0) != 0) continue;
    for (const std::string& label : {row[3], row[2].substr(5)}) {  // "Self Neglect" and "Self-Neglect"
      auto r = table("risk-type").translate(label);
      ASSERT_TRUE(r) << label << ": " << r.error().message;
      EXPECT_TRUE(allowed.count(*r)) << *r;
    }
    ++n;
  }
  EXPECT_EQ(n, 11);
  EXPECT_EQ(produced, allowed) << "every SAC risk type is reachable";
}

TEST(CodeTables, EveryReferenceLocationAndSourceOfRiskTranslates) {
  const auto locations = canonicalEnumeration("LocationOfRisk");
  const auto sources = canonicalEnumeration("SourceOfRisk");
  int loc = 0, src = 0;
  for (const auto& row : csv(test::readFile(test::referenceDir() / "sac" / "sac-risk-pick-lists-hackney-form.csv"))) {
    if (row.size() < 2) continue;
    if (row[0] == "Location of Risk") {
      auto r = table("location-of-risk").translate(row[1]);
      ASSERT_TRUE(r) << row[1];
      EXPECT_TRUE(locations.count(*r)) << *r;
      ++loc;
    } else if (row[0] == "Source of Risk") {
      auto r = table("source-of-risk").translate(row[1]);
      ASSERT_TRUE(r) << row[1];
      EXPECT_TRUE(sources.count(*r)) << *r;
      ++src;
    }
  }
  EXPECT_EQ(loc, 8);   // the reference list has no "Other" ...
  EXPECT_EQ(src, 25);
  EXPECT_EQ(*table("location-of-risk").translate("Other"), "other");  // ... the SAC has
}

TEST(CodeTables, CldEthnicityDescriptionsTranslate) {
  const auto codes = canonicalEnumeration("EthnicCategory");
  int n = 0;
  for (const auto& row : csv(test::readFile(test::referenceDir() / "sac" / "cld-defined-values-from-sql.csv"))) {
    if (row.size() < 2 || row[0] != "Ethnicity") continue;
    auto hit = table("ethnicity").find(row[1]);
    ASSERT_TRUE(hit.has_value()) << "not listed: " << row[1];
    EXPECT_TRUE(codes.count(std::string(*hit))) << *hit;
    ++n;
  }
  EXPECT_EQ(n, 21);
}

TEST(CodeTables, LooseMatchingAbsorbsTheUpstreamSpellingTraps) {
  EXPECT_EQ(CodeTable::key("NFA - Support ended: Other reason", CodeMatch::Loose),
            CodeTable::key("NFA - Support ended \xE2\x80\x93 other reason", CodeMatch::Loose));
  EXPECT_EQ(CodeTable::key("Admitted to hospital", CodeMatch::Loose), CodeTable::key("Admitted to Hospital", CodeMatch::Loose));
  EXPECT_EQ(CodeTable::key("NHS funded", CodeMatch::Loose), CodeTable::key("NHS-funded", CodeMatch::Loose));
  EXPECT_EQ(CodeTable::key("Relative / family", CodeMatch::Loose), CodeTable::key("relative/family", CodeMatch::Loose));
  EXPECT_NE(CodeTable::key("Sexual", CodeMatch::Loose), CodeTable::key("Sexual Abuse", CodeMatch::Loose));
  EXPECT_EQ(*table("risk-type").translate("  self NEGLECT "), "self-neglect");
  EXPECT_EQ(CodeTable::key(" Ab ", CodeMatch::Exact), "Ab");
  EXPECT_EQ(CodeTable::key(" Ab ", CodeMatch::IgnoreCase), "ab");
}

TEST(CodeTables, UnknownCodes) {
  auto refused = table("risk-type").translate("Witchcraft");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("\"Witchcraft\" is not in code table 'risk-type'"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("risk-type.xml"), std::string::npos);
  EXPECT_EQ(*table("gender").translate("Q"), "unknown");
  // Long values are cut in the message.
  auto long_code = table("risk-type").translate(std::string(300, 'x'));
  ASSERT_FALSE(long_code);
  EXPECT_EQ(long_code.error().message.find(std::string(41, 'x')), std::string::npos);
}

TEST(CodeTables, LoadErrorsNameFileAndLine) {
  TempDir dir;
  const auto load = [&](const std::string& name, const std::string& body) {
    writeFile(dir / name, body);
    return CodeTable::load((dir / name).string(), *schemas().code_table);
  };
  auto dup = load("dup.xml",
                  "<codeTable xmlns=\"urn:carebridge:mapping:1\" name=\"d\" match=\"ignore-case\" onUnknown=\"refuse\">\n"
                  "  <code from=\"Yes\" to=\"y\"/>\n"
                  "  <code from=\"YES\" to=\"z\"/>\n"
                  "</codeTable>\n");
  ASSERT_FALSE(dup);
  EXPECT_NE(dup.error().message.find("dup.xml:3: code \"YES\" is the same as the one on line 2"), std::string::npos)
      << dup.error().message;

  auto bad_default = load("def.xml",
                          "<codeTable xmlns=\"urn:carebridge:mapping:1\" name=\"d\" onUnknown=\"default\" default=\"Z\">\n"
                          "  <code from=\"a\" to=\"A\"/>\n"
                          "</codeTable>\n");
  ASSERT_FALSE(bad_default);
  EXPECT_NE(bad_default.error().message.find("def.xml:1: default code \"Z\" is not the 'to' of any code"),
            std::string::npos)
      << bad_default.error().message;

  auto no_rule = load("rule.xml",
                      "<codeTable xmlns=\"urn:carebridge:mapping:1\" name=\"d\">\n"
                      "  <code from=\"a\" to=\"A\"/>\n"
                      "</codeTable>\n");
  ASSERT_FALSE(no_rule);
  EXPECT_NE(no_rule.error().message.find("rule.xml:1:"), std::string::npos) << no_rule.error().message;
  EXPECT_NE(no_rule.error().message.find("onUnknown"), std::string::npos) << no_rule.error().message;

  auto default_without_rule = load("both.xml",
                                   "<codeTable xmlns=\"urn:carebridge:mapping:1\" name=\"d\" onUnknown=\"refuse\" default=\"A\">\n"
                                   "  <code from=\"a\" to=\"A\"/>\n"
                                   "</codeTable>\n");
  ASSERT_FALSE(default_without_rule);
  EXPECT_NE(default_without_rule.error().message.find("only allowed with onUnknown=\"default\""), std::string::npos);

  auto malformed = load("broken.xml", "<codeTable xmlns=\"urn:carebridge:mapping:1\" name=\"d\">\n<code from=\"a\"\n");
  ASSERT_FALSE(malformed);
  EXPECT_NE(malformed.error().message.find("broken.xml:"), std::string::npos) << malformed.error().message;
}

TEST(CodeTables, DuplicateTableNamesInOneSystem) {
  TempDir dir;
  const std::string body =
      "<codeTable xmlns=\"urn:carebridge:mapping:1\" name=\"same\" onUnknown=\"refuse\"><code from=\"a\" to=\"b\"/></codeTable>";
  writeFile(dir / "one.xml", body);
  writeFile(dir / "two.xml", body);
  auto r = loadCodeTables(dir.path().string(), *schemas().code_table);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("name 'same' is already used by"), std::string::npos) << r.error().message;
  // A system without a codes/ directory has no tables, which is fine.
  auto none = loadCodeTables((dir / "absent").string(), *schemas().code_table);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace cb::mapping
