// FHIR R4 JSON -> FHIR R4 XML (https://hl7.org/fhir/R4/json.html, https://hl7.org/fhir/R4/xml.html).

#include "codec/fhir/fhir_codec.h"
#include "codec/fhir/fhir_elements.h"
#include "codec/fhir/fhir_internal.h"
#include "codec/fhir/json_tree.h"

#include <libxml/tree.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace cb::codec::fhir {
namespace {

using detail::xmlStr;
using Node = std::uint32_t;

/// One JSON property with its "_name" sibling (json.html#primitive: the id
/// and extensions of a primitive travel in a property named with a leading '_').
struct Property {
  std::string_view name;
  Node value = kNoNode;
  Node extra = kNoNode;
  std::size_t position = 0;
  const PropertyMatch* match = nullptr;
};

class JsonToXmlConverter {
 public:
  JsonToXmlConverter(const JsonTree& tree, std::string_view name, const Limits& limits, Warnings* warnings)
      : tree_(tree), table_(ElementTable::r4()), who_(name), limits_(limits), warnings_(warnings) {}

  Result<xml::DocPtr> run() {
    doc_.reset(xmlNewDoc(xmlStr("1.0")));
    if (!doc_) return fail(who_ + ": out of memory");
    if (!resource(tree_.root(), nullptr, nullptr)) return std::move(*error_);
    return std::move(doc_);
  }

 private:
  // --- errors and warnings -------------------------------------------------

  bool failAt(Node n, const std::string& what) {
    std::string where = n == kNoNode ? std::string() : tree_.pointer(n);
    error_ = fail(who_ + ": " + (where.empty() ? std::string("(root)") : where) + ": " + what);
    return false;
  }

  void warn(Node n, std::string what) {
    if (warnings_ == nullptr) return;
    std::string where = tree_.pointer(n);
    warnings_->push_back({where.empty() ? std::string("(root)") : where, std::move(what)});
  }

  // --- XML building ---------------------------------------------------------

  xmlNodePtr child(xmlNodePtr parent, std::string_view name) {
    const std::string n(name);
    return xmlNewChild(parent, fhir_ns_, xmlStr(n.c_str()), nullptr);
  }

  static void attribute(xmlNodePtr el, const char* name, const std::string& value) {
    xmlNewProp(el, xmlStr(name), xmlStr(value.c_str()));
  }

  // --- resources ------------------------------------------------------------

  // Writes the resource in `obj` as the document root (parent == nullptr) or
  // inside the wrapper element `parent` (xml.html#resource: contained
  // resources and Bundle.entry.resource are wrapped in an element named by
  // their type).
  bool resource(Node obj, xmlNodePtr parent, const TypeRef* expected) {
    if (tree_.kind(obj) != JsonKind::kObject) return failAt(obj, "expected a resource (a JSON object)");
    Node type_node = tree_.member(obj, "resourceType");
    if (type_node == kNoNode) return failAt(obj, "a resource needs a resourceType property");
    if (tree_.kind(type_node) != JsonKind::kString || !detail::isElementName(tree_.text(type_node)) ||
        !std::isupper(static_cast<unsigned char>(tree_.text(type_node).front()))) {
      return failAt(type_node, "resourceType must be a resource type name");
    }
    const std::string_view type = tree_.text(type_node);
    if (expected != nullptr && expected->code != "Resource" && expected->code != type) {
      warn(type_node, "a " + std::string(expected->code) + " was expected here, not a " + std::string(type));
    }
    const std::string type_name(type);
    xmlNodePtr el = nullptr;
    if (parent == nullptr) {
      el = xmlNewDocNode(doc_.get(), nullptr, xmlStr(type_name.c_str()), nullptr);
      xmlDocSetRootElement(doc_.get(), el);
      fhir_ns_ = xmlNewNs(el, xmlStr("http://hl7.org/fhir"), nullptr);
      xmlSetNs(el, fhir_ns_);
    } else {
      el = child(parent, type);
    }
    const StructureDef* s = table_.resource(type);
    if (s == nullptr) {
      warn(type_node, "resource type " + type_name + " is not defined in FHIR R4; converted by generic rules");
      s = table_.structure("DomainResource");
    }
    return structure(*s, obj, el, true);
  }

  // --- structures -----------------------------------------------------------

