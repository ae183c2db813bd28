// SystemMappings and the seed systems: every seed system's golden cases
// pass; every seed flow of PRODUCT.md translates end to end from the source
// system's wire format to the destination's, and the result parses in the
// destination format; refusals name the mapping file, line and field and no
// record content; hostile input is refused cleanly; manifests are checked.

#include "codec/csv/csv.h"
#include "codec/fhir/fhir_codec.h"
#include "codec/hl7v2/er7.h"
#include "mapping/golden.h"
#include "mapping/system.h"
#include "mapping_test_support.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace cb::mapping {
namespace {

namespace fs = std::filesystem;

using test::mappingsRoot;
using test::readFile;
using test::schemas;
using test::TempDir;
using test::writeFile;

const std::vector<std::string> kSeedSystems = {"rio", "carenotes", "mosaic", "las", "ais", "ukcore"};

std::shared_ptr<const SystemMappings> seed(const std::string& name) {
  static std::map<std::string, std::shared_ptr<const SystemMappings>> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  auto r = SystemMappings::load((mappingsRoot() / name).string(), schemas());
  if (!r) throw std::runtime_error(r.error().message);
  cache[name] = *r;
  return *r;
}

TEST(SeedSystems, LoadWithTheirManifests) {
  for (const auto& name : kSeedSystems) {
    auto r = SystemMappings::load((mappingsRoot() / name).string(), schemas());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ((*r)->system(), name);
    EXPECT_EQ((*r)->digest().size(), 64u);
    EXPECT_TRUE(fs::exists(mappingsRoot() / name / "README.md")) << name;
  }
}

TEST(SeedSystems, GoldenCasesAllPass) {
  for (const auto& name : kSeedSystems) {
    auto report = runGoldenCases(seed(name)->mappings(), (mappingsRoot() / name / "golden").string());
    ASSERT_TRUE(report) << name << ": " << report.error().message;
    EXPECT_GE(report->cases.size(), 3u) << name;
    EXPECT_EQ(report->failures(), 0u) << name << ":\n" << report->format();
  }
}

// The destination's bytes must parse in its own format.
void expectParsesAs(const SystemMappings& dest, const Outbound& out, const std::string& record_type) {
  ASSERT_NE(dest.outboundFormat(), nullptr);
  switch (dest.outboundFormat()->format) {
    case WireFormat::FhirJson: {
      codec::fhir::Warnings warnings;
      auto doc = codec::fhir::jsonToXml(out.bytes, "rendered", {}, &warnings);
      ASSERT_TRUE(doc) << doc.error().message;
      EXPECT_TRUE(warnings.empty()) << warnings.front().location << ": " << warnings.front().message;
      break;
    }
    case WireFormat::FhirXml: {
      auto doc = codec::fhir::parseFhirXml(out.bytes, "rendered");
      ASSERT_TRUE(doc) << doc.error().message;
      break;
    }
    case WireFormat::Hl7v2Er7: {
      auto msg = codec::hl7v2::parse(out.bytes);
      ASSERT_TRUE(msg) << msg.error().message;
      // RiO takes demographic updates as ADT^A31 and referrals as REF^I12.
      EXPECT_EQ(msg->messageType().code, record_type == "Referral" ? "REF" : "ADT");
      EXPECT_EQ(msg->messageType().trigger, record_type == "Referral" ? "I12" : "A31");
      auto nhs = msg->value("PID-3.1");
      ASSERT_TRUE(nhs);
      EXPECT_EQ(nhs->size(), 10u);
      break;
    }
    case WireFormat::Csv: {
      auto table = codec::csv::parse(out.bytes);
      ASSERT_TRUE(table) << table.error().message;
      EXPECT_EQ(table->rows.size(), 1u);
      EXPECT_EQ(table->header.front(), "Record Type");
      break;
    }
    case WireFormat::Xml: {
      auto doc = xml::parse(out.bytes, "rendered");
      ASSERT_TRUE(doc) << doc.error().message;
      break;
    }
  }
}

struct Flow {
  std::string source;
  std::string sample;        // under mappings/<source>/samples/
  std::string content_type;  // "" lets the format be guessed
  std::string destination;
  std::string record_type;
  std::string nhs_number;
};

// The seed flows of PRODUCT.md and agreements/*.xml: NELFT RiO <-> Barking and
// Dagenham AIS; Oxleas RiO <-> Bromley LAS; West Sussex Mosaic <-> SPFT
// Carenotes; CWPT <-> Warwickshire over UK Core (the standard route, both ends
// assumed to speak it); council demographic updates and referrals back to RiO.
const std::vector<Flow> kFlows = {
    {"rio", "adt-a28.hl7", "application/hl7-v2", "ais", "Person", "9990000026"},
    {"rio", "adt-a31.hl7", "", "ais", "Person", "9990000026"},
    {"rio", "safeguarding-enquiry.xml", "application/xml", "ais", "SafeguardingEnquiry", "9990000026"},
    {"rio", "cpa-review.xml", "text/xml; charset=utf-8", "ais", "StatutoryReview", "9990000026"},
    {"rio", "safeguarding-enquiry.xml", "", "las", "SafeguardingEnquiry", "9990000026"},
    {"rio", "cpa-review.xml", "application/xml", "las", "StatutoryReview", "9990000026"},
    {"mosaic", "safeguarding-enquiry.xml", "application/xml", "carenotes", "SafeguardingEnquiry", "9990000034"},
    {"carenotes", "safeguarding-enquiry.json", "application/fhir+json", "mosaic", "SafeguardingEnquiry", "9990000034"},
    {"rio", "adt-a28.hl7", "application/hl7-v2", "ukcore", "Person", "9990000026"},
    {"rio", "safeguarding-enquiry.xml", "application/xml", "ukcore", "SafeguardingEnquiry", "9990000026"},
    {"ukcore", "patient.json", "application/fhir+json; fhirVersion=4.0", "rio", "Person", "9990000018"},
    {"carenotes", "patient.json", "application/fhir+json", "rio", "Person", "9990000026"},
    {"ukcore", "safeguarding-enquiry.json", "", "carenotes", "SafeguardingEnquiry", "9990000026"},
    // Oxleas RiO -> Bromley LAS (safeguarding; performance monitoring).
    {"rio", "safeguarding-concern.xml", "application/xml", "las", "SafeguardingConcern", "9990000042"},
    {"rio", "care-act-assessment.xml", "", "las", "CareActAssessment", "9990000050"},
    {"rio", "carers-assessment.xml", "application/xml", "las", "CarersAssessment", "9990000069"},
    // Bromley LAS -> Oxleas RiO (direct care).
    {"las", "person-update.xml", "application/xml", "rio", "Person", "9990000077"},
    {"las", "referral.xml", "", "rio", "Referral", "9990000085"},
    // NELFT RiO -> Barking and Dagenham AIS.
    {"rio", "safeguarding-concern.xml", "application/xml", "ais", "SafeguardingConcern", "9990000042"},
    {"rio", "care-act-assessment.xml", "text/xml", "ais", "CareActAssessment", "9990000050"},
    // Barking and Dagenham AIS -> NELFT RiO.
    {"ais", "client.csv", "text/csv", "rio", "Person", "9990000093"},
    {"ais", "referral.csv", "text/csv; charset=utf-8", "rio", "Referral", "9990000093"},
    // SPFT Carenotes -> West Sussex Mosaic.
    {"carenotes", "care-act-assessment.json", "application/fhir+json", "mosaic", "CareActAssessment", "9990000050"},
    {"carenotes", "carers-assessment.json", "application/fhir+json", "mosaic", "CarersAssessment", "9990000069"},
    {"carenotes", "statutory-review.json", "application/fhir+json", "mosaic", "StatutoryReview", "9990000026"},
    {"carenotes", "safeguarding-concern.json", "application/fhir+json", "mosaic", "SafeguardingConcern", "9990000042"},
    {"carenotes", "patient.json", "application/fhir+json", "mosaic", "Person", "9990000026"},
    // West Sussex Mosaic -> SPFT Carenotes.
    {"mosaic", "person-update.xml", "application/xml", "carenotes", "Person", "9990000034"},
    {"mosaic", "referral.xml", "application/xml", "carenotes", "Referral", "9995550016"},
    // CWPT -> Warwickshire, Warwickshire -> CWPT (UK Core both ends).
    {"ukcore", "safeguarding-concern.json", "", "ukcore", "SafeguardingConcern", "9990000042"},
    {"ukcore", "safeguarding-enquiry.json", "application/fhir+json", "ukcore", "SafeguardingEnquiry", "9990000026"},
    {"ukcore", "care-act-assessment.json", "application/fhir+json", "ukcore", "CareActAssessment", "9990000050"},
    {"ukcore", "statutory-review.json", "application/fhir+json", "ukcore", "StatutoryReview", "9990000026"},
    {"ukcore", "patient.json", "application/fhir+json", "ukcore", "Person", "9990000018"},
    {"ukcore", "referral.json", "application/fhir+json", "ukcore", "Referral", "9990000085"},
    {"ukcore", "carers-assessment.json", "application/fhir+json", "ukcore", "CarersAssessment", "9990000069"},
};

TEST(SeedFlows, TranslateEndToEnd) {
  for (const auto& f : kFlows) {
    SCOPED_TRACE(f.source + "/" + f.sample + " -> " + f.destination);
    const std::string bytes = readFile(mappingsRoot() / f.source / "samples" / f.sample);
    auto in = seed(f.source)->toCanonical(bytes, f.content_type);
    ASSERT_TRUE(in) << in.error().message;
    EXPECT_EQ(in->record_type, f.record_type);
    EXPECT_EQ(in->nhs_number, f.nhs_number);
    EXPECT_FALSE(in->local_ids.empty());
    EXPECT_EQ(in->mapping_digest.size(), 64u);
    EXPECT_TRUE(fs::exists(in->mapping_file));
    auto out = seed(f.destination)->fromCanonical(in->canonical.get(), in->record_type);
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(out->content_type, seed(f.destination)->outboundFormat()->content_type);
    EXPECT_EQ(out->mapping_digest.size(), 64u);
    expectParsesAs(*seed(f.destination), *out, f.record_type);
    EXPECT_NE(out->bytes.find(f.nhs_number.substr(0, 3)), std::string::npos) << out->bytes;
  }
}

TEST(SeedFlows, LocalIdsAndNhsNumberComeBackOut) {
  auto in = seed("rio")->toCanonical(readFile(mappingsRoot() / "rio" / "samples" / "adt-a28.hl7"), "");
  ASSERT_TRUE(in) << in.error().message;
  ASSERT_EQ(in->local_ids.size(), 1u);
  EXPECT_EQ(in->local_ids[0], std::make_pair(std::string("rio"), std::string("RIO100234")));
  EXPECT_EQ(fs::path(in->mapping_file).filename(), "person-in.xml");
}

TEST(SystemRefusals, NameFileLineAndFieldButNoContent) {
  // PID-3 NHS number failing Modulus 11; the surname must not appear.
  std::string adt = readFile(mappingsRoot() / "rio" / "samples" / "adt-a28.hl7");
  adt.replace(adt.find("9990000026"), 10, "9990000027");
  auto r = seed("rio")->toCanonical(adt, "application/hl7-v2");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("person-in.xml:"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("field 'Person/NHSNumber'"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("9990000027"), std::string::npos);
  EXPECT_EQ(r.error().message.find("OKAFOR"), std::string::npos);

  // A required FHIR item missing: the enquiry start date.
  std::string json = readFile(mappingsRoot() / "carenotes" / "samples" / "safeguarding-enquiry.json");
  const auto at = json.find("\"start-date\"");
  ASSERT_NE(at, std::string::npos);
  json.replace(at, 12, "\"started-on\"");
  auto e = seed("carenotes")->toCanonical(json, "application/fhir+json");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("enquiry-in.xml:"), std::string::npos) << e.error().message;
  EXPECT_NE(e.error().message.find("SafeguardingEnquiry/StartDate"), std::string::npos) << e.error().message;
}

TEST(SystemRefusals, ContentTypesAndFormats) {
  auto r = seed("rio")->toCanonical("{}", "application/fhir+json");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("content type application/fhir+json is not one it sends"), std::string::npos)
      << r.error().message;
  auto out = seed("rio")->toCanonical("MSH|^~\\&|RIO", "application/hl7-v2");
  ASSERT_FALSE(out);  // truncated MSH
  EXPECT_NE(out.error().message.find("rio hl7v2-er7 input"), std::string::npos) << out.error().message;
  // AIS reads CSV exports now, but only those whose Record Type it maps.
  auto none = seed("ais")->toCanonical("a,b\n1,2\n", "text/csv");
  ASSERT_FALSE(none);
  auto not_csv = seed("ais")->toCanonical("<rows/>", "application/xml");
  ASSERT_FALSE(not_csv);
  auto csv_out = seed("carenotes")->fromCanonical(nullptr, "Person");
  EXPECT_FALSE(csv_out);
}

