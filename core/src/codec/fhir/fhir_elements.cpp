#include "codec/fhir/fhir_elements.h"

#include <algorithm>
#include <cctype>
#include <limits>

namespace cb::codec::fhir {
namespace {

// The compiled-in R4 table: one raw string literal per structure, each kept
// under the 65,536 characters ISO C++ compilers must support.
constexpr std::string_view kR4Blocks[] = {
#include "codec/fhir/fhir_r4_elements.inc"
};

std::vector<std::string_view> splitWords(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

std::vector<std::string_view> splitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") != std::string_view::npos) lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

std::vector<std::string_view> splitTypes(std::string_view types) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= types.size()) {
    std::size_t end = types.find('|', start);
    if (end == std::string_view::npos) end = types.size();
    if (end > start) out.push_back(types.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

const PropertyMatch* StructureDef::find(std::string_view property) const {
  auto it = by_property.find(property);
  return it == by_property.end() ? nullptr : &it->second;
}

const ElementTable& ElementTable::r4() {
  static const ElementTable table(std::vector<std::string_view>(std::begin(kR4Blocks), std::end(kR4Blocks)));
  return table;
}

ElementTable::ElementTable(const std::vector<std::string_view>& blocks) {
  // Pass 1: read every block. structures_ is sized first so the pointers
  // taken in pass 2 stay valid.
  std::size_t structure_blocks = 0;
  for (std::string_view block : blocks) {
    auto lines = splitLines(block);
    if (!lines.empty() && splitWords(lines.front()).size() == 2) ++structure_blocks;
  }
  structures_.reserve(structure_blocks);

  struct PendingTypes {
    StructureDef* structure;
    std::size_t element;
    std::vector<std::string_view> codes;
  };
  std::vector<PendingTypes> pending;

  for (std::string_view block : blocks) {
    auto lines = splitLines(block);
    if (lines.empty()) continue;
    auto header = splitWords(lines.front());
    if (header.size() == 1 && header[0] == "primitives") {
      for (std::size_t i = 1; i < lines.size(); ++i) {
        auto w = splitWords(lines[i]);
        if (w.size() != 2) {
          problems_.push_back("primitives: bad line '" + std::string(lines[i]) + "'");
          continue;
        }
        JsonForm form = JsonForm::kString;
        if (w[1] == "number") form = JsonForm::kNumber;
        else if (w[1] == "boolean") form = JsonForm::kBoolean;
        else if (w[1] != "string") problems_.push_back("primitives: unknown JSON form for " + std::string(w[0]));
        primitives_.emplace(w[0], form);
      }
      continue;
    }
    if (header.size() != 2 || structures_.size() == structures_.capacity()) {
      problems_.push_back("bad block header '" + std::string(lines.front()) + "'");
      continue;
    }
    StructureDef& s = structures_.emplace_back();
    s.name = header[0];
    if (header[1] == "resource") s.kind = StructureKind::kResource;
    else if (header[1] == "backbone") s.kind = StructureKind::kBackbone;
    else if (header[1] == "datatype") s.kind = StructureKind::kDatatype;
    else if (header[1] == "abstract") s.kind = StructureKind::kAbstract;
    else problems_.push_back(std::string(s.name) + ": unknown structure kind");
    for (std::size_t i = 1; i < lines.size(); ++i) {
      auto w = splitWords(lines[i]);
      if (w.size() < 3 || w.size() > 4 || (w[1] != "1" && w[1] != "*") || (w.size() == 4 && w[3] != "xmlAttr")) {
        problems_.push_back(std::string(s.name) + ": bad line '" + std::string(lines[i]) + "'");
        continue;
      }
      ElementDef e;
      e.name = w[0];
      if (e.name.size() > 3 && e.name.substr(e.name.size() - 3) == "[x]") {
        e.choice = true;
        e.name.remove_suffix(3);
      }
      e.many = w[1] == "*";
      e.xml_attr = w.size() == 4;
      e.order = static_cast<std::uint16_t>(std::min<std::size_t>(s.elements.size(), std::numeric_limits<std::uint16_t>::max()));
      s.elements.push_back(e);
      pending.push_back({&s, s.elements.size() - 1, splitTypes(w[2])});
    }
    if (!by_name_.emplace(s.name, &s).second) problems_.push_back(std::string(s.name) + ": defined twice");
  }

  // Pass 2: resolve type codes to primitives, structures and resources.
  for (auto& p : pending) {
    ElementDef& e = p.structure->elements[p.element];
    for (std::string_view code : p.codes) {
      TypeRef t;
      t.code = code;
      if (auto prim = primitives_.find(code); prim != primitives_.end()) {
        t.kind = code == "xhtml" ? TypeKind::kXhtml : TypeKind::kPrimitive;
        t.json = prim->second;
      } else if (code == "Resource") {
        t.kind = TypeKind::kResource;
      } else if (auto st = by_name_.find(code); st != by_name_.end()) {
        if (st->second->kind == StructureKind::kResource) {
          t.kind = TypeKind::kResource;  // a specific resource, e.g. Bundle.entry.response.outcome
        } else {
          t.kind = TypeKind::kComplex;
          t.structure = st->second;
        }
      } else {
        problems_.push_back(std::string(p.structure->name) + "." + std::string(e.name) + ": unresolved type " +
                            std::string(code));
        continue;
      }
      e.types.push_back(t);
    }
  }

  // Pass 3: property names. A choice element is named by its base name plus
  // the type code with its first letter upper-cased
  // (https://hl7.org/fhir/R4/formats.html#choice): valueString, valueQuantity.
  for (StructureDef& s : structures_) {
    for (const ElementDef& e : s.elements) {
      for (const TypeRef& t : e.types) {
        std::string_view key = e.name;
        if (e.choice) {
          std::string name(e.name);
          name += static_cast<char>(std::toupper(static_cast<unsigned char>(t.code.front())));
          name.append(t.code.substr(1));
          key = choice_names_.emplace_back(std::move(name));
        }
        if (!s.by_property.emplace(key, PropertyMatch{&e, &t}).second) {
          problems_.push_back(std::string(s.name) + ": property " + std::string(key) + " defined twice");
        }
        if (!e.choice) break;  // a non-choice element has exactly one type
      }
    }
  }
}

const StructureDef* ElementTable::resource(std::string_view type) const {
  const StructureDef* s = structure(type);
  return s != nullptr && s->kind == StructureKind::kResource ? s : nullptr;
}

const StructureDef* ElementTable::structure(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::optional<JsonForm> ElementTable::primitive(std::string_view type) const {
  auto it = primitives_.find(type);
  if (it == primitives_.end()) return std::nullopt;
  return it->second;
}

std::size_t ElementTable::resourceCount() const {
  return static_cast<std::size_t>(std::count_if(structures_.begin(), structures_.end(), [](const StructureDef& s) {
    return s.kind == StructureKind::kResource;
  }));
}

}  // namespace cb::codec::fhir
