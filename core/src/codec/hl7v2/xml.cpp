#include "codec/hl7v2/xml.h"

#include "codec/hl7v2/charset.h"

#include <libxml/tree.h>

#include <algorithm>
#include <charconv>
#include <utility>
#include <vector>

namespace cb::codec::hl7v2 {
namespace {

using detail::Charset;

constexpr std::string_view kNull = "\"\"";  // v2.5.1 2.5: "" deletes a value
constexpr std::size_t kMaxRootName = 64;

const xmlChar* xc(const char* s) { return reinterpret_cast<const xmlChar*>(s); }
std::string_view sv(const xmlChar* s) {
  return s == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(s));
}

bool isEmpty(const Component& c) {
  return std::all_of(c.begin(), c.end(), [](const std::string& s) { return s.empty(); });
}
bool isEmpty(const Repetition& r) {
  return std::all_of(r.begin(), r.end(), [](const Component& c) { return isEmpty(c); });
}
std::size_t trimmedSize(const Component& c) {
  std::size_t n = c.size();
  while (n > 0 && c[n - 1].empty()) --n;
  return n;
}
std::size_t trimmedSize(const Repetition& r) {
  std::size_t n = r.size();
  while (n > 0 && isEmpty(r[n - 1])) --n;
  return n;
}
bool isNull(const Repetition& r) { return trimmedSize(r) == 1 && trimmedSize(r[0]) == 1 && r[0][0] == kNull; }

// A conservative XML element name: ASCII letters, digits and '_', starting
// with a letter, not starting with "xml" (reserved by XML 1.0 section 2.3).
bool isSimpleName(std::string_view s) {
  if (s.empty() || s.size() > kMaxRootName) return false;
  const auto letter = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
  if (!letter(s[0])) return false;
  if (s.size() >= 3 && (s[0] | 0x20) == 'x' && (s[1] | 0x20) == 'm' && (s[2] | 0x20) == 'l') return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return letter(c) || (c >= '0' && c <= '9') || c == '_'; });
}

Result<std::string> rootName(const MessageType& t) {
  if (isSimpleName(t.structure)) return t.structure;
  if (!t.trigger.empty() && isSimpleName(t.code + "_" + t.trigger)) return t.code + "_" + t.trigger;
  if (isSimpleName(t.code)) return t.code;
  return fail("HL7 v2: segment 1 (MSH) field 9: the message type cannot name the XML root element "
              "(MSH-9.3, or MSH-9.1 and MSH-9.2, must be letters, digits and '_')");
}

// Where a value sits, for error messages; never the value itself.
struct Location {
  std::size_t segment = 0;
  std::string_view id;
  std::size_t field = 0;
  std::size_t repetition = 0;
  std::size_t component = 0;
  std::size_t subcomponent = 0;

  std::string describe() const {
    std::string s = "HL7 v2: segment " + std::to_string(segment) + " (" + std::string(id) + ")";
    if (field > 0) s += " field " + std::to_string(field);
    if (repetition > 1) s += " repetition " + std::to_string(repetition);
    if (component > 0) s += " component " + std::to_string(component);
    if (subcomponent > 0) s += " sub-component " + std::to_string(subcomponent);
    return s;
  }
};

class XmlBuilder {
 public:
  XmlBuilder(const Message& message, Charset charset) : message_(message), charset_(charset) {}

  Result<xml::DocPtr> build() {
    auto root_name = rootName(message_.messageType());
    if (!root_name) return std::move(root_name).error();
    xml::DocPtr doc(xmlNewDoc(xc("1.0")));
    doc_ = doc.get();
    xmlNodePtr root = xmlNewDocNode(doc_, nullptr, xc(root_name->c_str()), nullptr);
    xmlDocSetRootElement(doc_, root);
    ns_ = xmlNewNs(root, xc(std::string(kXmlNamespace).c_str()), nullptr);
    xmlSetNs(root, ns_);

    const auto& segments = message_.segments();
    for (std::size_t s = 0; s < segments.size(); ++s) {
      if (auto ok = addSegment(root, segments[s], s + 1); !ok) return std::move(ok).error();
    }
    return doc;
  }

