// Unit tests for the FHIR codec: the json.html / xml.html rules one at a time,
// the generic rules for unknown content, hostile input, content types.

#include "codec/fhir/fhir_codec.h"
#include "codec/fhir/json_tree.h"
#include "fhir_test_support.h"
#include "xml/safe_xml.h"

#include <gtest/gtest.h>

#include <libxml/tree.h>

#include <string>

namespace cb::codec::fhir {
namespace {

constexpr const char* kNs = "xmlns=\"http://hl7.org/fhir\"";

// JSON -> XML must give exactly `expected_xml` (canonically compared).
void expectXml(std::string_view json, const std::string& expected_xml, Warnings* warnings = nullptr) {
  auto doc = jsonToXml(json, "test", Limits{}, warnings);
  ASSERT_TRUE(doc) << doc.error().message;
  auto expected = xml::parse(expected_xml, "expected");
  ASSERT_TRUE(expected) << expected.error().message;
  auto diff = test::xmlDifference(doc->get(), expected->get());
  EXPECT_FALSE(diff) << *diff << "\nfull output: " << xml::serialize(doc->get());
}

// XML text -> JSON text (compact).
std::string toJson(std::string_view xml_text, Warnings* warnings = nullptr, bool pretty = false) {
  auto doc = parseFhirXml(xml_text, "test");
  EXPECT_TRUE(doc) << doc.error().message;
  if (!doc) return {};
  JsonOptions options;
  options.pretty = pretty;
  auto json = xmlToJson(doc->get(), "test", options, warnings);
  EXPECT_TRUE(json) << json.error().message;
  return json ? *json : std::string();
}

// JSON -> XML -> JSON gives the same JSON (semantically); also returns the
// final JSON text for lexical checks.
std::string expectJsonRoundTrip(std::string_view json, Warnings* warnings = nullptr) {
  auto doc = jsonToXml(json, "test", Limits{}, warnings);
  EXPECT_TRUE(doc) << doc.error().message;
  if (!doc) return {};
  auto back = xmlToJson(doc->get(), "test", JsonOptions{}, warnings);
  EXPECT_TRUE(back) << back.error().message;
  if (!back) return {};
  auto a = JsonTree::parse(*back, "back", Limits{});
  auto b = JsonTree::parse(json, "original", Limits{});
  EXPECT_TRUE(a && b);
  if (a && b) {
    auto diff = test::jsonDifference(*a, *b);
    EXPECT_FALSE(diff) << *diff << "\nround trip: " << *back;
  }
  return *back;
}

std::string jsonError(std::string_view json, const Limits& limits = {}) {
  auto doc = jsonToXml(json, "msg-1", limits);
  EXPECT_FALSE(doc) << "accepted: " << std::string(json.substr(0, 200));
  return doc ? std::string() : doc.error().message;
}

std::string xmlToJsonError(std::string_view xml_text) {
  auto doc = parseFhirXml(xml_text, "msg-2");
  EXPECT_TRUE(doc) << doc.error().message;
  if (!doc) return {};
  auto json = xmlToJson(doc->get(), "msg-2");
  EXPECT_FALSE(json) << "accepted: " << *json;
  return json ? std::string() : json.error().message;
}

bool contains(const std::string& haystack, std::string_view needle) { return haystack.find(needle) != std::string::npos; }

bool anyWarning(const Warnings& warnings, std::string_view text) {
  for (const auto& w : warnings) {
    if (contains(w.message, text) || contains(w.location, text)) return true;
  }
  return false;
}

// --- primitives ---------------------------------------------------------------

TEST(FhirCodecPrimitives, ExtensionsAndIdsInParallelArraysWithNulls) {
  // json.html#primitive: "_given" parallels "given", null where one side has nothing.
  const std::string json = R"({"resourceType":"Patient","name":[{"family":"Chalmers",
    "given":["Peter",null,"James"],
    "_given":[null,{"extension":[{"url":"http://example.org/initial","valueString":"J"}]},{"id":"g3"}]}]})";
  expectXml(json, std::string("<Patient ") + kNs + R"(><name><family value="Chalmers"/>
      <given value="Peter"/>
      <given><extension url="http://example.org/initial"><valueString value="J"/></extension></given>
      <given id="g3" value="James"/></name></Patient>)");
  expectJsonRoundTrip(json);
}

TEST(FhirCodecPrimitives, ExtensionOnlyPrimitive) {
  const std::string json = R"({"resourceType":"Patient","_birthDate":{"id":"b1","extension":[
    {"url":"http://hl7.org/fhir/StructureDefinition/patient-birthTime","valueDateTime":"1974-12-25T14:35:45-05:00"}]}})";
  expectXml(json, std::string("<Patient ") + kNs + R"(><birthDate id="b1"><extension
      url="http://hl7.org/fhir/StructureDefinition/patient-birthTime"><valueDateTime value="1974-12-25T14:35:45-05:00"/>
      </extension></birthDate></Patient>)");
  expectJsonRoundTrip(json);
}

