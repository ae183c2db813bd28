// Every FHIR R4 and UK Core example in the shared reference data converts
// both ways without loss, and the examples published in both forms convert
// into each other. Reference data written by others catches what our own
// fixtures would not (STYLE.md, Tests).

#include "codec/fhir/fhir_codec.h"
#include "codec/fhir/json_tree.h"
#include "fhir_test_support.h"
#include "xml/safe_xml.h"

#include <gtest/gtest.h>



namespace cb::codec::fhir {
namespace {

using test::Order;

std::vector<std::filesystem::path> referenceFolders() {
  return {test::referenceDir() / "fhir-r4", test::referenceDir() / "ukcore"};
}

std::vector<std::filesystem::path> referenceFiles(const std::string& extension) {
  std::vector<std::filesystem::path> all;
  for (const auto& dir : referenceFolders()) {
    auto files = test::filesWithExtension(dir, extension);
    all.insert(all.end(), files.begin(), files.end());
  }
  return all;
}

std::string describe(const Warnings& warnings) {
  std::string out;
  for (const auto& w : warnings) out += "\n  " + w.location + ": " + w.message;
  return out;
}

// The tests below loop over whatever is there; this one makes sure that is
// something, so a missing checkout of shared/ fails instead of passing vacuously.
TEST(FhirReferenceData, FoldersExistAndHoldBothFormats) {
  for (const auto& dir : referenceFolders()) {
    ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir << " is missing (CB_REFERENCE_DIR=" << test::referenceDir() << ")";
    const auto json = test::filesWithExtension(dir, ".json");
    const auto xml = test::filesWithExtension(dir, ".xml");
    EXPECT_FALSE(json.empty()) << "no FHIR JSON examples in " << dir;
    EXPECT_FALSE(xml.empty()) << "no FHIR XML examples in " << dir;
  }
}

// JSON -> XML -> (serialised and parsed again) -> JSON is the same JSON.
TEST(FhirReferenceData, EveryJsonExampleRoundTrips) {
  const auto files = referenceFiles(".json");
  ASSERT_FALSE(files.empty());
  for (const auto& path : files) {
    SCOPED_TRACE(path.string());
    const std::string text = test::readFile(path);
    auto original = JsonTree::parse(text, path.string(), Limits{});
    ASSERT_TRUE(original) << original.error().message;

    Warnings warnings;
    auto doc = jsonToXml(text, path.string(), Limits{}, &warnings);
    ASSERT_TRUE(doc) << doc.error().message;
    EXPECT_TRUE(warnings.empty()) << "every element of the reference data is in the R4 table:" << describe(warnings);

    const std::string xml_text = xml::serialize(doc->get());
    auto reparsed = parseFhirXml(xml_text, path.string() + " (as XML)");
    ASSERT_TRUE(reparsed) << reparsed.error().message;

    for (bool pretty : {false, true}) {
      JsonOptions options;
      options.pretty = pretty;
      Warnings back_warnings;
      auto json = xmlToJson(reparsed->get(), path.string(), options, &back_warnings);
      ASSERT_TRUE(json) << json.error().message;
      EXPECT_TRUE(back_warnings.empty()) << describe(back_warnings);
      auto back = JsonTree::parse(*json, "round trip", Limits{});
      ASSERT_TRUE(back) << back.error().message;
      auto diff = test::jsonDifference(*back, *original);
      EXPECT_FALSE(diff) << *diff;
    }
  }
}

// XML -> JSON -> XML is the same tree.
TEST(FhirReferenceData, EveryXmlExampleRoundTrips) {
  const auto files = referenceFiles(".xml");
  ASSERT_FALSE(files.empty());
  for (const auto& path : files) {
    SCOPED_TRACE(path.string());
    auto original = parseFhirXml(test::readFile(path), path.string());
    ASSERT_TRUE(original) << original.error().message;

    Warnings warnings;
    auto json = xmlToJson(original->get(), path.string(), JsonOptions{}, &warnings);
    ASSERT_TRUE(json) << json.error().message;
    // One upstream example (UKCore-Observation-Lab-Albumin-Example.xml) puts
    // meta after text, against the definition order xml.html requires. The
    // codec converts it and says so; JSON -> XML then writes the elements in
    // definition order, so that file is compared without regard to the order
    // of differently named siblings, and its output must be in order.
    Order order = Order::kExact;
    for (const auto& w : warnings) {
      if (w.message.find("out of definition order") != std::string::npos) order = Order::kGroupsByName;
      else ADD_FAILURE() << "every element of the reference data is in the R4 table: " << w.location << ": " << w.message;
    }

    Warnings back_warnings;
    auto back = jsonToXml(*json, path.string() + " (as JSON)", Limits{}, &back_warnings);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_TRUE(back_warnings.empty()) << describe(back_warnings);
    auto diff = test::xmlDifference(back->get(), original->get(), order);
    EXPECT_FALSE(diff) << *diff;
    if (order != Order::kExact) {
      Warnings again;
      auto json_again = xmlToJson(back->get(), path.string() + " (converted)", JsonOptions{}, &again);
      ASSERT_TRUE(json_again) << json_again.error().message;
      EXPECT_TRUE(again.empty()) << "the converted XML is in definition order:" << describe(again);
    }
  }
}

// Examples published in both forms (found at run time: name.json beside
// name.xml): each converts into the other. No normalisation is needed beyond
// the canonical form's: whitespace-only text nodes (indentation) are ignored
// and narrative divs are compared as XML trees, not as strings.
TEST(FhirReferenceData, PairedExamplesConvertIntoEachOther) {
  std::size_t pairs = 0;
  for (const auto& dir : referenceFolders()) {
    for (const auto& json_path : test::filesWithExtension(dir, ".json")) {
      auto xml_path = json_path;
      xml_path.replace_extension(".xml");
      if (!std::filesystem::exists(xml_path)) continue;
      ++pairs;
      SCOPED_TRACE(json_path.stem().string());
      const std::string json_text = test::readFile(json_path);
      auto json_tree = JsonTree::parse(json_text, json_path.string(), Limits{});
      ASSERT_TRUE(json_tree) << json_tree.error().message;
      auto xml_doc = parseFhirXml(test::readFile(xml_path), xml_path.string());
      ASSERT_TRUE(xml_doc) << xml_doc.error().message;

      auto as_json = xmlToJson(xml_doc->get(), xml_path.string());
      ASSERT_TRUE(as_json) << as_json.error().message;
      auto as_json_tree = JsonTree::parse(*as_json, "converted", Limits{});
      ASSERT_TRUE(as_json_tree) << as_json_tree.error().message;
      auto json_diff = test::jsonDifference(*as_json_tree, *json_tree);
      EXPECT_FALSE(json_diff) << "XML -> JSON: " << *json_diff;

      auto as_xml = jsonToXml(json_text, json_path.string());
      ASSERT_TRUE(as_xml) << as_xml.error().message;
      auto xml_diff = test::xmlDifference(as_xml->get(), xml_doc->get());
      EXPECT_FALSE(xml_diff) << "JSON -> XML: " << *xml_diff;
    }
  }
  EXPECT_GE(pairs, 1u) << "no example is published in both JSON and XML";
}

}  // namespace
}  // namespace cb::codec::fhir