 private:
  xmlNodePtr child(xmlNodePtr parent, const std::string& name) {
    xmlNodePtr node = xmlNewDocNode(doc_, ns_, xc(name.c_str()), nullptr);
    xmlAddChild(parent, node);
    return node;
  }

  Status addSegment(xmlNodePtr root, const Segment& seg, std::size_t number) {
    xmlNodePtr seg_el = child(root, seg.id);
    Location loc{number, seg.id};
    const bool msh = number == 1;
    for (std::size_t f = 0; f < seg.fields.size(); ++f) {
      const Field& field = seg.fields[f];
      const std::string field_name = seg.id + "." + std::to_string(f + 1);
      loc.field = f + 1;
      if (msh && f < 2) {
        // MSH-1 and MSH-2 are printable ASCII delimiters, carried as text.
        xmlNodePtr el = child(seg_el, field_name);
        const std::string& literal = field[0][0][0];
        xmlAddChild(el, xmlNewDocTextLen(doc_, xc(literal.c_str()), static_cast<int>(literal.size())));
        continue;
      }
      std::size_t reps = field.size();
      while (reps > 0 && isEmpty(field[reps - 1])) --reps;
      for (std::size_t r = 0; r < reps; ++r) {
        loc.repetition = r + 1;
        const Repetition& rep = field[r];
        xmlNodePtr field_el = child(seg_el, field_name);
        if (isNull(rep)) {
          xmlNewProp(field_el, xc("null"), xc("true"));
          continue;
        }
        for (std::size_t c = 0; c < rep.size(); ++c) {
          const Component& comp = rep[c];
          if (isEmpty(comp)) continue;
          loc.component = c + 1;
          const std::string comp_name = field_name + "." + std::to_string(c + 1);
          xmlNodePtr comp_el = child(field_el, comp_name);
          const std::size_t subs = trimmedSize(comp);
          if (subs == 1) {
            loc.subcomponent = 0;
            if (auto ok = addValue(comp_el, comp[0], loc); !ok) return ok;
            continue;
          }
          for (std::size_t k = 0; k < subs; ++k) {
            if (comp[k].empty()) continue;
            loc.subcomponent = k + 1;
            xmlNodePtr sub_el = child(comp_el, comp_name + "." + std::to_string(k + 1));
            if (auto ok = addValue(sub_el, comp[k], loc); !ok) return ok;
          }
          loc.subcomponent = 0;
        }
        loc.component = 0;
      }
      loc.repetition = 0;
    }
    return {};
  }

  Status addValue(xmlNodePtr el, const std::string& encoded, const Location& loc) {
    if (encoded == kNull) {
      xmlNewProp(el, xc("null"), xc("true"));
      return {};
    }
    for (const TextRun& run : decodeRuns(encoded, message_.delimiters())) {
      scratch_.clear();
      if (!detail::appendAsUtf8(run.text, charset_, scratch_)) return charsetError(loc);
      if (run.kind == TextRun::Kind::Text) {
        xmlAddChild(el, xmlNewDocTextLen(doc_, xc(scratch_.c_str()), static_cast<int>(scratch_.size())));
      } else {
        xmlNodePtr esc = child(el, "escape");
        xmlNewProp(esc, xc("V"), xc(scratch_.c_str()));
      }
    }
    return {};
  }

  Error charsetError(const Location& loc) const {
    const std::string declared = message_.characterSet();
    return fail(loc.describe() + ": the value is not valid " +
                (charset_ == Charset::Utf8 ? std::string("UTF-8") : declared) +
                (declared.empty() ? " (MSH-18 is empty, so UTF-8 is assumed; a sender using another character set "
                                    "must name it in MSH-18)"
                                  : std::string()) +
                ", or holds a control character XML cannot carry");
  }

  const Message& message_;
  Charset charset_;
  xmlDocPtr doc_ = nullptr;
  xmlNsPtr ns_ = nullptr;
  std::string scratch_;
};