TEST(FhirCodecPrimitives, ParallelArraysMustMatch) {
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient","name":[{"given":["a","b"],"_given":[null]}]})"),
                       "/name/0/_given: _given must have as many items as given"));
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient","name":[{"given":["a",null],"_given":[null,null]}]})"),
                       "null for both"));
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient","_gender":{"url":"x"}})"),
                       "only id and extension are allowed"));
}

TEST(FhirCodecPrimitives, DecimalsKeepTheirLexicalForm) {
  // datatypes.html#decimal: precision is significant; 1.50 is not 1.5.
  const std::string json = R"({"resourceType":"Observation","status":"final","code":{"text":"t"},
    "valueQuantity":{"value":1.50,"unit":"mg"},
    "component":[{"code":{"text":"a"},"valueQuantity":{"value":0.000000001}},
                 {"code":{"text":"b"},"valueQuantity":{"value":100.000}},
                 {"code":{"text":"c"},"valueQuantity":{"value":-0.0}},
                 {"code":{"text":"d"},"valueQuantity":{"value":1.2E+3}},
                 {"code":{"text":"e"},"valueQuantity":{"value":12345678901234567890.123456789}}]})";
  auto doc = jsonToXml(json, "test");
  ASSERT_TRUE(doc) << doc.error().message;
  const std::string xml_text = xml::serialize(doc->get());
  for (const char* lexical : {"\"1.50\"", "\"0.000000001\"", "\"100.000\"", "\"-0.0\"", "\"1.2E+3\"",
                              "\"12345678901234567890.123456789\""}) {
    EXPECT_TRUE(contains(xml_text, std::string("value=") + lexical)) << lexical << " in " << xml_text;
  }
  const std::string back = expectJsonRoundTrip(json);
  for (const char* lexical : {"\"value\":1.50", "\"value\":0.000000001", "\"value\":100.000", "\"value\":-0.0",
                              "\"value\":1.2E+3", "\"value\":12345678901234567890.123456789"}) {
    EXPECT_TRUE(contains(back, lexical)) << lexical << " in " << back;
  }
}

TEST(FhirCodecPrimitives, XmlNumbersBecomeJsonNumbersUnchanged) {
  const std::string json = toJson(std::string("<Observation ") + kNs +
                                  R"(><status value="final"/><code><text value="t"/></code>
      <valueQuantity><value value="72.00"/></valueQuantity></Observation>)");
  EXPECT_TRUE(contains(json, R"("valueQuantity":{"value":72.00})")) << json;
  const std::string ints = toJson(std::string("<Patient ") + kNs +
                                  R"(><active value="true"/><multipleBirthInteger value="2"/></Patient>)");
  EXPECT_TRUE(contains(ints, R"("active":true)")) << ints;
  EXPECT_TRUE(contains(ints, R"("multipleBirthInteger":2)")) << ints;
}

TEST(FhirCodecPrimitives, XmlValuesMustFitTheirJsonForm) {
  EXPECT_TRUE(contains(xmlToJsonError(std::string("<Patient ") + kNs + R"(><active value="yes"/></Patient>)"),
                       "msg-2:1: a boolean value must be true or false"));
  EXPECT_TRUE(contains(xmlToJsonError(std::string("<Observation ") + kNs +
                                      "><valueQuantity><value value=\"1.\"/></valueQuantity></Observation>"),
                       "not a valid decimal"));
  EXPECT_TRUE(contains(xmlToJsonError(std::string("<Observation ") + kNs +
                                      "><valueQuantity><value value=\"+1\"/></valueQuantity></Observation>"),
                       "not a valid decimal"));
  EXPECT_TRUE(contains(xmlToJsonError(std::string("<Patient ") + kNs + R"(><multipleBirthInteger value="1.0"/></Patient>)"),
                       "not an integer"));
}

TEST(FhirCodecPrimitives, JsonTypesMustMatchTheFhirType) {
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient","active":"true"})"),
                       "msg-1: /active: expected true or false (FHIR boolean)"));
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Observation","valueQuantity":{"value":"1.5"}})"),
                       "/valueQuantity/value: expected a JSON number (FHIR decimal)"));
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient","gender":1})"), "/gender: expected a JSON string"));
}

TEST(FhirCodecPrimitives, IntegersAreRangeChecked) {
  // datatypes.html#integer: 32-bit; positiveInt >= 1; unsignedInt >= 0.
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient","multipleBirthInteger":2147483648})"),
                       "integer out of the 32-bit range"));
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient","multipleBirthInteger":1.5})"), "not an integer"));
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient","multipleBirthInteger":1e2})"), "not an integer"));
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Bundle","type":"searchset","total":-1})"),
                       "unsignedInt must be 0 or more"));
  EXPECT_TRUE(contains(
      jsonError(R"({"resourceType":"Observation","valueSampledData":{"origin":{"value":0},"period":1,"dimensions":0,"data":"1"}})"),
      "positiveInt must be 1 or more"));
  expectJsonRoundTrip(R"({"resourceType":"Patient","multipleBirthInteger":-2147483648})");
}

