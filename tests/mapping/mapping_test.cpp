// The mapping engine, feature by feature: small mapping files written into a
// temporary system directory, then the example system end to end, XPath
// compiled once, concurrent use and reload behaviour.

#include "mapping/mapping.h"
#include "mapping/transforms.h"
#include "mapping_test_support.h"

#include <gtest/gtest.h>

#include <thread>

namespace cb::mapping {
namespace {

namespace fs = std::filesystem;

using test::kMetaRules;
using test::mappingFile;
using test::parseFileOrDie;
using test::parseOrDie;
using test::schemas;
using test::TempDir;
using test::writeFile;

const std::string kSourceNs = "urn:test:source";

std::string trimmed(std::string s) { return trim(s); }

// An outbound mapping producing <Out> (no namespace, no target schema) from
// any input: the easiest way to exercise paths, repeats and conditions.
std::string outboundFile(const std::string& rules, const std::string& extra = "") {
  return mappingFile(rules, "outbound", "Person",
                     "<namespace prefix=\"s\" uri=\"" + kSourceNs + "\"/>\n" + extra + "<output root=\"Out\"/>\n");
}

struct Applied {
  std::string out;    // serialised output when translated
  std::string error;  // refusal otherwise
};

Applied applyMapping(const TempDir& dir, const std::string& mapping_text, const std::string& input,
                     const CodeTables& tables = {}) {
  writeFile(dir / "m.xml", mapping_text);
  auto m = Mapping::load((dir / "m.xml").string(), tables, schemas());
  if (!m) return {"", "LOAD: " + m.error().message};
  auto doc = parseOrDie(input);
  auto out = (*m)->apply(doc.get());
  if (!out) return {"", out.error().message};
  return {trimmed(test::serialize(out->get())), ""};
}

const std::string kInput =
    "<Doc xmlns='urn:test:source'>"
    "<id>  A-1 </id><name>SMITH, Mrs Jane Anne</name><nhs>999 000 0018</nhs><bad-nhs>999 000 0019</bad-nhs>"
    "<item n='1'>red</item><item n='2'>green</item><item n='3'></item>"
    "<flag>Y</flag><empty/>"
    "</Doc>";

// ------------------------------------------------------------- fields ----

TEST(MappingFields, SelectValueDefaultRequired) {
  TempDir dir;
  auto r = applyMapping(dir, outboundFile("<field to=\"a\" select=\"s:id\"/>\n"
                                          "<field to=\"b\" value=\"literal\"/>\n"
                                          "<field to=\"c\" select=\"s:missing\" default=\"dflt\"/>\n"
                                          "<field to=\"d\" select=\"s:missing\"/>\n"
                                          "<field to=\"e\" select=\"s:empty\" default=\"was empty\"/>\n"
                                          "<field to=\"f\" select=\"count(s:item)\"/>\n"),
                        kInput);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.out, "<Out><a>A-1</a><b>literal</b><c>dflt</c><e>was empty</e><f>3</f></Out>");

  r = applyMapping(dir, outboundFile("<field to=\"a\" select=\"s:id\"/>\n<field to=\"x/y\" select=\"s:missing\" required=\"true\"/>\n"),
                   kInput);
  EXPECT_NE(r.error.find("m.xml:7: field 'x/y': required value is missing (select \"s:missing\" is empty)"),
            std::string::npos)
      << r.error;
}

TEST(MappingFields, SeveralNodesNeedJoinOrForEach) {
  TempDir dir;
  auto r = applyMapping(dir, outboundFile("<field to=\"a\" select=\"s:item\"/>\n"), kInput);
  EXPECT_NE(r.error.find("m.xml:6: field 'a': select \"s:item\" found 3 nodes; use forEach, join=\"...\", or a predicate"),
            std::string::npos)
      << r.error;
  r = applyMapping(dir, outboundFile("<field to=\"a\" select=\"s:item\" join=\", \"/>\n<field to=\"b\" select=\"s:item[2]\"/>\n"),
                   kInput);
  EXPECT_EQ(r.out, "<Out><a>red, green</a><b>green</b></Out>");
}

TEST(MappingFields, TransformsAndSplit) {
  TempDir dir;
  auto r = applyMapping(
      dir,
      outboundFile("<field to=\"family\" select=\"s:name\" transform=\"name(part=family) | title\"/>\n"
                   "<field to=\"given+\" select=\"s:name\" transform=\"name(part=given)\" split=\" \"/>\n"
                   "<field to=\"nhs\" select=\"s:nhs\" transform=\"nhs-number\"/>\n"
                   "<field to=\"tags+\" value=\" a ,, b,c \" split=\",\"/>\n"),
      kInput);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.out,
            "<Out><family>Smith</family><given>Jane</given><given>Anne</given><nhs>9990000018</nhs>"
            "<tags>a</tags><tags>b</tags><tags>c</tags></Out>");
}

