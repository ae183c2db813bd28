// ACK building for the MLLP plugin: addressing, MSA, ERR by version.
#include "codec/hl7v2/ack.h"

#include "hl7v2_test_support.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace cb::codec::hl7v2 {
namespace {

using namespace std::chrono_literals;

// 2024-03-01 12:34:56 UTC
const std::chrono::system_clock::time_point kTime = std::chrono::sys_days{std::chrono::year{2024} / 3 / 1} + 12h + 34min + 56s;

Message parsed(const std::string& er7) {
  auto m = parse(er7);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
  if (!m.ok()) std::abort();
  return std::move(m).value();
}

std::string ackFor(const std::string& inbound, const AckRequest& request) {
  auto ack = buildAck(parsed(inbound), request);
  EXPECT_TRUE(ack.ok()) << (ack.ok() ? "" : ack.error().message);
  return ack.ok() ? write(*ack) : std::string();
}

const std::string kV251 =
    "MSH|^~\\&|RIO|NELFT^RAT^L|CAREBRIDGE|LBBD|20240301120000||ADT^A08^ADT_A01|MSG-7781|P|2.5.1|||AL|NE||UNICODE UTF-8\r"
    "PID|1||9434765919^^^NHS^NH\r";

TEST(Ack, AcceptAddressesTheAckBackToTheSender) {
  AckRequest request;
  request.control_id = "CB-1";
  request.time = kTime;
  EXPECT_EQ(ackFor(kV251, request),
            "MSH|^~\\&|CAREBRIDGE|LBBD|RIO|NELFT^RAT^L|20240301123456+0000||ACK^A08^ACK|CB-1|P|2.5.1||||||UNICODE UTF-8\r"
            "MSA|AA|MSG-7781\r");
}

TEST(Ack, ErrorsUseErrSegmentsFromVersion25) {
  AckRequest request;
  request.code = AckCode::ApplicationError;
  request.control_id = "CB-2";
  request.time = kTime;
  request.errors.push_back(AckError{ErrorCondition::RequiredFieldMissing, Severity::Error,
                                    ErrorLocation{"PID", 1, 3, 0, 1, 0}, "PID-3 has no NHS number"});
  request.errors.push_back(AckError{ErrorCondition::TableValueNotFound, Severity::Warning,
                                    ErrorLocation{"PV1", 2, 2, 3, 0, 0}, "PV1-2 | not in table ^0004 & \xC2\xA3"});
  request.errors.push_back(AckError{ErrorCondition::ApplicationInternalError, Severity::Information, std::nullopt, ""});
  const std::string ack = ackFor(kV251, request);
  EXPECT_EQ(ack,
            "MSH|^~\\&|CAREBRIDGE|LBBD|RIO|NELFT^RAT^L|20240301123456+0000||ACK^A08^ACK|CB-2|P|2.5.1||||||UNICODE UTF-8\r"
            "MSA|AE|MSG-7781\r"
            "ERR||PID^1^3^1^1|101^Required field missing^HL70357|E||||PID-3 has no NHS number\r"
            "ERR||PV1^2^2^3|103^Table value not found^HL70357|W||||PV1-2 \\F\\ not in table \\S\\0004 \\T\\ ??\r"
            "ERR|||207^Application internal error^HL70357|I\r");
  const Message back = parsed(ack);
  EXPECT_EQ(back.value("MSA-2").value(), "MSG-7781");
  EXPECT_EQ(back.value("ERR[2]-8").value(), "PV1-2 | not in table ^0004 & ??");
  EXPECT_EQ(back.messageType().code, "ACK");
}

TEST(Ack, VersionsBefore25UseMsa3AndErr1) {
  const std::string v231 = "MSH|^~\\&|LAB|HOSP|CB|LA|20240301||ORU^R01|ORU-1|T|2.3.1\rPID|1\r";
  AckRequest request;
  request.code = AckCode::ApplicationReject;
  request.control_id = "CB-3";
  request.time = kTime;
  request.errors.push_back(AckError{ErrorCondition::RequiredFieldMissing, Severity::Error,
                                    ErrorLocation{"PID", 1, 3, 0, 0, 0}, "PID-3 missing"});
  request.errors.push_back(AckError{ErrorCondition::UnsupportedEventCode, Severity::Error, std::nullopt, "R01"});
  EXPECT_EQ(ackFor(v231, request),
            "MSH|^~\\&|CB|LA|LAB|HOSP|20240301123456+0000||ACK^R01^ACK|CB-3|T|2.3.1\r"
            "MSA|AR|ORU-1|PID-3 missing\r"
            "ERR|PID^1^3^101&Required field missing&HL70357~^^^201&Unsupported event code&HL70357\r");

  // v2.3 has no message structure component yet.
  const std::string v23 = "MSH|^~\\&|LAB|HOSP|CB|LA|20240301||ADT^A04|A-1|P|2.3\r";
  AckRequest accept;
  accept.control_id = "CB-4";
  accept.time = kTime;
  EXPECT_EQ(ackFor(v23, accept), "MSH|^~\\&|CB|LA|LAB|HOSP|20240301123456+0000||ACK^A04|CB-4|P|2.3\rMSA|AA|A-1\r");
}

TEST(Ack, UsesTheInboundDelimiters) {
  const std::string inbound = "MSH^~|\\&^SENDING^200M^RECEIVING^200^20120918173931-0500^^ADT~A24^2003582144^T^2.4\r";
  AckRequest request;
  request.code = AckCode::ApplicationError;
  request.control_id = "CB-5";
  request.time = kTime;
  request.errors.push_back(AckError{ErrorCondition::SegmentSequenceError, Severity::Error, ErrorLocation{.segment_id = "PID", .segment_sequence = 2}, "second PID ^ unexpected"});
  EXPECT_EQ(ackFor(inbound, request),
            "MSH^~|\\&^RECEIVING^200^SENDING^200M^20240301123456+0000^^ACK~A24~ACK^CB-5^T^2.4\r"
            "MSA^AE^2003582144^second PID \\F\\ unexpected\r"
            "ERR^PID~2~~100&Segment sequence error&HL70357\r");
}

// Found by fuzz_hl7v2_er7: "+" as the component separator made the ACK's own
// MSH-7 (…+0000) hold a delimiter, and no ACK could be built.
TEST(Ack, TimeIsEncodedWhenItsOffsetSignIsADelimiter) {
  const std::string inbound =
      "MSH|+^~\\&|SENDING|200|RECEIVING|200|20120918173931||ADT+A24|2003582144|T|2.4\r"
      "PID|1||12345+++NHS\r";
  AckRequest request;
  request.code = AckCode::ApplicationError;
  request.control_id = "CB-6";
  request.time = kTime;
  request.errors.push_back(AckError{ErrorCondition::DataTypeError, Severity::Error,
                                    ErrorLocation{.segment_id = "PID", .segment_sequence = 1}, "bad + worse"});
  const std::string ack = ackFor(inbound, request);
  EXPECT_EQ(ack.substr(0, ack.find('\r')),
            "MSH|+^~\\&|RECEIVING|200|SENDING|200|20240301123456~S~0000||ACK+A24+ACK|CB-6|T|2.4");
  auto back = parse(ack);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->value("MSH-7").value(), "20240301123456+0000");
  EXPECT_EQ(back->value("MSA-3").value(), "bad + worse");

