#include "audit/export_common.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>


namespace cb::audit {
namespace {

std::string text(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string(v->get_string());
}

}  // namespace

DicomEvent dicomEventFor(std::string_view a) {
  // DICOM PS3.16 CID 403 (Audit Event ID) and CID 404 (Audit Event Type Code).
  if (a == action::kReceived || a == action::kDuplicate) return {"110107", "Import", 'C'};
  if (a == action::kDecided) return {"110106", "Export", 'E'};
  if (a == action::kDeliveryAttempt) return {"110106", "Export", 'R'};
  if (a == action::kDeadLettered || a == action::kReplayed) return {"110106", "Export", 'E'};
  if (a == action::kTranslated || a == action::kQuarantined) return {"110110", "Patient Record", 'E'};
  if (a == action::kRecordViewed) return {"110110", "Patient Record", 'R'};
  if (a == action::kPurged) return {"110110", "Patient Record", 'D'};
  if (a == action::kViewed) return {"110101", "Audit Log Used", 'R'};
  if (a == action::kTlsRefused || a == action::kPluginRefused || a == action::kConfigRejected) {
    return {"110113", "Security Alert", 'E'};
  }
  if (a == action::kStarted) return {"110100", "Application Activity", 'E', "110120", "Application Start"};
  if (a == action::kStopped) return {"110100", "Application Activity", 'E', "110121", "Application Stop"};
  return {"110100", "Application Activity", 'E'};
}

const char* dicomOutcome(std::string_view o) {
  if (o == outcome::kSuccess) return "0";
  if (o == outcome::kRetry || o == outcome::kRefused) return "4";
  return "8";
}

Result<AuditEvent> parseCanonicalEntry(std::string_view entry) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(entry, ec);
  if (ec || !v.is_object()) return fail("audit entry is not a JSON object");
  const auto& o = v.get_object();
  AuditEvent e;
  const auto* t = o.if_contains("time");
  if (t == nullptr || !t->is_int64()) return fail("audit entry has no time");
  e.time_ms = t->get_int64();
  e.action = text(o, "action");
  e.outcome = text(o, "outcome");
  e.message_id = text(o, "message_id");
  e.record_type = text(o, "record_type");
  e.source_org = text(o, "source_org");
  e.destination_org = text(o, "destination_org");
  e.subject_key = text(o, "subject_key");
  e.payload_sha256 = text(o, "payload_sha256");
  if (const auto* a = o.if_contains("actor"); a != nullptr && a->is_object()) {
    const auto& ao = a->get_object();
    const std::string kind = text(ao, "kind");
    e.actor.kind = kind == "person" ? Actor::Kind::Person : kind == "adapter" ? Actor::Kind::Adapter : Actor::Kind::System;
    e.actor.name = text(ao, "name");
    e.actor.organisation = text(ao, "organisation");
    e.actor.role = text(ao, "role");
  }
  if (const auto* d = o.if_contains("details"); d != nullptr && d->is_object()) {
    for (const auto& kv : d->get_object()) {
      if (kv.value().is_string()) e.with(std::string(kv.key()), std::string(kv.value().get_string()));
    }
  }
  return e;
}

}  // namespace cb::audit
