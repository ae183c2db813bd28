#pragma once
// Small helpers over libxml2's tree for the mapping component (internal).
// libxml2 takes non-const pointers even for reads; the const_casts here are
// confined to read-only calls.

#include <libxml/tree.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cb::mapping::xmlutil {

/// The mapping-file namespace (mappings/schema/mapping.xsd, code-table.xsd).
inline constexpr std::string_view kMappingNs = "urn:carebridge:mapping:1";

inline std::string_view view(const xmlChar* s) {
  return s == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(s));
}
inline const xmlChar* bad(const std::string& s) { return reinterpret_cast<const xmlChar*>(s.c_str()); }
inline const xmlChar* bad(const char* s) { return reinterpret_cast<const xmlChar*>(s); }

inline bool isElement(const xmlNode* n) { return n != nullptr && n->type == XML_ELEMENT_NODE; }
inline std::string_view localName(const xmlNode* n) { return view(n->name); }
inline std::string_view nsHref(const xmlNode* n) {
  return n->ns != nullptr ? view(n->ns->href) : std::string_view();
}
inline bool is(const xmlNode* n, std::string_view ns, std::string_view local) {
  return isElement(n) && nsHref(n) == ns && localName(n) == local;
}

inline int lineOf(const xmlNode* n) { return static_cast<int>(xmlGetLineNo(const_cast<xmlNode*>(n))); }

/// An attribute without a namespace, or nullopt.
inline std::optional<std::string> attr(const xmlNode* n, const char* name) {
  xmlChar* v = xmlGetNoNsProp(const_cast<xmlNode*>(n), bad(name));
  if (v == nullptr) return std::nullopt;
  std::string out(reinterpret_cast<const char*>(v));
  xmlFree(v);
  return out;
}

/// The text content of a node (all descendant text), as UTF-8.
inline std::string text(const xmlNode* n) {
  xmlChar* v = xmlNodeGetContent(const_cast<xmlNode*>(n));
  if (v == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(v));
  xmlFree(v);
  return out;
}

inline std::vector<xmlNode*> elementChildren(const xmlNode* n) {
  std::vector<xmlNode*> out;
  for (xmlNode* c = n->children; c != nullptr; c = c->next) {
    if (isElement(c)) out.push_back(c);
  }
  return out;
}

inline xmlNode* firstChild(const xmlNode* n, std::string_view ns, std::string_view local) {
  for (xmlNode* c = n->children; c != nullptr; c = c->next) {
    if (is(c, ns, local)) return c;
  }
  return nullptr;
}

/// "{namespace}local" for messages about structure (never about values).
inline std::string qualifiedName(const xmlNode* n) {
  std::string out;
  if (!nsHref(n).empty()) out = "{" + std::string(nsHref(n)) + "}";
  return out + std::string(localName(n));
}

}  // namespace cb::mapping::xmlutil
