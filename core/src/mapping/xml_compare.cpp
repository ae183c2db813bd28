#include "mapping/xml_compare.h"

#include "mapping/transforms.h"
#include "mapping/xml_util.h"

#include <map>
#include <utility>
#include <vector>

namespace cb::mapping {
namespace {

using namespace xmlutil;

std::string name(const xmlNode* n) { return qualifiedName(n); }

std::string directText(const xmlNode* n) {
  std::string out;
  for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
    if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) out += view(c->content);
  }
  return trim(out);
}

std::map<std::pair<std::string, std::string>, std::string> attributes(const xmlNode* n) {
  std::map<std::pair<std::string, std::string>, std::string> out;
  for (const xmlAttr* a = n->properties; a != nullptr; a = a->next) {
    const std::string ns = a->ns != nullptr ? std::string(view(a->ns->href)) : std::string();
    xmlChar* v = xmlNodeListGetString(n->doc, a->children, 1);
    out[{ns, std::string(view(a->name))}] = v != nullptr ? reinterpret_cast<const char*>(v) : "";
    xmlFree(v);
  }
  return out;
}

std::string attrName(const std::pair<std::string, std::string>& key) {
  return "@" + (key.first.empty() ? std::string() : "{" + key.first + "}") + key.second;
}

// "/Record/Person/Name[2]": position among siblings of the same name.
std::string step(const xmlNode* n) {
  int index = 1;
  for (const xmlNode* s = n->prev; s != nullptr; s = s->prev) {
    if (isElement(s) && localName(s) == localName(n) && nsHref(s) == nsHref(n)) ++index;
  }
  return "/" + std::string(localName(n)) + "[" + std::to_string(index) + "]";
}

std::optional<std::string> compare(const xmlNode* e, const xmlNode* a, const std::string& parent_path) {
  const std::string path = parent_path + step(e);
  if (localName(e) != localName(a) || nsHref(e) != nsHref(a)) {
    return path + ": expected element " + name(e) + ", got " + name(a);
  }
  const auto ea = attributes(e);
  const auto aa = attributes(a);
  for (const auto& [k, v] : ea) {
    auto it = aa.find(k);
    if (it == aa.end()) return path + ": attribute " + attrName(k) + " is missing (expected \"" + v + "\")";
    if (it->second != v) {
      return path + ": attribute " + attrName(k) + " differs: expected \"" + v + "\", got \"" + it->second + "\"";
    }
  }
  for (const auto& [k, v] : aa) {
    if (ea.find(k) == ea.end()) return path + ": unexpected attribute " + attrName(k) + "=\"" + v + "\"";
  }
  const std::string et = directText(e), at = directText(a);
  if (et != at) return path + ": text differs: expected \"" + et + "\", got \"" + at + "\"";
  const auto ec = elementChildren(e), ac = elementChildren(a);
  for (std::size_t i = 0; i < ec.size() && i < ac.size(); ++i) {
    if (auto d = compare(ec[i], ac[i], path)) return d;
  }
  if (ec.size() > ac.size()) return path + step(ec[ac.size()]) + ": missing element " + name(ec[ac.size()]);
  if (ac.size() > ec.size()) return path + step(ac[ec.size()]) + ": unexpected element " + name(ac[ec.size()]);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> firstDifference(const _xmlDoc* expected, const _xmlDoc* actual) {
  const xmlNode* e = expected != nullptr ? xmlDocGetRootElement(const_cast<xmlDocPtr>(expected)) : nullptr;
  const xmlNode* a = actual != nullptr ? xmlDocGetRootElement(const_cast<xmlDocPtr>(actual)) : nullptr;
  if (e == nullptr || a == nullptr) {
    if (e == a) return std::nullopt;
    return std::string(e == nullptr ? "expected document is empty" : "actual document is empty");
  }
  return compare(e, a, "");
}

}  // namespace cb::mapping