TEST(FhirCodecPrimitives, EmptyStringsAreDroppedWithAWarning) {
  Warnings warnings;
  expectXml(R"({"resourceType":"Patient","gender":"","active":true})",
            std::string("<Patient ") + kNs + R"(><active value="true"/></Patient>)", &warnings);
  EXPECT_TRUE(anyWarning(warnings, "empty string dropped"));
  EXPECT_TRUE(anyWarning(warnings, "/gender"));
}

TEST(FhirCodecPrimitives, EmptyObjectsAndArraysAreDroppedBothWays) {
  // json.html: no empty objects, arrays or strings; an object holding only
  // empty objects is empty too.
  Warnings warnings;
  expectXml(R"({"resourceType":"Patient","name":[{}],"maritalStatus":{"coding":[{}]},"telecom":[],
    "address":[{"line":[""]}],"gender":"male"})",
            std::string("<Patient ") + kNs + R"(><gender value="male"/></Patient>)", &warnings);
  EXPECT_TRUE(anyWarning(warnings, "empty element dropped"));
  EXPECT_TRUE(anyWarning(warnings, "empty array"));
  Warnings back;
  EXPECT_EQ(toJson(std::string("<Patient ") + kNs + R"(><name/><maritalStatus><coding/></maritalStatus>
      <address><line value=""/></address><contact><name><given><extension/></given></name></contact>
      <gender value="male"/></Patient>)",
                   &back),
            R"({"resourceType":"Patient","gender":"male"})");
  EXPECT_TRUE(anyWarning(back, "empty element name dropped"));
  EXPECT_TRUE(anyWarning(back, "empty extension dropped"));
}

// --- structure --------------------------------------------------------------------

TEST(FhirCodecStructure, ElementsAreWrittenInDefinitionOrder) {
  // xml.html: elements SHALL appear in the order of the definition; JSON may use any order.
  expectXml(R"({"link":[{"type":"seealso","other":{"reference":"Patient/2"}}],"gender":"male",
    "name":[{"given":["B"],"family":"A","use":"official"}],"active":true,"id":"p1","resourceType":"Patient"})",
            std::string("<Patient ") + kNs + R"(><id value="p1"/><active value="true"/>
      <name><use value="official"/><family value="A"/><given value="B"/></name><gender value="male"/>
      <link><other><reference value="Patient/2"/></other><type value="seealso"/></link></Patient>)");
}

TEST(FhirCodecStructure, IdAndUrlAreAttributes) {
  expectXml(R"({"resourceType":"Patient","id":"p1","extension":[{"url":"http://example.org/e","id":"e1",
    "valueCoding":{"id":"c1","system":"http://example.org/cs","code":"x"}}],
    "contact":[{"id":"k1","gender":"female"}]})",
            std::string("<Patient ") + kNs + R"(><id value="p1"/>
      <extension id="e1" url="http://example.org/e"><valueCoding id="c1"><system value="http://example.org/cs"/>
      <code value="x"/></valueCoding></extension><contact id="k1"><gender value="female"/></contact></Patient>)");
}

TEST(FhirCodecStructure, ChoiceElements) {
  const std::string json = R"({"resourceType":"Patient","deceasedBoolean":false,"multipleBirthInteger":3})";
  expectXml(json, std::string("<Patient ") + kNs +
                      R"(><deceasedBoolean value="false"/><multipleBirthInteger value="3"/></Patient>)");
  expectJsonRoundTrip(json);
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient","deceasedBoolean":false,"deceasedDateTime":"2020"})"),
                       "more than one property for the element deceased[x]"));
  EXPECT_TRUE(contains(xmlToJsonError(std::string("<Patient ") + kNs +
                                      R"(><deceasedBoolean value="false"/><deceasedDateTime value="2020"/></Patient>)"),
                       "more than one type for the choice element deceased[x]"));
}

TEST(FhirCodecStructure, RepeatingElementsAreArraysEvenWithOneItem) {
  const std::string json = toJson(std::string("<Patient ") + kNs +
                                  R"(><name><given value="A"/></name><gender value="male"/></Patient>)");
  EXPECT_EQ(json, R"({"resourceType":"Patient","name":[{"given":["A"]}],"gender":"male"})");
}

TEST(FhirCodecStructure, SingleValueForARepeatingElementIsWrappedWithAWarning) {
  Warnings warnings;
  expectXml(R"({"resourceType":"Patient","name":{"family":"A"}})",
            std::string("<Patient ") + kNs + R"(><name><family value="A"/></name></Patient>)", &warnings);
  EXPECT_TRUE(anyWarning(warnings, "name repeats and should be a JSON array"));
}

TEST(FhirCodecStructure, ArrayForANonRepeatingElementIsRefused) {
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient","gender":["male"]})"),
                       "/gender: an array, but gender does not repeat"));
  EXPECT_TRUE(contains(xmlToJsonError(std::string("<Patient ") + kNs +
                                      R"(><gender value="male"/><gender value="female"/></Patient>)"),
                       "repeats, but its maximum cardinality is 1"));
}

TEST(FhirCodecStructure, DuplicatePropertiesAreRefused) {
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient","gender":"male","gender":"female"})"),
                       "/gender: duplicate property"));
}

