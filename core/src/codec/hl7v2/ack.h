#pragma once
// Building the acknowledgement (ACK) for an inbound HL7 v2 message, as the
// MLLP plugin sends it back (v2.5.1 Chapter 2: the acknowledgment rules and
// the general acknowledgment message ACK; segments MSH 2.15.9, MSA 2.15.8, ERR
// 2.15.5): an MSH addressed back to the sender, an MSA echoing the inbound
// control id, and one ERR per problem.
//
// The texts given here travel to the partner system and may be logged there:
// like our own logs they must not contain record content (no names, NHS
// numbers, dates of birth); name the field and the rule instead.

#include "codec/hl7v2/er7.h"
#include "common/result.h"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cb::codec::hl7v2 {

/// MSA-1, acknowledgment code (HL7 table 0008).
enum class AckCode {
  ApplicationAccept,   ///< AA: processed (original mode) / accepted
  ApplicationError,    ///< AE: processed with an error; resending will not help
  ApplicationReject,   ///< AR: rejected, e.g. unsupported type or version; may succeed later
  CommitAccept,        ///< CA: enhanced mode, stored safely
  CommitError,         ///< CE: enhanced mode, could not be stored
  CommitReject,        ///< CR: enhanced mode, refused (type, version, processing id)
};

/// The two letters for MSA-1 ("AA", "AE", ...).
std::string_view ackCodeText(AckCode code);

/// HL7 table 0357, message error condition codes (v2.5.1), for ERR-3.
enum class ErrorCondition {
  MessageAccepted = 0,
  SegmentSequenceError = 100,
  RequiredFieldMissing = 101,
  DataTypeError = 102,
  TableValueNotFound = 103,
  UnsupportedMessageType = 200,
  UnsupportedEventCode = 201,
  UnsupportedProcessingId = 202,
  UnsupportedVersionId = 203,
  UnknownKeyIdentifier = 204,
  DuplicateKeyIdentifier = 205,
  ApplicationRecordLocked = 206,
  ApplicationInternalError = 207,
};

/// The table 0357 display text, e.g. "Required field missing".
std::string_view errorConditionText(ErrorCondition condition);

/// ERR-4, severity (HL7 table 0516).
enum class Severity { Error, Warning, Information };

/// Where in the inbound message a problem is (ERR-2, data type ERL). Numbers
/// are 1-based; 0 means "not given" and ends the location there.
struct ErrorLocation {
  std::string segment_id;         ///< e.g. "PID"
  std::size_t segment_sequence = 1;  ///< which occurrence of that segment
  std::size_t field = 0;
  std::size_t repetition = 0;     ///< written as 1 when a field is given and this is 0
  std::size_t component = 0;
  std::size_t subcomponent = 0;
};

/// One problem to report in an ERR segment.
struct AckError {
  ErrorCondition condition = ErrorCondition::ApplicationInternalError;
  Severity severity = Severity::Error;
  std::optional<ErrorLocation> location;
  /// Operator-readable text without record content. Written as printable
  /// ASCII (anything else becomes '?') so it is valid in every character set
  /// MSH-18 may declare, and escaped as the inbound delimiters need.
  std::string text;
};

/// What to acknowledge with.
struct AckRequest {
  AckCode code = AckCode::ApplicationAccept;
  /// MSH-10 of the ACK itself; the sender of the ACK (we) must make it unique.
  /// Required.
  std::string control_id;
  /// MSH-7; when unset, the current time in UTC.
  std::optional<std::chrono::system_clock::time_point> time;
  /// The problems to report. From v2.5 on, one ERR segment each, with ERR-2
  /// (location), ERR-3 (code), ERR-4 (severity) and ERR-8 (text). Before 2.5,
  /// one ERR whose ERR-1 (ELD) repeats once per error, and the first error's
  /// text in MSA-3.
  std::vector<AckError> errors;
};

/// Builds the ACK for `inbound`:
///   MSH: the inbound delimiters; MSH-3/4 (sending application/facility) are
///        the inbound MSH-5/6 and MSH-5/6 the inbound MSH-3/4; MSH-7 the time;
///        MSH-9 "ACK^<inbound trigger>^ACK" (no structure component before
///        v2.3.1); MSH-10 the request's control id; MSH-11, MSH-12 and MSH-18
///        copied from the inbound message.
///   MSA: MSA-1 the code, MSA-2 the inbound MSH-10.
///   ERR: the errors, laid out by version as AckRequest::errors says.
/// Fails only when the control id is empty or the request cannot be written
/// (e.g. a location segment id that is not a segment id).
Result<Message> buildAck(const Message& inbound, const AckRequest& request);

/// Formats a time as an HL7 DTM in UTC to the second: YYYYMMDDHHMMSS+0000.
std::string formatTimestamp(std::chrono::system_clock::time_point time);

}  // namespace cb::codec::hl7v2