// ---- XML -> message ---------------------------------------------------------

bool isWhitespace(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

bool isText(const xmlNode* n) { return n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE; }

// Reads the position from a child element name: "PID.12" after prefix "PID.".
bool positionFrom(std::string_view name, std::string_view prefix, std::size_t limit, std::size_t& out) {
  if (!name.starts_with(prefix)) return false;
  name.remove_prefix(prefix.size());
  if (name.empty() || name.front() == '0') return false;
  std::size_t n = 0;
  const auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), n);
  if (ec != std::errc() || ptr != name.data() + name.size()) return false;
  if (n > limit) return false;
  out = n;
  return true;
}

class MessageReader {
 public:
  explicit MessageReader(const ParseLimits& limits) : limits_(limits) {}

  Result<Message> read(const xmlDoc* doc) {
    const xmlNode* root = doc == nullptr ? nullptr : xmlDocGetRootElement(doc);
    if (root == nullptr) return fail("HL7 v2 XML: the document has no root element");
    if (auto ok = checkNamespace(root); !ok) return std::move(ok).error();

    std::vector<const xmlNode*> segment_elements;
    if (auto ok = structuralChildren(root, "", segment_elements); !ok) return std::move(ok).error();
    if (segment_elements.empty() || sv(segment_elements.front()->name) != "MSH") {
      return fail("HL7 v2 XML: the first element inside <" + std::string(sv(root->name)) + "> must be <MSH>");
    }
    if (segment_elements.size() > limits_.max_segments) {
      return fail("HL7 v2 XML: refused: more than " + std::to_string(limits_.max_segments) +
                  " segments (ParseLimits::max_segments)");
    }
    if (auto ok = readHeader(segment_elements.front()); !ok) return std::move(ok).error();

    std::vector<Segment> segments;
    segments.reserve(segment_elements.size());
    for (std::size_t s = 0; s < segment_elements.size(); ++s) {
      auto seg = readSegment(segment_elements[s], s + 1);
      if (!seg) return std::move(seg).error();
      segments.push_back(std::move(*seg));
    }
    return Message::assemble(delimiters_, std::move(segments));
  }

 private:
  static std::string elementName(const xmlNode* n) { return std::string(sv(n->name)); }

  static Status checkNamespace(const xmlNode* n) {
    if (n->ns != nullptr && sv(n->ns->href) != kXmlNamespace) {
      return fail("HL7 v2 XML: element <" + elementName(n) + "> is in namespace '" + std::string(sv(n->ns->href)) +
                  "'; expected " + std::string(kXmlNamespace) + " or none");
    }
    return {};
  }

  // Collects the element children of `el` that carry structure (names that
  // start with `prefix`, or any name when `prefix` is empty). Refuses text
  // mixed with such children and elements that belong nowhere. `has_value`
  // says whether `el` holds leaf content (text or <escape>).
  static Status classify(const xmlNode* el, std::string_view prefix, std::vector<const xmlNode*>& structural,
                         bool& has_value) {
    has_value = false;
    for (const xmlNode* n = el->children; n != nullptr; n = n->next) {
      if (n->type == XML_ELEMENT_NODE) {
        if (auto ok = checkNamespace(n); !ok) return ok;
        const std::string_view name = sv(n->name);
        if (name == "escape" && !prefix.empty()) {
          has_value = true;
        } else if (prefix.empty() || name.starts_with(prefix)) {
          structural.push_back(n);
        } else {
          return fail("HL7 v2 XML: element <" + std::string(name) + "> cannot appear inside <" + elementName(el) +
                      "> (expected <" + std::string(prefix) + "N>)");
        }
      } else if (isText(n)) {
        if (!isWhitespace(sv(n->content))) has_value = true;
      } else if (n->type != XML_COMMENT_NODE && n->type != XML_PI_NODE) {
        return fail("HL7 v2 XML: unexpected node inside <" + elementName(el) + ">");
      }
    }
    if (has_value && !structural.empty()) {
      return fail("HL7 v2 XML: <" + elementName(el) + "> mixes text with child elements");
    }
    return {};
  }

