#include "mapping/system.h"

#include "codec/csv/csv.h"
#include "codec/fhir/fhir_codec.h"
#include "codec/hl7v2/er7.h"
#include "codec/hl7v2/xml.h"
#include "common/digest.h"
#include "mapping/canonical.h"
#include "mapping/xml_util.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace cb::mapping {

namespace fs = std::filesystem;

std::string_view toString(WireFormat f) {
  switch (f) {
    case WireFormat::Xml: return "xml";
    case WireFormat::FhirJson: return "fhir-json";
    case WireFormat::FhirXml: return "fhir-xml";
    case WireFormat::Hl7v2Er7: return "hl7v2-er7";
    case WireFormat::Csv: return "csv";
  }
  return "xml";
}

std::optional<WireFormat> wireFormatFromString(std::string_view name) {
  for (WireFormat f : {WireFormat::Xml, WireFormat::FhirJson, WireFormat::FhirXml, WireFormat::Hl7v2Er7, WireFormat::Csv}) {
    if (toString(f) == name) return f;
  }
  return std::nullopt;
}

namespace {

constexpr std::string_view kManifestName = "system.toml";
constexpr std::size_t kMaxManifestBytes = 64u << 10;
// Hard ceiling on max_bytes: the codecs hold a whole message in memory.
constexpr std::size_t kMaxInputCeiling = 256u << 20;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The media type of a Content-Type value: before any ';', trimmed, lower case.
std::string mediaType(std::string_view content_type) {
  std::string_view s = content_type.substr(0, content_type.find(';'));
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return lower(s);
}

std::string lineOf(const toml::node& n) { return std::to_string(n.source().begin.line); }

Result<char> csvDelimiter(const toml::node& node, const std::string& where) {
  auto v = node.value<std::string>();
  if (!v || v->size() != 1 || std::string_view(",;\t|").find((*v)[0]) == std::string_view::npos) {
    return fail(where + ": delimiter must be one of \",\" \";\" \"\\t\" \"|\"");
  }
  return (*v)[0];
}

std::string readAll(const fs::path& p, bool& ok) {
  std::ifstream in(p, std::ios::binary);
  ok = static_cast<bool>(in);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

// Reads system.toml into a SystemMappings (friend, so it can fill the fields).
struct SystemManifestLoader {
  SystemMappings& s;
  std::string file;

  std::string at(const toml::node& n, const std::string& what) const { return file + ":" + lineOf(n) + ": " + what; }

  Status inbound(const toml::table& t) {
    InboundFormat in;
    bool have_format = false;
    for (const auto& [key, node] : t) {
      const std::string k(key.str());
      if (k == "format") {
        auto v = node.value<std::string>();
        auto f = v ? wireFormatFromString(*v) : std::nullopt;
        if (!f) return fail(at(node, "inbound format must be one of xml, fhir-json, fhir-xml, hl7v2-er7, csv"));
        in.format = *f;
        have_format = true;
      } else if (k == "content_types") {
        const toml::array* arr = node.as_array();
        if (arr == nullptr || arr->empty()) return fail(at(node, "content_types must be a non-empty array of strings"));
        for (const auto& el : *arr) {
          auto v = el.value<std::string>();
          if (!v || mediaType(*v).empty() || mediaType(*v) != lower(*v)) {
            return fail(at(el, "content_types: each entry is a media type without parameters, e.g. \"application/xml\""));
          }
          in.content_types.push_back(lower(*v));
        }
      } else if (k == "delimiter") {
        auto d = csvDelimiter(node, at(node, "inbound"));
        if (!d) return d.error();
        in.csv_delimiter = *d;
      } else {
        return fail(at(node, "unknown key '" + k + "' in [[inbound]] (known: format, content_types, delimiter)"));
      }
    }
    if (!have_format) return fail(file + ":" + lineOf(t) + ": [[inbound]] needs format");
    if (in.content_types.empty()) return fail(file + ":" + lineOf(t) + ": [[inbound]] needs content_types");
    for (const auto& other : s.inbound_) {
      if (other.format == in.format) {
        return fail(file + ":" + lineOf(t) + ": inbound format " + std::string(toString(in.format)) + " is declared twice");
      }
      for (const auto& ct : in.content_types) {
        if (std::find(other.content_types.begin(), other.content_types.end(), ct) != other.content_types.end()) {
          return fail(file + ":" + lineOf(t) + ": content type " + ct + " selects two inbound formats");
        }
      }
    }
    s.inbound_.push_back(std::move(in));
    return {};
  }

  Status outbound(const toml::table& t) {
    OutboundFormat out;
    bool have_format = false;
    for (const auto& [key, node] : t) {
      const std::string k(key.str());
      if (k == "format") {
        auto v = node.value<std::string>();
        auto f = v ? wireFormatFromString(*v) : std::nullopt;
        if (!f) return fail(at(node, "outbound format must be one of xml, fhir-json, fhir-xml, hl7v2-er7, csv"));
        out.format = *f;
        have_format = true;
      } else if (k == "content_type") {
        auto v = node.value<std::string>();
        if (!v || v->empty()) return fail(at(node, "content_type must be a string"));
        out.content_type = *v;
      } else if (k == "delimiter") {
        auto d = csvDelimiter(node, at(node, "outbound"));
        if (!d) return d.error();
        out.csv_delimiter = *d;
      } else if (k == "pretty") {
        auto v = node.value<bool>();
        if (!v) return fail(at(node, "pretty must be true or false"));
        out.pretty = *v;
      } else {
        return fail(at(node, "unknown key '" + k + "' in [outbound] (known: format, content_type, delimiter, pretty)"));
      }
    }
    if (!have_format) return fail(file + ":" + lineOf(t) + ": [outbound] needs format");
    if (out.content_type.empty()) return fail(file + ":" + lineOf(t) + ": [outbound] needs content_type");
    s.outbound_ = std::move(out);
    return {};
  }

  Status load(const toml::table& root) {
    for (const auto& [key, node] : root) {
      const std::string k(key.str());
      if (k == "system" || k == "description") {
        auto v = node.value<std::string>();
        if (!v) return fail(at(node, k + " must be a string"));
        (k == "system" ? s.system_ : s.description_) = *v;
      } else if (k == "max_bytes") {
        auto v = node.value<std::int64_t>();
        if (!v || *v < 1024 || static_cast<std::uint64_t>(*v) > kMaxInputCeiling) {
          return fail(at(node, "max_bytes must be an integer from 1024 to " + std::to_string(kMaxInputCeiling)));
        }
        s.max_bytes_ = static_cast<std::size_t>(*v);
      } else if (k == "inbound") {
        const toml::array* arr = node.as_array();
        if (arr == nullptr || !arr->is_array_of_tables()) return fail(at(node, "inbound must be written [[inbound]]"));
        for (const auto& el : *arr) {
          if (auto st = inbound(*el.as_table()); !st) return st;
        }
      } else if (k == "outbound") {
        const toml::table* t = node.as_table();
        if (t == nullptr) return fail(at(node, "outbound must be written [outbound]"));
        if (auto st = outbound(*t); !st) return st;
      } else {
        return fail(at(node, "unknown key '" + k + "' (known: system, description, max_bytes, inbound, outbound)"));
      }
    }
    if (s.system_.empty()) return fail(file + ": system is required");
    if (s.inbound_.empty() && !s.outbound_) return fail(file + ": declare [[inbound]], [outbound] or both");
    return {};
  }
};

Result<std::shared_ptr<const SystemMappings>> SystemMappings::load(const std::string& dir, const MappingSchemas& schemas) {
  const fs::path manifest = fs::path(dir) / kManifestName;
  std::error_code ec;
  if (!fs::is_regular_file(manifest, ec)) {
    return fail(manifest.string() + ": missing; a system folder needs a manifest naming its wire formats (see mappings/README.md)");
  }
  if (fs::file_size(manifest, ec) > kMaxManifestBytes) return fail(manifest.string() + ": larger than 64 KiB");
  bool ok = false;
  const std::string text = readAll(manifest, ok);
  if (!ok) return fail(manifest.string() + ": cannot open for reading");

  std::shared_ptr<SystemMappings> s(new SystemMappings());
  s->manifest_file_ = manifest.string();
  toml::table root;
  try {
    root = toml::parse(text, manifest.string());
  } catch (const toml::parse_error& e) {
    return fail(manifest.string() + ":" + std::to_string(e.source().begin.line) + ": " + std::string(e.description()));
  }
  SystemManifestLoader loader{*s, manifest.string()};
  if (auto st = loader.load(root); !st) return st.error();

  auto set = MappingSet::load(dir, schemas);
  if (!set) return set.error();
  s->set_ = std::move(*set);
  if (s->set_->system() != s->system_) {
    return fail(manifest.string() + ": system \"" + s->system_ + "\" differs from \"" + s->set_->system() +
                "\" named by the mapping files");
  }
  bool has_in = false, has_out = false;
  for (const auto& m : s->set_->mappings()) (m->direction() == Direction::Inbound ? has_in : has_out) = true;
  if (has_in && s->inbound_.empty()) return fail(manifest.string() + ": there are inbound mapping files but no [[inbound]] format");
  if (has_out && !s->outbound_) return fail(manifest.string() + ": there are outbound mapping files but no [outbound] format");
  if (!has_in && !s->inbound_.empty()) return fail(manifest.string() + ": [[inbound]] is declared but there is no inbound mapping file");
  if (!has_out && s->outbound_) return fail(manifest.string() + ": [outbound] is declared but there is no outbound mapping file");
  s->digest_ = toHex(sha256(toHex(sha256(text)) + s->set_->digest()));
  return std::shared_ptr<const SystemMappings>(std::move(s));
}

const InboundFormat* SystemMappings::pickInbound(std::string_view bytes, std::string_view content_type,
                                                 std::string& why) const {
  if (inbound_.empty()) {
    why = "system " + system_ + " declares no inbound format in " + manifest_file_;
    return nullptr;
  }
  const std::string media = mediaType(content_type);
  if (!media.empty()) {
    for (const auto& in : inbound_) {
      if (std::find(in.content_types.begin(), in.content_types.end(), media) != in.content_types.end()) return &in;
    }
    std::string known;
    for (const auto& in : inbound_) {
      for (const auto& ct : in.content_types) known += (known.empty() ? "" : ", ") + ct;
    }
    why = "system " + system_ + ": content type " + media.substr(0, 80) + " is not one it sends (" + known + "; see " +
          manifest_file_ + ")";
    return nullptr;
  }
  if (inbound_.size() == 1) return &inbound_.front();
  // No content type (a watched folder, say): the first significant byte.
  std::size_t i = bytes.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
  while (i < bytes.size() && (bytes[i] == ' ' || bytes[i] == '\t' || bytes[i] == '\r' || bytes[i] == '\n')) ++i;
  const char c = i < bytes.size() ? bytes[i] : '\0';
  auto find = [&](std::initializer_list<WireFormat> fs) -> const InboundFormat* {
    for (WireFormat f : fs) {
      for (const auto& in : inbound_) {
        if (in.format == f) return &in;
      }
    }
    return nullptr;
  };
  const InboundFormat* in = nullptr;
  if (c == 'M') in = find({WireFormat::Hl7v2Er7, WireFormat::Csv});
  else if (c == '{') in = find({WireFormat::FhirJson});
  else if (c == '<') in = find({WireFormat::FhirXml, WireFormat::Xml});
  else in = find({WireFormat::Csv});
  if (in == nullptr) why = "system " + system_ + ": no content type given and the input does not look like any format it sends";
  return in;
}

Result<xml::DocPtr> SystemMappings::decode(std::string_view bytes, std::string_view content_type) const {
  std::string why;
  const InboundFormat* in = pickInbound(bytes, content_type, why);
  if (in == nullptr) return fail(why);
  const std::string name = system_ + " " + std::string(toString(in->format)) + " input";
  if (bytes.size() > max_bytes_) {
    return fail(name + ": " + std::to_string(bytes.size()) + " bytes is over the limit of " + std::to_string(max_bytes_));
  }
  switch (in->format) {
    case WireFormat::Xml: {
      xml::ParseLimits limits;
      limits.max_bytes = max_bytes_;
      return xml::parse(bytes, name, limits);
    }
    case WireFormat::FhirJson: {
      codec::fhir::Limits limits;
      limits.max_bytes = max_bytes_;
      return codec::fhir::jsonToXml(bytes, name, limits);
    }
    case WireFormat::FhirXml: {
      codec::fhir::Limits limits;
      limits.max_bytes = max_bytes_;
      return codec::fhir::parseFhirXml(bytes, name, limits);
    }
    case WireFormat::Hl7v2Er7: {
      codec::hl7v2::ParseLimits limits;
      limits.max_bytes = max_bytes_;
      auto msg = codec::hl7v2::parse(bytes, limits);
      if (!msg) return fail(name + ": " + msg.error().message);
      auto doc = codec::hl7v2::toXml(*msg);
      if (!doc) return fail(name + ": " + doc.error().message);
      return doc;
    }
    case WireFormat::Csv: {
      codec::csv::ReadOptions options;
      options.delimiter = in->csv_delimiter;
      options.max_bytes = max_bytes_;
      auto table = codec::csv::parse(bytes, options);
      if (!table) return fail(name + ": " + table.error().message);
      // One record per file: a multi-row export is split into one file per
      // row before it reaches the mapping (mappings/README.md).
      if (table->rows.size() != 1) {
        return fail(name + ": has " + std::to_string(table->rows.size()) +
                    " data rows; one record per file is expected (header plus one row)");
      }
      auto doc = codec::csv::toXml(*table);
      if (!doc) return fail(name + ": " + doc.error().message);
      return doc;
    }
  }
  return fail(name + ": unsupported format");
}

Result<Inbound> SystemMappings::toCanonical(std::string_view bytes, std::string_view content_type) const {
  auto doc = decode(bytes, content_type);
  if (!doc) return doc.error();
  auto mapped = set_->toCanonical(doc->get());
  if (!mapped) return mapped.error();
  auto summary = canonicalSummary(mapped->document.get());
  if (!summary) return summary.error();
  Inbound in;
  in.record_type = summary->record_type;
  if (summary->nhs_number_valid) in.nhs_number = summary->nhs_number;
  for (auto& id : summary->local_ids) in.local_ids.emplace_back(std::move(id.system), std::move(id.value));
  in.mapping_file = mapped->mapping->file();
  in.mapping_digest = mapped->mapping->digest();
  in.canonical = std::move(mapped->document);
  return in;
}

namespace {

// Outbound FHIR must be R4 as the element table describes it: anything the
// codec converts by a generic rule is a mapping bug, not something to send.
Status refuseWarnings(const codec::fhir::Warnings& warnings, const std::string& mapping_file) {
  if (warnings.empty()) return {};
  std::string msg = mapping_file + ": the rendered FHIR resource is not valid R4:";
  std::size_t shown = 0;
  for (const auto& w : warnings) {
    if (++shown > 5) {
      msg += "\n  (" + std::to_string(warnings.size() - 5) + " more)";
      break;
    }
    msg += "\n  " + w.location + ": " + w.message;
  }
  return fail(msg);
}

}  // namespace

Result<Outbound> SystemMappings::fromCanonical(const _xmlDoc* canonical, std::string_view record_type) const {
  if (!outbound_) return fail("system " + system_ + " declares no outbound format in " + manifest_file_);
  auto mapped = set_->fromCanonical(canonical, record_type);
  if (!mapped) return mapped.error();
  const std::string& file = mapped->mapping->file();
  Outbound out;
  out.content_type = outbound_->content_type;
  out.mapping_file = file;
  out.mapping_digest = mapped->mapping->digest();
  const _xmlDoc* doc = mapped->document.get();
  switch (outbound_->format) {
    case WireFormat::Xml:
      out.bytes = xml::serialize(doc, true, outbound_->pretty);
      break;
    case WireFormat::FhirJson:
    case WireFormat::FhirXml: {
      codec::fhir::Warnings warnings;
      codec::fhir::JsonOptions options;
      options.pretty = outbound_->pretty;
      auto json = codec::fhir::xmlToJson(doc, file, options, &warnings);
      if (!json) return fail(file + ": the rendered FHIR resource: " + json.error().message);
      if (auto st = refuseWarnings(warnings, file); !st) return st.error();
      out.bytes = outbound_->format == WireFormat::FhirJson ? std::move(*json) : xml::serialize(doc, true, outbound_->pretty);
      break;
    }
    case WireFormat::Hl7v2Er7: {
      auto msg = codec::hl7v2::fromXml(doc);
      if (!msg) return fail(file + ": the rendered HL7 v2 message: " + msg.error().message);
      out.bytes = codec::hl7v2::write(*msg);
      break;
    }
    case WireFormat::Csv: {
      codec::csv::ReadOptions limits;
      limits.delimiter = outbound_->csv_delimiter;
      auto table = codec::csv::fromXml(doc, limits);
      if (!table) return fail(file + ": the rendered CSV: " + table.error().message);
      codec::csv::WriteOptions options;
      options.delimiter = outbound_->csv_delimiter;
      auto bytes = codec::csv::write(*table, options);
      if (!bytes) return fail(file + ": the rendered CSV: " + bytes.error().message);
      out.bytes = std::move(*bytes);
      break;
    }
  }
  return out;
}

}  // namespace cb::mapping