TEST(SystemRefusals, HostileInputIsRefusedCleanly) {
  const std::string laughs =
      "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\">"
      "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
      "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>\n"
      "<MosaicSafeguardingExport>&lol3;</MosaicSafeguardingExport>";
  auto a = seed("mosaic")->toCanonical(laughs, "application/xml");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().message.find("lol"), std::string::npos) << a.error().message;

  const std::string xxe =
      "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><Patient "
      "xmlns=\"http://hl7.org/fhir\"><id value=\"&x;\"/></Patient>";
  EXPECT_FALSE(seed("ukcore")->toCanonical(xxe, "application/fhir+xml"));

  const std::string huge(seed("ukcore")->maxBytes() + 1, ' ');
  auto h = seed("ukcore")->toCanonical(huge, "application/fhir+json");
  ASSERT_FALSE(h);
  EXPECT_NE(h.error().message.find("over the limit"), std::string::npos) << h.error().message;

  std::string deep_json = "{\"resourceType\":\"Patient\",\"extension\":";
  for (int i = 0; i < 5000; ++i) deep_json += "[{\"extension\":";
  EXPECT_FALSE(seed("carenotes")->toCanonical(deep_json, "application/fhir+json"));

  std::string deep_xml;
  for (int i = 0; i < 5000; ++i) deep_xml += "<a>";
  EXPECT_FALSE(seed("las").get()->toCanonical(deep_xml, ""));
  EXPECT_FALSE(seed("mosaic")->toCanonical(deep_xml, "application/xml"));

  const std::string latin1 = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><Patient xmlns=\"http://hl7.org/fhir\"/>";
  EXPECT_FALSE(seed("ukcore")->toCanonical(latin1, "application/fhir+xml"));
}

