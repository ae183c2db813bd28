#include "fhir_resource.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <cctype>
#include <memory>

namespace cb::fhir_plugin {

namespace json = boost::json;

namespace {

constexpr std::string_view kFhirNs = "http://hl7.org/fhir";

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

// R4 resource names are upper camel case letters (https://hl7.org/fhir/R4/resourcelist.html).
bool validResourceType(std::string_view t) {
  if (t.empty() || t.size() > 64 || !std::isupper(static_cast<unsigned char>(t.front()))) return false;
  return std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isalpha(c) != 0; });
}

// id: [A-Za-z0-9\-\.]{1,64} (https://hl7.org/fhir/R4/datatypes.html#id).
bool validId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isalnum(c) != 0 || c == '-' || c == '.'; });
}

std::string jsonEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          static const char* kHex = "0123456789abcdef";
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

std::string xmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// ---- JSON

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::optional<Identifier> jsonIdentifier(const json::value& v) {
  const json::object* o = v.if_object();
  if (o == nullptr) return std::nullopt;
  Identifier id{str(*o, "system"), str(*o, "value")};
  if (id.value.empty()) return std::nullopt;
  return id;
}

Described describeJson(std::string_view body) {
  json::parse_options opts;
  opts.max_depth = 128;  // deeper than the library's default of 32: Questionnaire items nest
  std::error_code ec;
  json::value root = json::parse(body, ec, {}, opts);
  if (ec) return {std::nullopt, "body is not valid JSON: " + ec.message()};
  const json::object* o = root.if_object();
  if (o == nullptr) return {std::nullopt, "a FHIR JSON resource is an object (https://hl7.org/fhir/R4/json.html)"};
  const auto* rt = o->if_contains("resourceType");
  if (rt == nullptr || !rt->is_string()) return {std::nullopt, "/resourceType: missing or not a string"};
  ResourceFacts f;
  f.resource_type = std::string(rt->get_string());
  if (!validResourceType(f.resource_type)) return {std::nullopt, "/resourceType: not a FHIR resource name"};
  if (const auto* id = o->if_contains("id")) {
    if (!id->is_string() || !validId(id->get_string())) {
      return {std::nullopt, "/id: must be 1-64 characters of A-Z a-z 0-9 - ."};
    }
    f.id = std::string(id->get_string());
  }
  if (const auto* meta = o->if_contains("meta"); meta != nullptr && meta->is_object()) {
    f.version_id = str(meta->get_object(), "versionId");
    f.last_updated = str(meta->get_object(), "lastUpdated");
  }
  if (const auto* ident = o->if_contains("identifier")) {
    if (ident->is_array()) {
      for (const auto& item : ident->get_array()) {
        if (auto i = jsonIdentifier(item)) f.identifiers.push_back(std::move(*i));
      }
    } else if (auto i = jsonIdentifier(*ident)) {
      f.identifiers.push_back(std::move(*i));
    }
  }
  if (f.resource_type == "Bundle") {
    f.bundle_type = str(*o, "type");
    if (const auto* entries = o->if_contains("entry"); entries != nullptr) {
      if (!entries->is_array()) return {std::nullopt, "/entry: must be an array"};
      for (const auto& e : entries->get_array()) {
        std::string method;
        if (const auto* eo = e.if_object()) {
          if (const auto* req = eo->if_contains("request"); req != nullptr && req->is_object()) {
            method = str(req->get_object(), "method");
          }
        }
        f.entry_methods.push_back(method);
      }
    }
  }
  return {std::move(f), {}};
}

// ---- XML

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};

bool isFhir(const xmlNode* n, std::string_view name) {
  return n != nullptr && n->type == XML_ELEMENT_NODE && n->ns != nullptr &&
         std::string_view(reinterpret_cast<const char*>(n->ns->href)) == kFhirNs &&
         std::string_view(reinterpret_cast<const char*>(n->name)) == name;
}

const xmlNode* child(const xmlNode* parent, std::string_view name) {
  for (const xmlNode* c = parent != nullptr ? parent->children : nullptr; c != nullptr; c = c->next) {
    if (isFhir(c, name)) return c;
  }
  return nullptr;
}

// A primitive's value attribute (https://hl7.org/fhir/R4/xml.html#primitive).
std::string valueOf(const xmlNode* n) {
  if (n == nullptr) return {};
  xmlChar* v = xmlGetProp(n, reinterpret_cast<const xmlChar*>("value"));
  if (v == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(v));
  xmlFree(v);
  return out;
}

