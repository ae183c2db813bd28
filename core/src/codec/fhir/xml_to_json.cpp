// FHIR R4 XML -> FHIR R4 JSON (https://hl7.org/fhir/R4/xml.html, https://hl7.org/fhir/R4/json.html).

#include "codec/fhir/fhir_codec.h"
#include "codec/fhir/fhir_elements.h"
#include "codec/fhir/fhir_internal.h"
#include "codec/fhir/json_tree.h"

#include <libxml/tree.h>
#include <libxml/xmlsave.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace cb::codec::fhir {
namespace {

using detail::lineOf;
using detail::view;

constexpr std::string_view kXsiNamespace = "http://www.w3.org/2001/XMLSchema-instance";

/// The children of one element sharing a name: one JSON property.
struct Group {
  std::string_view name;
  const PropertyMatch* match = nullptr;
  std::vector<const xmlNode*> nodes;
};

/// A primitive element's parts (xml.html#1.17.1).
struct PrimitiveItem {
  std::optional<std::string> value;
  std::optional<std::string> id;
  std::vector<const xmlNode*> extensions;
  bool hasExtra() const { return id.has_value() || !extensions.empty(); }
};

class XmlToJsonConverter {
 public:
  XmlToJsonConverter(std::string_view name, const JsonOptions& options, Warnings* warnings)
      : table_(ElementTable::r4()), who_(name), limits_(options.limits), warnings_(warnings),
        out_(options.pretty) {
    const StructureDef* ext = table_.structure("Extension");
    extension_ = ext != nullptr ? ext->find("extension") : nullptr;
  }

  Result<std::string> run(const xmlDoc* doc) {
    if (doc == nullptr) return fail(who_ + ": no document");
    const xmlNode* root = xmlDocGetRootElement(const_cast<xmlDoc*>(doc));
    if (root == nullptr) return fail(who_ + ": no root element");
    if (!detail::inNamespace(root, kFhirNamespace)) {
      return fail(who_ + ":" + std::to_string(xmlGetLineNo(root)) + ": root element is not in the FHIR namespace");
    }
    if (!resource(root, 1)) return std::move(*error_);
    return out_.take();
  }

 private:
  bool failAt(const xmlNode* n, const std::string& what) {
    error_ = fail(who_ + ":" + std::to_string(xmlGetLineNo(n)) + ": " + what);
    return false;
  }

  void warn(const xmlNode* n, std::string what) {
    if (warnings_ != nullptr) warnings_->push_back({lineOf(n), std::move(what)});
  }

  bool checkDepth(const xmlNode* n, std::size_t depth) {
    if (depth > limits_.max_depth) {
      return failAt(n, "refused: elements nested deeper than " + std::to_string(limits_.max_depth));
    }
    return true;
  }

  // --- resources --------------------------------------------------------------

  bool resource(const xmlNode* el, std::size_t depth) {
    if (!checkDepth(el, depth)) return false;
    const std::string_view type = view(el->name);
    if (type.empty() || !std::isupper(static_cast<unsigned char>(type.front())) || !detail::isElementName(type)) {
      return failAt(el, "expected a FHIR resource element");
    }
    const StructureDef* s = table_.resource(type);
    if (s == nullptr) {
      warn(el, "resource type " + std::string(type) + " is not defined in FHIR R4; converted by generic rules");
      s = table_.structure("DomainResource");
    }
    out_.beginObject();
    out_.key("resourceType");
    out_.string(type);
    if (!body(s, el, true, depth)) return false;
    out_.endObject();
    return true;
  }

  // --- element bodies -----------------------------------------------------------

