#pragma once
// FHIR R4 JSON <-> FHIR R4 XML.
//
// carebridge's mapping engine works on XML, so FHIR JSON received from a
// partner is converted to FHIR's own XML representation, and back to JSON for
// partners that want JSON. The conversion follows the two R4 serialisation
// pages exactly (https://hl7.org/fhir/R4/json.html, https://hl7.org/fhir/R4/xml.html)
// using a table of the R4 element definitions (fhir_elements.h) for what JSON
// alone cannot say: element order in XML, which elements repeat (JSON arrays),
// and which primitives are JSON numbers or booleans.
//
// Hostile input is refused with an error, never a crash or an unbounded
// allocation: see Limits. Errors and warnings name the place (a JSON pointer,
// RFC 6901, or an XML line) and the rule broken, and never quote record
// content, so they are safe to log.
//
// Content the table does not describe (a resource type R4 does not define, an
// element R4 does not define) is converted by generic rules documented in
// README.md next to this file, and reported as a Warning, so partners' data is
// not lost.

#include "common/result.h"
#include "xml/safe_xml.h"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct _xmlDoc;

namespace cb::codec::fhir {

/// The FHIR XML namespace (https://hl7.org/fhir/R4/xml.html#namespace).
inline constexpr std::string_view kFhirNamespace = "http://hl7.org/fhir";
/// The namespace of the narrative div (https://hl7.org/fhir/R4/narrative.html#xhtml).
inline constexpr std::string_view kXhtmlNamespace = "http://www.w3.org/1999/xhtml";

/// Bounds on what a conversion accepts. Everything past a bound is refused
/// with an error naming the bound, so one hostile message cannot exhaust the
/// daemon's memory or stack.
struct Limits {
  std::size_t max_bytes = 16u << 20;         ///< input document size (JSON text or XML bytes)
  std::size_t max_depth = 128;               ///< nesting of JSON objects/arrays, and of XML elements
  std::size_t max_array_length = 100000;     ///< items in one JSON array / repeats of one XML element
  std::size_t max_string_bytes = 16u << 20;  ///< one JSON string or XML attribute value (after unescaping)
  std::size_t max_number_chars = 64;         ///< characters in one number's lexical form
};

/// Something converted by a generic rule, or lenient handling of a rule a
/// sender broke without losing data. `location` is a JSON pointer
/// ("/entry/0/resource/name") or "line N"; `message` says what happened.
/// Neither contains record content.
struct Warning {
  std::string location;
  std::string message;
};
using Warnings = std::vector<Warning>;

/// Output options for xmlToJson.
struct JsonOptions {
  bool pretty = false;  ///< two-space indentation and newlines; compact when false
  Limits limits;        ///< nesting and repeat bounds while walking the XML tree
};

/// Converts a FHIR R4 JSON resource (a Bundle, a Patient, ...) to FHIR R4 XML.
/// `name_for_errors` (a file name or "message <id>") prefixes error messages.
/// The result owns its document. Decimals keep their lexical form ("1.50"
/// stays "1.50"). When `warnings` is given, generic conversions and lenient
/// handling are appended to it.
Result<xml::DocPtr> jsonToXml(std::string_view json, std::string_view name_for_errors, const Limits& limits = {},
                              Warnings* warnings = nullptr);

/// Converts a FHIR R4 XML document (the root element is a resource in the
/// FHIR namespace, as parseFhirXml checks) to FHIR R4 JSON text. Does not take
/// ownership of `doc`.
Result<std::string> xmlToJson(const _xmlDoc* doc, std::string_view name_for_errors, const JsonOptions& options = {},
                              Warnings* warnings = nullptr);

/// Parses FHIR XML safely (cb::xml::parse: no DTDs, no entities, size and
/// depth bounds), requires UTF-8, and checks that the root element is a
/// resource (a name starting with an upper-case letter) in the FHIR namespace.
Result<xml::DocPtr> parseFhirXml(std::string_view bytes, std::string_view name_for_errors, const Limits& limits = {});

/// The two wire formats carebridge speaks.
enum class Format { kJson, kXml };

/// The formal MIME types (https://hl7.org/fhir/R4/http.html#mime-type).
inline constexpr std::string_view kJsonContentType = "application/fhir+json";
inline constexpr std::string_view kXmlContentType = "application/fhir+xml";

/// The Content-Type header value carebridge sends for a format, with the
/// charset parameter FHIR requires to be UTF-8.
std::string_view contentTypeHeader(Format format);

/// Reads a Content-Type header value. Accepts application/fhir+json,
/// application/json and text/json as JSON; application/fhir+xml,
/// application/xml and text/xml as XML; case-insensitively, with parameters.
/// Returns nullopt for anything else, or a charset other than UTF-8.
std::optional<Format> formatFromContentType(std::string_view content_type);

/// Reads the `_format` query parameter (https://hl7.org/fhir/R4/http.html#general):
/// "json", "xml", or one of the MIME types formatFromContentType accepts.
std::optional<Format> formatFromParam(std::string_view format_param);

/// Picks the format to answer with from an Accept header: the FHIR format
/// with the highest q-value (JSON on a tie, and for "*/*" or an empty header);
/// nullopt when the header accepts neither.
std::optional<Format> formatFromAccept(std::string_view accept);

/// Brings a FHIR body in either format to XML: JSON through jsonToXml, XML
/// through parseFhirXml.
Result<xml::DocPtr> toXml(std::string_view body, Format format, std::string_view name_for_errors,
                          const Limits& limits = {}, Warnings* warnings = nullptr);

}  // namespace cb::codec::fhir