Described describeXml(std::string_view body) {
  // FHIR XML SHALL NOT contain DTDs (https://hl7.org/fhir/R4/xml.html); refusing
  // them up front also rules out entity expansion attacks.
  if (body.find("<!DOCTYPE") != std::string_view::npos || body.find("<!ENTITY") != std::string_view::npos) {
    return {std::nullopt, "FHIR XML must not contain a DTD or entity declarations"};
  }
  if (body.size() > static_cast<std::size_t>(INT32_MAX)) return {std::nullopt, "body too large"};
  std::unique_ptr<xmlDoc, DocFree> doc(xmlReadMemory(body.data(), static_cast<int>(body.size()), "fhir.xml", nullptr,
                                                     XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (!doc) {
    const xmlError* err = xmlGetLastError();
    return {std::nullopt, "body is not well-formed XML" +
                              (err != nullptr ? " (line " + std::to_string(err->line) + ")" : std::string())};
  }
  if (doc->intSubset != nullptr) return {std::nullopt, "FHIR XML must not contain a DTD"};
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr || root->ns == nullptr ||
      std::string_view(reinterpret_cast<const char*>(root->ns->href)) != kFhirNs) {
    return {std::nullopt, "the root element is not in the FHIR namespace http://hl7.org/fhir"};
  }
  ResourceFacts f;
  f.resource_type = reinterpret_cast<const char*>(root->name);
  if (!validResourceType(f.resource_type)) return {std::nullopt, "the root element is not a FHIR resource name"};
  if (const xmlNode* id = child(root, "id")) {
    f.id = valueOf(id);
    if (!validId(f.id)) return {std::nullopt, "id: must be 1-64 characters of A-Z a-z 0-9 - ."};
  }
  if (const xmlNode* meta = child(root, "meta")) {
    f.version_id = valueOf(child(meta, "versionId"));
    f.last_updated = valueOf(child(meta, "lastUpdated"));
  }
  for (const xmlNode* c = root->children; c != nullptr; c = c->next) {
    if (!isFhir(c, "identifier")) continue;
    Identifier ident{valueOf(child(c, "system")), valueOf(child(c, "value"))};
    if (!ident.value.empty()) f.identifiers.push_back(std::move(ident));
  }
  if (f.resource_type == "Bundle") {
    f.bundle_type = valueOf(child(root, "type"));
    for (const xmlNode* c = root->children; c != nullptr; c = c->next) {
      if (isFhir(c, "entry")) f.entry_methods.push_back(valueOf(child(child(c, "request"), "method")));
    }
  }
  return {std::move(f), {}};
}

void collectJsonDiagnostics(const json::object& o, std::vector<std::string>& out) {
  const auto* issues = o.if_contains("issue");
  if (issues == nullptr || !issues->is_array()) return;
  for (const auto& i : issues->get_array()) {
    const json::object* io = i.if_object();
    if (io == nullptr) continue;
    std::string d = str(*io, "diagnostics");
    if (d.empty()) {
      if (const auto* det = io->if_contains("details"); det != nullptr && det->is_object()) d = str(det->get_object(), "text");
    }
    if (d.empty()) d = str(*io, "code");
    if (!d.empty()) out.push_back(std::move(d));
  }
}

// ---- byte ranges in JSON text that is already known to be valid

std::size_t skipSpace(std::string_view t, std::size_t i) {
  while (i < t.size() && (t[i] == ' ' || t[i] == '\t' || t[i] == '\r' || t[i] == '\n')) ++i;
  return i;
}

// From the opening quote of a string to just past its closing quote.
std::size_t skipString(std::string_view t, std::size_t i) {
  for (++i; i < t.size(); ++i) {
    if (t[i] == '\\') {
      ++i;
    } else if (t[i] == '"') {
      return i + 1;
    }
  }
  return t.size();
}

// From the first character of a value to just past it.
std::size_t skipValue(std::string_view t, std::size_t i) {
  if (i >= t.size()) return i;
  if (t[i] == '"') return skipString(t, i);
  if (t[i] != '{' && t[i] != '[') {
    while (i < t.size() && t[i] != ',' && t[i] != '}' && t[i] != ']' && t[i] != ' ' && t[i] != '\n' && t[i] != '\r' &&
           t[i] != '\t') {
      ++i;
    }
    return i;
  }
  std::size_t depth = 0;
  for (; i < t.size(); ++i) {
    if (t[i] == '"') {
      i = skipString(t, i) - 1;
    } else if (t[i] == '{' || t[i] == '[') {
      ++depth;
    } else if ((t[i] == '}' || t[i] == ']') && --depth == 0) {
      return i + 1;
    }
  }
  return t.size();
}

// Calls fn(key, value_begin, value_end) for each member of the object at i.
template <class Fn>
void members(std::string_view t, std::size_t i, Fn fn) {
  i = skipSpace(t, i);
  if (i >= t.size() || t[i] != '{') return;
  i = skipSpace(t, i + 1);
  while (i < t.size() && t[i] == '"') {
    const std::size_t key_end = skipString(t, i);
    const std::string_view key = t.substr(i + 1, key_end - i - 2);
    i = skipSpace(t, key_end);
    if (i >= t.size() || t[i] != ':') return;
    i = skipSpace(t, i + 1);
    const std::size_t end = skipValue(t, i);
    fn(key, i, end);
    i = skipSpace(t, end);
    if (i < t.size() && t[i] == ',') i = skipSpace(t, i + 1);
  }
}

// Calls fn(value_begin) for each element of the array at i.
template <class Fn>
void elements(std::string_view t, std::size_t i, Fn fn) {
  i = skipSpace(t, i);
  if (i >= t.size() || t[i] != '[') return;
  i = skipSpace(t, i + 1);
  while (i < t.size() && t[i] != ']') {
    fn(i);
    i = skipSpace(t, skipValue(t, i));
    if (i < t.size() && t[i] == ',') i = skipSpace(t, i + 1);
  }
}

}  // namespace

