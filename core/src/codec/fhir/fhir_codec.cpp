#include "codec/fhir/fhir_codec.h"

#include "codec/fhir/fhir_internal.h"
#include "codec/fhir/json_tree.h"

#include <libxml/tree.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

namespace cb::codec::fhir {
namespace detail {

bool isXmlText(std::string_view s) {
  // The input is valid UTF-8 (Boost.JSON validates it), so decoding needs no
  // error handling beyond staying inside the buffer.
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;
      ++i;
      continue;
    }
    if (c == 0xEF && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xBF &&
        (static_cast<unsigned char>(s[i + 2]) == 0xBE || static_cast<unsigned char>(s[i + 2]) == 0xBF)) {
      return false;  // U+FFFE and U+FFFF are not XML characters
    }
    i += c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  }
  return true;
}

bool isElementName(std::string_view s) {
  if (s.empty()) return false;
  // A leading '_' would read as a primitive's extension property in JSON.
  if (!std::isalpha(static_cast<unsigned char>(s.front()))) return false;
  return std::all_of(s.begin() + 1, s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return std::isalnum(c) || c == '_' || c == '-' || c == '.';
  });
}

std::optional<std::string> numberProblem(std::string_view lexical, std::string_view fhir_type, const Limits& limits) {
  if (lexical.size() > limits.max_number_chars) {
    return "a number longer than " + std::to_string(limits.max_number_chars) + " characters";
  }
  if (!isJsonNumber(lexical)) return "not a valid " + std::string(fhir_type) + " (JSON number syntax)";
  if (isHugeNumber(lexical)) return std::string("refused: a number outside the range of an IEEE double");
  if (fhir_type == "decimal") return std::nullopt;
  // integer, positiveInt, unsignedInt: a signed 32-bit integer without
  // fraction or exponent (https://hl7.org/fhir/R4/datatypes.html#integer).
  if (lexical.find_first_of(".eE") != std::string_view::npos) return "not an integer, as " + std::string(fhir_type) + " requires";
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(lexical.data(), lexical.data() + lexical.size(), v);
  if (ec != std::errc() || end != lexical.data() + lexical.size() || v > INT32_MAX || v < INT32_MIN) {
    return std::string(fhir_type) + " out of the 32-bit range";
  }
  if (fhir_type == "positiveInt" && v < 1) return std::string("positiveInt must be 1 or more");
  if (fhir_type == "unsignedInt" && v < 0) return std::string("unsignedInt must be 0 or more");
  return std::nullopt;
}

std::string attributeValue(const xmlAttr* attr) {
  std::string out;
  for (const xmlNode* c = attr->children; c != nullptr; c = c->next) {
    if (c->content != nullptr) out += charStr(c->content);
  }
  return out;
}

std::optional<std::string> encodingProblem(std::string_view bytes) {
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
  // Anything libxml2 might auto-detect instead (EBCDIC, UCS-4) does not start with '<'.
  const std::size_t first = bytes.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && bytes[first] != '<') return std::string("not an XML document");
  if (bytes.substr(0, 5) != "<?xml") return std::nullopt;
  const std::string_view decl = bytes.substr(0, std::min<std::size_t>(bytes.find("?>"), 256));
  const std::size_t at = decl.find("encoding");
  if (at == std::string_view::npos) return std::nullopt;
  const std::size_t open = decl.find_first_of("\"'", at);
  const std::size_t close = open == std::string_view::npos ? open : decl.find(decl[open], open + 1);
  std::string name = close == std::string_view::npos ? std::string() : std::string(decl.substr(open + 1, close - open - 1));
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (name == "utf-8" || name == "utf8") return std::nullopt;
  return std::string("declared encoding is not UTF-8; FHIR XML must be UTF-8");
}

std::string lineOf(const xmlNode* node) { return "line " + std::to_string(xmlGetLineNo(node)); }

bool inNamespace(const xmlNode* node, std::string_view ns) {
  return node->type == XML_ELEMENT_NODE && node->ns != nullptr && view(node->ns->href) == ns;
}

}  // namespace detail

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<Format> formatFromMediaType(std::string_view media_type) {
  const std::string t = lower(trim(media_type));
  if (t == "application/fhir+json" || t == "application/json" || t == "text/json") return Format::kJson;
  if (t == "application/fhir+xml" || t == "application/xml" || t == "text/xml") return Format::kXml;
  return std::nullopt;
}

}  // namespace

std::string_view contentTypeHeader(Format format) {
  return format == Format::kJson ? "application/fhir+json; charset=utf-8" : "application/fhir+xml; charset=utf-8";
}

std::optional<Format> formatFromContentType(std::string_view content_type) {
  std::size_t semi = content_type.find(';');
  auto format = formatFromMediaType(content_type.substr(0, semi));
  if (!format) return std::nullopt;
  // Parameters: only the charset matters here, and FHIR is UTF-8
  // (https://hl7.org/fhir/R4/http.html#mime-type).
  while (semi != std::string_view::npos) {
    std::string_view rest = content_type.substr(semi + 1);
    std::size_t next = rest.find(';');
    std::string_view param = trim(rest.substr(0, next));
    std::size_t eq = param.find('=');
    if (eq != std::string_view::npos && lower(trim(param.substr(0, eq))) == "charset") {
      std::string value = lower(trim(param.substr(eq + 1)));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      if (value != "utf-8" && value != "utf8") return std::nullopt;
    }
    semi = next == std::string_view::npos ? std::string_view::npos : semi + 1 + next;
  }
  return format;
}