TEST(FhirCodecStructure, ContainedResourcesAreWrapped) {
  // xml.html#resource: <contained><Organization>...</Organization></contained>
  const std::string json = R"({"resourceType":"Patient","id":"p1",
    "contained":[{"resourceType":"Organization","id":"org1","name":"Practice"},
                 {"resourceType":"Practitioner","id":"pr1","active":true}],
    "managingOrganization":{"reference":"#org1"}})";
  expectXml(json, std::string("<Patient ") + kNs + R"(><id value="p1"/>
      <contained><Organization><id value="org1"/><name value="Practice"/></Organization></contained>
      <contained><Practitioner><id value="pr1"/><active value="true"/></Practitioner></contained>
      <managingOrganization><reference value="#org1"/></managingOrganization></Patient>)");
  expectJsonRoundTrip(json);
}

TEST(FhirCodecStructure, BundleEntriesWrapTheirResources) {
  const std::string json = R"({"resourceType":"Bundle","type":"transaction-response","entry":[
    {"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","id":"a"},
     "response":{"status":"201 Created","outcome":{"resourceType":"OperationOutcome",
       "issue":[{"severity":"information","code":"informational"}]}}},
    {"resource":{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Flag","status":"active","code":{"text":"x"},"subject":{"reference":"Patient/a"}}}]}}]})";
  expectXml(json, std::string("<Bundle ") + kNs + R"(><type value="transaction-response"/>
      <entry><fullUrl value="urn:uuid:1"/><resource><Patient><id value="a"/></Patient></resource>
        <response><status value="201 Created"/><outcome><OperationOutcome><issue><severity value="information"/>
        <code value="informational"/></issue></OperationOutcome></outcome></response></entry>
      <entry><resource><Bundle><type value="collection"/><entry><resource><Flag><status value="active"/>
        <code><text value="x"/></code><subject><reference value="Patient/a"/></subject></Flag></resource></entry>
        </Bundle></resource></entry></Bundle>)");
  expectJsonRoundTrip(json);
}

TEST(FhirCodecStructure, ParametersAndNestedItemsUseContentReferences) {
  expectJsonRoundTrip(R"({"resourceType":"Parameters","parameter":[{"name":"a","part":[{"name":"b",
    "part":[{"name":"c","valueDecimal":2.50}]},{"name":"r","resource":{"resourceType":"Patient","id":"x"}}]}]})");
  expectJsonRoundTrip(R"({"resourceType":"QuestionnaireResponse","status":"completed","item":[{"linkId":"1",
    "item":[{"linkId":"1.1","answer":[{"valueInteger":3,"item":[{"linkId":"1.1.1","answer":[{"valueBoolean":true}]}]}]}]}]})");
}

TEST(FhirCodecStructure, UnknownResourceTypesAndElementsAreKeptWithWarnings) {
  Warnings warnings;
  const std::string json = R"({"resourceType":"FutureThing","id":"f1","text":{"status":"generated",
    "div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},"extension":[{"url":"http://e","valueInteger":1}],
    "colour":"blue","_colour":{"id":"c1"},"size":12.50,"flags":[true,false],
    "owner":{"id":"o1","reference":"Patient/1","extension":[{"url":"http://e2","valueString":"s"}]},
    "holds":[{"resourceType":"Patient","id":"p"}]})";
  expectXml(json, std::string("<FutureThing ") + kNs + R"(><id value="f1"/><text><status value="generated"/>
      <div xmlns="http://www.w3.org/1999/xhtml">x</div></text><extension url="http://e"><valueInteger value="1"/></extension>
      <colour id="c1" value="blue"/><size value="12.50"/><flags value="true"/><flags value="false"/>
      <owner id="o1"><reference value="Patient/1"/><extension url="http://e2"><valueString value="s"/></extension></owner>
      <holds><Patient><id value="p"/></Patient></holds></FutureThing>)",
            &warnings);
  EXPECT_TRUE(anyWarning(warnings, "resource type FutureThing is not defined in FHIR R4"));
  EXPECT_TRUE(anyWarning(warnings, "/colour"));

  // Back to JSON: unknown primitives are strings (their type is unknown),
  // repeated unknown elements are arrays; everything else comes back as sent.
  auto doc = jsonToXml(json, "test");
  ASSERT_TRUE(doc);
  Warnings back_warnings;
  auto back = xmlToJson(doc->get(), "test", JsonOptions{}, &back_warnings);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(contains(*back, R"("size":"12.50")")) << *back;
  EXPECT_TRUE(contains(*back, R"("flags":["true","false"])")) << *back;
  EXPECT_TRUE(contains(*back, R"("_colour":{"id":"c1"})")) << *back;
  EXPECT_TRUE(contains(*back, R"("holds":{"resourceType":"Patient","id":"p"})")) << *back;
  EXPECT_TRUE(contains(*back, R"("extension":[{"url":"http://e2","valueString":"s"}])")) << *back;
  EXPECT_TRUE(anyWarning(back_warnings, "element colour is not defined in FHIR R4"));
}

TEST(FhirCodecStructure, UnknownElementInAKnownResourceRoundTrips) {
  Warnings warnings;
  expectJsonRoundTrip(R"({"resourceType":"Patient","nhsLocalFlag":"x","gender":"male"})", &warnings);
  EXPECT_TRUE(anyWarning(warnings, "element nhsLocalFlag is not defined in FHIR R4 Patient"));
}

TEST(FhirCodecStructure, ResourceRootAndResourceTypeAreRequired) {
  EXPECT_TRUE(contains(jsonError(R"([{"resourceType":"Patient"}])"), "must be a JSON object"));
  EXPECT_TRUE(contains(jsonError(R"({"id":"x"})"), "a resource needs a resourceType property"));
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"not a type"})"), "resourceType must be a resource type name"));
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient","contained":[{"id":"x"}]})"),
                       "/contained/0: a resource needs a resourceType"));
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient","na me":"x"})"), "not a FHIR element name"));
}