TEST(MappingFields, Concat) {
  TempDir dir;
  auto r = applyMapping(dir,
                        outboundFile("<field to=\"n\"><concat separator=\", \">\n"
                                     "  <part select=\"s:name\" transform=\"name(part=family) | upper\"/>\n"
                                     "  <part select=\"s:missing\"/>\n"
                                     "  <part select=\"s:item\" join=\"+\"/>\n"
                                     "  <part value=\"end\"/>\n"
                                     "</concat></field>\n"
                                     "<field to=\"m\" transform=\"upper\"><concat><part value=\"a\"/><part value=\"b\"/></concat></field>\n"),
                        kInput);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.out, "<Out><n>SMITH, red+green, end</n><m>AB</m></Out>");
}

TEST(MappingFields, OutputPaths) {
  TempDir dir;
  auto r = applyMapping(dir,
                        outboundFile("<field to=\"@version\" value=\"2\"/>\n"
                                     "<field to=\"p/q\" value=\"1\"/>\n"
                                     "<field to=\"p/r\" value=\"2\"/>\n"
                                     "<field to=\"p+/q\" value=\"3\"/>\n"
                                     "<field to=\"p/r\" value=\"4\"/>\n"
                                     "<field to=\"p/@k\" value=\"v&amp;&lt;\"/>\n"
                                     "<field to=\"t\" value=\"a &lt; b &amp; c\"/>\n"),
                        kInput);
  ASSERT_EQ(r.error, "");
  // Without '+' a step reuses the last element of that name.
  EXPECT_EQ(r.out, "<Out version=\"2\"><p><q>1</q><r>2</r></p><p k=\"v&amp;&lt;\"><q>3</q><r>4</r></p><t>a &lt; b &amp; c</t></Out>");

  r = applyMapping(dir, outboundFile("<field to=\"a\" value=\"1\"/>\n<field to=\"a\" value=\"2\"/>\n"), kInput);
  EXPECT_NE(r.error.find("m.xml:7: field 'a': the element already has content"), std::string::npos) << r.error;
  r = applyMapping(dir, outboundFile("<field to=\"@a\" value=\"1\"/>\n<field to=\"@a\" value=\"2\"/>\n"), kInput);
  EXPECT_NE(r.error.find("m.xml:7: field '@a': the attribute was already written"), std::string::npos) << r.error;
}

TEST(MappingFields, NamespacedOutput) {
  TempDir dir;
  const std::string file = mappingFile(
      "<field to=\"Head/o:Extra\" value=\"x\"/>\n<field to=\"Head/@o:flag\" value=\"y\"/>\n", "outbound", "Person",
      "<namespace prefix=\"t\" uri=\"urn:test:target\"/>\n<namespace prefix=\"o\" uri=\"urn:test:other\"/>\n"
      "<output root=\"t:Msg\" namespace=\"urn:test:target\"/>\n");
  auto r = applyMapping(dir, file, kInput);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.out,
            "<t:Msg xmlns:t=\"urn:test:target\" xmlns:o=\"urn:test:other\"><t:Head o:flag=\"y\"><o:Extra>x</o:Extra></t:Head></t:Msg>");
}

// ---------------------------------------------------------- structure ----