  static Status structuralChildren(const xmlNode* el, std::string_view prefix, std::vector<const xmlNode*>& out) {
    bool has_value = false;
    if (auto ok = classify(el, prefix, out, has_value); !ok) return ok;
    if (has_value) return fail("HL7 v2 XML: <" + elementName(el) + "> holds text; expected only child elements");
    return {};
  }

  // The text content of an element as it stands, for MSH-1, MSH-2, MSH-18.
  static std::string plainText(const xmlNode* el) {
    std::string s;
    for (const xmlNode* n = el->children; n != nullptr; n = n->next) {
      if (isText(n)) s += sv(n->content);
    }
    return s;
  }

  static const xmlNode* firstChild(const xmlNode* el, std::string_view name) {
    for (const xmlNode* n = el->children; n != nullptr; n = n->next) {
      if (n->type == XML_ELEMENT_NODE && sv(n->name) == name) return n;
    }
    return nullptr;
  }

  // Reads the delimiters from MSH.1/MSH.2 and the character set from MSH.18
  // before anything else, since every other value depends on them.
  Status readHeader(const xmlNode* msh) {
    const xmlNode* msh1 = firstChild(msh, "MSH.1");
    const xmlNode* msh2 = firstChild(msh, "MSH.2");
    if (msh1 == nullptr || msh2 == nullptr) {
      return fail("HL7 v2 XML: <MSH> must hold <MSH.1> (field separator) and <MSH.2> (encoding characters)");
    }
    auto d = delimitersFrom(plainText(msh1), plainText(msh2));
    if (!d) return std::move(d).error();
    delimiters_ = *d;
    if (const xmlNode* msh18 = firstChild(msh, "MSH.18"); msh18 != nullptr) {
      // The first repetition's first component's first sub-component, as
      // Message::characterSet() reads it, in whichever form it was written.
      const xmlNode* value = msh18;
      for (const char* level : {"MSH.18.1", "MSH.18.1.1"}) {
        if (const xmlNode* deeper = firstChild(value, level); deeper != nullptr) value = deeper;
      }
      const std::string declared = plainText(value);
      const auto charset = detail::charsetFromMsh18(declared);
      if (!charset) {
        return fail("HL7 v2 XML: MSH-18 names a character set this codec cannot write (supported: " +
                    std::string(detail::kSupportedCharsets) + ")");
      }
      charset_ = *charset;
    }
    return {};
  }

  bool take(std::size_t n) {
    if (items_ + n > limits_.max_items) return false;
    items_ += n;
    return true;
  }

  Error budgetError() const {
    return fail("HL7 v2 XML: refused: more than " + std::to_string(limits_.max_items) +
                " fields, repetitions, components and sub-components (ParseLimits::max_items)");
  }

  static Result<bool> nullAttribute(const xmlNode* el) {
    xmlChar* raw = xmlGetNoNsProp(el, xc("null"));
    if (raw == nullptr) return false;
    const std::string value(sv(raw));
    xmlFree(raw);
    if (value == "true") {
      for (const xmlNode* n = el->children; n != nullptr; n = n->next) {
        if (n->type == XML_ELEMENT_NODE || (isText(n) && !isWhitespace(sv(n->content)))) {
          return fail("HL7 v2 XML: <" + elementName(el) + "> has null=\"true\" and content; it must be empty");
        }
      }
      return true;
    }
    if (value == "false") return false;
    return fail("HL7 v2 XML: <" + elementName(el) + "> has null=\"" + value + "\"; expected \"true\" or \"false\"");
  }

