#pragma once
// HL7 version 2 messages in ER7, the delimiter ("pipe and hat") encoding of
// HL7 v2.5.1 Chapter 2, section 2.5 "Message construction rules": parsing into a message -> segment -> field ->
// repetition -> component -> sub-component tree, and writing it back.
//
// Values in the tree are kept ENCODED, exactly as they were on the wire, with
// their escape sequences (v2.5.1 2.7 "Use of escape sequences in text fields")
// still in place. That keeps write(parse(x)) byte-for-byte faithful, and makes
// the decision of what an escape sequence means the business of whoever reads
// the value: decode() for a plain string, decodeRuns() for a lossless split
// into text and escape sequences (what the XML encoding in xml.h uses), and
// encode() to turn plain text into a value.
//
// What the parser accepts and refuses is listed in README.md beside this file.
// Error messages name the segment number, segment id and field, never the
// content of the message.

#include "common/result.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cb::codec::hl7v2 {

/// The delimiters one message declares in MSH-1 and MSH-2 (v2.5.1 Chapter 2, 2.5 and 2.15.9). The
/// segment terminator is not declared: it is always CR on output.
struct Delimiters {
  char field = '|';
  char component = '^';
  char repetition = '~';
  char escape = '\\';
  char subcomponent = '&';
  /// The v2.7 truncation character, the optional fifth character of MSH-2
  /// (v2.7 Chapter 2, MSH-2); '\0' when the message does not declare one.
  char truncation = '\0';

  /// MSH-2 as written: component, repetition, escape, sub-component and, when
  /// declared, truncation.
  std::string encodingCharacters() const;
};

/// Reads the delimiters from MSH-1 (exactly one character) and MSH-2 (four
/// characters, or five with the v2.7 truncation character). Refuses letters,
/// digits, spaces, control characters and repeated characters, naming the
/// field at fault.
Result<Delimiters> delimitersFrom(std::string_view msh1, std::string_view msh2);

/// A component: its sub-components, each an encoded value. An empty component
/// is an empty vector.
using Component = std::vector<std::string>;
/// One occurrence of a field: its components. Empty when the repetition is empty.
using Repetition = std::vector<Component>;
/// A field: its repetitions. Empty when the field is empty.
using Field = std::vector<Repetition>;

/// One segment: its three-character id ("PID", "ZEV") and its fields, where
/// fields[0] is <id>-1. In MSH, fields[0] holds MSH-1 (the field separator)
/// and fields[1] holds MSH-2 (the encoding characters), each as one literal
/// value that is never split or unescaped, as v2.5.1 2.15.9 defines them.
struct Segment {
  std::string id;
  std::vector<Field> fields;
};

/// Bounds on what parse() accepts, so hostile input cannot exhaust memory.
/// Every value is per message unless it says otherwise.
struct ParseLimits {
  std::size_t max_bytes = 10u << 20;       ///< input size (10 MiB)
  std::size_t max_segments = 10'000;
  std::size_t max_fields = 1'000;          ///< per segment
  std::size_t max_repetitions = 1'000;     ///< per field
  std::size_t max_components = 100;        ///< per repetition
  std::size_t max_subcomponents = 100;     ///< per component
  std::size_t max_items = 1'000'000;       ///< fields + repetitions + components + sub-components in all
};

/// MSH-9 (v2.5.1 2.15.9.9, data type MSG), decoded.
struct MessageType {
  std::string code;       ///< MSH-9.1, e.g. "ADT" (table 0076)
  std::string trigger;    ///< MSH-9.2, e.g. "A01" (table 0003)
  std::string structure;  ///< MSH-9.3, e.g. "ADT_A01" (table 0354); often empty before v2.4
};

/// One HL7 v2 message. Immutable once built: it always starts with an MSH
/// whose MSH-1 and MSH-2 match delimiters(), and always carries MSH-9.1,
/// MSH-10 and MSH-12.1. Built by parse(), Message::assemble(), fromXml()
/// (xml.h) or buildAck() (ack.h). Owns its segments.
class Message {
 public:
  /// Builds a message from parts (for code that constructs messages, such as
  /// the XML reader and the ACK builder), checking that the parts make a
  /// message write() can turn into valid ER7: the first segment is MSH and
  /// agrees with `delimiters`; segment ids are three upper-case letters or
  /// digits; no value contains a delimiter, a line break or another control
  /// character; MSH-9.1, MSH-10 and MSH-12.1 are present.
  static Result<Message> assemble(Delimiters delimiters, std::vector<Segment> segments);