std::optional<Format> formatFromParam(std::string_view format_param) {
  const std::string p = lower(trim(format_param));
  if (p == "json") return Format::kJson;
  if (p == "xml") return Format::kXml;
  return formatFromContentType(format_param);
}

std::optional<Format> formatFromAccept(std::string_view accept) {
  if (trim(accept).empty()) return Format::kJson;
  double best_json = -1;
  double best_xml = -1;
  std::size_t start = 0;
  while (start <= accept.size()) {
    std::size_t comma = accept.find(',', start);
    std::string_view item = accept.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    start = comma == std::string_view::npos ? accept.size() + 1 : comma + 1;
    std::size_t semi = item.find(';');
    const std::string media = lower(trim(item.substr(0, semi)));
    double q = 1.0;
    if (semi != std::string_view::npos) {
      std::string_view params = item.substr(semi + 1);
      std::size_t qpos = lower(params).find("q=");
      if (qpos != std::string::npos) {
        std::string_view qv = trim(params.substr(qpos + 2));
        qv = qv.substr(0, qv.find(';'));
        // RFC 9110 section 12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
        q = 0;
        if (!qv.empty() && qv.front() == '1') q = 1;
        else if (qv.size() >= 3 && qv.substr(0, 2) == "0.") {
          double scale = 0.1;
          for (std::size_t i = 2; i < qv.size() && i < 5 && std::isdigit(static_cast<unsigned char>(qv[i])); ++i) {
            q += (qv[i] - '0') * scale;
            scale /= 10;
          }
        }
      }
    }
    if (q <= 0) continue;
    if (media == "*/*" || media == "application/*") {
      best_json = std::max(best_json, q);
      best_xml = std::max(best_xml, q - 1e-9);  // a wildcard prefers JSON
      continue;
    }
    if (auto f = formatFromMediaType(media)) {
      if (*f == Format::kJson) best_json = std::max(best_json, q);
      else best_xml = std::max(best_xml, q);
    }
  }
  if (best_json < 0 && best_xml < 0) return std::nullopt;
  return best_json >= best_xml ? Format::kJson : Format::kXml;
}

Result<xml::DocPtr> parseFhirXml(std::string_view bytes, std::string_view name_for_errors, const Limits& limits) {
  const std::string who(name_for_errors);
  // FHIR XML is UTF-8 (https://hl7.org/fhir/R4/xml.html). libxml2 would
  // transcode UTF-16 or a declared legacy encoding; refuse them instead, so
  // what we pass on is what the sender signed.
  if (bytes.size() >= 2 && ((bytes[0] == '\xFE' && bytes[1] == '\xFF') || (bytes[0] == '\xFF' && bytes[1] == '\xFE'))) {
    return fail(who + ": refused: UTF-16 byte order mark; FHIR XML must be UTF-8");
  }
  if (bytes.substr(0, std::min<std::size_t>(bytes.size(), 4)).find('\0') != std::string_view::npos) {
    return fail(who + ": refused: NUL bytes at the start (UTF-16 or UTF-32?); FHIR XML must be UTF-8");
  }
  if (auto problem = detail::encodingProblem(bytes)) return fail(who + ":1: refused: " + *problem);
  xml::ParseLimits parse_limits;
  parse_limits.max_bytes = limits.max_bytes;
  parse_limits.max_depth = static_cast<int>(std::min<std::size_t>(limits.max_depth, 1u << 20));
  auto doc = xml::parse(bytes, who, parse_limits);
  if (!doc) return std::move(doc).error();
  const xmlDoc* d = doc->get();
  if (d->encoding != nullptr) {
    const std::string enc = lower(detail::view(d->encoding));
    if (enc != "utf-8" && enc != "utf8") {
      return fail(who + ":1: refused: declared encoding is not UTF-8; FHIR XML must be UTF-8");
    }
  }
  const xmlNode* root = xmlDocGetRootElement(d);
  if (root == nullptr) return fail(who + ": no root element");
  if (!detail::inNamespace(root, kFhirNamespace)) {
    return fail(who + ":" + std::to_string(xmlGetLineNo(root)) +
                ": root element is not in the FHIR namespace http://hl7.org/fhir");
  }
  const std::string_view root_name = detail::view(root->name);
  if (root_name.empty() || !std::isupper(static_cast<unsigned char>(root_name.front())) ||
      !detail::isElementName(root_name)) {
    return fail(who + ":" + std::to_string(xmlGetLineNo(root)) + ": root element is not a FHIR resource");
  }
  return doc;
}

Result<xml::DocPtr> toXml(std::string_view body, Format format, std::string_view name_for_errors, const Limits& limits,
                          Warnings* warnings) {
  if (format == Format::kJson) return jsonToXml(body, name_for_errors, limits, warnings);
  return parseFhirXml(body, name_for_errors, limits);
}

}  // namespace cb::codec::fhir