  // The encoded ER7 value of a leaf element: text converted to the message's
  // character set and escaped, <escape V="..."/> written back as \...\.
  Result<std::string> leafValue(const xmlNode* el) {
    auto is_null = nullAttribute(el);
    if (!is_null) return std::move(is_null).error();
    if (*is_null) return std::string(kNull);
    std::string out;
    for (const xmlNode* n = el->children; n != nullptr; n = n->next) {
      if (isText(n)) {
        scratch_.clear();
        if (!detail::appendFromUtf8(sv(n->content), charset_, scratch_)) return charsetError(el);
        out += encode(scratch_, delimiters_);
      } else if (n->type == XML_ELEMENT_NODE && sv(n->name) == "escape") {
        xmlChar* raw = xmlGetNoNsProp(n, xc("V"));
        if (raw == nullptr) return fail("HL7 v2 XML: <escape> inside <" + elementName(el) + "> has no V attribute");
        scratch_.clear();
        const bool converted = detail::appendFromUtf8(sv(raw), charset_, scratch_);
        xmlFree(raw);
        if (!converted) return charsetError(el);
        auto escaped = encodeEscape(scratch_, delimiters_);
        if (!escaped) {
          return fail("HL7 v2 XML: <escape> inside <" + elementName(el) +
                      ">: V may not hold a delimiter, the escape character or a control character");
        }
        out += *escaped;
      }
    }
    return out;
  }

  Error charsetError(const xmlNode* el) const {
    return fail("HL7 v2 XML: <" + elementName(el) +
                "> holds a character the message's character set (MSH-18) cannot represent");
  }

  Result<Component> readComponent(const xmlNode* el) {
    auto is_null = nullAttribute(el);
    if (!is_null) return std::move(is_null).error();
    if (*is_null) return Component{std::string(kNull)};
    const std::string prefix = elementName(el) + ".";
    std::vector<const xmlNode*> subs;
    bool has_value = false;
    if (auto ok = classify(el, prefix, subs, has_value); !ok) return std::move(ok).error();
    Component comp;
    if (subs.empty()) {
      auto v = leafValue(el);
      if (!v) return std::move(v).error();
      if (!v->empty()) {
        if (!take(1)) return budgetError();
        comp.push_back(std::move(*v));
      }
      return comp;
    }
    std::vector<bool> seen;
    for (const xmlNode* sub : subs) {
      std::size_t k = 0;
      if (!positionFrom(sv(sub->name), prefix, limits_.max_subcomponents, k)) {
        return fail("HL7 v2 XML: <" + elementName(sub) + "> is not a sub-component of <" + elementName(el) +
                    "> (or is beyond ParseLimits::max_subcomponents)");
      }
      if (k > comp.size()) {
        if (!take(k - comp.size())) return budgetError();
        comp.resize(k);
        seen.resize(k);
      }
      if (seen[k - 1]) return fail("HL7 v2 XML: <" + elementName(sub) + "> appears twice");
      seen[k - 1] = true;
      if (sub->children != nullptr) {
        std::vector<const xmlNode*> nested;
        bool nested_value = false;
        if (auto ok = classify(sub, elementName(sub) + ".", nested, nested_value); !ok) return std::move(ok).error();
        if (!nested.empty()) {
          return fail("HL7 v2 XML: <" + elementName(sub) + "> is a sub-component and cannot hold elements");
        }
      }
      auto v = leafValue(sub);
      if (!v) return std::move(v).error();
      comp[k - 1] = std::move(*v);
    }
    return comp;
  }

  Result<Repetition> readRepetition(const xmlNode* el) {
    auto is_null = nullAttribute(el);
    if (!is_null) return std::move(is_null).error();
    if (*is_null) {
      if (!take(2)) return budgetError();
      return Repetition{Component{std::string(kNull)}};
    }
    const std::string prefix = elementName(el) + ".";
    std::vector<const xmlNode*> comps;
    bool has_value = false;
    if (auto ok = classify(el, prefix, comps, has_value); !ok) return std::move(ok).error();
    Repetition rep;
    if (comps.empty()) {
      // Text directly in the field: its first component.
      auto v = leafValue(el);
      if (!v) return std::move(v).error();
      if (!v->empty()) {
        if (!take(2)) return budgetError();
        rep.push_back(Component{std::move(*v)});
      }
      return rep;
    }
    std::vector<bool> seen;
    for (const xmlNode* comp_el : comps) {
      std::size_t c = 0;
      if (!positionFrom(sv(comp_el->name), prefix, limits_.max_components, c)) {
        return fail("HL7 v2 XML: <" + elementName(comp_el) + "> is not a component of <" + elementName(el) +
                    "> (or is beyond ParseLimits::max_components)");
      }
      if (c > rep.size()) {
        if (!take(c - rep.size())) return budgetError();
        rep.resize(c);
        seen.resize(c);
      }
      if (seen[c - 1]) return fail("HL7 v2 XML: <" + elementName(comp_el) + "> appears twice in one repetition");
      seen[c - 1] = true;
      auto comp = readComponent(comp_el);
      if (!comp) return std::move(comp).error();
      rep[c - 1] = std::move(*comp);
    }
    return rep;
  }