  const Delimiters& delimiters() const noexcept { return delimiters_; }
  const std::vector<Segment>& segments() const noexcept { return segments_; }

  /// The `occurrence`-th (1-based) segment with this id, or nullptr.
  const Segment* segment(std::string_view id, std::size_t occurrence = 1) const;

  /// MSH-9, decoded.
  MessageType messageType() const;
  /// MSH-10, the message control id, decoded. Never empty.
  std::string controlId() const;
  /// MSH-12.1, the version id (e.g. "2.5.1"), decoded. Never empty.
  std::string version() const;
  /// MSH-18 (first repetition, first component), decoded: the character set,
  /// e.g. "UNICODE UTF-8" or "8859/1"; empty when not declared.
  std::string characterSet() const;

  /// The decoded value at `path`, following the convention of HAPI's Terser:
  ///   "PID-5"         first component, first sub-component of PID-5
  ///   "PID-5.2"       second component of PID-5
  ///   "PID-3.4.2"     second sub-component of the fourth component of PID-3
  ///   "PID-3[2].1"    the second repetition of PID-3
  ///   "OBX[3]-5"      OBX-5 of the third OBX segment
  /// Indexes are 1-based. A position the message does not reach yields "" (in
  /// HL7 v2 an absent value and an empty one mean the same). The explicit
  /// null "" is returned as the two characters "". MSH-1 and MSH-2 are
  /// returned literally. Errors only for a malformed path.
  Result<std::string> value(std::string_view path) const;

 private:
  Message(Delimiters delimiters, std::vector<Segment> segments);
  friend Result<Message> parse(std::string_view bytes, const ParseLimits& limits);

  Delimiters delimiters_;
  std::vector<Segment> segments_;
};

/// Parses one ER7 message. Accepts segments ended by CR (the standard), LF or
/// CRLF, a UTF-8 byte order mark, blank lines between segments and a missing
/// final terminator. Refuses empty input, input over limits.max_bytes, input
/// that does not start with MSH, batches (FHS/BHS), a second MSH, a truncated
/// MSH (bad MSH-1/MSH-2, or no MSH-9.1, MSH-10 or MSH-12.1), malformed segment
/// ids, NUL and other control characters in values, and anything beyond
/// `limits`. Character sets are not checked here (see xml.h).
Result<Message> parse(std::string_view bytes, const ParseLimits& limits = {});

/// Writes `message` as ER7: each segment ends with CR (v2.5.1 2.5), values
/// are written exactly as held (they are already encoded). No byte order mark.
std::string write(const Message& message);

/// A piece of a decoded value: literal text, or an escape sequence that is not
/// a delimiter escape, kept with its contents (without the escape characters),
/// e.g. ".br", "H", "X0D0A", "C2842", "Zxyz".
struct TextRun {
  enum class Kind { Text, Escape };
  Kind kind = Kind::Text;
  std::string text;
};

/// Splits an encoded value into runs (v2.5.1 2.7): \F\ \S\ \T\ \R\ \E\ become
/// the literal delimiter characters inside Text runs; every other escape
/// sequence (\H\ \N\ \.br\ and the other formatting commands of 2.7, \Xhh..\,
/// \Cxxyy\, \Mxxyyzz\, \Zxx\, the v2.7 truncation escape \P\, and any unknown
/// one) becomes an Escape run, so nothing is lost. An escape character with no
/// closing escape character in the value is taken as a literal character.
std::vector<TextRun> decodeRuns(std::string_view encoded, const Delimiters& delimiters);

/// Decodes delimiter escapes as decodeRuns() does and writes every other escape
/// sequence back in its encoded form (e.g. "\.br\"). For display and for the
/// accessors above; use decodeRuns() where the difference matters.
std::string decode(std::string_view encoded, const Delimiters& delimiters);

/// Encodes plain text as a value: the field, component, repetition,
/// sub-component and escape characters become \F\ \S\ \R\ \T\ \E\, and CR and
/// LF (which would end the segment) become \X0D\ and \X0A\. The truncation
/// character is left alone (v2.7 gives it meaning only where a sender puts it).
std::string encode(std::string_view text, const Delimiters& delimiters);

/// Encodes one escape sequence from its contents (".br" -> "\.br\"). Refuses
/// contents that hold a delimiter, the escape character or a control
/// character, which would change the message structure.
Result<std::string> encodeEscape(std::string_view contents, const Delimiters& delimiters);

}  // namespace cb::codec::hl7v2
