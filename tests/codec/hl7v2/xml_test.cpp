// The ER7 <-> XML encoding: naming, nulls, escapes, character sets, the
// lenient reader, and refusals.
#include "codec/hl7v2/xml.h"

#include "hl7v2_test_support.h"

#include <gtest/gtest.h>
#include <libxml/tree.h>

#include <string>
#include <vector>

namespace cb::codec::hl7v2 {
namespace {

using test::normaliseEr7;
using test::xpath;
using Strings = std::vector<std::string>;
using namespace std::string_literals;

const std::string kHeader = "MSH|^~\\&|SENDAPP|SENDFAC|RECVAPP|RECVFAC|20240101120000||ADT^A01^ADT_A01|MSG0001|P|2.5.1";

xml::DocPtr toDoc(const std::string& er7) {
  auto m = parse(er7);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
  if (!m.ok()) std::abort();
  auto doc = toXml(*m);
  EXPECT_TRUE(doc.ok()) << (doc.ok() ? "" : doc.error().message);
  if (!doc.ok()) std::abort();
  return std::move(doc).value();
}

std::string roundTrip(const std::string& er7) {
  auto xml_text = er7ToXml(er7);
  EXPECT_TRUE(xml_text.ok()) << (xml_text.ok() ? "" : xml_text.error().message);
  if (!xml_text.ok()) return {};
  auto back = xmlToEr7(*xml_text, "test");
  EXPECT_TRUE(back.ok()) << (back.ok() ? "" : back.error().message);
  return back.ok() ? *back : std::string();
}

std::string fromXmlText(const std::string& xml_text) {
  auto back = xmlToEr7(xml_text, "test");
  EXPECT_TRUE(back.ok()) << (back.ok() ? "" : back.error().message) << "\n" << xml_text;
  return back.ok() ? *back : std::string();
}

std::string xmlRefusal(const std::string& xml_text) {
  auto back = xmlToEr7(xml_text, "test");
  EXPECT_FALSE(back.ok()) << "accepted: " << xml_text;
  return back.ok() ? std::string() : back.error().message;
}

// A minimal message in XML, with `body` after the MSH segment.
std::string xmlMessage(const std::string& body, const std::string& msh_extra = "") {
  return "<ADT_A01 xmlns=\"urn:hl7-org:v2xml\"><MSH><MSH.1>|</MSH.1><MSH.2>^~\\&amp;</MSH.2>"
         "<MSH.9><MSH.9.1>ADT</MSH.9.1><MSH.9.2>A01</MSH.9.2></MSH.9><MSH.10>X1</MSH.10><MSH.12>2.5</MSH.12>" +
         msh_extra + "</MSH>" + body + "</ADT_A01>";
}
const std::string kXmlHeader = "MSH|^~\\&|||||||ADT^A01|X1||2.5\r";

TEST(Hl7Xml, NamesRootSegmentsFieldsComponentsAndSubcomponents) {
  const auto doc = toDoc(kHeader + "\rPID|1||123^^^NHS&2.16.840.1.113883.2.1.4.1&ISO^NH~456||SMITH^ANNE\rZEV|2001\r");
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  EXPECT_STREQ(reinterpret_cast<const char*>(root->name), "ADT_A01");
  EXPECT_STREQ(reinterpret_cast<const char*>(root->ns->href), "urn:hl7-org:v2xml");
  EXPECT_EQ(xpath(doc.get(), "/v:ADT_A01/v:MSH/v:MSH.1"), Strings{"|"});
  EXPECT_EQ(xpath(doc.get(), "/v:ADT_A01/v:MSH/v:MSH.2"), Strings{"^~\\&"});
  EXPECT_EQ(xpath(doc.get(), "//v:MSH.9/v:MSH.9.3"), Strings{"ADT_A01"});
  EXPECT_EQ(xpath(doc.get(), "//v:MSH.10/v:MSH.10.1"), Strings{"MSG0001"});
  EXPECT_EQ(xpath(doc.get(), "count(/v:ADT_A01/*)"), Strings{"3"});
  EXPECT_EQ(xpath(doc.get(), "local-name(/v:ADT_A01/*[3])"), Strings{"ZEV"});
  EXPECT_EQ(xpath(doc.get(), "//v:PID/v:PID.1/v:PID.1.1"), Strings{"1"});
  EXPECT_EQ(xpath(doc.get(), "//v:PID/v:PID.3/v:PID.3.1"), (Strings{"123", "456"}));
  EXPECT_EQ(xpath(doc.get(), "//v:PID/v:PID.3[1]/v:PID.3.4/v:PID.3.4.2"), Strings{"2.16.840.1.113883.2.1.4.1"});
  EXPECT_EQ(xpath(doc.get(), "//v:PID/v:PID.3[1]/v:PID.3.5"), Strings{"NH"});
  EXPECT_EQ(xpath(doc.get(), "//v:PID.5/v:PID.5.2"), Strings{"ANNE"});
  EXPECT_EQ(xpath(doc.get(), "//v:ZEV/v:ZEV.1/v:ZEV.1.1"), Strings{"2001"});
  // Empty fields and components are omitted; positions keep their names.
  EXPECT_EQ(xpath(doc.get(), "count(//v:PID/v:PID.2)"), Strings{"0"});
  EXPECT_EQ(xpath(doc.get(), "count(//v:PID/v:PID.3[1]/*)"), Strings{"3"});
  EXPECT_EQ(xpath(doc.get(), "count(//v:PID/v:PID.3[1]/v:PID.3.1/*)"), Strings{"0"});
}

TEST(Hl7Xml, SerialisedFormIsCompactAndReadable) {
  auto xml_text = er7ToXml(kXmlHeader + "PID|1||A&B^C|\"\"\r");
  ASSERT_TRUE(xml_text.ok()) << xml_text.error().message;
  EXPECT_EQ(*xml_text,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<ADT_A01 xmlns=\"urn:hl7-org:v2xml\"><MSH><MSH.1>|</MSH.1><MSH.2>^~\\&amp;</MSH.2>"
            "<MSH.9><MSH.9.1>ADT</MSH.9.1><MSH.9.2>A01</MSH.9.2></MSH.9><MSH.10><MSH.10.1>X1</MSH.10.1></MSH.10>"
            "<MSH.12><MSH.12.1>2.5</MSH.12.1></MSH.12></MSH>"
            "<PID><PID.1><PID.1.1>1</PID.1.1></PID.1><PID.3><PID.3.1><PID.3.1.1>A</PID.3.1.1><PID.3.1.2>B</PID.3.1.2>"
            "</PID.3.1><PID.3.2>C</PID.3.2></PID.3><PID.4 null=\"true\"/></PID></ADT_A01>\n");
}

TEST(Hl7Xml, RootNameFallsBackFromStructureToCodeAndTrigger) {
  struct Case {
    std::string msh9;
    std::string root;
  };
  for (const Case& c : std::vector<Case>{{"ADT^A04^ADT_A01", "ADT_A01"},
                                         {"ADT^A04", "ADT_A04"},
                                         {"ACK^", "ACK"},
                                         {"ACK", "ACK"},
                                         {"ADT^A04^bad name", "ADT_A04"},
                                         {"ADT^\\F\\^", "ADT"},
                                         {"ORU^R01^xmlThing", "ORU_R01"}}) {
    const auto doc = toDoc("MSH|^~\\&|||||||" + c.msh9 + "|X1||2.5");
    EXPECT_STREQ(reinterpret_cast<const char*>(xmlDocGetRootElement(doc.get())->name), c.root.c_str()) << c.msh9;
  }
  auto m = parse("MSH|^~\\&|||||||1AB^A01|X1||2.5");
  ASSERT_TRUE(m.ok());
  auto refused = toXml(*m);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("cannot name the XML root element"), std::string::npos);
}

TEST(Hl7Xml, RepetitionsAreRepeatedFieldElementsAndEmptyOnesKeepTheirPlace) {
  const auto doc = toDoc(kXmlHeader + "PID|1||~~A~~B~~\r");
  EXPECT_EQ(xpath(doc.get(), "//v:PID.3"), (Strings{"", "", "A", "", "B"}));
  EXPECT_EQ(fromXmlText(xml::serialize(doc.get())), kXmlHeader + "PID|1||~~A~~B\r");
}

TEST(Hl7Xml, ExplicitNullIsAnAttributeAndRoundTrips) {
  const std::string er7 = kXmlHeader + "PID|\"\"||A^\"\"^C~\"\"||X&\"\"\r";
  const auto doc = toDoc(er7);
  EXPECT_EQ(xpath(doc.get(), "//v:PID.1/@null"), Strings{"true"});
  EXPECT_EQ(xpath(doc.get(), "//v:PID.1"), Strings{""});
  EXPECT_EQ(xpath(doc.get(), "//v:PID.3[1]/v:PID.3.2/@null"), Strings{"true"});
  EXPECT_EQ(xpath(doc.get(), "//v:PID.3[2]/@null"), Strings{"true"});
  EXPECT_EQ(xpath(doc.get(), "//v:PID.5/v:PID.5.1/v:PID.5.1.2/@null"), Strings{"true"});
  EXPECT_EQ(xpath(doc.get(), "count(//*[@null])"), Strings{"4"});
  EXPECT_EQ(roundTrip(er7), er7);
  // Literal "" text written by a mapping means the same.
  EXPECT_EQ(fromXmlText(xmlMessage("<PID><PID.8>\"\"</PID.8></PID>")), kXmlHeader + "PID||||||||\"\"\r");
  EXPECT_EQ(fromXmlText(xmlMessage("<PID><PID.8 null=\"false\">M</PID.8></PID>")), kXmlHeader + "PID||||||||M\r");
}

TEST(Hl7Xml, DelimiterEscapesBecomeTextOtherEscapesBecomeElements) {
  const std::string er7 = kXmlHeader + "NTE|1||A\\T\\E \\F\\ \\S\\ \\R\\ \\E\\|\\H\\Result\\N\\\\.br\\line 2\\X0D0A\\\\Zx\\\r";
  const auto doc = toDoc(er7);
  EXPECT_EQ(xpath(doc.get(), "//v:NTE.3/v:NTE.3.1"), Strings{"A&E | ^ ~ \\"});
  EXPECT_EQ(xpath(doc.get(), "//v:NTE.4/v:NTE.4.1/v:escape/@V"), (Strings{"H", "N", ".br", "X0D0A", "Zx"}));
  EXPECT_EQ(xpath(doc.get(), "//v:NTE.4/v:NTE.4.1/text()"), (Strings{"Result", "line 2"}));
  // In document order: escape, text, escape, escape, text, escape, escape.
  EXPECT_EQ(xpath(doc.get(), "count(//v:NTE.4/v:NTE.4.1/node())"), Strings{"7"});
  EXPECT_EQ(roundTrip(er7), er7);
}

TEST(Hl7Xml, WriterReEscapesLiteralDelimitersAndLineBreaks) {
  const std::string xml_text = xmlMessage(
      "<NTE><NTE.3><NTE.3.1>A&amp;E | 50% ^ ~ \\ done\nnext&#13;line</NTE.3.1></NTE.3>"
      "<NTE.4><NTE.4.1>first<escape V=\".br\"/>second</NTE.4.1></NTE.4></NTE>");
  EXPECT_EQ(fromXmlText(xml_text),
            kXmlHeader + "NTE|||A\\T\\E \\F\\ 50% \\S\\ \\R\\ \\E\\ done\\X0A\\next\\X0D\\line|first\\.br\\second\r");
}

TEST(Hl7Xml, LoneEscapeCharacterIsLiteralAndComesBackEscaped) {
  EXPECT_EQ(roundTrip(kXmlHeader + "NTE|1||C:\\temp\r"), kXmlHeader + "NTE|1||C:\\E\\temp\r");
}

TEST(Hl7Xml, NonDefaultDelimitersRoundTrip) {
  const std::string er7 = "MSH^~|\\&^APP^FAC^^^20120918^^ADT~A24^CTRL1^T^2.4\rPID^1^^11111~~~FOO&&0363|22222^^SMITH~JOHN\r";
  const auto doc = toDoc(er7);
  EXPECT_EQ(xpath(doc.get(), "//v:MSH.1"), Strings{"^"});
  EXPECT_EQ(xpath(doc.get(), "//v:MSH.2"), Strings{"~|\\&"});
  EXPECT_EQ(xpath(doc.get(), "//v:PID.3/v:PID.3.1"), (Strings{"11111", "22222"}));
  EXPECT_EQ(xpath(doc.get(), "//v:PID.3[1]/v:PID.3.4/v:PID.3.4.3"), Strings{"0363"});
  EXPECT_EQ(roundTrip(er7), er7);
}

TEST(Hl7Xml, Latin1MessagesAreConvertedBothWays) {
  const std::string er7 = kXmlHeader.substr(0, kXmlHeader.size() - 1) + "||||||8859/1\rPID|1||||M\xFCller^J\xF6rg^\xA3\r";
  const auto doc = toDoc(er7);
  EXPECT_EQ(xpath(doc.get(), "//v:PID.5/v:PID.5.1"), Strings{"M\xC3\xBCller"});
  EXPECT_EQ(xpath(doc.get(), "//v:PID.5/v:PID.5.3"), Strings{"\xC2\xA3"});
  EXPECT_EQ(roundTrip(er7), er7);
  // Characters 8859/1 cannot hold are refused on the way out, naming the element.
  const std::string error =
      xmlRefusal(xmlMessage("<PID><PID.5><PID.5.1>\xE2\x82\xAC</PID.5.1></PID.5></PID>", "<MSH.18>8859/1</MSH.18>"));
  EXPECT_NE(error.find("<PID.5.1>"), std::string::npos) << error;
}

TEST(Hl7Xml, CharacterSetIsReadTheSameWayInBothDirections) {
  // MSH-18 with a sub-component: both directions must take 8859/1 from it.
  const std::string er7 = kXmlHeader.substr(0, kXmlHeader.size() - 1) + "||||||8859/1&x\rNTE|1||\xA3 5\r";
  EXPECT_EQ(roundTrip(er7), er7);
  // Written by hand with the value straight in MSH.18.
  EXPECT_EQ(fromXmlText(xmlMessage("<NTE><NTE.3>\xC2\xA3 5</NTE.3></NTE>", "<MSH.18>8859/1</MSH.18>")),
            kXmlHeader.substr(0, kXmlHeader.size() - 1) + "||||||8859/1\rNTE|||\xA3 5\r");
}

TEST(Hl7Xml, Latin9HasTheEuroSign) {
  const std::string er7 = kXmlHeader.substr(0, kXmlHeader.size() - 1) + "||||||8859/15\rNTE|1||\xA4 5\r";
  const auto doc = toDoc(er7);
  EXPECT_EQ(xpath(doc.get(), "//v:NTE.3/v:NTE.3.1"), Strings{"\xE2\x82\xAC 5"});
  EXPECT_EQ(roundTrip(er7), er7);
}

TEST(Hl7Xml, RefusesBytesThatAreNotValidInTheDeclaredCharacterSet) {
  for (const std::string msh18 : {"", "||||||UNICODE UTF-8", "||||||ASCII"}) {
    auto m = parse(kXmlHeader.substr(0, kXmlHeader.size() - 1) + msh18 + "\rPID|1||||M\xFCller\r");
    ASSERT_TRUE(m.ok());
    auto doc = toXml(*m);
    ASSERT_FALSE(doc.ok()) << msh18;
    EXPECT_NE(doc.error().message.find("segment 2 (PID) field 5 component 1: the value is not valid UTF-8"),
              std::string::npos)
        << doc.error().message;
    EXPECT_EQ(doc.error().message.find("ller"), std::string::npos) << "no record content in errors";
  }
  // Overlong encodings, surrogates and U+FFFE are refused too.
  for (const std::string& bad : {"\xC0\xAF"s, "\xED\xA0\x80"s, "\xEF\xBF\xBE"s, "\xF4\x90\x80\x80"s, "\xE2\x82"s}) {
    auto m = parse(kXmlHeader + "NTE|1||" + bad + "\r");
    ASSERT_TRUE(m.ok());
    EXPECT_FALSE(toXml(*m).ok());
  }
  auto other = parse(kXmlHeader.substr(0, kXmlHeader.size() - 1) + "||||||ISO IR87\rNTE|1||x\r");
  ASSERT_TRUE(other.ok());
  auto refused = toXml(*other);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("MSH-18 names a character set this codec cannot convert"), std::string::npos);
}

