#include "audit/audit_event.h"

#include "common/json_text.h"

#include <algorithm>

namespace cb::audit {
namespace {

const char* kindName(Actor::Kind k) {
  switch (k) {
    case Actor::Kind::System: return "system";
    case Actor::Kind::Adapter: return "adapter";
    case Actor::Kind::Person: return "person";
  }
  return "system";
}

void field(std::string& out, const char* name, const std::string& value, bool& first) {
  if (!first) out.push_back(',');
  first = false;
  appendJsonString(out, name);
  out.push_back(':');
  appendJsonString(out, value);
}

}  // namespace

std::string canonicalBytes(const AuditEvent& e) {
  // Keys in alphabetical order (as RFC 8785 would sort them); details sorted
  // by name too, so the leaf does not depend on the order code added them.
  std::string out;
  out.reserve(256);
  out.push_back('{');
  bool first = true;
  field(out, "action", e.action, first);
  out += ",\"actor\":{";
  bool afirst = true;
  field(out, "kind", kindName(e.actor.kind), afirst);
  field(out, "name", e.actor.name, afirst);
  field(out, "organisation", e.actor.organisation, afirst);
  field(out, "role", e.actor.role, afirst);
  out += "}";
  out += ",\"details\":{";
  auto details = e.details;
  std::stable_sort(details.begin(), details.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  bool dfirst = true;
  for (const auto& [k, v] : details) field(out, k.c_str(), v, dfirst);
  out += "}";
  field(out, "destination_org", e.destination_org, first);
  field(out, "message_id", e.message_id, first);
  field(out, "outcome", e.outcome, first);
  field(out, "payload_sha256", e.payload_sha256, first);
  field(out, "record_type", e.record_type, first);
  field(out, "source_org", e.source_org, first);
  field(out, "subject_key", e.subject_key, first);
  out += ",\"time\":" + std::to_string(e.time_ms);
  out.push_back('}');
  return out;
}

}  // namespace cb::audit