  // Gathers the properties of `obj`, pairing "name" with "_name".
  bool collect(Node obj, bool is_resource, std::vector<Property>& out) {
    std::unordered_map<std::string_view, std::size_t> index;
    std::size_t position = 0;
    bool type_seen = false;
    for (Node m = tree_.node(obj).first_child; m != kNoNode; m = tree_.node(m).next_sibling, ++position) {
      std::string_view key = tree_.key(m);
      if (key == "resourceType") {
        if (!is_resource) return failAt(m, "resourceType is only allowed on a resource");
        if (type_seen) return failAt(m, "duplicate property");
        type_seen = true;
        continue;
      }
      const bool extra = !key.empty() && key.front() == '_';
      std::string_view name = extra ? key.substr(1) : key;
      if (!detail::isElementName(name)) return failAt(m, "property name is not a FHIR element name");
      auto [it, added] = index.emplace(name, out.size());
      if (added) out.push_back(Property{name, kNoNode, kNoNode, position, nullptr});
      Property& p = out[it->second];
      Node& slot = extra ? p.extra : p.value;
      if (slot != kNoNode) return failAt(m, "duplicate property");
      slot = m;
    }
    return true;
  }

  bool structure(const StructureDef& s, Node obj, xmlNodePtr el, bool is_resource) {
    std::vector<Property> props;
    if (!collect(obj, is_resource, props)) return false;
    std::unordered_set<const ElementDef*> used;
    for (Property& p : props) {
      p.match = s.find(p.name);
      if (p.match == nullptr) continue;
      if (!used.insert(p.match->element).second) {
        return failAt(p.value != kNoNode ? p.value : p.extra,
                      "more than one property for the element " + std::string(p.match->element->name) +
                          (p.match->element->choice ? "[x]" : ""));
      }
    }
    // XML order is definition order (xml.html: "elements SHALL appear in
    // the order defined"); elements R4 does not define follow, in JSON order.
    std::stable_sort(props.begin(), props.end(), [](const Property& a, const Property& b) {
      const std::size_t oa = a.match != nullptr ? a.match->element->order : std::numeric_limits<std::size_t>::max();
      const std::size_t ob = b.match != nullptr ? b.match->element->order : std::numeric_limits<std::size_t>::max();
      return oa != ob ? oa < ob : a.position < b.position;
    });
    for (const Property& p : props) {
      if (p.match != nullptr) {
        if (!known(p, el)) return false;
      } else {
        warn(p.value != kNoNode ? p.value : p.extra,
             "element " + std::string(p.name) + " is not defined in FHIR R4 " + std::string(s.name) +
                 "; converted by generic rules");
        if (!generic(p.name, p.value, p.extra, el)) return false;
      }
    }
    return true;
  }

  // Pairs up value and "_name" items: arrays must be parallel (json.html:
  // "the arrays ... SHALL have the same length", with null where one side
  // has nothing).
  bool items(const Property& p, bool many, std::vector<std::pair<Node, Node>>& out) {
    const bool value_array = p.value != kNoNode && tree_.kind(p.value) == JsonKind::kArray;
    const bool extra_array = p.extra != kNoNode && tree_.kind(p.extra) == JsonKind::kArray;
    if (!many) {
      if (value_array) return failAt(p.value, "an array, but " + std::string(p.name) + " does not repeat");
      if (extra_array) return failAt(p.extra, "an array, but " + std::string(p.name) + " does not repeat");
      out.emplace_back(p.value, p.extra);
      return true;
    }
    if ((p.value != kNoNode && !value_array) || (p.extra != kNoNode && !extra_array)) {
      if (value_array || extra_array) return failAt(p.extra, "_" + std::string(p.name) + " must match the shape of " + std::string(p.name));
      // Lossless: one value where FHIR wants an array of one.
      warn(p.value != kNoNode ? p.value : p.extra, std::string(p.name) + " repeats and should be a JSON array");
      out.emplace_back(p.value, p.extra);
      return true;
    }
    if (value_array && extra_array && tree_.node(p.value).child_count != tree_.node(p.extra).child_count) {
      return failAt(p.extra, "_" + std::string(p.name) + " must have as many items as " + std::string(p.name));
    }
    Node v = value_array ? tree_.node(p.value).first_child : kNoNode;
    Node x = extra_array ? tree_.node(p.extra).first_child : kNoNode;
    while (v != kNoNode || x != kNoNode) {
      out.emplace_back(v, x);
      if (v != kNoNode) v = tree_.node(v).next_sibling;
      if (x != kNoNode) x = tree_.node(x).next_sibling;
    }
    if (out.empty()) warn(p.value != kNoNode ? p.value : p.extra, "empty array");
    return true;
  }

