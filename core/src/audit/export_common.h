#pragma once
// What the two standard exports of an audit entry share (issue #5 item 6):
// the entry read back from its canonical bytes, and how each carebridge
// action maps onto the DICOM audit event codes (DICOM PS3.16 CID 400-405)
// that both the IHE ATNA message (DICOM PS3.15 A.5) and the FHIR R4
// AuditEvent (IHE Basic Audit Log Patterns) use.

#include <cstdint>
#include <string>
#include <string_view>

#include "audit/audit_event.h"
#include "common/result.h"

namespace cb::audit {

/// Where the exported entries come from (ATNA AuditSourceIdentification,
/// FHIR AuditEvent.source).
struct ExportSource {
  std::string source_id = "carebridge";  ///< AuditSourceID / source.observer
  std::string site;                      ///< AuditEnterpriseSiteID / source.site ([audit] export_site)
};

/// An entry's DICOM classification.
struct DicomEvent {
  const char* code;     ///< DCM EventID, e.g. "110106"
  const char* display;  ///< "Export"
  char action;          ///< EventActionCode / AuditEvent.action: C R U D E
  const char* subtype_code = nullptr;  ///< DCM EventTypeCode where DICOM defines one (110120 Application Start)
  const char* subtype_display = nullptr;
};

/// The classification of a carebridge action (audit::action); unknown
/// actions are Application Activity (110100).
DicomEvent dicomEventFor(std::string_view action);

/// EventOutcomeIndicator / AuditEvent.outcome: 0 success, 4 minor failure
/// (retry, refused), 8 serious failure.
const char* dicomOutcome(std::string_view outcome);

/// The entry as written, read back from its canonical bytes (the Merkle
/// leaf): exports use exactly what was hashed, nothing else.
Result<AuditEvent> parseCanonicalEntry(std::string_view entry);

/// The code system carebridge's own action names are exported under.
inline constexpr const char* kActionCodeSystem = "urn:carebridge:audit-action";
/// Identifier systems for keyed hashes of people and for message ids.
inline constexpr const char* kSubjectKeySystem = "urn:carebridge:subject-key";
inline constexpr const char* kMessageIdSystem = "urn:carebridge:message-id";
inline constexpr const char* kPurposeSystem = "urn:carebridge:purpose";
inline constexpr const char* kOdsSystem = "https://fhir.nhs.uk/Id/ods-organization-code";

}  // namespace cb::audit
