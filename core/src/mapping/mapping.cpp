#include "mapping/mapping.h"

#include "common/digest.h"
#include "mapping/transforms.h"
#include "mapping/xml_util.h"
#include "xml/schema.h"

#include <libxml/tree.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>

namespace cb::mapping {

namespace fs = std::filesystem;
using namespace xmlutil;

std::string_view toString(Direction d) { return d == Direction::Inbound ? "inbound" : "outbound"; }

// ================================================================ paths ====

namespace {

// One step of an output path: an element (or, last, an attribute) name.
struct OutStep {
  std::string ns;      // namespace URI, "" for none
  std::string prefix;  // prefix to declare it with, "" for the default namespace
  std::string local;
  bool append = false; // '+': always create a new element
};

// An output path as written in to="...", resolved against the namespaces.
struct OutPath {
  std::string text;
  bool self = false;                 // "."
  std::vector<OutStep> steps;        // element steps
  std::optional<OutStep> attribute;  // final "@name"
};

bool isNameStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool isNameChar(char c) { return isNameStart(c) || (c >= '0' && c <= '9') || c == '.' || c == '-'; }

const std::string* lookupNs(const NamespaceBindings& ns, std::string_view prefix) {
  for (const auto& [p, uri] : ns) {
    if (p == prefix) return &uri;
  }
  return nullptr;
}

Result<OutStep> parseStep(std::string_view s, bool attribute, const NamespaceBindings& ns, const std::string& default_ns) {
  OutStep step;
  if (!attribute && !s.empty() && s.back() == '+') {
    step.append = true;
    s.remove_suffix(1);
  }
  const auto colon = s.find(':');
  std::string_view local = s;
  if (colon != std::string_view::npos) {
    step.prefix = std::string(s.substr(0, colon));
    local = s.substr(colon + 1);
    const std::string* uri = lookupNs(ns, step.prefix);
    if (uri == nullptr) return fail("prefix '" + step.prefix + "' is not declared");
    step.ns = *uri;
  } else if (!attribute) {
    // Unprefixed elements are in the output's namespace; unprefixed
    // attributes are in no namespace (Namespaces in XML 1.0, section 6.2).
    step.ns = default_ns;
  }
  if (local.empty() || !isNameStart(local.front()) ||
      !std::all_of(local.begin(), local.end(), [](char c) { return isNameChar(c); })) {
    return fail("'" + std::string(s) + "' is not a valid name");
  }
  step.local = std::string(local);
  return step;
}

Result<OutPath> parseOutPath(std::string_view text, const NamespaceBindings& ns, const std::string& default_ns) {
  OutPath path;
  path.text = std::string(text);
  if (text == ".") {
    path.self = true;
    return path;
  }
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t slash = text.find('/', start);
    if (slash == std::string_view::npos) slash = text.size();
    std::string_view part = text.substr(start, slash - start);
    const bool last = slash == text.size();
    if (part.empty()) return fail("output path '" + path.text + "' has an empty step");
    if (part.front() == '@') {
      if (!last) return fail("output path '" + path.text + "': an attribute must be the last step");
      auto step = parseStep(part.substr(1), true, ns, default_ns);
      if (!step) return fail("output path '" + path.text + "': " + step.error().message);
      path.attribute = std::move(*step);
    } else {
      auto step = parseStep(part, false, ns, default_ns);
      if (!step) return fail("output path '" + path.text + "': " + step.error().message);
      path.steps.push_back(std::move(*step));
    }
    start = slash + 1;
  }
  return path;
}

unsigned short clampLine(int line) {
  return static_cast<unsigned short>(std::clamp(line, 0, static_cast<int>(std::numeric_limits<unsigned short>::max() - 1)));
}

std::string readFile(const std::string& path, bool& ok) {
  std::ifstream in(path, std::ios::binary);
  ok = static_cast<bool>(in);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

// ================================================================ rules ====

// State of one apply() call: the evaluator over the input and the output
// document being built. Lives on the stack of one thread.
struct ApplyState {
  const std::string& file;
  XPathEvaluator& xp;
  xmlDocPtr out;
  xmlNodePtr root;
  std::vector<std::string> context;  // "forEach at line 40, item 2", innermost last

  std::string where(int line, std::string_view what) const {
    std::string s = file + ":" + std::to_string(line) + ": " + std::string(what);
    for (auto it = context.rbegin(); it != context.rend(); ++it) s += " (" + *it + ")";
    return s;
  }

  // The namespace declaration for `uri`, declared on the root when first used.
  xmlNsPtr nsFor(const std::string& uri, const std::string& prefix) {
    if (uri.empty()) return nullptr;
    for (xmlNsPtr n = root->nsDef; n != nullptr; n = n->next) {
      if (view(n->href) == uri) return n;
    }
    // A prefix is needed when the default namespace is taken; a declared
    // prefix already bound to another URI on the root gets a numbered one.
    std::string p = prefix;
    int count = 0;
    bool clash = false;
    for (xmlNsPtr n = root->nsDef; n != nullptr; n = n->next) {
      ++count;
      if (view(n->prefix) == p) clash = true;
    }
    if (p.empty() || clash) p = "ns" + std::to_string(count + 1);
    return xmlNewNs(root, bad(uri), bad(p));
  }

  // A new element, stamped with the mapping rule's line so that schema
  // validation errors about it point at that rule.
  xmlNodePtr newElement(xmlNodePtr parent, const OutStep& step, int line) {
    xmlNodePtr n = xmlNewDocNode(out, nsFor(step.ns, step.prefix), bad(step.local), nullptr);
    n->line = clampLine(line);
    xmlAddChild(parent, n);
    return n;
  }

  // Without '+', a step reuses the last existing element of that name.
  xmlNodePtr elementFor(xmlNodePtr parent, const OutStep& step, int line) {
    if (!step.append) {
      for (xmlNodePtr c = parent->last; c != nullptr; c = c->prev) {
        if (isElement(c) && localName(c) == step.local && nsHref(c) == step.ns) return c;
      }
    }
    return newElement(parent, step, line);
  }
};

// Where a rule writes: an output element, created only when first written
// into (so a repeat group that produces nothing leaves no empty element).
struct OutCursor {
  OutCursor* parent = nullptr;
  const OutPath* path = nullptr;  // created under parent's element
  int line = 0;
  xmlNodePtr node = nullptr;

  xmlNodePtr get(ApplyState& st) {
    if (node != nullptr) return node;
    xmlNodePtr base = parent->get(st);
    if (path == nullptr) return base;
    for (const auto& step : path->steps) base = st.elementFor(base, step, line);
    node = base;
    return node;
  }
};

struct Rule {
  int line = 0;
  virtual ~Rule() = default;
  virtual Status apply(ApplyState& st, const xmlNode* in, OutCursor& out) const = 0;
};

namespace {

using RuleList = std::vector<std::unique_ptr<const Rule>>;

Status applyAll(const RuleList& rules, ApplyState& st, const xmlNode* in, OutCursor& out) {
  for (const auto& r : rules) {
    if (auto s = r->apply(st, in, out); !s) return s;
  }
  return {};
}

// A value: select (XPath), a literal, with an optional join and transforms.
struct ValueSource {
  std::shared_ptr<const XPathExpr> select;
  std::optional<std::string> literal;
  std::optional<std::string> join;
  TransformChain transforms;

  Result<std::string> evaluate(ApplyState& st, const xmlNode* in) const {
    std::string value;
    if (literal) {
      value = *literal;
    } else {
      auto strings = st.xp.strings(*select, in);
      if (!strings) return strings.error();
      if (join) {
        for (const auto& s : *strings) {
          std::string t = trim(s);
          if (t.empty()) continue;
          if (!value.empty()) value += *join;
          value += t;
        }
      } else if (strings->size() > 1) {
        return fail("select \"" + select->text() + "\" found " + std::to_string(strings->size()) +
                    " nodes; use forEach, join=\"...\", or a predicate such as [1]");
      } else if (!strings->empty()) {
        value = trim(strings->front());
      }
    }
    if (transforms.empty() || value.empty()) return value;
    return transforms.apply(std::move(value));
  }
};

struct FieldRule final : Rule {
  OutPath to;
  std::vector<ValueSource> parts;  // one for select/value; several for concat
  bool concat = false;
  std::string separator;
  TransformChain transforms;
  std::optional<std::string> default_value;
  bool required = false;
  std::optional<std::string> split;
  std::shared_ptr<const XPathExpr> condition;

  std::string field() const { return "field '" + to.text + "'"; }

  Status write(ApplyState& st, OutCursor& out, const std::string& value) const {
    xmlNodePtr node = out.get(st);
    for (const auto& step : to.steps) node = st.elementFor(node, step, line);
    if (to.attribute) {
      const OutStep& a = *to.attribute;
      if (xmlHasNsProp(node, bad(a.local), a.ns.empty() ? nullptr : bad(a.ns)) != nullptr) {
        return fail(st.where(line, field() + ": the attribute was already written by an earlier rule"));
      }
      xmlNewNsProp(node, st.nsFor(a.ns, a.prefix.empty() ? "a" : a.prefix), bad(a.local), bad(value));
      return {};
    }
    if (node->children != nullptr) {
      return fail(st.where(line, field() + ": the element already has content (two rules write it; use '+' to add a new one)"));
    }
    xmlAddChild(node, xmlNewDocText(st.out, bad(value)));
    return {};
  }

  Status whenEmpty(ApplyState& st, OutCursor& out) const {
    if (default_value) return write(st, out, *default_value);
    if (required) {
      std::string source = concat ? "concat" : parts.front().select ? "select \"" + parts.front().select->text() + "\"" : "value";
      return fail(st.where(line, field() + ": required value is missing (" + source + " is empty)"));
    }
    return {};
  }

  Status apply(ApplyState& st, const xmlNode* in, OutCursor& out) const override {
    if (condition) {
      auto b = st.xp.boolean(*condition, in);
      if (!b) return fail(st.where(line, field() + ": " + b.error().message));
      if (!*b) return {};
    }
    std::string value;
    for (const auto& part : parts) {
      auto v = part.evaluate(st, in);
      if (!v) return fail(st.where(line, field() + ": " + v.error().message));
      if (v->empty()) continue;
      if (!value.empty()) value += separator;
      value += *v;
    }
    if (value.empty()) return whenEmpty(st, out);
    if (!transforms.empty()) {
      auto t = transforms.apply(std::move(value));
      if (!t) return fail(st.where(line, field() + ": " + t.error().message));
      value = std::move(*t);
      if (value.empty()) return whenEmpty(st, out);
    }
    if (!split) return write(st, out, value);
    std::size_t start = 0;
    bool wrote = false;
    while (start <= value.size()) {
      std::size_t at = split->empty() ? std::string::npos : value.find(*split, start);
      if (at == std::string::npos) at = value.size();
      const std::string piece = trim(std::string_view(value).substr(start, at - start));
      if (!piece.empty()) {
        if (auto s = write(st, out, piece); !s) return s;
        wrote = true;
      }
      start = at + split->size();
      if (split->empty()) break;
    }
    return wrote ? Status{} : whenEmpty(st, out);
  }
};

struct ForEachRule final : Rule {
  std::shared_ptr<const XPathExpr> select;
  std::optional<OutPath> to;
  bool required = false;
  std::shared_ptr<const XPathExpr> condition;
  RuleList children;

  Status apply(ApplyState& st, const xmlNode* in, OutCursor& out) const override {
    if (condition) {
      auto b = st.xp.boolean(*condition, in);
      if (!b) return fail(st.where(line, "forEach: " + b.error().message));
      if (!*b) return {};
    }
    auto nodes = st.xp.nodes(*select, in);
    if (!nodes) return fail(st.where(line, "forEach: " + nodes.error().message));
    if (nodes->empty() && required) {
      return fail(st.where(line, "forEach \"" + select->text() + "\" is required but selects nothing"));
    }
    for (std::size_t i = 0; i < nodes->size(); ++i) {
      st.context.push_back("forEach at line " + std::to_string(line) + ", item " + std::to_string(i + 1));
      Status s;
      if (to) {
        OutCursor item{&out, &*to, line, nullptr};
        s = applyAll(children, st, (*nodes)[i], item);
      } else {
        s = applyAll(children, st, (*nodes)[i], out);
      }
      st.context.pop_back();
      if (!s) return s;
    }
    return {};
  }
};

struct WhenRule final : Rule {
  std::shared_ptr<const XPathExpr> test;
  RuleList children;

  Status apply(ApplyState& st, const xmlNode* in, OutCursor& out) const override {
    auto b = st.xp.boolean(*test, in);
    if (!b) return fail(st.where(line, "when: " + b.error().message));
    if (!*b) return {};
    return applyAll(children, st, in, out);
  }
};

struct RefuseRule final : Rule {
  std::shared_ptr<const XPathExpr> condition;
  std::string reason;

  Status apply(ApplyState& st, const xmlNode* in, OutCursor&) const override {
    auto b = st.xp.boolean(*condition, in);
    if (!b) return fail(st.where(line, "refuse: " + b.error().message));
    if (*b) return fail(st.where(line, "refused by the mapping: " + reason));
    return {};
  }
};

}  // namespace

// =============================================================== loader ====

// Builds a Mapping from its parsed file. Every error is "<file>:<line>: ...".
struct MappingLoader {
  Mapping& m;
  const CodeTables& tables;
  std::string default_out_ns;

  Error at(const xmlNode* n, const std::string& what) const {
    return fail(m.file_ + ":" + std::to_string(lineOf(n)) + ": " + what);
  }

  Result<std::shared_ptr<const XPathExpr>> xpath(const xmlNode* n, const char* attribute) {
    const std::string text = attr(n, attribute).value_or("");
    auto e = XPathExpr::compile(text, m.namespaces_);
    if (!e) return at(n, std::string(attribute) + ": " + e.error().message);
    ++m.expression_count_;
    return e;
  }

  Result<std::shared_ptr<const XPathExpr>> optionalXPath(const xmlNode* n, const char* attribute) {
    if (!attr(n, attribute)) return std::shared_ptr<const XPathExpr>();
    return xpath(n, attribute);
  }

  Result<TransformChain> chain(const xmlNode* n) {
    const auto spec = attr(n, "transform");
    if (!spec) return TransformChain();
    auto c = TransformChain::parse(*spec, tables);
    if (!c) return at(n, "transform \"" + *spec + "\": " + c.error().message);
    return c;
  }

  Result<OutPath> outPath(const xmlNode* n, bool top_level) {
    const std::string text = attr(n, "to").value_or("");
    auto p = parseOutPath(text, m.namespaces_, default_out_ns);
    if (!p) return at(n, p.error().message);
    // Inbound records are built under Record: a top-level path must enter
    // Meta, Person or this mapping's body element. Record/@type is set by
    // the engine from recordType.
    if (m.direction_ == Direction::Inbound && top_level) {
      if (p->self || (p->steps.empty() && p->attribute)) {
        return at(n, "output path '" + text + "': Record itself is written by the engine (type comes from recordType)");
      }
      const std::string& first = p->steps.front().local;
      const bool in_canonical = p->steps.front().ns == kCanonicalNs;
      const bool body = first == m.record_type_ && m.record_type_ != "Person";
      if (!in_canonical || (first != "Meta" && first != "Person" && !body)) {
        std::string allowed = "Meta, Person";
        if (m.record_type_ != "Person") allowed += " or " + m.record_type_;
        return at(n, "output path '" + text + "' must start with " + allowed + " (recordType is " + m.record_type_ + ")");
      }
    }
    return p;
  }

  Result<ValueSource> source(const xmlNode* n, bool allow_none) {
    ValueSource src;
    const bool has_select = attr(n, "select").has_value();
    const bool has_value = attr(n, "value").has_value();
    if (has_select && has_value) return at(n, "give either select or value, not both");
    if (!has_select && !has_value && !allow_none) return at(n, "give select or value");
    if (has_select) {
      auto e = xpath(n, "select");
      if (!e) return e.error();
      src.select = std::move(*e);
    }
    if (has_value) src.literal = attr(n, "value");
    src.join = attr(n, "join");
    if (src.join && !has_select) return at(n, "join needs select");
    return src;
  }

  Result<std::unique_ptr<const Rule>> field(const xmlNode* n, bool top_level) {
    auto rule = std::make_unique<FieldRule>();
    rule->line = lineOf(n);
    auto to = outPath(n, top_level);
    if (!to) return to.error();
    rule->to = std::move(*to);
    const xmlNode* concat = firstChild(n, kMappingNs, "concat");
    if (concat != nullptr) {
      if (attr(n, "select") || attr(n, "value") || attr(n, "join")) {
        return at(n, "a field with <concat> takes no select, value or join");
      }
      rule->concat = true;
      rule->separator = attr(concat, "separator").value_or("");
      for (const xmlNode* part : elementChildren(concat)) {
        auto src = source(part, false);
        if (!src) return src.error();
        auto c = chain(part);
        if (!c) return c.error();
        src->transforms = std::move(*c);
        rule->parts.push_back(std::move(*src));
      }
    } else {
      auto src = source(n, false);
      if (!src) return src.error();
      rule->parts.push_back(std::move(*src));
    }
    auto c = chain(n);
    if (!c) return c.error();
    rule->transforms = std::move(*c);
    rule->default_value = attr(n, "default");
    rule->required = attr(n, "required").value_or("false") == "true" || attr(n, "required").value_or("") == "1";
    rule->split = attr(n, "split");
    if (rule->split) {
      const bool appends = rule->to.attribute ? false
                           : rule->to.self    ? false
                                              : rule->to.steps.back().append;
      if (!appends) return at(n, "split needs an output path whose last step ends in '+' (one element per part)");
    }
    auto cond = optionalXPath(n, "if");
    if (!cond) return cond.error();
    rule->condition = std::move(*cond);
    return std::unique_ptr<const Rule>(std::move(rule));
  }

  Result<std::unique_ptr<const Rule>> forEach(const xmlNode* n, bool top_level) {
    auto rule = std::make_unique<ForEachRule>();
    rule->line = lineOf(n);
    auto sel = xpath(n, "select");
    if (!sel) return sel.error();
    rule->select = std::move(*sel);
    if (attr(n, "to")) {
      auto to = outPath(n, top_level);
      if (!to) return to.error();
      if (to->attribute || to->self) return at(n, "a forEach's to must name elements, not an attribute or '.'");
      rule->to = std::move(*to);
    }
    rule->required = attr(n, "required").value_or("false") == "true" || attr(n, "required").value_or("") == "1";
    auto cond = optionalXPath(n, "if");
    if (!cond) return cond.error();
    rule->condition = std::move(*cond);
    auto kids = rules(n, top_level && !rule->to);
    if (!kids) return kids.error();
    rule->children = std::move(*kids);
    return std::unique_ptr<const Rule>(std::move(rule));
  }

  Result<RuleList> rules(const xmlNode* parent, bool top_level) {
    RuleList out;
    for (const xmlNode* n : elementChildren(parent)) {
      if (nsHref(n) != kMappingNs) continue;
      const std::string_view name = localName(n);
      Result<std::unique_ptr<const Rule>> r = fail("");
      if (name == "field") {
        r = field(n, top_level);
      } else if (name == "forEach") {
        r = forEach(n, top_level);
      } else if (name == "when") {
        auto rule = std::make_unique<WhenRule>();
        rule->line = lineOf(n);
        auto t = xpath(n, "test");
        if (!t) return t.error();
        rule->test = std::move(*t);
        auto kids = rules(n, top_level);
        if (!kids) return kids.error();
        rule->children = std::move(*kids);
        r = std::unique_ptr<const Rule>(std::move(rule));
      } else if (name == "refuse") {
        auto rule = std::make_unique<RefuseRule>();
        rule->line = lineOf(n);
        auto c = xpath(n, "if");
        if (!c) return c.error();
        rule->condition = std::move(*c);
        rule->reason = attr(n, "reason").value_or("");
        r = std::unique_ptr<const Rule>(std::move(rule));
      } else {
        continue;
      }
      if (!r) return r.error();
      out.push_back(std::move(*r));
    }
    return out;
  }

  Status load(const xmlNode* root, const MappingSchemas& schemas) {
    m.root_line_ = lineOf(root);
    m.system_ = attr(root, "system").value_or("");
    m.direction_ = attr(root, "direction").value_or("") == "outbound" ? Direction::Outbound : Direction::Inbound;
    m.record_type_ = attr(root, "recordType").value_or("");
    if (const xmlNode* d = firstChild(root, kMappingNs, "description")) m.description_ = trim(text(d));

    m.namespaces_.emplace_back(std::string(kCanonicalPrefix), std::string(kCanonicalNs));
    for (const xmlNode* n : elementChildren(root)) {
      if (!is(n, kMappingNs, "namespace")) continue;
      const std::string prefix = attr(n, "prefix").value_or("");
      const std::string uri = attr(n, "uri").value_or("");
      if (const std::string* existing = lookupNs(m.namespaces_, prefix)) {
        if (prefix == kCanonicalPrefix && *existing == uri) continue;
        return at(n, "prefix '" + prefix + "' is already bound" +
                         (prefix == kCanonicalPrefix ? std::string(" to the canonical namespace") : std::string()));
      }
      m.namespaces_.emplace_back(prefix, uri);
    }

    const xmlNode* match = firstChild(root, kMappingNs, "match");
    if (match != nullptr) {
      auto e = xpath(match, "test");
      if (!e) return e.error();
      m.match_ = std::move(*e);
    } else if (m.direction_ == Direction::Inbound) {
      return at(root, "an inbound mapping needs <match test=\"...\"/> saying which documents it applies to");
    }

    const xmlNode* output = firstChild(root, kMappingNs, "output");
    if (m.direction_ == Direction::Inbound) {
      if (output != nullptr) return at(output, "an inbound mapping always produces a canonical Record; remove <output>");
      m.out_ns_ = std::string(kCanonicalNs);
      m.out_root_ = "Record";
      m.canonical_ = schemas.canonical;
      if (!m.canonical_) return at(root, "the canonical schema is not loaded");
    } else {
      if (output == nullptr) return at(root, "an outbound mapping needs <output root=\"...\"/>");
      const std::string root_name = attr(output, "root").value_or("");
      const std::string ns_attr = attr(output, "namespace").value_or("");
      const auto colon = root_name.find(':');
      if (colon != std::string::npos) {
        m.out_prefix_ = root_name.substr(0, colon);
        m.out_root_ = root_name.substr(colon + 1);
        const std::string* uri = lookupNs(m.namespaces_, m.out_prefix_);
        if (uri == nullptr) return at(output, "root prefix '" + m.out_prefix_ + "' is not declared");
        m.out_ns_ = *uri;
      } else {
        m.out_root_ = root_name;
        m.out_ns_ = ns_attr;
      }
      default_out_ns = ns_attr;
      if (const auto schema = attr(output, "schema")) {
        const fs::path p = fs::path(m.file_).parent_path() / *schema;
        std::error_code ec;
        if (!fs::is_regular_file(p, ec)) return at(output, "target schema: " + p.string() + " does not exist");
        auto s = xml::Schema::load(p.string());
        if (!s) return at(output, "target schema: " + s.error().message);
        m.target_schema_ = std::move(*s);
      }
    }
    if (m.direction_ == Direction::Inbound) default_out_ns = std::string(kCanonicalNs);

    const xmlNode* rules_el = firstChild(root, kMappingNs, "rules");
    if (rules_el == nullptr) return at(root, "missing <rules>");
    auto r = rules(rules_el, true);
    if (!r) return r.error();
    m.rules_ = std::move(*r);
    return {};
  }
};

// ============================================================== Mapping ====

Mapping::~Mapping() = default;

Result<std::shared_ptr<const Mapping>> Mapping::load(const std::string& file, const CodeTables& tables,
                                                     const MappingSchemas& schemas) {
  if (!schemas.mapping) return fail(file + ": the mapping schema is not loaded");
  bool ok = false;
  const std::string bytes = readFile(file, ok);
  if (!ok) return fail(file + ": cannot open for reading");
  auto doc = xml::parse(bytes, file);
  if (!doc) return doc.error();
  if (auto st = schemas.mapping->validate(doc->get(), file); !st) return st.error();
  const xmlNode* root = xmlDocGetRootElement(doc->get());
  if (!is(root, kMappingNs, "mapping")) return fail(file + ": not a mapping file (root element must be mapping)");
  std::shared_ptr<Mapping> m(new Mapping());
  m->file_ = file;
  m->digest_ = toHex(sha256(bytes));
  MappingLoader loader{*m, tables, {}};
  if (auto st = loader.load(root, schemas); !st) return st.error();
  return std::shared_ptr<const Mapping>(std::move(m));
}

Result<bool> Mapping::matches(const _xmlDoc* input) const {
  XPathEvaluator xp(input, namespaces_);
  return matches(input, xp);
}

Result<xml::DocPtr> Mapping::apply(const _xmlDoc* input) const {
  XPathEvaluator xp(input, namespaces_);
  return apply(input, xp);
}

Result<bool> Mapping::matches(const _xmlDoc* input, XPathEvaluator& xp) const {
  if (!match_) return true;
  const xmlNode* root = input != nullptr ? xmlDocGetRootElement(const_cast<xmlDocPtr>(input)) : nullptr;
  if (root == nullptr) return fail(file_ + ": the input document is empty");
  xp.rebind(namespaces_);
  auto b = xp.boolean(*match_, root);
  if (!b) return fail(file_ + ":" + std::to_string(root_line_) + ": match: " + b.error().message);
  return *b;
}

Result<xml::DocPtr> Mapping::apply(const _xmlDoc* input, XPathEvaluator& xp) const {
  const xmlNode* in_root = input != nullptr ? xmlDocGetRootElement(const_cast<xmlDocPtr>(input)) : nullptr;
  if (in_root == nullptr) return fail(file_ + ": the input document is empty");

  xml::DocPtr out(xmlNewDoc(bad("1.0")));
  if (!out) return fail(file_ + ": out of memory");
  xmlNodePtr root = xmlNewDocNode(out.get(), nullptr, bad(out_root_), nullptr);
  xmlDocSetRootElement(out.get(), root);
  root->line = clampLine(root_line_);
  if (!out_ns_.empty()) {
    xmlNsPtr ns = xmlNewNs(root, bad(out_ns_), out_prefix_.empty() ? nullptr : bad(out_prefix_));
    xmlSetNs(root, ns);
  }
  if (direction_ == Direction::Inbound) xmlNewProp(root, bad("type"), bad(record_type_));

  xp.rebind(namespaces_);
  ApplyState st{file_, xp, out.get(), root, {}};
  OutCursor cursor{nullptr, nullptr, root_line_, root};
  for (const auto& rule : rules_) {
    if (auto s = rule->apply(st, in_root, cursor); !s) return s.error();
  }

  if (direction_ == Direction::Inbound) {
    if (auto s = canonical_->validate(out.get(), file_); !s) {
      return fail("the translated record does not satisfy the canonical model:\n" + s.error().message);
    }
  } else if (target_schema_) {
    if (auto s = target_schema_->validate(out.get(), file_); !s) {
      std::string lines;
      std::istringstream in(s.error().message);
      for (std::string l; std::getline(in, l);) lines += "\n" + withholdValuesInMessage(l);
      return fail("the translated document does not satisfy " + target_schema_->path() + ":" + lines);
    }
  }
  return out;
}

// ============================================================ schemas ======

Result<MappingSchemas> MappingSchemas::load(const std::string& mappings_root) {
  const fs::path root(mappings_root);
  MappingSchemas s;
  auto mapping = xml::Schema::load((root / "schema" / "mapping.xsd").string());
  if (!mapping) return mapping.error();
  auto codes = xml::Schema::load((root / "schema" / "code-table.xsd").string());
  if (!codes) return codes.error();
  auto canonical = CanonicalModel::load((root / "canonical" / "canonical.xsd").string());
  if (!canonical) return canonical.error();
  s.mapping = std::move(*mapping);
  s.code_table = std::move(*codes);
  s.canonical = std::move(*canonical);
  return s;
}

// =========================================================== MappingSet ====

Result<std::shared_ptr<const MappingSet>> MappingSet::load(const std::string& dir, const MappingSchemas& schemas) {
  if (!schemas.mapping || !schemas.code_table || !schemas.canonical) {
    return fail(dir + ": mapping schemas are not loaded");
  }
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return fail(dir + ": not a directory");
  auto tables = loadCodeTables((fs::path(dir) / "codes").string(), *schemas.code_table);
  if (!tables) return tables.error();

  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".xml") files.push_back(entry.path());
  }
  if (ec) return fail(dir + ": cannot list mapping files: " + ec.message());
  std::sort(files.begin(), files.end());
  if (files.empty()) return fail(dir + ": no mapping files (*.xml)");