std::optional<SearchPage> readSearchPage(std::string_view body, std::string* error) {
  json::parse_options opts;
  opts.max_depth = 128;
  std::error_code ec;
  json::value root = json::parse(body, ec, {}, opts);
  if (ec || !root.is_object() || str(root.get_object(), "resourceType") != "Bundle") {
    if (error != nullptr) *error = "the search answer is not a FHIR JSON Bundle";
    return std::nullopt;
  }
  SearchPage page;
  if (const auto* links = root.get_object().if_contains("link"); links != nullptr && links->is_array()) {
    for (const auto& l : links->get_array()) {
      if (l.is_object() && str(l.get_object(), "relation") == "next") page.next = str(l.get_object(), "url");
    }
  }
  // The structure is known to be valid JSON now; slice each entry.resource
  // out of the original text so decimals and everything else stay as sent.
  members(body, 0, [&](std::string_view key, std::size_t b, std::size_t) {
    if (key != "entry") return;
    elements(body, b, [&](std::size_t entry) {
      std::string_view resource;
      bool include = true;
      members(body, entry, [&](std::string_view k, std::size_t vb, std::size_t ve) {
        if (k == "resource") resource = body.substr(vb, ve - vb);
        if (k == "search") {
          // Only matches; "include" and "outcome" entries are context (https://hl7.org/fhir/R4/bundle-definitions.html#Bundle.entry.search.mode).
          members(body, vb, [&](std::string_view sk, std::size_t sb, std::size_t se) {
            if (sk == "mode" && body.substr(sb, se - sb) != "\"match\"") include = false;
          });
        }
      });
      if (include && !resource.empty()) page.resources.emplace_back(resource);
    });
  });
  return page;
}

std::optional<Format> formatFromContentType(std::string_view content_type) {
  const std::string ct = lower(content_type);
  const std::string_view whole(ct);
  const std::string_view type = trim(whole.substr(0, whole.find(';')));
  std::optional<Format> f;
  if (type == "application/fhir+json" || type == "application/json" || type == "text/json") f = Format::kJson;
  if (type == "application/fhir+xml" || type == "application/xml" || type == "text/xml") f = Format::kXml;
  if (!f) return std::nullopt;
  // Parameters: only charset matters, and FHIR is UTF-8 (https://hl7.org/fhir/R4/http.html#mime-type).
  std::size_t pos = whole.find(';');
  while (pos != std::string_view::npos) {
    const std::size_t next = whole.find(';', pos + 1);
    const std::string_view param = trim(whole.substr(pos + 1, next == std::string_view::npos ? next : next - pos - 1));
    if (param.substr(0, 8) == "charset=") {
      std::string_view cs = param.substr(8);
      if (cs.size() >= 2 && cs.front() == '"' && cs.back() == '"') cs = cs.substr(1, cs.size() - 2);
      if (cs != "utf-8" && cs != "utf8") return std::nullopt;
    }
    pos = next;
  }
  return f;
}

Format formatFromAccept(std::string_view accept, Format fallback) {
  const std::string a = lower(accept);
  const bool json = a.find("json") != std::string::npos;
  const bool xml = a.find("xml") != std::string::npos;
  if (json && !xml) return Format::kJson;
  if (xml && !json) return Format::kXml;
  return fallback;
}

std::string contentTypeOf(Format format) {
  return format == Format::kJson ? "application/fhir+json; charset=utf-8" : "application/fhir+xml; charset=utf-8";
}

std::optional<Format> sniffFormat(std::string_view body) {
  // Skip a UTF-8 byte order mark and leading white space.
  if (body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);
  const auto at = body.find_first_not_of(" \t\r\n");
  if (at == std::string_view::npos) return std::nullopt;
  if (body[at] == '{') return Format::kJson;
  if (body[at] == '<') return Format::kXml;
  return std::nullopt;
}

