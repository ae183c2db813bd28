#include "mapping/code_table.h"

#include "mapping/xml_util.h"
#include "xml/safe_xml.h"
#include "xml/schema.h"

#include <algorithm>
#include <filesystem>

namespace cb::mapping {
namespace {

namespace fs = std::filesystem;
using namespace xmlutil;

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string CodeTable::key(std::string_view code, CodeMatch match) {
  const std::string_view t = trimmed(code);
  if (match == CodeMatch::Exact) return std::string(t);
  std::string out;
  out.reserve(t.size());
  if (match == CodeMatch::IgnoreCase) {
    for (char c : t) out.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
    return out;
  }
  // Loose: white space, '-', ':', '_', U+2013 (en dash) and U+2014 (em dash)
  // are all one separator; runs collapse; separators next to '/' vanish.
  bool pending = false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    bool separator = isSpace(c) || c == '-' || c == ':' || c == '_';
    if (static_cast<unsigned char>(c) == 0xE2 && i + 2 < t.size() && static_cast<unsigned char>(t[i + 1]) == 0x80 &&
        (static_cast<unsigned char>(t[i + 2]) == 0x93 || static_cast<unsigned char>(t[i + 2]) == 0x94)) {
      separator = true;
      i += 2;
    }
    if (separator) {
      pending = !out.empty() && out.back() != '/';
      continue;
    }
    if (c == '/') pending = false;
    if (pending) out.push_back(' ');
    pending = false;
    out.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

Result<std::shared_ptr<const CodeTable>> CodeTable::load(const std::string& path, const xml::Schema& schema) {
  auto doc = xml::parseFile(path);
  if (!doc) return doc.error();
  if (auto st = schema.validate(doc->get(), path); !st) return st.error();
  const xmlNode* root = xmlDocGetRootElement(doc->get());
  if (!is(root, kMappingNs, "codeTable")) {
    return fail(path + ":" + std::to_string(lineOf(root)) + ": not a code table (root element must be codeTable in " +
                std::string(kMappingNs) + ")");
  }
  std::shared_ptr<CodeTable> table(new CodeTable());
  table->file_ = path;
  table->name_ = attr(root, "name").value_or("");
  const std::string match = attr(root, "match").value_or("exact");
  table->match_ = match == "loose" ? CodeMatch::Loose : match == "ignore-case" ? CodeMatch::IgnoreCase : CodeMatch::Exact;
  const std::string on_unknown = attr(root, "onUnknown").value_or("refuse");
  const auto default_code = attr(root, "default");
  if (on_unknown == "default") {
    if (!default_code) {
      return fail(path + ":" + std::to_string(lineOf(root)) + ": onUnknown=\"default\" needs default=\"<code>\"");
    }
    table->default_code_ = *default_code;
  } else if (default_code) {
    return fail(path + ":" + std::to_string(lineOf(root)) +
                ": default=\"...\" is only allowed with onUnknown=\"default\" (this table refuses unknown codes)");
  }

  std::unordered_map<std::string, int> line_of_key;
  bool default_named = false;
  for (const xmlNode* c : elementChildren(root)) {
    if (!is(c, kMappingNs, "code")) continue;
    std::string from = attr(c, "from").value_or("");
    std::string to = attr(c, "to").value_or("");
    std::string k = key(from, table->match_);
    const int line = lineOf(c);
    if (auto it = line_of_key.find(k); it != line_of_key.end()) {
      return fail(path + ":" + std::to_string(line) + ": code \"" + from + "\" is the same as the one on line " +
                  std::to_string(it->second) + " under match=\"" + match + "\"");
    }
    line_of_key.emplace(k, line);
    if (table->default_code_ && to == *table->default_code_) default_named = true;
    table->index_.emplace(std::move(k), table->entries_.size());
    table->entries_.emplace_back(std::move(from), std::move(to));
  }
  // The default must be a code the table itself produces, so a typo in it is
  // caught here rather than by the first unknown code in production.
  if (table->default_code_ && !default_named) {
    return fail(path + ":" + std::to_string(lineOf(root)) + ": default code \"" + *table->default_code_ +
                "\" is not the 'to' of any code in the table");
  }
  return std::shared_ptr<const CodeTable>(std::move(table));
}

std::optional<std::string_view> CodeTable::find(std::string_view code) const {
  auto it = index_.find(key(code, match_));
  if (it == index_.end()) return std::nullopt;
  return std::string_view(entries_[it->second].second);
}

Result<std::string> CodeTable::translate(std::string_view code) const {
  if (auto hit = find(code)) return std::string(*hit);
  if (default_code_) return *default_code_;
  std::string shown(trimmed(code).substr(0, 40));
  return fail("code \"" + shown + "\" is not in code table '" + name_ + "' (" + file_ +
              "), which refuses unknown codes; add it to the table");
}

Result<CodeTables> loadCodeTables(const std::string& dir, const xml::Schema& schema) {
  CodeTables tables;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return tables;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".xml") files.push_back(entry.path());
  }
  if (ec) return fail(dir + ": cannot list code tables: " + ec.message());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    auto t = CodeTable::load(f.string(), schema);
    if (!t) return t.error();
    const std::string name = (*t)->name();
    if (auto it = tables.find(name); it != tables.end()) {
      return fail(f.string() + ": code table name '" + name + "' is already used by " + it->second->file());
    }
    tables.emplace(name, std::move(*t));
  }
  return tables;
}

}  // namespace cb::mapping
