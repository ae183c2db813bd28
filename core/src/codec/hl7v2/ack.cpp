#include "codec/hl7v2/ack.h"

#include <charconv>
#include <ctime>
#include <utility>

namespace cb::codec::hl7v2 {
namespace {

Field valueField(std::string encoded) {
  if (encoded.empty()) return Field{};
  return Field{Repetition{Component{std::move(encoded)}}};
}

Field copyField(const Segment& seg, std::size_t number) {
  return number <= seg.fields.size() ? seg.fields[number - 1] : Field{};
}

// Error texts go to another organisation's system: printable ASCII only, so
// the ACK is valid whatever MSH-18 the inbound message declared.
std::string printableAscii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7E) c = '?';
  }
  return out;
}

// Compares an MSH-12 version id ("2.3.1", "2.5") with major.minor.patch;
// missing parts count as 0. An id we cannot read is taken as recent, since
// later versions only add fields.
bool versionAtLeast(std::string_view version, int major, int minor, int patch) {
  const int wanted[3] = {major, minor, patch};
  int parts[3] = {0, 0, 0};
  for (int& part : parts) {
    if (version.empty()) break;
    const auto [ptr, ec] = std::from_chars(version.data(), version.data() + version.size(), part);
    if (ec != std::errc()) return true;
    version.remove_prefix(static_cast<std::size_t>(ptr - version.data()));
    if (!version.empty()) {
      if (version.front() != '.') return true;
      version.remove_prefix(1);
    }
  }
  for (int i = 0; i < 3; ++i) {
    if (parts[i] != wanted[i]) return parts[i] > wanted[i];
  }
  return true;
}

bool isSegmentId(std::string_view id) {
  const auto ok = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  return id.size() == 3 && id[0] >= 'A' && id[0] <= 'Z' && ok(id[1]) && ok(id[2]);
}

std::string_view severityCode(Severity s) {
  switch (s) {
    case Severity::Error:
      return "E";
    case Severity::Warning:
      return "W";
    case Severity::Information:
      return "I";
  }
  return "E";
}

}  // namespace

std::string_view ackCodeText(AckCode code) {
  switch (code) {
    case AckCode::ApplicationAccept:
      return "AA";
    case AckCode::ApplicationError:
      return "AE";
    case AckCode::ApplicationReject:
      return "AR";
    case AckCode::CommitAccept:
      return "CA";
    case AckCode::CommitError:
      return "CE";
    case AckCode::CommitReject:
      return "CR";
  }
  return "AE";
}

std::string_view errorConditionText(ErrorCondition condition) {
  switch (condition) {
    case ErrorCondition::MessageAccepted:
      return "Message accepted";
    case ErrorCondition::SegmentSequenceError:
      return "Segment sequence error";
    case ErrorCondition::RequiredFieldMissing:
      return "Required field missing";
    case ErrorCondition::DataTypeError:
      return "Data type error";
    case ErrorCondition::TableValueNotFound:
      return "Table value not found";
    case ErrorCondition::UnsupportedMessageType:
      return "Unsupported message type";
    case ErrorCondition::UnsupportedEventCode:
      return "Unsupported event code";
    case ErrorCondition::UnsupportedProcessingId:
      return "Unsupported processing id";
    case ErrorCondition::UnsupportedVersionId:
      return "Unsupported version id";
    case ErrorCondition::UnknownKeyIdentifier:
      return "Unknown key identifier";
    case ErrorCondition::DuplicateKeyIdentifier:
      return "Duplicate key identifier";
    case ErrorCondition::ApplicationRecordLocked:
      return "Application record locked";
    case ErrorCondition::ApplicationInternalError:
      return "Application internal error";
  }
  return "Application internal error";
}

std::string formatTimestamp(std::chrono::system_clock::time_point time) {
  const std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S+0000", &tm);
  return std::string(buf, n);
}