Described describe(std::string_view body, Format format) {
  try {
    return format == Format::kJson ? describeJson(body) : describeXml(body);
  } catch (const std::exception&) {
    return {std::nullopt, "body could not be read as a FHIR resource"};
  }
}

std::string operationOutcome(Format format, std::string_view severity, std::string_view code,
                             std::string_view diagnostics) {
  if (format == Format::kJson) {
    return R"({"resourceType":"OperationOutcome","issue":[{"severity":")" + jsonEscape(severity) + R"(","code":")" +
           jsonEscape(code) + R"(","diagnostics":")" + jsonEscape(diagnostics) + "\"}]}";
  }
  return R"(<OperationOutcome xmlns="http://hl7.org/fhir"><issue><severity value=")" + xmlEscape(severity) +
         R"("/><code value=")" + xmlEscape(code) + R"("/><diagnostics value=")" + xmlEscape(diagnostics) +
         R"("/></issue></OperationOutcome>)";
}

std::string outcomeDiagnostics(std::string_view body, std::optional<Format> format, std::size_t max) {
  if (!format) format = sniffFormat(body);
  if (!format) return {};
  std::vector<std::string> parts;
  try {
    if (*format == Format::kJson) {
      std::error_code ec;
      json::value v = json::parse(body, ec);
      if (ec || !v.is_object() || str(v.get_object(), "resourceType") != "OperationOutcome") return {};
      collectJsonDiagnostics(v.get_object(), parts);
    } else {
      if (body.find("<!DOCTYPE") != std::string_view::npos || body.size() > static_cast<std::size_t>(INT32_MAX)) return {};
      std::unique_ptr<xmlDoc, DocFree> doc(xmlReadMemory(body.data(), static_cast<int>(body.size()), "outcome.xml",
                                                         nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
      const xmlNode* root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
      if (!isFhir(root, "OperationOutcome")) return {};
      for (const xmlNode* c = root->children; c != nullptr; c = c->next) {
        if (!isFhir(c, "issue")) continue;
        std::string d = valueOf(child(c, "diagnostics"));
        if (d.empty()) d = valueOf(child(child(c, "details"), "text"));
        if (d.empty()) d = valueOf(child(c, "code"));
        if (!d.empty()) parts.push_back(std::move(d));
      }
    }
  } catch (const std::exception&) {
    return {};
  }
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += "; ";
    out += p;
  }
  if (out.size() > max) out = out.substr(0, max) + "...";
  return out;
}

std::string transactionResponse(Format format, std::string_view response_type, const std::vector<std::string>& methods,
                                std::string_view location) {
  std::string out;
  if (format == Format::kJson) {
    out = R"({"resourceType":"Bundle","type":")" + jsonEscape(response_type) + R"(","entry":[)";
    for (std::size_t i = 0; i < methods.size(); ++i) {
      if (i != 0) out += ',';
      out += R"({"response":{"status":")" + std::string(methods[i] == "POST" ? "201 Created" : "200 OK") +
             R"(","location":")" + jsonEscape(location) + "\"}}";
    }
    return out + "]}";
  }
  out = R"(<Bundle xmlns="http://hl7.org/fhir"><type value=")" + xmlEscape(response_type) + "\"/>";
  for (const auto& m : methods) {
    out += R"(<entry><response><status value=")" + std::string(m == "POST" ? "201 Created" : "200 OK") +
           R"("/><location value=")" + xmlEscape(location) + R"("/></response></entry>)";
  }
  return out + "</Bundle>";
}

std::string capabilityStatement(Format format, std::string_view now_iso) {
  if (format == Format::kJson) {
    return R"({"resourceType":"CapabilityStatement","status":"active","date":")" + jsonEscape(now_iso) +
           R"(","kind":"instance","software":{"name":"carebridge fhir adapter"},"fhirVersion":"4.0.1",)"
           R"("format":["application/fhir+json","application/fhir+xml"],"rest":[{"mode":"server",)"
           R"("documentation":"Accepts create, update, and transaction, batch and message Bundles for relay",)"
           R"("interaction":[{"code":"transaction"},{"code":"batch"}]}]})";
  }
  return R"(<CapabilityStatement xmlns="http://hl7.org/fhir"><status value="active"/><date value=")" +
         xmlEscape(now_iso) +
         R"("/><kind value="instance"/><software><name value="carebridge fhir adapter"/></software>)"
         R"(<fhirVersion value="4.0.1"/><format value="application/fhir+json"/><format value="application/fhir+xml"/>)"
         R"(<rest><mode value="server"/><interaction><code value="transaction"/></interaction>)"
         R"(<interaction><code value="batch"/></interaction></rest></CapabilityStatement>)";
}

}  // namespace cb::fhir_plugin