// --- narrative --------------------------------------------------------------------------

TEST(FhirCodecNarrative, DivIsXhtmlInXmlAndAStringInJson) {
  // json.html#xhtml, narrative.html#xhtml: escaped markup in JSON, an element in XML.
  const std::string json = R"({"resourceType":"Patient","text":{"status":"generated",
    "div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p class=\"x\">a &lt; b &amp; \"c\" &gt; d, caf\u00e9</p><br/></div>"}})";
  expectXml(json, std::string("<Patient ") + kNs + R"(><text><status value="generated"/>
      <div xmlns="http://www.w3.org/1999/xhtml"><p class="x">a &lt; b &amp; "c" &gt; d, café</p><br/></div>
      </text></Patient>)");
  const std::string back = expectJsonRoundTrip(json);
  EXPECT_TRUE(contains(back, R"(\"http://www.w3.org/1999/xhtml\")")) << back;
  EXPECT_TRUE(contains(back, "a &lt; b &amp;")) << back;
  EXPECT_TRUE(contains(back, "café")) << "UTF-8 stays UTF-8, not character references: " << back;
}

TEST(FhirCodecNarrative, PrefixedXhtmlNamespaceIsKept) {
  const std::string json = toJson(std::string("<Patient ") + kNs +
                                  R"( xmlns:h="http://www.w3.org/1999/xhtml"><text><status value="generated"/>
      <h:div><h:p>x</h:p></h:div></text></Patient>)");
  auto tree = JsonTree::parse(json, "out", Limits{});
  ASSERT_TRUE(tree) << tree.error().message;
  const std::uint32_t div = tree->member(tree->member(tree->root(), "text"), "div");
  ASSERT_NE(div, kNoNode);
  auto parsed = xml::parse(tree->text(div), "div");
  ASSERT_TRUE(parsed) << "the div string declares its own namespace: " << tree->text(div);
  auto expected = xml::parse(R"(<div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div>)", "expected");
  EXPECT_FALSE(test::xmlDifference(parsed->get(), expected->get()));
}

TEST(FhirCodecNarrative, DivWithoutNamespaceGetsItWithAWarning) {
  Warnings warnings;
  expectXml(R"({"resourceType":"Patient","text":{"status":"generated","div":"<div><b>x</b></div>"}})",
            std::string("<Patient ") + kNs + R"(><text><status value="generated"/>
      <div xmlns="http://www.w3.org/1999/xhtml"><b>x</b></div></text></Patient>)",
            &warnings);
  EXPECT_TRUE(anyWarning(warnings, "without the XHTML namespace"));
}

TEST(FhirCodecNarrative, BadDivsAreRefused) {
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient","text":{"status":"generated","div":"<div>unclosed"}})"),
                       "/text/div: not well-formed XHTML"));
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient","text":{"status":"generated","div":"<p>x</p>"}})"),
                       "single div element"));
  const std::string doctype = jsonError(
      R"({"resourceType":"Patient","text":{"status":"generated","div":"<!DOCTYPE div [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><div xmlns=\"http://www.w3.org/1999/xhtml\">&x;</div>"}})");
  EXPECT_TRUE(contains(doctype, "document type declarations")) << doctype;
  EXPECT_TRUE(contains(xmlToJsonError(std::string("<Patient ") + kNs +
                                      R"(><text><status value="generated"/><div><b>x</b></div></text></Patient>)"),
                       "the narrative div must be in the XHTML namespace"));
}

// --- XML specifics -----------------------------------------------------------------------

TEST(FhirCodecXml, ParseFhirXmlChecksTheRoot) {
  auto wrong_ns = parseFhirXml(R"(<Patient xmlns="urn:other"><id value="x"/></Patient>)", "msg-3");
  ASSERT_FALSE(wrong_ns);
  EXPECT_TRUE(contains(wrong_ns.error().message, "msg-3:1: root element is not in the FHIR namespace"));
  auto no_ns = parseFhirXml(R"(<Patient><id value="x"/></Patient>)", "msg-3");
  EXPECT_FALSE(no_ns);
  auto lower = parseFhirXml(std::string("<patient ") + kNs + "/>", "msg-3");
  EXPECT_FALSE(lower);
  EXPECT_TRUE(parseFhirXml(std::string("<Patient ") + kNs + "/>", "msg-3"));
}

