#pragma once
// Helpers shared by the two directions of the FHIR codec. Internal.

#include "codec/fhir/fhir_codec.h"

#include <libxml/tree.h>

#include <optional>
#include <string>
#include <string_view>

namespace cb::codec::fhir::detail {

inline const xmlChar* xmlStr(const char* s) { return reinterpret_cast<const xmlChar*>(s); }
inline const char* charStr(const xmlChar* s) { return reinterpret_cast<const char*>(s); }
inline std::string_view view(const xmlChar* s) { return s == nullptr ? std::string_view() : std::string_view(charStr(s)); }

/// True when every code point of the UTF-8 text `s` is an XML 1.0 Char
/// (https://www.w3.org/TR/xml/#charsets): JSON may carry U+0000..U+001F,
/// which no XML document can.
bool isXmlText(std::string_view s);

/// True for the element and type names FHIR uses: an ASCII letter followed
/// by letters, digits, '_', '-' or '.' (a subset of XML NCName that JSON
/// property names can carry both ways).
bool isElementName(std::string_view s);

/// Checks a number's lexical form for a FHIR primitive type: JSON number
/// syntax (which is also FHIR's decimal syntax), the size limits, and for
/// integer, positiveInt and unsignedInt the integer syntax and 32-bit range
/// (https://hl7.org/fhir/R4/datatypes.html#primitive). Returns the problem, or
/// nullopt when the value is acceptable.
std::optional<std::string> numberProblem(std::string_view lexical, std::string_view fhir_type, const Limits& limits);

/// Checks, before libxml2 sees the bytes, that they are an XML document
/// in UTF-8: no XML declaration naming another encoding, nothing libxml2
/// would auto-detect as EBCDIC or UCS-4. libxml2 would otherwise switch
/// decoders, and its decoder errors bypass the parser's silent error handler
/// (they print input bytes to stderr). Returns the problem, or nullopt.
std::optional<std::string> encodingProblem(std::string_view bytes);

/// The concatenated text of an attribute's value.
std::string attributeValue(const xmlAttr* attr);

/// "line N" for a node, for warnings and errors.
std::string lineOf(const xmlNode* node);

/// True when the node is an element in the given namespace.
bool inNamespace(const xmlNode* node, std::string_view ns);

}  // namespace cb::codec::fhir::detail