TEST(Hl7Xml, ReaderIsLenientWhereTheMeaningIsClear) {
  // No namespace, text straight in field elements, fields out of order,
  // indentation, comments.
  const std::string xml_text =
      "<?xml version=\"1.0\"?>\n<ADT_A01>\n  <MSH>\n    <MSH.1>|</MSH.1>\n    <MSH.2>^~\\&amp;</MSH.2>\n"
      "    <MSH.12>2.5</MSH.12>\n    <MSH.10>X1</MSH.10>\n    <MSH.9>\n      <MSH.9.2>A01</MSH.9.2>\n"
      "      <MSH.9.1>ADT</MSH.9.1>\n    </MSH.9>\n  </MSH>\n  <!-- a comment -->\n  <PID>\n"
      "    <PID.8>M</PID.8>\n    <PID.3><PID.3.4><PID.3.4.2>OID</PID.3.4.2></PID.3.4><PID.3.1>123</PID.3.1></PID.3>\n"
      "    <PID.5><PID.5.1><![CDATA[O'Brien & Co]]></PID.5.1></PID.5>\n  </PID>\n</ADT_A01>\n";
  EXPECT_EQ(fromXmlText(xml_text), kXmlHeader + "PID|||123^^^&OID||O'Brien \\T\\ Co|||M\r");
}