  std::shared_ptr<MappingSet> set(new MappingSet());
  set->dir_ = dir;
  set->canonical_ = schemas.canonical;
  set->tables_ = std::make_shared<const CodeTables>(std::move(*tables));
  std::string digests;
  for (const auto& f : files) {
    auto m = Mapping::load(f.string(), *set->tables_, schemas);
    if (!m) return m.error();
    const Mapping& mapping = **m;
    if (set->system_.empty()) set->system_ = mapping.system();
    if (mapping.system() != set->system_) {
      return fail(mapping.file() + ": system \"" + mapping.system() + "\" differs from \"" + set->system_ +
                  "\" named by " + set->mappings_.front()->file() + " (one directory is one system)");
    }
    if (mapping.direction() == Direction::Outbound) {
      for (const auto& other : set->mappings_) {
        if (other->direction() == Direction::Outbound && other->recordType() == mapping.recordType()) {
          return fail(mapping.file() + ": a second outbound mapping for " + mapping.recordType() + " (the first is " +
                      other->file() + ")");
        }
      }
    }
    digests += mapping.digest();
    set->mappings_.push_back(std::move(*m));
  }
  set->digest_ = toHex(sha256(digests));
  return std::shared_ptr<const MappingSet>(std::move(set));
}

const Mapping* MappingSet::findByFileName(std::string_view file_name) const {
  for (const auto& m : mappings_) {
    if (fs::path(m->file()).filename() == file_name) return m.get();
  }
  return nullptr;
}