TEST(MappingRepeats, ForEach) {
  TempDir dir;
  auto r = applyMapping(dir,
                        outboundFile("<forEach select=\"s:item\" to=\"list/entry+\">\n"
                                     "  <field to=\"@n\" select=\"@n\" if=\". != ''\"/>\n"
                                     "  <field to=\".\" select=\".\"/>\n"
                                     "</forEach>\n"
                                     "<forEach select=\"s:missing\" to=\"never+\">\n"
                                     "  <field to=\"x\" value=\"1\"/>\n"
                                     "</forEach>\n"
                                     "<forEach select=\"s:item\" to=\"wrapped\">\n"
                                     "  <field to=\"i+\" select=\"@n\"/>\n"
                                     "</forEach>\n"
                                     "<forEach select=\"s:item[2]\">\n"
                                     "  <field to=\"direct\" select=\"concat(., '!')\"/>\n"
                                     "</forEach>\n"),
                        kInput);
  ASSERT_EQ(r.error, "");
  // The third item is empty: its entry is never created (nothing written).
  EXPECT_EQ(r.out,
            "<Out><list><entry n=\"1\">red</entry><entry n=\"2\">green</entry></list>"
            "<wrapped><i>1</i><i>2</i><i>3</i></wrapped><direct>green!</direct></Out>");

  r = applyMapping(dir, outboundFile("<forEach select=\"s:missing\" required=\"true\"><field to=\"x\" value=\"1\"/></forEach>\n"),
                   kInput);
  EXPECT_NE(r.error.find("m.xml:6: forEach \"s:missing\" is required but selects nothing"), std::string::npos) << r.error;

  // Errors inside a repeat say which item.
  r = applyMapping(dir, outboundFile("<forEach select=\"s:item\" to=\"e+\">\n"
                                     "  <field to=\".\" select=\".\" required=\"true\"/>\n"
                                     "</forEach>\n"),
                   kInput);
  EXPECT_NE(r.error.find("m.xml:7: field '.': required value is missing"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("(forEach at line 6, item 3)"), std::string::npos) << r.error;
}

TEST(MappingRepeats, NestedForEach) {
  TempDir dir;
  auto r = applyMapping(dir,
                        outboundFile("<forEach select=\"s:g\" to=\"group+\">\n"
                                     "  <field to=\"@name\" select=\"@name\"/>\n"
                                     "  <forEach select=\"s:v\" to=\"value+\"><field to=\".\" select=\".\"/></forEach>\n"
                                     "</forEach>\n"),
                        "<Doc xmlns='urn:test:source'><g name='a'><v>1</v><v>2</v></g><g name='b'><v>3</v></g></Doc>");
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.out, "<Out><group name=\"a\"><value>1</value><value>2</value></group><group name=\"b\"><value>3</value></group></Out>");
}

TEST(MappingConditions, WhenIfAndRefuse) {
  TempDir dir;
  auto r = applyMapping(dir,
                        outboundFile("<when test=\"s:flag = 'Y'\"><field to=\"yes\" value=\"1\"/></when>\n"
                                     "<when test=\"s:flag = 'N'\"><field to=\"no\" value=\"1\"/></when>\n"
                                     "<field to=\"a\" value=\"1\" if=\"s:item[@n = 2]\"/>\n"
                                     "<field to=\"b\" value=\"1\" if=\"s:item[@n = 9]\"/>\n"
                                     "<refuse if=\"s:flag = 'N'\" reason=\"never\"/>\n"),
                        kInput);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.out, "<Out><yes>1</yes><a>1</a></Out>");

  r = applyMapping(dir, outboundFile("<field to=\"a\" value=\"1\"/>\n<refuse if=\"s:flag = 'Y'\" reason=\"flagged records stay here\"/>\n"),
                   kInput);
  EXPECT_NE(r.error.find("m.xml:7: refused by the mapping: flagged records stay here"), std::string::npos) << r.error;
}

// ----------------------------------------------------------- refusals ----

