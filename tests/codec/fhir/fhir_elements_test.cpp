// The compiled-in FHIR R4 element table: complete, consistent, and right on
// the details the codec depends on (checked against https://hl7.org/fhir/R4).

#include "codec/fhir/fhir_elements.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cb::codec::fhir {
namespace {

const ElementDef& element(const char* structure, const char* property) {
  const StructureDef* s = ElementTable::r4().structure(structure);
  EXPECT_NE(s, nullptr) << structure;
  static const ElementDef kMissing;
  if (s == nullptr) return kMissing;
  const PropertyMatch* m = s->find(property);
  EXPECT_NE(m, nullptr) << structure << "." << property;
  return m != nullptr ? *m->element : kMissing;
}

TEST(FhirElementTable, LoadsWithoutProblems) {
  const ElementTable& t = ElementTable::r4();
  EXPECT_TRUE(t.problems().empty()) << t.problems().front();
  // FHIR R4 4.0.1 defines 146 concrete resource types
  // (https://hl7.org/fhir/R4/resourcelist.html).
  EXPECT_EQ(t.resourceCount(), 146u);
}

TEST(FhirElementTable, CoversTheResourcesCarebridgeExchanges) {
  const std::vector<std::string> resources = {
      "Patient", "Practitioner", "PractitionerRole", "Organization", "RelatedPerson", "Bundle", "MessageHeader",
      "OperationOutcome", "AuditEvent", "Provenance", "Consent", "Flag", "Observation", "Encounter", "EpisodeOfCare",
      "QuestionnaireResponse", "Questionnaire", "Task", "ServiceRequest", "CarePlan", "Condition", "DocumentReference",
      "Communication", "Composition", "Parameters", "Location", "CareTeam", "Binary", "Basic"};
  for (const auto& r : resources) EXPECT_NE(ElementTable::r4().resource(r), nullptr) << r;
  EXPECT_EQ(ElementTable::r4().resource("HumanName"), nullptr) << "a datatype is not a resource";
  EXPECT_EQ(ElementTable::r4().resource("DomainResource"), nullptr) << "abstract";
}

TEST(FhirElementTable, CoversAllComplexDatatypes) {
  const std::vector<std::string> types = {
      "Identifier", "HumanName", "Address", "ContactPoint", "CodeableConcept", "Coding", "Reference", "Period",
      "Quantity", "Attachment", "Annotation", "Meta", "Narrative", "Extension", "Signature", "Range", "Ratio",
      "SampledData", "Timing", "Dosage", "ContactDetail", "UsageContext", "Money", "Age", "Duration", "Count",
      "Distance", "Expression", "RelatedArtifact", "DataRequirement", "ParameterDefinition", "TriggerDefinition",
      "Contributor", "ElementDefinition", "MarketingStatus", "Population", "ProdCharacteristic", "ProductShelfLife",
      "SubstanceAmount"};
  for (const auto& t : types) {
    const StructureDef* s = ElementTable::r4().structure(t);
    ASSERT_NE(s, nullptr) << t;
    EXPECT_EQ(s->kind, StructureKind::kDatatype) << t;
  }
}

TEST(FhirElementTable, PrimitiveJsonForms) {
  const ElementTable& t = ElementTable::r4();
  // https://hl7.org/fhir/R4/json.html#primitive
  for (const char* n : {"integer", "decimal", "positiveInt", "unsignedInt"}) EXPECT_EQ(t.primitive(n), JsonForm::kNumber) << n;
  EXPECT_EQ(t.primitive("boolean"), JsonForm::kBoolean);
  for (const char* s : {"string", "code", "date", "dateTime", "instant", "time", "uri", "url", "canonical", "oid",
                        "uuid", "id", "markdown", "base64Binary"}) {
    EXPECT_EQ(t.primitive(s), JsonForm::kString) << s;
  }
  EXPECT_FALSE(t.primitive("Quantity"));
}

TEST(FhirElementTable, CardinalityAndOrder) {
  EXPECT_TRUE(element("Patient", "name").many);
  EXPECT_FALSE(element("Patient", "gender").many);
  EXPECT_TRUE(element("HumanName", "given").many);
  EXPECT_FALSE(element("HumanName", "family").many);
  EXPECT_TRUE(element("Patient", "contained").many);
  // Resource elements first, then DomainResource, then Patient's own (xml.html#ordering).
  EXPECT_LT(element("Patient", "id").order, element("Patient", "meta").order);
  EXPECT_LT(element("Patient", "text").order, element("Patient", "identifier").order);
  EXPECT_LT(element("Patient", "identifier").order, element("Patient", "active").order);
  EXPECT_LT(element("Patient", "birthDate").order, element("Patient", "address").order);
  EXPECT_LT(element("AuditEvent", "type").order, element("AuditEvent", "agent").order);
  EXPECT_LT(element("AuditEvent", "agent").order, element("AuditEvent", "source").order);
}

TEST(FhirElementTable, ChoiceElements) {
  const StructureDef* obs = ElementTable::r4().resource("Observation");
  ASSERT_NE(obs, nullptr);
  for (const char* p : {"valueQuantity", "valueCodeableConcept", "valueString", "valueBoolean", "valueInteger",
                        "valueRange", "valueRatio", "valueSampledData", "valueTime", "valueDateTime", "valuePeriod",
                        "effectiveDateTime", "effectivePeriod", "effectiveTiming", "effectiveInstant"}) {
    const PropertyMatch* m = obs->find(p);
    ASSERT_NE(m, nullptr) << p;
    EXPECT_TRUE(m->element->choice);
  }
  EXPECT_EQ(obs->find("value"), nullptr) << "a choice element is only known by its typed names";
  EXPECT_EQ(obs->find("valueMoney"), nullptr) << "not one of Observation.value[x]'s types";
  const PropertyMatch* decimal = ElementTable::r4().structure("Extension")->find("valueDecimal");
  ASSERT_NE(decimal, nullptr);
  EXPECT_EQ(decimal->type->json, JsonForm::kNumber);
}

TEST(FhirElementTable, XmlAttributesAndSpecialTypes) {
  EXPECT_TRUE(element("Extension", "url").xml_attr);
  EXPECT_TRUE(element("Coding", "id").xml_attr);
  EXPECT_TRUE(element("Patient.contact", "id").xml_attr);
  EXPECT_FALSE(element("Patient", "id").xml_attr) << "Resource.id is an element";
  EXPECT_EQ(element("Narrative", "div").types.front().kind, TypeKind::kXhtml);
  EXPECT_EQ(element("Patient", "contained").types.front().kind, TypeKind::kResource);
  EXPECT_EQ(element("Bundle.entry", "resource").types.front().kind, TypeKind::kResource);
  EXPECT_EQ(element("Bundle.entry.response", "outcome").types.front().kind, TypeKind::kResource);
  EXPECT_EQ(element("Parameters.parameter", "resource").types.front().kind, TypeKind::kResource);
}

TEST(FhirElementTable, BackbonesAndContentReferences) {
  const ElementDef& contact = element("Patient", "contact");
  ASSERT_EQ(contact.types.front().kind, TypeKind::kComplex);
  EXPECT_EQ(contact.types.front().structure->name, "Patient.contact");
  // Questionnaire.item.item is "#Questionnaire.item" (a contentReference).
  EXPECT_EQ(element("Questionnaire.item", "item").types.front().structure->name, "Questionnaire.item");
  EXPECT_EQ(element("QuestionnaireResponse.item.answer", "item").types.front().structure->name,
            "QuestionnaireResponse.item");
  EXPECT_EQ(element("Parameters.parameter", "part").types.front().structure->name, "Parameters.parameter");
  // Timing.repeat is typed Element (not BackboneElement) but has children.
  EXPECT_EQ(element("Timing", "repeat").types.front().structure->name, "Timing.repeat");
}

TEST(FhirElementTable, LoaderReportsBrokenBlocks) {
  const std::vector<std::string_view> blocks = {
      "primitives\n  string string\n",
      "Thing resource\n  id 1 string\n  part * Thing.part\n  other 1 NoSuchType\n  bad line\n",
      "Thing.part backbone\n  label 1 string\n"};
  ElementTable t(blocks);
  ASSERT_EQ(t.problems().size(), 2u);
  EXPECT_NE(t.problems()[0].find("bad line"), std::string::npos);
  EXPECT_NE(t.problems()[1].find("NoSuchType"), std::string::npos);
  ASSERT_NE(t.resource("Thing"), nullptr);
  EXPECT_EQ(t.resource("Thing")->find("part")->type->structure, t.structure("Thing.part"));
}

}  // namespace
}  // namespace cb::codec::fhir
