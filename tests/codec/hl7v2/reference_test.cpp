// Every file in ${CB_REFERENCE_DIR}/hl7v2, classified by hand from
// ../shared/reference/MANIFEST.md and the bytes themselves. A file in the
// folder that is not in the table fails the test, so new reference data gets
// looked at; a table row whose file is gone fails too.
#include "codec/hl7v2/ack.h"
#include "codec/hl7v2/xml.h"

#include "hl7v2_test_support.h"

#include <gtest/gtest.h>
#include <libxml/tree.h>

#include <map>
#include <set>
#include <string>

namespace cb::codec::hl7v2 {
namespace {

enum class Terminator { Cr, Lf, CrLf };

struct Expected {
  bool valid = true;
  std::size_t segments = 0;
  std::string root;        ///< XML root element name
  std::string control_id;  ///< MSH-10
  std::string version;     ///< MSH-12
  char field_separator = '|';
  char component_separator = '^';
  bool bom = false;
  Terminator terminator = Terminator::Cr;
  std::string refusal;  ///< for invalid files: part of the error message
};

Expected valid(std::size_t segments, std::string root, std::string control_id, std::string version,
               Terminator terminator, bool bom = false) {
  Expected e;
  e.segments = segments;
  e.root = std::move(root);
  e.control_id = std::move(control_id);
  e.version = std::move(version);
  e.terminator = terminator;
  e.bom = bom;
  return e;
}

Expected invalid(std::string refusal) {
  Expected e;
  e.valid = false;
  e.refusal = std::move(refusal);
  return e;
}

const std::map<std::string, Expected>& table() {
  using T = Terminator;
  static const std::map<std::string, Expected> files = [] {
    std::map<std::string, Expected> t;
    t["hapi-adt_a03.hl7"] = valid(5, "ADT_A03", "263206", "2.5", T::Lf);
    t["hapi-omd_o03.hl7"] = valid(9, "OMD_O03", "20101027181706", "2.5", T::Cr);
    // Non-default delimiters: field '^', component '~', repetition '|'.
    Expected a24 = valid(4, "ADT_A24", "2003582144", "2.4", T::CrLf);
    a24.field_separator = '^';
    a24.component_separator = '~';
    t["hapi-segmentfinder_a24.hl7"] = a24;
    t["msfc-ADT-A01-01.hl7"] = valid(24, "ADT_A01", "MSG00001", "2.8", T::Lf);
    t["msfc-ADT-A03-01.hl7"] = valid(24, "ADT_A03", "MSG00001", "2.8", T::Lf);
    t["msfc-ADT-A04-01.hl7"] = valid(24, "ADT_A04", "MSG00001", "2.8", T::Lf);
    t["msfc-ADT-A08-01.hl7"] = valid(24, "ADT_A08", "MSG00001", "2.8", T::Lf);
    t["msfc-ADT-A31-01.hl7"] = valid(23, "ADT_A31", "MSG00001", "2.8", T::Lf);  // MSH-9.3 says ADT_A31
    t["msfc-ADT-A40-01.hl7"] = valid(4, "ADT_A40", "8919-40", "2.8", T::Lf);
    t["msfc-ADT04-251.hl7"] = valid(4, "ADT_A04", "1270326314", "2.3", T::Lf, true);  // MSH-9 has no structure
    t["msfc-LAB-ORU-1.hl7"] = valid(16, "ORU_R01", "182", "2.5", T::Lf, true);
    t["msfc-ORU-R01-01.hl7"] =
        valid(29, "ORU_R01", "2.16.840.1.114222.4.3.3.5.1.2-20120314235954.325", "2.5.1", T::Lf);
    t["msfc-REF-I12-01.hl7"] = valid(24, "REF_I12", "MSG00112", "2.8", T::Lf);
    t["nodengine-invalid.hl7"] = invalid("does not start with an MSH segment");  // not HL7 at all
    t["nodengine-pcc_adt_A03.hl7"] = valid(5, "ADT_A03", "110A35A09B785", "2.5", T::Cr);  // ZEV, no final CR
    t["pipehat-v2.3-adt-a01-1.hl7"] = valid(8, "ADT_A01", "01052901", "2.5", T::Cr);
    t["pipehat-v2.3.1-ack-1.hl7"] = valid(3, "ACK", "1125342816253.100000055", "2.3.1", T::Cr);  // MSH-9 "ACK^"
    t["pipehat-v2.5.1-oru-r01-1.hl7"] = valid(19, "ORU_R01", "1234567890", "2.5.1", T::Cr);
    return t;
  }();
  return files;
}

Terminator terminatorOf(const std::string& bytes) {
  if (bytes.find("\r\n") != std::string::npos) return Terminator::CrLf;
  return bytes.find('\r') != std::string::npos ? Terminator::Cr : Terminator::Lf;
}

TEST(Hl7Reference, EveryFileInTheFolderIsClassified) {
  std::set<std::string> present;
  for (const auto& entry : std::filesystem::directory_iterator(test::referenceHl7Dir())) {
    present.insert(entry.path().filename().string());
  }
  ASSERT_FALSE(present.empty()) << "no reference files in " << test::referenceHl7Dir();
  for (const std::string& name : present) {
    EXPECT_TRUE(table().count(name) == 1) << name << " is new in the reference folder: classify it in "
                                          << "tests/codec/hl7v2/reference_test.cpp";
  }
  for (const auto& [name, expected] : table()) {
    EXPECT_TRUE(present.count(name) == 1) << name << " is in the table but not in " << test::referenceHl7Dir();
  }
}

class Hl7ReferenceFile : public ::testing::TestWithParam<std::string> {};

TEST_P(Hl7ReferenceFile, ParsesConvertsAndRoundTripsOrIsRefused) {
  const std::string name = GetParam();
  const Expected& expected = table().at(name);
  const std::string bytes = test::readFile(test::referenceHl7Dir() / name);
  ASSERT_FALSE(bytes.empty());

  auto message = parse(bytes);
  if (!expected.valid) {
    ASSERT_FALSE(message.ok()) << name << " should be refused";
    EXPECT_NE(message.error().message.find(expected.refusal), std::string::npos) << message.error().message;
    EXPECT_FALSE(er7ToXml(bytes).ok());
    return;
  }
  ASSERT_TRUE(message.ok()) << name << ": " << message.error().message;

  // The fixture is what the table says it is.
  EXPECT_EQ(bytes.starts_with("\xEF\xBB\xBF"), expected.bom) << name;
  EXPECT_EQ(terminatorOf(bytes), expected.terminator) << name;

  EXPECT_EQ(message->segments().size(), expected.segments) << name;
  EXPECT_EQ(message->controlId(), expected.control_id) << name;
  EXPECT_EQ(message->version(), expected.version) << name;
  EXPECT_EQ(message->delimiters().field, expected.field_separator) << name;
  EXPECT_EQ(message->delimiters().component, expected.component_separator) << name;

  // Writing the parsed message changes nothing but terminators and the BOM.
  std::string er7 = bytes.starts_with("\xEF\xBB\xBF") ? bytes.substr(3) : bytes;
  std::string cr_only;
  for (std::size_t i = 0; i < er7.size(); ++i) {
    if (er7[i] == '\r' && i + 1 < er7.size() && er7[i + 1] == '\n') continue;
    cr_only += er7[i] == '\n' ? '\r' : er7[i];
  }
  if (!cr_only.ends_with('\r')) cr_only += '\r';
  EXPECT_EQ(write(*message), cr_only) << name;

  // ER7 -> XML -> ER7 reproduces the message after normalisation.
  auto doc = toXml(*message);
  ASSERT_TRUE(doc.ok()) << name << ": " << doc.error().message;
  EXPECT_STREQ(reinterpret_cast<const char*>(xmlDocGetRootElement(doc->get())->name), expected.root.c_str()) << name;
  EXPECT_EQ(test::xpath(doc->get(), "count(/*/*)"), std::vector<std::string>{std::to_string(expected.segments)});
  EXPECT_EQ(test::xpath(doc->get(), "string(/*/v:MSH/v:MSH.10/v:MSH.10.1)"), std::vector<std::string>{expected.control_id});
  const std::string xml_text = xml::serialize(doc->get());
  auto back = xmlToEr7(xml_text, name);
  ASSERT_TRUE(back.ok()) << name << ": " << back.error().message;
  EXPECT_EQ(*back, test::normaliseEr7(bytes)) << name;

  // And the result is stable: a second trip changes nothing.
  auto again = er7ToXml(*back);
  ASSERT_TRUE(again.ok()) << name;
  EXPECT_EQ(*again, xml_text) << name;
}

std::vector<std::string> fileNames() {
  std::vector<std::string> names;
  for (const auto& [name, expected] : table()) names.push_back(name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Files, Hl7ReferenceFile, ::testing::ValuesIn(fileNames()),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           std::string id;
                           for (const char c : param_info.param) id += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return id;
                         });

TEST(Hl7Reference, SpotChecksOfTheXmlForm) {
  // Repeating PID-3 in the HAPI message, the escaped '&' in pipehat, the Z-segment from PointClickCare.
  auto hapi = parse(test::readFile(test::referenceHl7Dir() / "hapi-adt_a03.hl7"));
  ASSERT_TRUE(hapi.ok());
  auto hapi_doc = toXml(*hapi);
  ASSERT_TRUE(hapi_doc.ok());
  EXPECT_EQ(test::xpath(hapi_doc->get(), "//v:PID/v:PID.3/v:PID.3.4"),
            (std::vector<std::string>{"PK", "CF", "SSN"}));
  EXPECT_EQ(test::xpath(hapi_doc->get(), "//v:PID/v:PID.3[4]/v:PID.3.5"), std::vector<std::string>{"TEAM"});
  EXPECT_EQ(test::xpath(hapi_doc->get(), "//v:PID/v:PID.3[3]/v:PID.3.7"), std::vector<std::string>{"20070103"});
  EXPECT_EQ(test::xpath(hapi_doc->get(), "count(//v:PID/v:PID.3[4]/v:PID.3.1)"), std::vector<std::string>{"0"});
  auto pcc = parse(test::readFile(test::referenceHl7Dir() / "nodengine-pcc_adt_A03.hl7"));
  ASSERT_TRUE(pcc.ok());
  auto pcc_doc = toXml(*pcc);
  ASSERT_TRUE(pcc_doc.ok());
  EXPECT_EQ(test::xpath(pcc_doc->get(), "//v:ZEV/v:ZEV.3/v:ZEV.3.1"), std::vector<std::string>{"PointClickCare"});
  EXPECT_EQ(test::xpath(pcc_doc->get(), "//v:PID/v:PID.3/v:PID.3.5"), (std::vector<std::string>{"FI", "PI"}));

  auto pipehat = parse(test::readFile(test::referenceHl7Dir() / "pipehat-v2.3-adt-a01-1.hl7"));
  ASSERT_TRUE(pipehat.ok());
  auto pipehat_doc = toXml(*pipehat);
  ASSERT_TRUE(pipehat_doc.ok());
  EXPECT_EQ(test::xpath(pipehat_doc->get(), "//v:PID/v:PID.11[2]/v:PID.11.1"),
            std::vector<std::string>{"NICKELL\xE2\x80\x99S PICKLES & DILL"});

  auto a24 = parse(test::readFile(test::referenceHl7Dir() / "hapi-segmentfinder_a24.hl7"));
  ASSERT_TRUE(a24.ok());
  EXPECT_EQ(a24->value("PID[2]-1").value(), "2");
  EXPECT_EQ(a24->value("PID-3.4.3").value(), "0363");
  EXPECT_EQ(a24->value("PID-3.6").value(), "FACILITY ID");
  EXPECT_EQ(a24->value("PID-3.6.2").value(), "200M");
  EXPECT_EQ(a24->value("PID-5.2").value(), "JOHN");
}

}  // namespace
}  // namespace cb::codec::hl7v2