TEST(MappingRefusals, NameFileLineFieldAndReasonButNotTheValue) {
  TempDir dir;
  auto r = applyMapping(dir,
                        outboundFile("<field to=\"ok\" select=\"s:nhs\" transform=\"nhs-number\"/>\n"
                                     "<field to=\"Patient/NHSNumber\" select=\"s:bad-nhs\" transform=\"trim | nhs-number\"/>\n"),
                        kInput);
  EXPECT_EQ(r.error, (dir / "m.xml").string() +
                         ":7: field 'Patient/NHSNumber': nhs-number: NHS number fails the Modulus 11 check");
  EXPECT_EQ(r.error.find("0019"), std::string::npos);

  r = applyMapping(dir, outboundFile("<field to=\"dob\" select=\"s:nhs\" transform=\"date(from=uk)\"/>\n"), kInput);
  EXPECT_NE(r.error.find("m.xml:6: field 'dob': date: not a UK date (DD/MM/YYYY)"), std::string::npos) << r.error;
  EXPECT_EQ(r.error.find("999"), std::string::npos) << r.error;
}

TEST(MappingRefusals, UnknownCodes) {
  TempDir dir;
  writeFile(dir / "codes" / "colour.xml",
            "<codeTable xmlns=\"urn:carebridge:mapping:1\" name=\"colour\" onUnknown=\"refuse\">"
            "<code from=\"red\" to=\"R\"/></codeTable>");
  writeFile(dir / "codes" / "colour-or-other.xml",
            "<codeTable xmlns=\"urn:carebridge:mapping:1\" name=\"colour-or-other\" onUnknown=\"default\" default=\"X\">"
            "<code from=\"red\" to=\"R\"/><code from=\"other\" to=\"X\"/></codeTable>");
  auto tables = loadCodeTables((dir / "codes").string(), *schemas().code_table);
  ASSERT_TRUE(tables) << tables.error().message;
  auto r = applyMapping(dir,
                        outboundFile("<forEach select=\"s:item[. != '']\" to=\"c+\">\n"
                                     "  <field to=\".\" select=\".\" transform=\"code(table=colour-or-other)\"/>\n"
                                     "</forEach>\n"),
                        kInput, *tables);
  ASSERT_EQ(r.error, "");
  EXPECT_EQ(r.out, "<Out><c>R</c><c>X</c></Out>");
  r = applyMapping(dir,
                   outboundFile("<forEach select=\"s:item[. != '']\" to=\"c+\">\n"
                                "  <field to=\".\" select=\".\" transform=\"code(table=colour)\"/>\n"
                                "</forEach>\n"),
                   kInput, *tables);
  EXPECT_NE(r.error.find("m.xml:7: field '.': code: code \"green\" is not in code table 'colour'"), std::string::npos)
      << r.error;
  EXPECT_NE(r.error.find("item 2"), std::string::npos) << r.error;
}

// ------------------------------------------------------------ loading ----