  request.errors.clear();
  const std::string v251 =
      "MSH|#^~\\&|SENDING|200|RECEIVING|200|20120918173931||ADT#A24#ADT_A01|2003582144|T|2.5.1\r";
  EXPECT_FALSE(ackFor(v251, request).empty());
}

TEST(Ack, EnhancedModeCommitCodes) {
  AckRequest request;
  request.control_id = "CB-6";
  request.time = kTime;
  for (const auto& [code, text] : std::vector<std::pair<AckCode, std::string>>{{AckCode::ApplicationAccept, "AA"},
                                                                               {AckCode::ApplicationError, "AE"},
                                                                               {AckCode::ApplicationReject, "AR"},
                                                                               {AckCode::CommitAccept, "CA"},
                                                                               {AckCode::CommitError, "CE"},
                                                                               {AckCode::CommitReject, "CR"}}) {
    request.code = code;
    EXPECT_EQ(ackCodeText(code), text);
    auto ack = buildAck(parsed(kV251), request);
    ASSERT_TRUE(ack.ok());
    EXPECT_EQ(ack->value("MSA-1").value(), text);
  }
}

TEST(Ack, Table0357Texts) {
  const std::vector<std::pair<ErrorCondition, std::string>> table = {
      {ErrorCondition::MessageAccepted, "Message accepted"},
      {ErrorCondition::SegmentSequenceError, "Segment sequence error"},
      {ErrorCondition::RequiredFieldMissing, "Required field missing"},
      {ErrorCondition::DataTypeError, "Data type error"},
      {ErrorCondition::TableValueNotFound, "Table value not found"},
      {ErrorCondition::UnsupportedMessageType, "Unsupported message type"},
      {ErrorCondition::UnsupportedEventCode, "Unsupported event code"},
      {ErrorCondition::UnsupportedProcessingId, "Unsupported processing id"},
      {ErrorCondition::UnsupportedVersionId, "Unsupported version id"},
      {ErrorCondition::UnknownKeyIdentifier, "Unknown key identifier"},
      {ErrorCondition::DuplicateKeyIdentifier, "Duplicate key identifier"},
      {ErrorCondition::ApplicationRecordLocked, "Application record locked"},
      {ErrorCondition::ApplicationInternalError, "Application internal error"},
  };
  for (const auto& [condition, text] : table) EXPECT_EQ(errorConditionText(condition), text);
  EXPECT_EQ(static_cast<int>(ErrorCondition::DataTypeError), 102);
  EXPECT_EQ(static_cast<int>(ErrorCondition::ApplicationInternalError), 207);
}