  // Writes the members of the object for `el`: its attributes first (id,
  // url), then its child elements grouped by name in document order. `s` is
  // null for an element R4 does not define (generic rules).
  bool body(const StructureDef* s, const xmlNode* el, bool is_resource, std::size_t depth) {
    std::vector<std::pair<std::string_view, std::string>> attributes;
    for (const xmlAttr* a = el->properties; a != nullptr; a = a->next) {
      const std::string_view name = view(a->name);
      if (a->ns != nullptr) {
        if (view(a->ns->href) == kXsiNamespace) {
          // xsi:schemaLocation and friends point at schemas; they carry no FHIR content.
          warn(el, "XML Schema instance attribute " + std::string(name) + " dropped");
          continue;
        }
        return failAt(el, "unexpected namespaced attribute " + std::string(name));
      }
      bool allowed = false;
      if (!is_resource) {
        if (s != nullptr) {
          const PropertyMatch* m = s->find(name);
          allowed = m != nullptr && m->element->xml_attr;
        } else {
          allowed = name == "id" || name == "url";
        }
      }
      if (!allowed) return failAt(el, "unexpected attribute " + std::string(name));
      attributes.emplace_back(name, detail::attributeValue(a));
    }

    std::unordered_set<std::string_view> attribute_names;
    for (const auto& a : attributes) attribute_names.insert(a.first);
    std::vector<Group> groups;
    std::unordered_map<std::string_view, std::size_t> index;
    std::unordered_map<const ElementDef*, std::string_view> choices;  // choice element -> the variant seen
    std::size_t last_order = 0;
    for (const xmlNode* c = el->children; c != nullptr; c = c->next) {
      if (c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE) continue;
      if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
        const std::string_view text = view(c->content);
        if (text.find_first_not_of(" \t\r\n") != std::string_view::npos) {
          return failAt(c, "text content is not allowed here; FHIR values go in value attributes");
        }
        continue;
      }
      if (c->type != XML_ELEMENT_NODE) return failAt(c, "unexpected XML node");
      const std::string_view name = view(c->name);
      // Names JSON could not carry back (json.html: property names are the
      // element names; "_" starts a primitive's extension property).
      if (!detail::isElementName(name) || name == "resourceType") {
        return failAt(c, "element name is not a FHIR element name");
      }
      if (attribute_names.count(name) != 0) {
        return failAt(c, "both an attribute and an element named " + std::string(name));
      }
      const PropertyMatch* match = nullptr;
      if (s != nullptr) match = s->find(name);
      else if ((name == "extension" || name == "modifierExtension")) match = extension_;
      if (detail::inNamespace(c, kXhtmlNamespace)) {
        if (match == nullptr || match->type->kind != TypeKind::kXhtml) {
          return failAt(c, "an XHTML element is only allowed as the narrative div");
        }
      } else if (!detail::inNamespace(c, kFhirNamespace)) {
        return failAt(c, "element is not in the FHIR namespace");
      } else if (match != nullptr && match->type->kind == TypeKind::kXhtml) {
        return failAt(c, "the narrative div must be in the XHTML namespace");
      }
      auto [it, added] = index.emplace(name, groups.size());
      if (added) {
        // Two variants of one choice element (valueString and valueQuantity) cannot both be there.
        if (match != nullptr && match->element->choice && !choices.emplace(match->element, name).second) {
          return failAt(c, "more than one type for the choice element " + std::string(match->element->name) + "[x]");
        }
        groups.push_back({name, match, {}});
        if (match != nullptr) {
          if (match->element->order < last_order) warn(c, "element " + std::string(name) + " is out of definition order");
          last_order = match->element->order;
        }
      } else if (groups.back().name != name) {
        warn(c, "element " + std::string(name) + " repeats out of order; its items are kept together");
      }
      Group& g = groups[it->second];
      if (g.nodes.size() >= limits_.max_array_length) {
        return failAt(c, "refused: more than " + std::to_string(limits_.max_array_length) + " repeats of an element");
      }
      g.nodes.push_back(c);
    }

    for (const auto& [name, value] : attributes) {
      if (value.empty()) {
        warn(el, "empty attribute " + std::string(name) + " dropped");
        continue;
      }
      out_.key(name);
      out_.string(value);
    }
    for (const Group& g : groups) {
      if (g.match != nullptr) {
        if (!known(g, depth)) return false;
      } else {
        warn(g.nodes.front(), "element " + std::string(g.name) + " is not defined in FHIR R4" +
                                  (s != nullptr ? " " + std::string(s->name) : std::string()) +
                                  "; converted by generic rules");
        if (!generic(g, depth)) return false;
      }
    }
    return true;
  }