TEST(MappingLoad, BrokenFilesAreRefusedWithFileAndLine) {
  TempDir dir;
  struct Case {
    std::string text;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"<mapping xmlns=\"urn:carebridge:mapping:1\" system=\"t\"\n direction=\"inbound\" recordType=\"Person\">\n<rules>\n<field to=\"a\"\n</rules></mapping>",
       "m.xml:5:"},
      {"<!DOCTYPE m [<!ENTITY e \"x\">]>\n<mapping/>", "m.xml:1: refused: document type declarations"},
      {outboundFile("<field to=\"a\" selekt=\"s:id\"/>\n"), "m.xml:6:"},
      {outboundFile("<field to=\"a/\" value=\"1\"/>\n"), "m.xml:6:"},
      {outboundFile("<field to=\"a\" select=\"s:id[\"/>\n"), "m.xml:6: select: XPath expression \"s:id[\" does not compile"},
      {outboundFile("<field to=\"a\" select=\"q:id\"/>\n"), "m.xml:6: select: XPath expression \"q:id\" uses namespace prefix 'q'"},
      {outboundFile("<field to=\"a\" select=\"lower-case(s:id)\"/>\n"), "m.xml:6: select: XPath expression \"lower-case(s:id)\" calls lower-case()"},
      {outboundFile("<field to=\"a\" select=\"s:id\" if=\"$x\"/>\n"), "m.xml:6: if: XPath expression \"$x\" uses variable $x"},
      {outboundFile("<field to=\"a\" select=\"s:id\" transform=\"upper | shout\"/>\n"), "m.xml:6: transform \"upper | shout\": unknown transform 'shout'"},
      {outboundFile("<field to=\"a\" select=\"s:id\" transform=\"code(table=nope)\"/>\n"), "m.xml:6: transform \"code(table=nope)\": code table 'nope'"},
      {outboundFile("<field to=\"a\" select=\"s:id\" value=\"x\"/>\n"), "m.xml:6: give either select or value, not both"},
      {outboundFile("<field to=\"a\"/>\n"), "m.xml:6: give select or value"},
      {outboundFile("<field to=\"a\" value=\"x\" join=\",\"/>\n"), "m.xml:6: join needs select"},
      {outboundFile("<field to=\"a\" select=\"s:id\" split=\",\"/>\n"), "m.xml:6: split needs an output path whose last step ends in '+'"},
      {outboundFile("<field to=\"q:a\" value=\"1\"/>\n"), "m.xml:6: output path 'q:a': prefix 'q' is not declared"},
      {outboundFile("<forEach select=\"s:item\" to=\"a/@b\"><field to=\".\" value=\"1\"/></forEach>\n"), "m.xml:6: a forEach's to must name elements"},
      {outboundFile("<field to=\"a\" select=\"s:id\"><concat><part value=\"x\"/></concat></field>\n"), "m.xml:6: a field with <concat> takes no select"},
      {mappingFile(kMetaRules + "<field to=\"Referral/Source\" value=\"x\"/>\n"), "m.xml:9: output path 'Referral/Source' must start with Meta, Person (recordType is Person)"},
      {mappingFile("<field to=\"@type\" value=\"Referral\"/>\n"), "m.xml:6: output path '@type': Record itself is written by the engine"},
      {mappingFile("<field to=\"Meta/SourceId\" value=\"x\"/>\n", "inbound", "Person", "<namespace prefix=\"s\" uri=\"urn:s\"/>\n"),
       "m.xml:2: an inbound mapping needs <match"},
      {mappingFile("", "inbound", "Person", "<match test=\"true()\"/>\n<output root=\"X\"/>\n"), "m.xml:4: an inbound mapping always produces a canonical Record"},
      {mappingFile("", "outbound", "Person", ""), "m.xml:2: an outbound mapping needs <output"},
      {mappingFile("", "outbound", "Person", "<output root=\"x:Out\"/>\n"), "m.xml:3: root prefix 'x' is not declared"},
      {mappingFile("", "outbound", "Person", "<output root=\"Out\" schema=\"missing.xsd\"/>\n"), "m.xml:3: target schema:"},
      {mappingFile("", "outbound", "Person", "<namespace prefix=\"c\" uri=\"urn:not-canonical\"/>\n<output root=\"Out\"/>\n"),
       "m.xml:3: prefix 'c' is already bound to the canonical namespace"},
      {mappingFile("", "sideways", "Person"), "m.xml:2:"},
      {mappingFile("", "inbound", "Invoice"), "m.xml:2:"},
  };
  for (const auto& c : cases) {
    writeFile(dir / "m.xml", c.text);
    auto m = Mapping::load((dir / "m.xml").string(), {}, schemas());
    ASSERT_FALSE(m) << c.text;
    EXPECT_NE(m.error().message.find(c.expected), std::string::npos) << "want: " << c.expected << "\ngot:  " << m.error().message;
  }
}

// ------------------------------------------------------------ inbound ----

std::string personDoc(const std::string& body = "") {
  return "<Doc xmlns='urn:test:source'><nhs>999 000 0018</nhs><name>SMITH, Jane</name>" + body + "</Doc>";
}