  Result<Segment> readSegment(const xmlNode* el, std::size_t number) {
    Segment seg;
    seg.id = elementName(el);
    const std::string prefix = seg.id + ".";
    std::vector<const xmlNode*> fields;
    if (auto ok = structuralChildren(el, prefix, fields); !ok) return std::move(ok).error();
    const bool msh = number == 1;
    if (msh) {
      if (!take(4)) return budgetError();
      seg.fields.push_back(Field{Repetition{Component{std::string(1, delimiters_.field)}}});
      seg.fields.push_back(Field{Repetition{Component{delimiters_.encodingCharacters()}}});
    }
    for (const xmlNode* field_el : fields) {
      std::size_t f = 0;
      if (!positionFrom(sv(field_el->name), prefix, limits_.max_fields, f)) {
        return fail("HL7 v2 XML: segment " + std::to_string(number) + ": <" + elementName(field_el) +
                    "> is not a field of <" + seg.id + "> (or is beyond ParseLimits::max_fields)");
      }
      if (msh && f <= 2) continue;  // read in readHeader
      if (f > seg.fields.size()) {
        if (!take(f - seg.fields.size())) return budgetError();
        seg.fields.resize(f);
      }
      Field& field = seg.fields[f - 1];
      if (field.size() >= limits_.max_repetitions) {
        return fail("HL7 v2 XML: segment " + std::to_string(number) + ": more than " +
                    std::to_string(limits_.max_repetitions) + " repetitions of <" + elementName(field_el) +
                    "> (ParseLimits::max_repetitions)");
      }
      auto rep = readRepetition(field_el);
      if (!rep) return std::move(rep).error();
      if (!take(1)) return budgetError();
      field.push_back(std::move(*rep));
    }
    return seg;
  }

  const ParseLimits& limits_;
  Delimiters delimiters_;
  Charset charset_ = Charset::Utf8;
  std::size_t items_ = 0;
  std::string scratch_;
};

}  // namespace

Result<xml::DocPtr> toXml(const Message& message) {
  const auto charset = detail::charsetFromMsh18(message.characterSet());
  if (!charset) {
    return fail("HL7 v2: segment 1 (MSH) field 18: MSH-18 names a character set this codec cannot convert to XML "
                "(supported: " +
                std::string(detail::kSupportedCharsets) + ")");
  }
  return XmlBuilder(message, *charset).build();
}

Result<Message> fromXml(const _xmlDoc* doc, const ParseLimits& limits) { return MessageReader(limits).read(doc); }

Result<std::string> er7ToXml(std::string_view er7, const ParseLimits& limits) {
  auto message = parse(er7, limits);
  if (!message) return std::move(message).error();
  auto doc = toXml(*message);
  if (!doc) return std::move(doc).error();
  return xml::serialize(doc->get());
}

Result<std::string> xmlToEr7(std::string_view xml_text, std::string_view name, const ParseLimits& limits) {
  xml::ParseLimits xml_limits;
  xml_limits.max_bytes = limits.max_bytes * 8;
  // root, segment, field, component, sub-component, escape
  xml_limits.max_depth = 8;
  auto doc = xml::parse(xml_text, name, xml_limits);
  if (!doc) return std::move(doc).error();
  auto message = fromXml(doc->get(), limits);
  if (!message) return std::move(message).error();
  return write(*message);
}

}  // namespace cb::codec::hl7v2