  bool known(const Group& g, std::size_t depth) {
    const ElementDef& e = *g.match->element;
    const TypeRef& t = *g.match->type;
    if (e.xml_attr) return failAt(g.nodes.front(), std::string(e.name) + " must be an XML attribute");
    if (!e.many && g.nodes.size() > 1) {
      return failAt(g.nodes[1], "element " + std::string(g.name) + " repeats, but its maximum cardinality is 1");
    }
    switch (t.kind) {
      case TypeKind::kPrimitive:
        return primitives(g, t, e.many, depth);
      case TypeKind::kComplex:
        return objects(g, t.structure, e.many, depth);
      case TypeKind::kResource: {
        out_.key(g.name);
        if (e.many) out_.beginArray();
        for (const xmlNode* n : g.nodes) {
          if (!wrappedResource(n, depth + 1)) return false;
        }
        if (e.many) out_.endArray();
        return true;
      }
      case TypeKind::kXhtml:
        return xhtml(g.nodes.front());
    }
    return true;
  }

  // A wrapper element holding exactly one resource (xml.html#resource).
  bool wrappedResource(const xmlNode* wrapper, std::size_t depth) {
    if (!checkDepth(wrapper, depth)) return false;
    if (wrapper->properties != nullptr) return failAt(wrapper, "unexpected attribute on a resource wrapper");
    const xmlNode* inner = nullptr;
    for (const xmlNode* c = wrapper->children; c != nullptr; c = c->next) {
      if (c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE) continue;
      if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
        if (view(c->content).find_first_not_of(" \t\r\n") != std::string_view::npos) {
          return failAt(c, "text content is not allowed here");
        }
        continue;
      }
      if (c->type != XML_ELEMENT_NODE || inner != nullptr) return failAt(c, "a resource wrapper holds exactly one resource");
      inner = c;
    }
    if (inner == nullptr) return failAt(wrapper, "a resource wrapper holds exactly one resource");
    if (!detail::inNamespace(inner, kFhirNamespace)) return failAt(inner, "resource is not in the FHIR namespace");
    return resource(inner, depth + 1);
  }

  // Objects for a group of complex elements. One that turns out empty is
  // taken back out (json.html: no empty objects or arrays), and so is the
  // property when nothing is left.
  bool objects(const Group& g, const StructureDef* s, bool many, std::size_t depth) {
    const JsonWriter::Mark before_key = out_.mark();
    out_.key(g.name);
    if (many) out_.beginArray();
    std::size_t written = 0;
    for (const xmlNode* n : g.nodes) {
      if (!checkDepth(n, depth + 1)) return false;
      const JsonWriter::Mark before_item = out_.mark();
      out_.beginObject();
      if (!body(s, n, false, depth + 1)) return false;
      if (out_.innermostEmpty()) {
        out_.rollback(before_item);
        warn(n, "empty element " + std::string(g.name) + " dropped");
        continue;
      }
      out_.endObject();
      ++written;
    }
    if (many) out_.endArray();
    if (written == 0) out_.rollback(before_key);
    return true;
  }

  // True when an element or its descendants carry anything JSON would show:
  // a non-empty attribute or a narrative div. Iterative: a subtree's depth is
  // not yet checked here.
  static bool hasContent(const xmlNode* root) {
    const xmlNode* n = root;
    while (n != nullptr) {
      if (n->type == XML_ELEMENT_NODE) {
        if (detail::inNamespace(n, kXhtmlNamespace)) return true;
        for (const xmlAttr* a = n->properties; a != nullptr; a = a->next) {
          if (a->ns == nullptr && !detail::attributeValue(a).empty()) return true;
        }
        if (n->children != nullptr) {
          n = n->children;
          continue;
        }
      }
      while (n != root && n->next == nullptr) n = n->parent;
      if (n == root) return false;
      n = n->next;
    }
    return false;
  }

  // Reads value, id and extensions of a primitive element.
  bool primitiveItem(const xmlNode* n, bool generic, PrimitiveItem& item) {
    for (const xmlAttr* a = n->properties; a != nullptr; a = a->next) {
      const std::string_view name = view(a->name);
      if (a->ns == nullptr && name == "value") item.value = detail::attributeValue(a);
      else if (a->ns == nullptr && name == "id") item.id = detail::attributeValue(a);
      else return failAt(n, "unexpected attribute " + std::string(name) + " on a primitive element");
    }
    for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
      if (c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE) continue;
      if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
        if (view(c->content).find_first_not_of(" \t\r\n") != std::string_view::npos) {
          return failAt(c, "text content is not allowed here; FHIR values go in value attributes");
        }
        continue;
      }
      if (detail::inNamespace(c, kFhirNamespace) && view(c->name) == "extension") {
        if (hasContent(c)) item.extensions.push_back(c);
        else warn(c, "empty extension dropped");
        continue;
      }
      if (generic) return false;  // not a primitive after all; the caller tries an object
      return failAt(c, "a primitive element holds only extension elements");
    }
    if (item.id && item.id->empty()) item.id.reset();
    return true;
  }

  std::optional<std::string> jsonValue(const xmlNode* n, const TypeRef& t, const std::string& lexical) {
    switch (t.json) {
      case JsonForm::kBoolean:
        if (lexical != "true" && lexical != "false") {
          failAt(n, "a boolean value must be true or false");
          return std::nullopt;
        }
        return lexical;
      case JsonForm::kNumber:
        if (auto problem = detail::numberProblem(lexical, t.code, limits_)) {
          failAt(n, *problem);
          return std::nullopt;
        }
        return lexical;
      case JsonForm::kString:
        return lexical;
    }
    return lexical;
  }

  void writeValue(const TypeRef& t, const std::string& json) {
    if (t.json == JsonForm::kString) out_.string(json);
    else if (t.json == JsonForm::kBoolean) out_.boolean(json == "true");
    else out_.number(json);
  }

  // Writes "name" and "_name" for a group of primitives: arrays with null
  // placeholders when the element repeats (json.html#primitive).
  bool primitives(const Group& g, const TypeRef& t, bool many, std::size_t depth) {
    std::vector<PrimitiveItem> items;
    items.reserve(g.nodes.size());
    for (const xmlNode* n : g.nodes) {
      PrimitiveItem item;
      if (!primitiveItem(n, false, item)) return false;
      if (item.value) {
        if (item.value->empty()) {
          warn(n, "empty value attribute dropped");
          item.value.reset();
        } else if (auto v = jsonValue(n, t, *item.value)) {
          item.value = std::move(v);
        } else {
          return false;
        }
      }
      if (!item.value && !item.hasExtra()) {
        warn(n, "element " + std::string(g.name) + " has no value and no extensions; dropped");
        continue;
      }
      items.push_back(std::move(item));
    }
    return writePrimitives(g.name, t, many, items, depth);
  }

  bool writePrimitives(std::string_view name, const TypeRef& t, bool many, const std::vector<PrimitiveItem>& items,
                       std::size_t depth) {
    if (items.empty()) return true;
    const bool any_value = std::any_of(items.begin(), items.end(), [](const PrimitiveItem& i) { return i.value.has_value(); });
    const bool any_extra = std::any_of(items.begin(), items.end(), [](const PrimitiveItem& i) { return i.hasExtra(); });
    if (any_value) {
      out_.key(name);
      if (many) out_.beginArray();
      for (const PrimitiveItem& i : items) {
        if (i.value) writeValue(t, *i.value);
        else out_.null();
      }
      if (many) out_.endArray();
    }
    if (any_extra) {
      out_.key("_" + std::string(name));
      if (many) out_.beginArray();
      for (const PrimitiveItem& i : items) {
        if (!i.hasExtra()) {
          out_.null();
          continue;
        }
        out_.beginObject();
        if (i.id) {
          out_.key("id");
          out_.string(*i.id);
        }
        if (!i.extensions.empty()) {
          Group ext{"extension", extension_, i.extensions};
          if (!objects(ext, extension_->type->structure, true, depth + 1)) return false;
        }
        out_.endObject();
      }
      if (many) out_.endArray();
    }
    return true;
  }

  // Narrative.div: the XHTML element written as a string (json.html#xhtml),
  // with its namespace declared on the div itself.
  bool xhtml(const xmlNode* div) {
    if (view(div->name) != "div") return failAt(div, "the narrative must be a div element");
    xml::DocPtr holder(xmlNewDoc(reinterpret_cast<const xmlChar*>("1.0")));
    xmlNodePtr copy = holder ? xmlDocCopyNode(const_cast<xmlNode*>(div), holder.get(), 1) : nullptr;
    if (copy == nullptr) return failAt(div, "out of memory copying the narrative");
    xmlDocSetRootElement(holder.get(), copy);
    xmlReconciliateNs(holder.get(), copy);
    xmlBufferPtr buf = xmlBufferCreate();
    xmlSaveCtxtPtr save = buf != nullptr ? xmlSaveToBuffer(buf, "UTF-8", XML_SAVE_NO_DECL | XML_SAVE_AS_XML) : nullptr;
    if (save == nullptr) {
      if (buf != nullptr) xmlBufferFree(buf);
      return failAt(div, "out of memory writing the narrative");
    }
    // UTF-8 output keeps non-ASCII text as is (without an encoding libxml2
    // would write character references).
    xmlSaveTree(save, copy);
    xmlSaveClose(save);
    std::string text(reinterpret_cast<const char*>(xmlBufferContent(buf)), static_cast<std::size_t>(xmlBufferLength(buf)));
    xmlBufferFree(buf);
    out_.key("div");
    out_.string(text);
    return true;
  }

  // --- generic rules for elements R4 does not define ---------------------------
  //  - an element with a value attribute and at most id and extension
  //    children is a primitive, written as a JSON string (its type is
  //    unknown, so never a number or boolean);
  //  - an element holding exactly one element named like an R4 resource is a
  //    wrapped resource;
  //  - any other element is an object: id and url attributes become
  //    properties, children follow these rules; extension children are
  //    converted as Extension;
  //  - an element that repeats becomes an array (one that appears once
  //    cannot be known to repeat, so it stays a single value).
  bool generic(const Group& g, std::size_t depth) {
    const bool many = g.nodes.size() > 1;
    TypeRef as_text;
    as_text.code = "string";
    // Primitive when every node is primitive-shaped and one carries a value.
    std::vector<PrimitiveItem> items;
    bool primitive_shape = true;
    for (const xmlNode* n : g.nodes) {
      PrimitiveItem item;
      bool attrs_ok = true;
      for (const xmlAttr* a = n->properties; a != nullptr; a = a->next) {
        const std::string_view an = view(a->name);
        if (a->ns != nullptr || (an != "value" && an != "id")) attrs_ok = false;
      }
      if (!attrs_ok || !primitiveItem(n, true, item)) {
        if (error_) return false;
        primitive_shape = false;
        break;
      }
      items.push_back(std::move(item));
    }
    if (primitive_shape &&
        std::any_of(items.begin(), items.end(), [](const PrimitiveItem& i) { return i.value.has_value(); })) {
      std::vector<PrimitiveItem> kept;
      for (PrimitiveItem& i : items) {
        if (i.value && i.value->empty()) i.value.reset();
        if (i.value || i.hasExtra()) kept.push_back(std::move(i));
      }
      return writePrimitives(g.name, as_text, many, kept, depth);
    }
    const JsonWriter::Mark before_key = out_.mark();
    out_.key(g.name);
    if (many) out_.beginArray();
    std::size_t written = 0;
    for (const xmlNode* n : g.nodes) {
      if (const xmlNode* inner = soleResource(n)) {
        if (!resource(inner, depth + 2)) return false;
        ++written;
        continue;
      }
      if (!checkDepth(n, depth + 1)) return false;
      const JsonWriter::Mark before_item = out_.mark();
      out_.beginObject();
      if (!body(nullptr, n, false, depth + 1)) return false;
      if (out_.innermostEmpty()) {
        out_.rollback(before_item);
        warn(n, "empty element " + std::string(g.name) + " dropped");
        continue;
      }
      out_.endObject();
      ++written;
    }
    if (many) out_.endArray();
    if (written == 0) out_.rollback(before_key);
    return true;
  }

  // The resource inside a wrapper-shaped element, or nullptr.
  const xmlNode* soleResource(const xmlNode* n) const {
    if (n->properties != nullptr) return nullptr;
    const xmlNode* inner = nullptr;
    for (const xmlNode* c = n->children; c != nullptr; c = c->next) {
      if (c->type != XML_ELEMENT_NODE) continue;
      if (inner != nullptr) return nullptr;
      inner = c;
    }
    if (inner == nullptr || !detail::inNamespace(inner, kFhirNamespace)) return nullptr;
    return table_.resource(view(inner->name)) != nullptr ? inner : nullptr;
  }

  const ElementTable& table_;
  std::string who_;
  const Limits& limits_;
  Warnings* warnings_;
  JsonWriter out_;
  const PropertyMatch* extension_ = nullptr;
  std::optional<Error> error_;
};

}  // namespace

Result<std::string> xmlToJson(const _xmlDoc* doc, std::string_view name_for_errors, const JsonOptions& options,
                              Warnings* warnings) {
  XmlToJsonConverter converter(name_for_errors, options, warnings);
  return converter.run(doc);
}

}  // namespace cb::codec::fhir