TEST(MappingInbound, ProducesValidCanonicalRecords) {
  TempDir dir;
  writeFile(dir / "person.xml",
            mappingFile(kMetaRules +
                        "<field to=\"Person/NHSNumber\" select=\"s:nhs\" transform=\"nhs-number\"/>\n"
                        "<forEach select=\"s:name\" to=\"Person/Name+\">\n"
                        "  <field to=\"@use\" value=\"official\"/>\n"
                        "  <field to=\"Given+\" select=\".\" transform=\"name(part=given) | title\" split=\" \"/>\n"
                        "  <field to=\"Family\" select=\".\" transform=\"name(part=family) | title\"/>\n"
                        "</forEach>\n"));
  auto set = MappingSet::load(dir.path().string(), schemas());
  ASSERT_TRUE(set) << set.error().message;
  auto doc = parseOrDie(personDoc());
  auto out = (*set)->toCanonical(doc.get());
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->mapping->recordType(), "Person");
  EXPECT_EQ(trimmed(test::serialize(out->document.get())),
            "<Record xmlns=\"urn:carebridge:canonical:1\" type=\"Person\"><Meta><SourceSystem>test</SourceSystem>"
            "<SourceId>id-1</SourceId><LastUpdated>2024-01-01T00:00:00Z</LastUpdated></Meta><Person>"
            "<NHSNumber>9990000018</NHSNumber><Name use=\"official\"><Given>Jane</Given><Family>Smith</Family></Name>"
            "</Person></Record>");
}

TEST(MappingInbound, OutputSchemaErrorsPointAtTheMappingRule) {
  TempDir dir;
  // Name written before NHSNumber: out of canonical order.
  writeFile(dir / "person.xml",
            mappingFile(kMetaRules +
                        "<field to=\"Person/Name/Family\" select=\"s:name\"/>\n"
                        "<field to=\"Person/NHSNumber\" select=\"s:nhs\" transform=\"nhs-number\"/>\n"));
  auto set = MappingSet::load(dir.path().string(), schemas());
  ASSERT_TRUE(set) << set.error().message;
  auto out = (*set)->toCanonical(parseOrDie(personDoc()).get());
  ASSERT_FALSE(out);
  const std::string file = (dir / "person.xml").string();
  EXPECT_NE(out.error().message.find("does not satisfy the canonical model"), std::string::npos) << out.error().message;
  EXPECT_NE(out.error().message.find(file + ":10: Element '{urn:carebridge:canonical:1}NHSNumber': This element is not expected."),
            std::string::npos)
      << out.error().message;

  // A value the schema refuses (a name as GP practice code) is reported
  // against its rule, without the value.
  writeFile(dir / "person.xml", mappingFile(kMetaRules + "<field to=\"Person/GPPracticeCode\" select=\"s:name\"/>\n"));
  set = MappingSet::load(dir.path().string(), schemas());
  ASSERT_TRUE(set) << set.error().message;
  out = (*set)->toCanonical(parseOrDie(personDoc()).get());
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message.find(file + ":9: Element '{urn:carebridge:canonical:1}GPPracticeCode': [facet 'pattern'] The value [value withheld]"),
            std::string::npos)
      << out.error().message;
  EXPECT_EQ(out.error().message.find("SMITH"), std::string::npos) << out.error().message;
}

TEST(MappingInbound, ModulusElevenIsEnforcedEvenWithoutTheTransform) {
  TempDir dir;
  writeFile(dir / "person.xml", mappingFile(kMetaRules + "<field to=\"Person/NHSNumber\" select=\"s:nhs\"/>\n"));
  auto set = MappingSet::load(dir.path().string(), schemas());
  ASSERT_TRUE(set) << set.error().message;
  auto out = (*set)->toCanonical(parseOrDie("<Doc xmlns='urn:test:source'><nhs>9990000019</nhs></Doc>").get());
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message.find("person.xml:9: Person/NHSNumber: NHS number fails the Modulus 11 check"),
            std::string::npos)
      << out.error().message;
  EXPECT_EQ(out.error().message.find("9990000019"), std::string::npos);
}

