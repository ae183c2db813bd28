#include "fhir_test_support.h"

#include "codec/fhir/fhir_codec.h"
#include "xml/safe_xml.h"

#include <libxml/tree.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

namespace cb::codec::fhir::test {
namespace {

std::string_view view(const xmlChar* s) {
  return s == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(s));
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string canonical(const xmlNode* n, Order order) {
  const std::string ns = n->ns != nullptr ? std::string(view(n->ns->href)) : std::string();
  std::string out = "<{" + ns + "}" + std::string(view(n->name));
  std::vector<std::string> attributes;
  for (const xmlAttr* a = n->properties; a != nullptr; a = a->next) {
    std::string value;
    for (const xmlNode* c = a->children; c != nullptr; c = c->next) value += std::string(view(c->content));
    const std::string ans = a->ns != nullptr ? "{" + std::string(view(a->ns->href)) + "}" : std::string();
    attributes.push_back(ans + std::string(view(a->name)) + "=\"" + value + "\"");
  }
  std::sort(attributes.begin(), attributes.end());
  for (const auto& a : attributes) out += " " + a;
  out += ">";
  // Children as runs of same-named elements (text ends a run).
  std::vector<std::pair<std::string, std::string>> runs;  // (name, canonical text)
  for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
    if (c->type == XML_ELEMENT_NODE) {
      const std::string name(view(c->name));
      if (runs.empty() || runs.back().first != name) runs.emplace_back(name, std::string());
      runs.back().second += canonical(c, order);
    } else if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
      std::string_view text = view(c->content);
      if (std::all_of(text.begin(), text.end(), isSpace)) continue;
      runs.emplace_back("#text", std::string(text));
    }
  }
  if (order == Order::kGroupsByName) std::stable_sort(runs.begin(), runs.end());
  for (const auto& run : runs) out += run.second;
  out += "</" + std::string(view(n->name)) + ">";
  return out;
}

std::string firstDifference(const std::string& a, const std::string& b) {
  std::size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  const std::size_t from = i > 80 ? i - 80 : 0;
  return "differ at offset " + std::to_string(i) + ":\n  got:      ..." + a.substr(from, 200) +
         "\n  expected: ..." + b.substr(from, 200);
}

std::optional<std::string> divDifference(std::string_view a, std::string_view b) {
  if (a == b) return std::nullopt;
  auto da = xml::parse(a, "div a");
  auto db = xml::parse(b, "div b");
  if (!da || !db) return std::string("narrative div does not parse");
  return xmlDifference(da->get(), db->get());
}

std::optional<std::string> compare(const JsonTree& a, std::uint32_t an, const JsonTree& b, std::uint32_t bn,
                                   const std::string& path) {
  const JsonKind ka = a.kind(an);
  const JsonKind kb = b.kind(bn);
  if (ka != kb) return path + ": different JSON kinds";
  switch (ka) {
    case JsonKind::kNull:
    case JsonKind::kTrue:
    case JsonKind::kFalse:
      return std::nullopt;
    case JsonKind::kNumber:
      if (a.text(an) != b.text(bn)) {
        return path + ": number " + std::string(a.text(an)) + " != " + std::string(b.text(bn));
      }
      return std::nullopt;
    case JsonKind::kString:
      if (a.text(an) == b.text(bn)) return std::nullopt;
      if (path.size() >= 4 && path.substr(path.size() - 4) == "/div") {
        if (auto d = divDifference(a.text(an), b.text(bn))) return path + ": " + *d;
        return std::nullopt;
      }
      return path + ": \"" + std::string(a.text(an)) + "\" != \"" + std::string(b.text(bn)) + "\"";
    case JsonKind::kArray: {
      if (a.node(an).child_count != b.node(bn).child_count) {
        return path + ": array lengths " + std::to_string(a.node(an).child_count) + " != " +
               std::to_string(b.node(bn).child_count);
      }
      std::uint32_t ca = a.node(an).first_child;
      std::uint32_t cb = b.node(bn).first_child;
      for (std::size_t i = 0; ca != kNoNode; ++i, ca = a.node(ca).next_sibling, cb = b.node(cb).next_sibling) {
        if (auto d = compare(a, ca, b, cb, path + "/" + std::to_string(i))) return d;
      }
      return std::nullopt;
    }
    case JsonKind::kObject: {
      std::map<std::string_view, std::uint32_t> ma;
      std::map<std::string_view, std::uint32_t> mb;
      for (std::uint32_t c = a.node(an).first_child; c != kNoNode; c = a.node(c).next_sibling) ma.emplace(a.key(c), c);
      for (std::uint32_t c = b.node(bn).first_child; c != kNoNode; c = b.node(c).next_sibling) mb.emplace(b.key(c), c);
      for (const auto& [k, c] : ma) {
        if (!mb.count(k)) return path + "/" + std::string(k) + ": only in the first";
      }
      for (const auto& [k, c] : mb) {
        if (!ma.count(k)) return path + "/" + std::string(k) + ": only in the second";
      }
      for (const auto& [k, c] : ma) {
        if (auto d = compare(a, c, b, mb[k], path + "/" + std::string(k))) return d;
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace

std::filesystem::path referenceDir() {
  if (const char* env = std::getenv("CB_REFERENCE_DIR"); env != nullptr && *env != '\0') return env;
  return CB_DEFAULT_REFERENCE_DIR;
}

std::vector<std::filesystem::path> filesWithExtension(const std::filesystem::path& dir, const std::string& extension) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == extension) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<std::string> jsonDifference(const JsonTree& a, const JsonTree& b) {
  return compare(a, a.root(), b, b.root(), "");
}

std::string canonicalXml(const xmlNode* root, Order order) { return canonical(root, order); }

std::optional<std::string> xmlDifference(const xmlDoc* a, const xmlDoc* b, Order order) {
  const std::string ca = canonicalXml(xmlDocGetRootElement(const_cast<xmlDoc*>(a)), order);
  const std::string cb = canonicalXml(xmlDocGetRootElement(const_cast<xmlDoc*>(b)), order);
  if (ca == cb) return std::nullopt;
  return firstDifference(ca, cb);
}

}  // namespace cb::codec::fhir::test