// A system folder with one inbound mapping, for manifest tests.
fs::path tinySystem(const TempDir& dir, const std::string& manifest) {
  const fs::path sys = dir / "tiny";
  writeFile(sys / "in.xml", test::mappingFile(test::kMetaRules + "<field to=\"Person/GPPracticeCode\" value=\"F84001\"/>\n"));
  writeFile(sys / "system.toml", manifest);
  return sys;
}

TEST(SystemManifest, IsCheckedWithFileAndLine) {
  TempDir dir;
  auto ok = SystemMappings::load(
      tinySystem(dir, "system = \"test\"\n[[inbound]]\nformat = \"xml\"\ncontent_types = [\"application/xml\"]\n").string(),
      schemas());
  ASSERT_TRUE(ok) << ok.error().message;
  auto in = (*ok)->toCanonical("<Doc xmlns=\"urn:test:source\"/>", "Application/XML; charset=UTF-8");
  ASSERT_TRUE(in) << in.error().message;
  EXPECT_EQ(in->record_type, "Person");
  EXPECT_EQ(in->nhs_number, "");

  auto unknown = SystemMappings::load(
      tinySystem(dir, "system = \"test\"\ncolour = \"blue\"\n").string(), schemas());
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("system.toml:2: unknown key 'colour'"), std::string::npos)
      << unknown.error().message;

  auto format = SystemMappings::load(
      tinySystem(dir, "system = \"test\"\n[[inbound]]\nformat = \"edifact\"\ncontent_types = [\"a/b\"]\n").string(),
      schemas());
  ASSERT_FALSE(format);
  EXPECT_NE(format.error().message.find("system.toml:3: inbound format must be one of"), std::string::npos)
      << format.error().message;

  auto other = SystemMappings::load(
      tinySystem(dir, "system = \"other\"\n[[inbound]]\nformat = \"xml\"\ncontent_types = [\"application/xml\"]\n")
          .string(),
      schemas());
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message.find("differs from \"test\""), std::string::npos) << other.error().message;

  auto no_out = SystemMappings::load(
      tinySystem(dir, "system = \"test\"\n[outbound]\nformat = \"csv\"\ncontent_type = \"text/csv\"\n").string(),
      schemas());
  ASSERT_FALSE(no_out);
  EXPECT_NE(no_out.error().message.find("inbound mapping files but no [[inbound]]"), std::string::npos)
      << no_out.error().message;

  fs::remove(dir / "tiny" / "system.toml");
  auto missing = SystemMappings::load((dir / "tiny").string(), schemas());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("system.toml: missing"), std::string::npos);
}

}  // namespace
}  // namespace cb::mapping