  static bool isNull(const JsonTree& t, Node n) { return n == kNoNode || t.kind(n) == JsonKind::kNull; }

  bool known(const Property& p, xmlNodePtr parent) {
    const ElementDef& e = *p.match->element;
    const TypeRef& t = *p.match->type;
    if (e.xml_attr) {
      // Element.id and Extension.url are XML attributes (xml.html#1.17.1).
      if (p.extra != kNoNode) return failAt(p.extra, "_" + std::string(p.name) + " is not allowed");
      if (tree_.kind(p.value) != JsonKind::kString) return failAt(p.value, "expected a JSON string");
      if (!checkString(p.value)) return false;
      if (tree_.text(p.value).empty()) {
        warn(p.value, "empty string dropped");
        return true;
      }
      const std::string name(p.name);
      attribute(parent, name.c_str(), std::string(tree_.text(p.value)));
      return true;
    }
    std::vector<std::pair<Node, Node>> list;
    if (!items(p, e.many, list)) return false;
    for (auto [v, x] : list) {
      if (t.kind == TypeKind::kPrimitive) {
        if (!primitive(t, p.name, v, x, parent)) return false;
        continue;
      }
      if (x != kNoNode) return failAt(x, "_" + std::string(p.name) + " is only allowed for primitive types");
      if (isNull(tree_, v)) return failAt(v, "null is only allowed in arrays of primitives");
      switch (t.kind) {
        case TypeKind::kComplex: {
          if (tree_.kind(v) != JsonKind::kObject) return failAt(v, "expected a JSON object (" + std::string(t.code) + ")");
          xmlNodePtr el = child(parent, p.name);
          if (!structure(*t.structure, v, el, false)) return false;
          dropIfEmpty(el, v);
          break;
        }
        case TypeKind::kResource:
          if (!resource(v, child(parent, p.name), &t)) return false;
          break;
        case TypeKind::kXhtml:
          if (!xhtml(v, parent)) return false;
          break;
        case TypeKind::kPrimitive:
          break;
      }
    }
    return true;
  }

  // json.html: objects and arrays are never empty, and an XML element with
  // neither value nor children is not FHIR either. Dropping one loses
  // nothing; it happens bottom-up, so an object holding only empty objects
  // goes too.
  void dropIfEmpty(xmlNodePtr el, Node where) {
    if (el->properties != nullptr || el->children != nullptr) return;
    warn(where, "empty element dropped");
    xmlUnlinkNode(el);
    xmlFreeNode(el);
  }

  bool checkString(Node n) {
    if (!detail::isXmlText(tree_.text(n))) {
      return failAt(n, "the string contains control characters that XML cannot carry");
    }
    return true;
  }

  // A primitive: <name value="..." id="..."><extension .../></name>
  // (xml.html#1.17.1, json.html#primitive).
  bool primitive(const TypeRef& t, std::string_view name, Node v, Node x, xmlNodePtr parent) {
    if (isNull(tree_, v) && isNull(tree_, x)) {
      return failAt(v != kNoNode ? v : x, "null for both " + std::string(name) + " and _" + std::string(name));
    }
    std::optional<std::string> value;
    if (!isNull(tree_, v)) {
      const JsonKind k = tree_.kind(v);
      switch (t.json) {
        case JsonForm::kBoolean:
          if (k != JsonKind::kTrue && k != JsonKind::kFalse) return failAt(v, "expected true or false (FHIR boolean)");
          value = k == JsonKind::kTrue ? "true" : "false";
          break;
        case JsonForm::kNumber:
          if (k != JsonKind::kNumber) return failAt(v, "expected a JSON number (FHIR " + std::string(t.code) + ")");
          if (auto problem = detail::numberProblem(tree_.text(v), t.code, limits_)) return failAt(v, *problem);
          value = std::string(tree_.text(v));  // the lexical form, never via double
          break;
        case JsonForm::kString:
          if (k != JsonKind::kString) return failAt(v, "expected a JSON string (FHIR " + std::string(t.code) + ")");
          if (!checkString(v)) return false;
          value = std::string(tree_.text(v));
          break;
      }
      if (value->empty()) {
        // json.html: "string property values can never be empty"; nothing is lost.
        warn(v, "empty string dropped");
        value.reset();
        if (isNull(tree_, x)) return true;
      }
    }
    xmlNodePtr el = child(parent, name);
    if (!isNull(tree_, x) && !primitiveExtra(x, el)) return false;
    if (value) attribute(el, "value", *value);
    dropIfEmpty(el, isNull(tree_, x) ? v : x);
    return true;
  }