Result<MappedDocument> MappingSet::toCanonical(const _xmlDoc* input) const {
  const xmlNode* root = input != nullptr ? xmlDocGetRootElement(const_cast<xmlDocPtr>(input)) : nullptr;
  if (root == nullptr) return fail("system " + system_ + ": the input document is empty");
  const Mapping* chosen = nullptr;
  XPathEvaluator xp(input, {});
  for (const auto& m : mappings_) {
    if (m->direction() != Direction::Inbound) continue;
    auto b = m->matches(input, xp);
    if (!b) return b.error();
    if (!*b) continue;
    if (chosen != nullptr) {
      return fail("system " + system_ + ": ambiguous input: both " + chosen->file() + " and " + m->file() +
                  " match it; make their <match> tests exclusive");
    }
    chosen = m.get();
  }
  if (chosen == nullptr) {
    return fail("system " + system_ + ": no inbound mapping in " + dir_ + " matches a document whose root element is " +
                qualifiedName(root));
  }
  auto doc = chosen->apply(input, xp);
  if (!doc) return doc.error();
  return MappedDocument{std::move(*doc), chosen};
}

Result<MappedDocument> MappingSet::fromCanonical(const _xmlDoc* canonical, std::string_view record_type) const {
  const xmlNode* root = canonical != nullptr ? xmlDocGetRootElement(const_cast<xmlDocPtr>(canonical)) : nullptr;
  if (!is(root, kCanonicalNs, "Record")) return fail("system " + system_ + ": the input is not a canonical Record");
  std::string type(record_type);
  const std::string own = attr(root, "type").value_or("");
  if (type.empty()) type = own;
  if (type != own) {
    return fail("system " + system_ + ": asked to render a " + type + " but the record is a " + own);
  }
  for (const auto& m : mappings_) {
    if (m->direction() != Direction::Outbound || m->recordType() != type) continue;
    XPathEvaluator xp(canonical, {});
    auto b = m->matches(canonical, xp);
    if (!b) return b.error();
    if (!*b) return fail(m->file() + ": the record does not satisfy this outbound mapping's <match>");
    auto doc = m->apply(canonical, xp);
    if (!doc) return doc.error();
    return MappedDocument{std::move(*doc), m.get()};
  }
  return fail("system " + system_ + ": no outbound mapping in " + dir_ + " for record type " + type);
}

}  // namespace cb::mapping