TEST(FhirCodecXml, TextContentAndForeignElementsAreRefused) {
  EXPECT_TRUE(contains(xmlToJsonError(std::string("<Patient ") + kNs + R"(><gender>male</gender></Patient>)"),
                       "msg-2:1: text content is not allowed here"));
  EXPECT_TRUE(contains(xmlToJsonError(std::string("<Patient ") + kNs +
                                      R"(><x:gender xmlns:x="urn:x" value="male"/></Patient>)"),
                       "element is not in the FHIR namespace"));
  EXPECT_TRUE(contains(xmlToJsonError(std::string("<Patient ") + kNs + R"(><gender value="male" foo="1"/></Patient>)"),
                       "unexpected attribute foo"));
  EXPECT_TRUE(contains(xmlToJsonError(std::string("<Patient ") + kNs +
                                      R"(><contained><Organization/><Organization/></contained></Patient>)"),
                       "a resource wrapper holds exactly one resource"));
}

TEST(FhirCodecXml, CommentsAndSchemaLocationAreDropped) {
  Warnings warnings;
  const std::string json = toJson(std::string("<Patient ") + kNs +
                                      R"( xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
      xsi:schemaLocation="http://hl7.org/fhir patient.xsd"><!-- a comment --><active value="true"/></Patient>)",
                                  &warnings);
  EXPECT_EQ(json, R"({"resourceType":"Patient","active":true})");
  EXPECT_TRUE(anyWarning(warnings, "schemaLocation dropped"));
}

TEST(FhirCodecXml, PrettyAndCompactOutput) {
  const std::string xml_text = std::string("<Patient ") + kNs +
                               R"(><id value="1"/><name><given value="A"/><given value="B"/></name></Patient>)";
  EXPECT_EQ(toJson(xml_text), R"({"resourceType":"Patient","id":"1","name":[{"given":["A","B"]}]})");
  EXPECT_EQ(toJson(xml_text, nullptr, true), R"({
  "resourceType": "Patient",
  "id": "1",
  "name": [
    {
      "given": [
        "A",
        "B"
      ]
    }
  ]
})");
}

TEST(FhirCodecXml, EmptyElementsAreDroppedWithAWarning) {
  Warnings warnings;
  EXPECT_EQ(toJson(std::string("<Patient ") + kNs + R"(><gender value=""/><active/></Patient>)", &warnings),
            R"({"resourceType":"Patient"})");
  EXPECT_TRUE(anyWarning(warnings, "empty value attribute dropped"));
  EXPECT_TRUE(anyWarning(warnings, "element active has no value"));
}

// --- hostile input ------------------------------------------------------------------------

TEST(FhirCodecHostile, DeepJsonNestingIsRefused) {
  const std::string bomb = R"({"resourceType":"Patient","x":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_TRUE(contains(jsonError(bomb), "refused: JSON nested deeper than 128 levels"));
  // Legal FHIR shape, nested past the limit.
  std::string nested = R"({"resourceType":"Patient","extension":[)";
  for (int i = 0; i < 80; ++i) nested += R"({"url":"http://e","extension":[)";
  nested += R"({"url":"http://e","valueString":"x"})";
  for (int i = 0; i < 80; ++i) nested += "]}";
  nested += "]}";
  EXPECT_TRUE(contains(jsonError(nested), "nested deeper than"));
  Limits deep;
  deep.max_depth = 200;
  EXPECT_TRUE(jsonToXml(nested, "deep", deep)) << "within a raised limit";
}

TEST(FhirCodecHostile, DeepXmlNestingIsRefused) {
  std::string xml_text = std::string("<Patient ") + kNs + ">";
  for (int i = 0; i < 200; ++i) xml_text += "<extension url=\"http://e\">";
  for (int i = 0; i < 200; ++i) xml_text += "</extension>";
  xml_text += "</Patient>";
  auto doc = parseFhirXml(xml_text, "msg-4");
  ASSERT_FALSE(doc);
  EXPECT_TRUE(contains(doc.error().message, "nested deeper than 128"));
  // A document parsed elsewhere with looser limits is still bounded here.
  auto loose = xml::parse(xml_text, "msg-4", xml::ParseLimits{16u << 20, 1000});
  ASSERT_TRUE(loose);
  auto json = xmlToJson(loose->get(), "msg-4");
  ASSERT_FALSE(json);
  EXPECT_TRUE(contains(json.error().message, "refused: elements nested deeper than 128"));
}

TEST(FhirCodecHostile, HugeStringsAreRefused) {
  const std::string big(100u << 20, 'a');  // 100 MB
  const std::string json = R"({"resourceType":"Patient","id":")" + big + "\"}";
  EXPECT_TRUE(contains(jsonError(json), "bytes exceeds the limit of 16777216"));
  Limits roomy;
  roomy.max_bytes = 200u << 20;
  roomy.max_string_bytes = 1u << 20;
  EXPECT_TRUE(contains(jsonError(json, roomy), "msg-1: /id: refused: a string longer than 1048576 bytes"));
}