TEST(MappingInbound, MatchSelectsExactlyOneMapping) {
  TempDir dir;
  const std::string head_a = "<namespace prefix=\"s\" uri=\"urn:test:source\"/>\n<match test=\"self::s:Doc[@kind = 'a']\"/>\n";
  const std::string head_ab = "<namespace prefix=\"s\" uri=\"urn:test:source\"/>\n<match test=\"self::s:Doc[@kind = 'a' or @kind = 'b']\"/>\n";
  const std::string rules = kMetaRules + "<field to=\"Person/GPPracticeCode\" value=\"A12345\"/>\n";
  writeFile(dir / "a.xml", mappingFile(rules, "inbound", "Person", head_a));
  writeFile(dir / "ab.xml", mappingFile(rules, "inbound", "Person", head_ab));
  auto set = MappingSet::load(dir.path().string(), schemas());
  ASSERT_TRUE(set) << set.error().message;

  auto b = (*set)->toCanonical(parseOrDie("<Doc xmlns='urn:test:source' kind='b'/>").get());
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_EQ(fs::path(b->mapping->file()).filename(), "ab.xml");

  auto both = (*set)->toCanonical(parseOrDie("<Doc xmlns='urn:test:source' kind='a'/>").get());
  ASSERT_FALSE(both);
  EXPECT_NE(both.error().message.find("ambiguous input: both"), std::string::npos) << both.error().message;

  auto none = (*set)->toCanonical(parseOrDie("<Invoice xmlns='urn:acme'/>").get());
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no inbound mapping in " + dir.path().string() +
                                      " matches a document whose root element is {urn:acme}Invoice"),
            std::string::npos)
      << none.error().message;
}

TEST(MappingSetLoad, OneSystemOneOutboundPerType) {
  {
    TempDir dir;
    writeFile(dir / "a.xml", mappingFile(kMetaRules));
    std::string other = mappingFile(kMetaRules);
    other.replace(other.find("system=\"test\""), 13, "system=\"other\"");
    writeFile(dir / "b.xml", other);
    auto set = MappingSet::load(dir.path().string(), schemas());
    ASSERT_FALSE(set);
    EXPECT_NE(set.error().message.find("b.xml: system \"other\" differs from \"test\""), std::string::npos)
        << set.error().message;
  }
  {
    TempDir dir;
    writeFile(dir / "a.xml", outboundFile(""));
    writeFile(dir / "b.xml", outboundFile(""));
    auto set = MappingSet::load(dir.path().string(), schemas());
    ASSERT_FALSE(set);
    EXPECT_NE(set.error().message.find("b.xml: a second outbound mapping for Person"), std::string::npos)
        << set.error().message;
  }
  {
    TempDir dir;
    auto set = MappingSet::load(dir.path().string(), schemas());
    ASSERT_FALSE(set);
    EXPECT_NE(set.error().message.find("no mapping files"), std::string::npos);
    EXPECT_FALSE(MappingSet::load((dir / "nope").string(), schemas()));
  }
}

// ------------------------------------------------------ example system ----

const MappingSet& example() {
  static const std::shared_ptr<const MappingSet> set = [] {
    auto r = MappingSet::load(test::exampleSystem().string(), schemas());
    if (!r) throw std::runtime_error(r.error().message);
    return std::move(*r);
  }();
  return *set;
}

fs::path golden(const std::string& c) { return test::exampleSystem() / "golden" / c / "input.xml"; }

