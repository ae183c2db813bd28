#pragma once
// Escaping values for each wire format the simulators write. Every value put
// into a record goes through one of these, so a name like O'Brien or a note
// with "&" or "|" in it still makes a well-formed record.

#include <string>
#include <string_view>

namespace cb::sim {

/// XML 1.0 character data or attribute value (section 2.4 and 3.3.3): & < > " ' as entities.
std::string xmlEscape(std::string_view s);

/// One CSV field (RFC 4180 section 2.6-2.7): quoted when it holds a comma,
/// quote, CR or LF, with quotes doubled.
std::string csvField(std::string_view s);

/// One HL7 v2 text value with the standard delimiters |^~\& (v2.5.1 section
/// 2.7.1): each delimiter inside the value becomes its escape sequence
/// (\F\ \S\ \R\ \E\ \T\), and CR, which ends a segment, becomes a space.
std::string er7Escape(std::string_view s);

}  // namespace cb::sim