TEST(FhirCodecHostile, InvalidUtf8IsRefused) {
  const std::string msg = jsonError("{\"resourceType\":\"Patient\",\"id\":\"a\xC3\x28\"}");
  EXPECT_TRUE(contains(msg, "not valid JSON (or not UTF-8)")) << msg;
  EXPECT_TRUE(contains(msg, "line 1 column")) << msg;
  EXPECT_FALSE(jsonToXml("{\"resourceType\":\"Patient\",\"id\":\"\xED\xA0\x80\"}", "t")) << "UTF-8 encoded surrogate";
  EXPECT_FALSE(jsonToXml("{\"resourceType\":\"Patient\",\"id\":\"\xC0\xAF\"}", "t")) << "overlong";
  EXPECT_FALSE(jsonToXml(R"({"resourceType":"Patient","id":"\ud800"})", "t")) << "lone surrogate escape";
  auto xml_doc = parseFhirXml(std::string("<Patient ") + kNs + "><id value=\"a\xC3\x28\"/></Patient>", "msg-5");
  EXPECT_FALSE(xml_doc);
  auto latin1 = parseFhirXml(std::string("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><Patient ") + kNs +
                                 "><id value=\"caf\xE9\"/></Patient>",
                             "msg-5");
  ASSERT_FALSE(latin1);
  EXPECT_TRUE(contains(latin1.error().message, "not UTF-8"));
  auto sjis = parseFhirXml(std::string("<?xml version='1.0' encoding = 'Shift_JIS'?><Patient ") + kNs + "/>", "msg-5");
  ASSERT_FALSE(sjis);
  EXPECT_TRUE(contains(sjis.error().message, "msg-5:1: refused: declared encoding is not UTF-8"));
  EXPECT_TRUE(parseFhirXml(std::string("\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?><Patient ") + kNs + "/>", "t"));
  auto ebcdic = parseFhirXml(std::string("\x4C\x6F\xA7\x94\x93\x40"), "msg-5");
  ASSERT_FALSE(ebcdic);
  EXPECT_TRUE(contains(ebcdic.error().message, "not an XML document"));
  auto utf16 = parseFhirXml(std::string("\xFF\xFE<\0P\0", 6), "msg-5");
  ASSERT_FALSE(utf16);
  EXPECT_TRUE(contains(utf16.error().message, "UTF-16"));
}

TEST(FhirCodecHostile, HugeNumbersAreRefused) {
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Observation","valueQuantity":{"value":1e999999}})"),
                       "msg-1: /valueQuantity/value: refused: a number outside the range of an IEEE double"));
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient","x":1e-99999})"), "outside the range"));
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient","x":)" + std::string(100, '9') + "}"),
                       "/x: refused: a number longer than 64 characters"));
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient","x":1e)" + std::string(20000, '9') + "}"),
                       "refused: a number"));
  EXPECT_TRUE(contains(xmlToJsonError(std::string("<Observation ") + kNs +
                                      R"(><valueQuantity><value value="1e999999"/></valueQuantity></Observation>)"),
                       "outside the range"));
}

TEST(FhirCodecHostile, ControlCharactersXmlCannotCarryAreRefused) {
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient","id":"a\u0001b"})"),
                       "/id: the string contains control characters that XML cannot carry"));
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient","id":"a\uffffb"})"), "control characters"));
  // Tabs and newlines are fine and survive the trip (as character references in XML).
  expectJsonRoundTrip(R"({"resourceType":"Patient","name":[{"text":"line1\nline2\tx\r"}]})");
}

TEST(FhirCodecHostile, LongArraysAreRefused) {
  Limits limits;
  limits.max_array_length = 10;
  std::string json = R"({"resourceType":"Patient","name":[{"given":[)";
  for (int i = 0; i < 11; ++i) json += std::string(i ? "," : "") + "\"g\"";
  json += "]}]}";
  EXPECT_TRUE(contains(jsonError(json, limits), "msg-1: /name/0/given: refused: an array with more than 10 items"));
  std::string xml_text = std::string("<Patient ") + kNs + "><name>";
  for (int i = 0; i < 11; ++i) xml_text += "<given value=\"g\"/>";
  xml_text += "</name></Patient>";
  auto doc = parseFhirXml(xml_text, "msg-6");
  ASSERT_TRUE(doc);
  JsonOptions options;
  options.limits = limits;
  auto out = xmlToJson(doc->get(), "msg-6", options);
  ASSERT_FALSE(out);
  EXPECT_TRUE(contains(out.error().message, "refused: more than 10 repeats"));
}

TEST(FhirCodecHostile, XmlWithDoctypeOrEntitiesIsRefused) {
  const char* xxe = R"(<?xml version="1.0"?><!DOCTYPE Patient [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Patient xmlns="http://hl7.org/fhir"><id value="&xxe;"/></Patient>)";
  auto doc = parseFhirXml(xxe, "msg-7");
  ASSERT_FALSE(doc);
  EXPECT_TRUE(contains(doc.error().message, "refused: document type declarations"));
  const char* laughs = R"(<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<Patient xmlns="http://hl7.org/fhir"><id value="&lol2;"/></Patient>)";
  EXPECT_FALSE(parseFhirXml(laughs, "msg-7"));
}