  // The "_name" object: id and extension only (json.html#primitive).
  bool primitiveExtra(Node x, xmlNodePtr el) {
    if (tree_.kind(x) != JsonKind::kObject) return failAt(x, "expected an object with id and/or extension");
    const StructureDef* ext = table_.structure("Extension");
    for (Node m = tree_.node(x).first_child; m != kNoNode; m = tree_.node(m).next_sibling) {
      const std::string_view key = tree_.key(m);
      if (key == "id") {
        if (tree_.kind(m) != JsonKind::kString) return failAt(m, "expected a JSON string");
        if (!checkString(m)) return false;
        attribute(el, "id", std::string(tree_.text(m)));
      } else if (key == "extension") {
        if (!extensions(m, el, *ext, "extension")) return false;
      } else {
        return failAt(m, "only id and extension are allowed on a primitive's _ property");
      }
    }
    return true;
  }

  bool extensions(Node list, xmlNodePtr parent, const StructureDef& ext, std::string_view name) {
    if (tree_.kind(list) != JsonKind::kArray) return failAt(list, "expected an array of extensions");
    for (Node e = tree_.node(list).first_child; e != kNoNode; e = tree_.node(e).next_sibling) {
      if (tree_.kind(e) != JsonKind::kObject) return failAt(e, "expected an extension object");
      xmlNodePtr el = child(parent, name);
      if (!structure(ext, e, el, false)) return false;
      dropIfEmpty(el, e);
    }
    return true;
  }

  // Narrative.div: JSON carries the XHTML as a string (json.html#xhtml); XML
  // carries the element itself in the XHTML namespace.
  bool xhtml(Node v, xmlNodePtr parent) {
    if (tree_.kind(v) != JsonKind::kString) return failAt(v, "expected the XHTML div as a JSON string");
    if (auto problem = detail::encodingProblem(tree_.text(v))) return failAt(v, "narrative div: " + *problem);
    xml::ParseLimits pl;
    pl.max_bytes = limits_.max_string_bytes;
    pl.max_depth = static_cast<int>(std::min<std::size_t>(limits_.max_depth, 1u << 20));
    auto div = xml::parse(tree_.text(v), "narrative div", pl);
    if (!div) return failAt(v, "not well-formed XHTML (" + div.error().message + ")");
    xmlNodePtr root = xmlDocGetRootElement(div->get());
    if (root == nullptr || detail::view(root->name) != "div") return failAt(v, "the narrative must be a single div element");
    if (root->ns == nullptr) {
      // A common sender slip; nothing is lost by putting the div where FHIR requires it.
      warn(v, "narrative div without the XHTML namespace; namespace added");
      xmlNsPtr ns = xmlNewNs(root, xmlStr("http://www.w3.org/1999/xhtml"), nullptr);
      setNamespace(root, ns);
    } else if (detail::view(root->ns->href) != kXhtmlNamespace) {
      return failAt(v, "the narrative div must be in the XHTML namespace");
    }
    xmlNodePtr copy = xmlDocCopyNode(root, doc_.get(), 1);
    if (copy == nullptr) return failAt(v, "out of memory copying the narrative");
    xmlAddChild(parent, copy);
    return true;
  }

  // Puts un-namespaced elements of a subtree in `ns`, without recursion (the
  // div's depth is bounded by the parse limits, but stay iterative anyway).
  static void setNamespace(xmlNodePtr root, xmlNsPtr ns) {
    xmlNodePtr n = root;
    while (n != nullptr) {
      if (n->type == XML_ELEMENT_NODE && n->ns == nullptr) xmlSetNs(n, ns);
      if (n->children != nullptr && n->type == XML_ELEMENT_NODE) {
        n = n->children;
        continue;
      }
      while (n != nullptr && n != root && n->next == nullptr) n = n->parent;
      if (n == nullptr || n == root) break;
      n = n->next;
    }
  }