TEST(Ack, RefusesRequestsItCannotWrite) {
  AckRequest no_id;
  EXPECT_FALSE(buildAck(parsed(kV251), no_id).ok());
  AckRequest bad_location;
  bad_location.control_id = "CB-7";
  bad_location.errors.push_back(AckError{ErrorCondition::DataTypeError, Severity::Error, ErrorLocation{.segment_id = "pid|x"}, "x"});
  EXPECT_FALSE(buildAck(parsed(kV251), bad_location).ok());
}

TEST(Ack, DefaultTimeIsNowInUtc) {
  AckRequest request;
  request.control_id = "CB-8";
  const auto before = formatTimestamp(std::chrono::system_clock::now());
  auto ack = buildAck(parsed(kV251), request);
  const auto after = formatTimestamp(std::chrono::system_clock::now());
  ASSERT_TRUE(ack.ok());
  const std::string msh7 = ack->value("MSH-7").value();
  EXPECT_GE(msh7, before);
  EXPECT_LE(msh7, after);
  EXPECT_EQ(msh7.size(), 19u);
  EXPECT_EQ(formatTimestamp(kTime), "20240301123456+0000");
}

TEST(Ack, EveryValidReferenceMessageCanBeAcknowledged) {
  int acknowledged = 0;
  for (const auto& entry : std::filesystem::directory_iterator(test::referenceHl7Dir())) {
    auto inbound = parse(test::readFile(entry.path()));
    if (!inbound) continue;  // the refused ones are covered by reference_test.cpp
    AckRequest request;
    request.control_id = "CB-REF";
    request.time = kTime;
    request.code = AckCode::ApplicationError;
    request.errors.push_back(AckError{ErrorCondition::ApplicationInternalError, Severity::Error, std::nullopt, "test"});
    auto ack = buildAck(*inbound, request);
    ASSERT_TRUE(ack.ok()) << entry.path() << ": " << ack.error().message;
    const Message back = parsed(write(*ack));
    EXPECT_EQ(back.value("MSA-2").value(), inbound->controlId()) << entry.path();
    EXPECT_EQ(back.value("MSH-5").value(), inbound->value("MSH-3").value()) << entry.path();
    EXPECT_EQ(back.value("MSH-3").value(), inbound->value("MSH-5").value()) << entry.path();
    EXPECT_EQ(back.messageType().trigger, inbound->messageType().trigger) << entry.path();
    EXPECT_EQ(back.version(), inbound->version()) << entry.path();
    ++acknowledged;
  }
  EXPECT_GE(acknowledged, 17);
}

}  // namespace
}  // namespace cb::codec::hl7v2