TEST(FhirCodecHostile, MalformedJsonIsRefusedWithAPosition) {
  EXPECT_TRUE(contains(jsonError("{\"resourceType\":\"Patient\",\n\"id\":}"), "msg-1: line 2 column 6: not valid JSON"));
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient"} trailing)"), "not valid JSON"));
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient",})"), "not valid JSON"));
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient" /* c */})"), "not valid JSON"));
  EXPECT_TRUE(contains(jsonError(""), "refused: empty document"));
  EXPECT_TRUE(contains(jsonError(R"({"resourceType":"Patient")"), "not valid JSON"));
  // A UTF-8 byte order mark is allowed (RFC 8259 section 8.1).
  EXPECT_TRUE(jsonToXml("\xEF\xBB\xBF{\"resourceType\":\"Patient\"}", "bom"));
}

TEST(FhirCodecHostile, ErrorsAndWarningsNeverQuoteRecordContent) {
  const std::string secret = "SECRET-9434765919";
  for (const std::string& json : {
           R"({"resourceType":"Patient","active":")" + secret + R"("})",
           R"({"resourceType":"Patient","multipleBirthInteger":")" + secret + R"("})",
           R"({"resourceType":"Patient","text":{"status":"generated","div":"<div>)" + secret + R"(</span></div>"}})",
       }) {
    const std::string msg = jsonError(json);
    EXPECT_FALSE(contains(msg, secret)) << msg;
  }
  Warnings warnings;
  ASSERT_TRUE(jsonToXml(R"({"resourceType":"Patient","unknownThing":")" + secret + R"(","name":{"text":")" + secret +
                            R"("}})",
                        "t", Limits{}, &warnings));
  ASSERT_FALSE(warnings.empty());
  for (const auto& w : warnings) EXPECT_FALSE(contains(w.location + w.message, secret)) << w.message;
  const std::string xml_msg = xmlToJsonError(std::string("<Patient ") + kNs + R"(><active value=")" + secret + R"("/></Patient>)");
  EXPECT_FALSE(contains(xml_msg, secret)) << xml_msg;
}

// --- content types -----------------------------------------------------------------------

TEST(FhirCodecContentTypes, ContentTypeHeader) {
  EXPECT_EQ(formatFromContentType("application/fhir+json"), Format::kJson);
  EXPECT_EQ(formatFromContentType("application/fhir+json; charset=UTF-8"), Format::kJson);
  EXPECT_EQ(formatFromContentType("Application/FHIR+XML;charset=\"utf-8\"; fhirVersion=4.0"), Format::kXml);
  EXPECT_EQ(formatFromContentType("application/json"), Format::kJson);
  EXPECT_EQ(formatFromContentType("text/xml"), Format::kXml);
  EXPECT_EQ(formatFromContentType("application/fhir+json; charset=iso-8859-1"), std::nullopt);
  EXPECT_EQ(formatFromContentType("text/html"), std::nullopt);
  EXPECT_EQ(formatFromContentType(""), std::nullopt);
  EXPECT_EQ(contentTypeHeader(Format::kJson), "application/fhir+json; charset=utf-8");
  EXPECT_EQ(contentTypeHeader(Format::kXml), "application/fhir+xml; charset=utf-8");
}

TEST(FhirCodecContentTypes, FormatParameter) {
  EXPECT_EQ(formatFromParam("json"), Format::kJson);
  EXPECT_EQ(formatFromParam("xml"), Format::kXml);
  EXPECT_EQ(formatFromParam("application/fhir+xml"), Format::kXml);
  EXPECT_EQ(formatFromParam("ttl"), std::nullopt);
}

TEST(FhirCodecContentTypes, AcceptHeader) {
  EXPECT_EQ(formatFromAccept("application/fhir+xml"), Format::kXml);
  EXPECT_EQ(formatFromAccept("application/fhir+json"), Format::kJson);
  EXPECT_EQ(formatFromAccept("application/fhir+json;q=0.5, application/fhir+xml"), Format::kXml);
  EXPECT_EQ(formatFromAccept("application/fhir+xml;q=0.9, */*;q=0.1"), Format::kXml);
  EXPECT_EQ(formatFromAccept("*/*"), Format::kJson);
  EXPECT_EQ(formatFromAccept(""), Format::kJson);
  EXPECT_EQ(formatFromAccept("text/html"), std::nullopt);
  EXPECT_EQ(formatFromAccept("application/fhir+json;q=0"), std::nullopt);
}

TEST(FhirCodecContentTypes, ToXmlDispatchesOnFormat) {
  auto from_json = toXml(R"({"resourceType":"Patient","id":"1"})", Format::kJson, "t");
  ASSERT_TRUE(from_json) << from_json.error().message;
  auto from_xml = toXml(std::string("<Patient ") + kNs + R"(><id value="1"/></Patient>)", Format::kXml, "t");
  ASSERT_TRUE(from_xml) << from_xml.error().message;
  EXPECT_FALSE(test::xmlDifference(from_json->get(), from_xml->get()));
}

}  // namespace
}  // namespace cb::codec::fhir