TEST(Hl7Xml, ReaderRefusesWhatIsAmbiguousOrMalformed) {
  struct Case {
    std::string xml;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"<ADT_A01 xmlns=\"urn:other\"/>", "namespace 'urn:other'"},
      {"<ADT_A01 xmlns=\"urn:hl7-org:v2xml\"><PID/></ADT_A01>", "must be <MSH>"},
      {"<ADT_A01/>", "must be <MSH>"},
      {"<ADT_A01><MSH><MSH.2>^~\\&amp;</MSH.2></MSH></ADT_A01>", "must hold <MSH.1>"},
      {"<ADT_A01><MSH><MSH.1>||</MSH.1><MSH.2>^~\\&amp;</MSH.2></MSH></ADT_A01>", "exactly one character"},
      {"<ADT_A01><MSH><MSH.1>|</MSH.1><MSH.2>^~\\&amp;</MSH.2></MSH></ADT_A01>", "MSH-9 (message type) is missing"},
      {xmlMessage("<PID><PID.5>text<PID.5.1>x</PID.5.1></PID.5></PID>"), "<PID.5> mixes text with child elements"},
      {xmlMessage("<PID>text</PID>"), "<PID> holds text"},
      {xmlMessage("<PID><PV1.1>x</PV1.1></PID>"), "<PV1.1> cannot appear inside <PID>"},
      {xmlMessage("<PID><PID.0>x</PID.0></PID>"), "not a field of <PID>"},
      {xmlMessage("<PID><PID.05>x</PID.05></PID>"), "not a field of <PID>"},
      {xmlMessage("<PID><PID.1001>x</PID.1001></PID>"), "beyond ParseLimits::max_fields"},
      {xmlMessage("<PID><PID.99999999999999999999>x</PID.99999999999999999999></PID>"), "not a field of <PID>"},
      {xmlMessage("<PID><PID.3><PID.3.101>x</PID.3.101></PID.3></PID>"), "beyond ParseLimits::max_components"},
      {xmlMessage("<PID><PID.3><PID.3.1>a</PID.3.1><PID.3.1>b</PID.3.1></PID.3></PID>"), "<PID.3.1> appears twice"},
      {xmlMessage("<PID><PID.3><PID.3.1><PID.3.1.1>a</PID.3.1.1><PID.3.1.1>b</PID.3.1.1></PID.3.1></PID.3></PID>"),
       "<PID.3.1.1> appears twice"},
      {xmlMessage("<PID><PID.3><PID.3.1><PID.3.1.1><PID.3.1.1.1>a</PID.3.1.1.1></PID.3.1.1></PID.3.1></PID.3></PID>"),
       "cannot hold elements"},
      {xmlMessage("<PID><PID.8 null=\"true\">M</PID.8></PID>"), "null=\"true\" and content"},
      {xmlMessage("<PID><PID.8 null=\"yes\"/></PID>"), "expected \"true\" or \"false\""},
      {xmlMessage("<PID><PID.8><escape/></PID.8></PID>"), "no V attribute"},
      {xmlMessage("<PID><PID.8><escape V=\"a|b\"/></PID.8></PID>"), "V may not hold a delimiter"},
      {xmlMessage("<PID><PID.8><escape V=\"a\\b\"/></PID.8></PID>"), "V may not hold a delimiter"},
      {xmlMessage("<p:PID xmlns:p=\"urn:x\"/>"), "namespace 'urn:x'"},
      {xmlMessage("<pid/>"), "segment 2: segment id must be"},
      {xmlMessage("<MSH><MSH.1>|</MSH.1></MSH>"), "segment 2 (MSH): a second MSH"},
      {xmlMessage("<BHS/>"), "batches are not accepted"},
      {xmlMessage("", "<MSH.18>ISO IR87</MSH.18>"), "cannot write"},
      {"<!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>", "document type declarations"},
      {"not xml", "test:1:"},
  };
  for (const Case& c : cases) {
    const std::string error = xmlRefusal(c.xml);
    EXPECT_NE(error.find(c.expected), std::string::npos) << c.xml << "\n -> " << error;
  }
}