TEST(ExampleSystem, EnquiryRoundTrip) {
  auto input = parseFileOrDie(golden("enquiry-full"));
  auto canonical = example().toCanonical(input.get());
  ASSERT_TRUE(canonical) << canonical.error().message;
  EXPECT_EQ(fs::path(canonical->mapping->file()).filename(), "enquiry-in.xml");
  EXPECT_EQ(canonical->mapping->digest().size(), 64u);

  auto summary = canonicalSummary(canonical->document.get());
  ASSERT_TRUE(summary);
  EXPECT_EQ(summary->record_type, "SafeguardingEnquiry");
  EXPECT_TRUE(summary->nhs_number_valid);
  EXPECT_EQ(summary->consent, ConsentStatus::Given);
  EXPECT_TRUE(summary->risk.risk_identified);
  EXPECT_FALSE(summary->risk.risk_remains);  // reduced
  EXPECT_FALSE(summary->risk.enquiry_open);

  auto partner = example().fromCanonical(canonical->document.get());
  ASSERT_TRUE(partner) << partner.error().message;
  EXPECT_EQ(fs::path(partner->mapping->file()).filename(), "enquiry-out.xml");
  const std::string out = test::serialize(partner->document.get());
  EXPECT_NE(out.find("<NHSNumber>999 000 0018</NHSNumber>"), std::string::npos) << out;
  EXPECT_NE(out.find("<Name>SMITH, Mrs Margaret Anne</Name>"), std::string::npos) << out;
  EXPECT_NE(out.find("<Updated>20240514154207+0000</Updated>"), std::string::npos) << out;

  // No outbound mapping for a Person-only record.
  auto person = example().toCanonical(parseFileOrDie(golden("person-update")).get());
  ASSERT_TRUE(person) << person.error().message;
  auto none = example().fromCanonical(person->document.get());
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no outbound mapping"), std::string::npos);
  auto wrong = example().fromCanonical(canonical->document.get(), "Referral");
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("asked to render a Referral but the record is a SafeguardingEnquiry"),
            std::string::npos);
}

TEST(ExampleSystem, XPathIsCompiledOnlyAtLoad) {
  std::size_t expressions = 0;
  for (const auto& m : example().mappings()) expressions += m->expressionCount();
  EXPECT_GT(expressions, 60u);
  auto input = parseFileOrDie(golden("enquiry-full"));
  const auto before = XPathExpr::compilationCount();
  for (int i = 0; i < 50; ++i) {
    auto c = example().toCanonical(input.get());
    ASSERT_TRUE(c);
    ASSERT_TRUE(example().fromCanonical(c->document.get()));
  }
  EXPECT_EQ(XPathExpr::compilationCount(), before);
}

TEST(ExampleSystem, FourThreadsGiveIdenticalResults) {
  auto input = parseFileOrDie(golden("enquiry-full"));
  auto once = example().toCanonical(input.get());
  ASSERT_TRUE(once);
  const std::string want_canonical = test::serialize(once->document.get());
  const std::string want_partner = test::serialize(example().fromCanonical(once->document.get())->document.get());

  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        // Half the threads share one input document, half parse their own.
        xml::DocPtr own;
        const _xmlDoc* in = input.get();
        if (t % 2 == 1) {
          own = parseFileOrDie(golden("enquiry-full"));
          in = own.get();
        }
        auto c = example().toCanonical(in);
        if (!c || test::serialize(c->document.get()) != want_canonical) {
          ++mismatches[static_cast<std::size_t>(t)];
          continue;
        }
        auto p = example().fromCanonical(c->document.get());
        if (!p || test::serialize(p->document.get()) != want_partner) ++mismatches[static_cast<std::size_t>(t)];
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(ExampleSystem, ReloadIsSideEffectFreeAndAllOrNothing) {
  TempDir dir;
  fs::copy(test::exampleSystem(), dir.path(), fs::copy_options::recursive);
  auto first = MappingSet::load(dir.path().string(), schemas());
  ASSERT_TRUE(first) << first.error().message;

  // Break one code table: the new load fails as a whole, naming the file...
  writeFile(dir / "codes" / "risk-type.xml", "<codeTable xmlns=\"urn:carebridge:mapping:1\" name=\"risk-type\">");
  auto second = MappingSet::load(dir.path().string(), schemas());
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("risk-type.xml"), std::string::npos) << second.error().message;

  // ... and the set loaded before keeps working unchanged.
  auto input = parseFileOrDie(golden("enquiry-full"));
  auto still = (*first)->toCanonical(input.get());
  ASSERT_TRUE(still) << still.error().message;
  EXPECT_EQ(test::serialize(still->document.get()),
            test::serialize(example().toCanonical(input.get())->document.get()));
  EXPECT_EQ((*first)->digest(), example().digest());
}

}  // namespace
}  // namespace cb::mapping