  // --- generic rules for elements R4 does not define ---------------------------
  //  - property order is kept;
  //  - a string, number or boolean becomes <name value="lexical form"/>, with
  //    "_name" giving its id and extensions;
  //  - an object with resourceType becomes a wrapped resource;
  //  - any other object becomes an element: its "id" an attribute (Element.id),
  //    "extension"/"modifierExtension" converted as Extension, the rest by
  //    these rules;
  //  - an array repeats the element.
  bool generic(std::string_view name, Node v, Node x, xmlNodePtr parent) {
    const bool value_array = v != kNoNode && tree_.kind(v) == JsonKind::kArray;
    const bool extra_array = x != kNoNode && tree_.kind(x) == JsonKind::kArray;
    if (value_array || extra_array) {
      Property p{name, v, x, 0, nullptr};
      std::vector<std::pair<Node, Node>> list;
      if (!items(p, true, list)) return false;
      // All objects or all primitives: a mixture has no FHIR meaning.
      bool objects = false;
      bool scalars = false;
      for (auto [iv, ix] : list) {
        if (isNull(tree_, iv)) continue;
        if (tree_.kind(iv) == JsonKind::kArray) return failAt(iv, "nested arrays are not FHIR");
        (tree_.kind(iv) == JsonKind::kObject ? objects : scalars) = true;
      }
      if (objects && scalars) return failAt(v, "an array mixing objects and primitive values");
      for (auto [iv, ix] : list) {
        if (!genericItem(name, iv, ix, parent)) return false;
      }
      return true;
    }
    return genericItem(name, v, x, parent);
  }

  bool genericItem(std::string_view name, Node v, Node x, xmlNodePtr parent) {
    if (!isNull(tree_, v) && tree_.kind(v) == JsonKind::kObject) {
      if (x != kNoNode) return failAt(x, "_" + std::string(name) + " is only allowed for primitive values");
      if (tree_.member(v, "resourceType") != kNoNode) return resource(v, child(parent, name), nullptr);
      xmlNodePtr el = child(parent, name);
      std::vector<Property> props;
      if (!collect(v, false, props)) return false;
      const StructureDef* ext = table_.structure("Extension");
      for (const Property& p : props) {
        if (p.name == "id" && p.extra == kNoNode && tree_.kind(p.value) == JsonKind::kString) {
          if (!checkString(p.value)) return false;
          attribute(el, "id", std::string(tree_.text(p.value)));
        } else if ((p.name == "extension" || p.name == "modifierExtension") && p.extra == kNoNode) {
          if (!extensions(p.value, el, *ext, p.name)) return false;
        } else if (!generic(p.name, p.value, p.extra, el)) {
          return false;
        }
      }
      dropIfEmpty(el, v);
      return true;
    }
    TypeRef as_text;
    as_text.code = "string";
    if (!isNull(tree_, v)) {
      switch (tree_.kind(v)) {
        case JsonKind::kNumber: as_text.json = JsonForm::kNumber; as_text.code = "decimal"; break;
        case JsonKind::kTrue:
        case JsonKind::kFalse: as_text.json = JsonForm::kBoolean; as_text.code = "boolean"; break;
        default: break;
      }
    }
    return primitive(as_text, name, v, x, parent);
  }

  const JsonTree& tree_;
  const ElementTable& table_;
  std::string who_;
  const Limits& limits_;
  Warnings* warnings_;
  xml::DocPtr doc_;
  xmlNsPtr fhir_ns_ = nullptr;
  std::optional<Error> error_;
};

}  // namespace

Result<xml::DocPtr> jsonToXml(std::string_view json, std::string_view name_for_errors, const Limits& limits,
                              Warnings* warnings) {
  auto tree = JsonTree::parse(json, name_for_errors, limits);
  if (!tree) return std::move(tree).error();
  if (tree->kind(tree->root()) != JsonKind::kObject) {
    return fail(std::string(name_for_errors) + ": a FHIR resource must be a JSON object");
  }
  JsonToXmlConverter converter(*tree, name_for_errors, limits, warnings);
  return converter.run();
}

}  // namespace cb::codec::fhir
