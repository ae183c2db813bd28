#include "audit/export_fhir.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "common/clock.h"

namespace cb::audit {
namespace {

namespace json = boost::json;

constexpr const char* kDcm = "http://dicom.nema.org/resources/ontology/DCM";

json::object coding(const char* system, std::string_view code, std::string_view display = {}) {
  json::object c;
  c["system"] = system;
  c["code"] = code;
  if (!display.empty()) c["display"] = display;
  return c;
}

json::object codeable(json::object c) {
  json::object cc;
  json::array codings;
  codings.push_back(std::move(c));
  cc["coding"] = std::move(codings);
  return cc;
}

json::object identifierRef(const char* system, std::string_view value, std::string_view display = {}) {
  json::object who;
  json::object id;
  id["system"] = system;
  id["value"] = value;
  who["identifier"] = std::move(id);
  if (!display.empty()) who["display"] = display;
  return who;
}

// An organisation taking part (source or destination of the record).
json::object organisationAgent(const std::string& ods, const char* role, const char* roleName) {
  json::object a;
  a["type"] = codeable(coding(kDcm, role, roleName));
  a["who"] = identifierRef(kOdsSystem, ods);
  a["requestor"] = false;
  return a;
}

json::object actorAgent(const Actor& actor) {
  json::object a;
  switch (actor.kind) {
    case Actor::Kind::Person:
      a["type"] = codeable(coding("http://terminology.hl7.org/CodeSystem/extra-security-role-type", "humanuser",
                                  "human user"));
      break;
    case Actor::Kind::Adapter:
    case Actor::Kind::System:
      a["type"] = codeable(coding(kDcm, "110150", "Application"));
      break;
  }
  if (!actor.role.empty()) {
    json::array roles;
    roles.push_back(codeable(coding("urn:carebridge:role", actor.role)));
    a["role"] = std::move(roles);
  }
  const char* kind = actor.kind == Actor::Kind::Person ? "urn:carebridge:user"
                     : actor.kind == Actor::Kind::Adapter ? "urn:carebridge:adapter"
                                                          : "urn:carebridge:system";
  a["who"] = identifierRef(kind, actor.name.empty() ? std::string("unknown") : actor.name);
  if (!actor.organisation.empty()) {
    a["altId"] = actor.organisation;
  }
  a["requestor"] = true;
  return a;
}

}  // namespace

Result<std::string> toFhirAuditEvent(std::int64_t seq, std::string_view entry, const ExportSource& source,
                                     const std::string& purpose_hint) {
  auto parsed = parseCanonicalEntry(entry);
  if (!parsed) return fail("audit entry " + std::to_string(seq) + ": " + parsed.error().message);
  const AuditEvent& e = *parsed;
  const DicomEvent ev = dicomEventFor(e.action);
  std::string purpose = purpose_hint;
  for (const auto& [k, v] : e.details) {
    if (k == "purpose" && !v.empty()) purpose = v;
  }
  const bool disclosure = e.action == action::kDeliveryAttempt && e.outcome == outcome::kSuccess;

  json::object r;
  r["resourceType"] = "AuditEvent";
  r["id"] = "carebridge-" + std::to_string(seq);
  r["type"] = coding(kDcm, ev.code, ev.display);
  json::array subtype;
  if (ev.subtype_code != nullptr) subtype.push_back(coding(kDcm, ev.subtype_code, ev.subtype_display));
  subtype.push_back(coding(kActionCodeSystem, e.action));
  r["subtype"] = std::move(subtype);
  r["action"] = std::string(1, ev.action);
  r["recorded"] = formatUtc(e.time_ms);
  r["outcome"] = dicomOutcome(e.outcome);
  std::string desc = e.outcome;
  for (const auto& [k, v] : e.details) {
    if (k == "reason" && !v.empty()) desc += ": " + v;
  }
  if (!desc.empty()) r["outcomeDesc"] = desc;
  if (!purpose.empty()) {
    json::array p;
    json::object cc = codeable(coding(kPurposeSystem, purpose));
    cc["text"] = purpose;
    p.push_back(std::move(cc));
    r["purposeOfEvent"] = std::move(p);
  }

  json::array agents;
  agents.push_back(actorAgent(e.actor));
  if (!e.source_org.empty()) agents.push_back(organisationAgent(e.source_org, "110153", "Source Role ID"));
  if (!e.destination_org.empty()) {
    agents.push_back(organisationAgent(e.destination_org, "110152", "Destination Role ID"));
  }
  r["agent"] = std::move(agents);

  json::object src;
  if (!source.site.empty()) src["site"] = source.site;
  json::object observer;
  observer["display"] = source.source_id;
  src["observer"] = std::move(observer);
  json::array srcType;
  srcType.push_back(coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server"));
  src["type"] = std::move(srcType);
  r["source"] = std::move(src);

  json::array entities;
  if (!e.subject_key.empty()) {
    json::object p;
    p["what"] = identifierRef(kSubjectKeySystem, e.subject_key);
    p["type"] = coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1", "Person");
    p["role"] = coding("http://terminology.hl7.org/CodeSystem/object-role", "1", "Patient");
    entities.push_back(std::move(p));
  }
  json::array details;
  auto detail = [&](const std::string& type, const std::string& value) {
    if (value.empty()) return;
    json::object d;
    d["type"] = type;
    d["valueString"] = value;
    details.push_back(std::move(d));
  };
  detail("payload_sha256", e.payload_sha256);
  for (const auto& [k, v] : e.details) detail(k, v);
  if (!e.message_id.empty() || !details.empty()) {
    json::object rec;
    if (!e.message_id.empty()) rec["what"] = identifierRef(kMessageIdSystem, e.message_id);
    rec["type"] = coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object");
    rec["role"] = coding("http://terminology.hl7.org/CodeSystem/object-role", "4", "Domain Resource");
    if (disclosure) {
      rec["lifecycle"] = coding("http://terminology.hl7.org/CodeSystem/dicom-audit-lifecycle", "11", "Disclosure");
    }
    if (!e.record_type.empty()) rec["name"] = e.record_type;
    if (!details.empty()) rec["detail"] = std::move(details);
    entities.push_back(std::move(rec));
  }
  if (!entities.empty()) r["entity"] = std::move(entities);
  return json::serialize(r);
}

}  // namespace cb::audit