Result<Message> buildAck(const Message& inbound, const AckRequest& request) {
  if (request.control_id.empty()) return fail("HL7 v2 ACK: the ACK needs its own control id (MSH-10)");
  const Delimiters& d = inbound.delimiters();
  const Segment& in_msh = inbound.segments().front();
  const bool v25 = versionAtLeast(inbound.version(), 2, 5, 0);
  // MSH-9.3, message structure, exists from v2.3.1.
  const bool has_structure = versionAtLeast(inbound.version(), 2, 3, 1);

  Segment msh{"MSH", {}};
  msh.fields.push_back(valueField(std::string(1, d.field)));
  msh.fields.push_back(valueField(d.encodingCharacters()));
  // The ACK goes back where the message came from: sending and receiving
  // application and facility change places.
  msh.fields.push_back(copyField(in_msh, 5));
  msh.fields.push_back(copyField(in_msh, 6));
  msh.fields.push_back(copyField(in_msh, 3));
  msh.fields.push_back(copyField(in_msh, 4));
  // The offset's "+" is a delimiter in messages that choose it as one (any
  // printable punctuation may be, v2.5.1 2.5), so the time is encoded too.
  const std::string time = formatTimestamp(request.time.value_or(std::chrono::system_clock::now()));
  msh.fields.push_back(valueField(encode(time, d)));
  msh.fields.emplace_back();  // MSH-8 security
  Repetition type{Component{"ACK"}};
  const Field& in_type = in_msh.fields[8];
  Component trigger = !in_type.empty() && in_type[0].size() > 1 ? in_type[0][1] : Component{};
  type.push_back(std::move(trigger));
  if (has_structure) type.push_back(Component{"ACK"});
  msh.fields.push_back(Field{std::move(type)});
  msh.fields.push_back(valueField(encode(printableAscii(request.control_id), d)));
  msh.fields.push_back(copyField(in_msh, 11));
  msh.fields.push_back(copyField(in_msh, 12));
  if (Field charset = copyField(in_msh, 18); !charset.empty()) {
    msh.fields.resize(17);
    msh.fields.push_back(std::move(charset));
  }

  Segment msa{"MSA", {}};
  msa.fields.push_back(valueField(std::string(ackCodeText(request.code))));
  msa.fields.push_back(copyField(in_msh, 10));
  if (!v25 && !request.errors.empty()) {
    // MSA-3 text message: how versions before 2.5 carry the error text.
    msa.fields.push_back(valueField(encode(printableAscii(request.errors.front().text), d)));
  }

  std::vector<Segment> segments{std::move(msh), std::move(msa)};
  for (const AckError& e : request.errors) {
    if (e.location && !isSegmentId(e.location->segment_id)) {
      return fail("HL7 v2 ACK: error location segment id must be three upper-case letters or digits");
    }
  }
  const auto code = [](const AckError& e) { return std::to_string(static_cast<int>(e.condition)); };
  if (!v25) {
    // Before 2.5 one ERR holds every error as a repetition of ERR-1, data type
    // ELD: segment id ^ sequence ^ field position ^ code (CE, written with the
    // sub-component separator: identifier & text & coding system).
    if (!request.errors.empty()) {
      Field eld;
      for (const AckError& e : request.errors) {
        Repetition rep;
        if (e.location) {
          rep.push_back(Component{e.location->segment_id});
          rep.push_back(Component{std::to_string(e.location->segment_sequence)});
          rep.push_back(e.location->field > 0 ? Component{std::to_string(e.location->field)} : Component{});
        } else {
          rep.resize(3);
        }
        rep.push_back(Component{code(e), std::string(errorConditionText(e.condition)), "HL70357"});
        eld.push_back(std::move(rep));
      }
      segments.push_back(Segment{"ERR", {std::move(eld)}});
    }
  } else {
    for (const AckError& e : request.errors) {
      Segment err{"ERR", {}};
      err.fields.emplace_back();  // ERR-1 is kept for backward compatibility only
      Repetition erl;
      if (e.location) {
        const ErrorLocation& l = *e.location;
        erl.push_back(Component{l.segment_id});
        erl.push_back(Component{std::to_string(l.segment_sequence)});
        if (l.field > 0) {
          erl.push_back(Component{std::to_string(l.field)});
          erl.push_back(Component{std::to_string(l.repetition > 0 ? l.repetition : 1)});
          if (l.component > 0) {
            erl.push_back(Component{std::to_string(l.component)});
            if (l.subcomponent > 0) erl.push_back(Component{std::to_string(l.subcomponent)});
          }
        }
      }
      err.fields.push_back(erl.empty() ? Field{} : Field{std::move(erl)});
      err.fields.push_back(Field{Repetition{Component{code(e)}, Component{std::string(errorConditionText(e.condition))},
                                            Component{"HL70357"}}});
      err.fields.push_back(valueField(std::string(severityCode(e.severity))));
      if (!e.text.empty()) {
        err.fields.resize(7);
        err.fields.push_back(valueField(encode(printableAscii(e.text), d)));  // ERR-8 user message
      }
      segments.push_back(std::move(err));
    }
  }
  return Message::assemble(d, std::move(segments));
}

}  // namespace cb::codec::hl7v2