TEST(Hl7Xml, ReaderAppliesLimitsBeforeAllocating) {
  ParseLimits limits;
  limits.max_repetitions = 2;
  auto refused = xmlToEr7(xmlMessage("<PID><PID.3>a</PID.3><PID.3>b</PID.3><PID.3>c</PID.3></PID>"), "t", limits);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("more than 2 repetitions of <PID.3>"), std::string::npos);
  limits = {};
  limits.max_segments = 2;
  EXPECT_FALSE(xmlToEr7(xmlMessage("<PID/><PV1/>"), "t", limits).ok());
  EXPECT_TRUE(xmlToEr7(xmlMessage("<PID/>"), "t", limits).ok());
  limits = {};
  limits.max_items = 30;
  std::string body = "<OBX>";
  for (int i = 1; i <= 20; ++i) body += "<OBX." + std::to_string(i) + ">x</OBX." + std::to_string(i) + ">";
  body += "</OBX>";
  auto budget = xmlToEr7(xmlMessage(body), "t", limits);
  ASSERT_FALSE(budget.ok());
  EXPECT_NE(budget.error().message.find("ParseLimits::max_items"), std::string::npos);
}

TEST(Hl7Xml, FromXmlOnADocumentBuiltInMemory) {
  auto m = parse(kHeader + "\rPID|1||123\r");
  ASSERT_TRUE(m.ok());
  auto doc = toXml(*m);
  ASSERT_TRUE(doc.ok());
  auto back = fromXml(doc->get());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(write(*back), kHeader + "\rPID|1||123\r");
  EXPECT_FALSE(fromXml(nullptr).ok());
}

TEST(Hl7Xml, RoundTripDropsOnlyTrailingEmptiesAndTerminators) {
  const std::string er7 = "\xEF\xBB\xBF" + kHeader + "|||\r\nEVN||20240101||||\nPID|1||A^^^~^^~||B&&^^|\n\nZZZ|||\n";
  const std::string back = roundTrip(er7);
  EXPECT_EQ(back, normaliseEr7(er7));
  EXPECT_EQ(back, kHeader + "\rEVN||20240101\rPID|1||A||B\rZZZ\r");
}

}  // namespace
}  // namespace cb::codec::hl7v2
