#pragma once
// An audit entry as a FHIR R4 AuditEvent (issue #5 item 6), following the
// IHE Basic Audit Log Patterns (BALP): DICOM event codes in `type`, the
// carebridge action in `subtype`, the acting person, adapter or daemon as the
// requesting agent, source and destination organisations as agents with the
// DICOM Source (110153) and Destination (110152) role ids, the person as a
// Patient entity identified only by the keyed hash, and the record as a
// System Object entity whose details carry the entry's details. A successful
// delivery is the BALP disclosure pattern: type 110106 Export, action R, the
// record entity's lifecycle 11 Disclosure, purposeOfEvent from the sharing
// decision's purpose.
// https://hl7.org/fhir/R4/auditevent.html, https://profiles.ihe.net/ITI/BALP/

#include <cstdint>
#include <string>

#include "audit/export_common.h"
#include "common/result.h"

namespace cb::audit {

/// The AuditEvent (compact JSON) for the entry at leaf index `seq` whose
/// canonical bytes are `entry`. `purpose` is the purpose of the sharing
/// decision the entry belongs to, if known (delivery entries do not carry it).
Result<std::string> toFhirAuditEvent(std::int64_t seq, std::string_view entry, const ExportSource& source,
                                     const std::string& purpose = {});

}  // namespace cb::audit
