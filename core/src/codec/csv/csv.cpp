#include "codec/csv/csv.h"

#include <libxml/tree.h>

#include <algorithm>
#include <set>
#include <unordered_map>
#include <utility>

namespace cb::codec::csv {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";

const xmlChar* xc(const char* s) { return reinterpret_cast<const xmlChar*>(s); }
std::string_view sv(const xmlChar* s) {
  return s == nullptr ? std::string_view() : std::string_view(reinterpret_cast<const char*>(s));
}

bool validDelimiter(char c) { return c == ',' || c == ';' || c == '\t' || c == '|'; }

Status checkDelimiter(char c) {
  if (!validDelimiter(c)) return fail("CSV: the delimiter must be one of ',' ';' TAB '|'");
  return {};
}

// Length of the UTF-8 sequence at s[pos] if it is well formed per RFC 3629
// section 4 (no overlong forms, no surrogates, nothing above U+10FFFF) and a
// character XML 1.0 can carry (section 2.2: no C0 controls other than TAB,
// CR, LF; not U+FFFE or U+FFFF); 0 otherwise.
std::size_t validCharAt(std::string_view s, std::size_t pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  if (b0 < 0x80) return (b0 >= 0x20 || b0 == '\t' || b0 == '\r' || b0 == '\n') ? 1 : 0;
  std::size_t len = 0;
  char32_t c = 0;
  char32_t min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    min = 0x80;
    c = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    min = 0x800;
    c = b0 & 0x0Fu;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    min = 0x10000;
    c = b0 & 0x07u;
  } else {
    return 0;
  }
  if (s.size() - pos < len) return 0;
  for (std::size_t i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(s[pos + i]);
    if ((b & 0xC0) != 0x80) return 0;
    c = (c << 6) | (b & 0x3Fu);
  }
  if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF) || c == 0xFFFE || c == 0xFFFF) return 0;
  return len;
}

// Finds the first byte that is not valid text; npos when all is well.
std::size_t firstInvalid(std::string_view s) {
  std::size_t pos = 0;
  while (pos < s.size()) {
    // ASCII fast path: most of a CSV file is ASCII.
    const auto b = static_cast<unsigned char>(s[pos]);
    if (b >= 0x20 && b < 0x80) {
      ++pos;
      continue;
    }
    const std::size_t n = validCharAt(s, pos);
    if (n == 0) return pos;
    pos += n;
  }
  return std::string_view::npos;
}

std::size_t lineOf(std::string_view s, std::size_t offset) {
  std::size_t line = 1;
  for (std::size_t i = 0; i < offset && i < s.size(); ++i) {
    if (s[i] == '\n' || (s[i] == '\r' && (i + 1 >= s.size() || s[i + 1] != '\n'))) ++line;
  }
  return line;
}

// Reads RFC 4180 records one at a time, tracking the physical line each
// record starts on for error messages.
class RecordReader {
 public:
  RecordReader(std::string_view s, char delimiter, std::size_t max_columns)
      : s_(s), delimiter_(delimiter), max_columns_(max_columns) {}

  bool done() const { return pos_ >= s_.size(); }
  std::size_t line() const { return line_; }

  // Reads the next record into `fields`. `blank` is set for a line with no
  // characters at all (distinct from a line holding "").
  Status next(std::vector<std::string>& fields, bool& blank) {
    fields.clear();
    blank = false;
    const std::size_t record_line = line_;
    bool first_quoted = false;
    while (true) {
      if (fields.size() >= max_columns_) {
        return fail("CSV: line " + std::to_string(record_line) + ": more than " + std::to_string(max_columns_) +
                    " fields (ReadOptions::max_columns)");
      }
      std::string& field = fields.emplace_back();
      if (pos_ < s_.size() && s_[pos_] == '"') {
        if (fields.size() == 1) first_quoted = true;
        if (auto ok = quoted(field, record_line, fields.size()); !ok) return ok;
      } else {
        const std::size_t start = pos_;
        while (pos_ < s_.size() && s_[pos_] != delimiter_ && s_[pos_] != '\r' && s_[pos_] != '\n') ++pos_;
        field.assign(s_.substr(start, pos_ - start));
      }
      if (pos_ < s_.size() && s_[pos_] == delimiter_) {
        ++pos_;
        continue;
      }
      break;
    }
    // Record ends at a line break or the end of input (RFC 4180 section 2
    // rule 2: the last record may lack a line break).
    if (pos_ < s_.size()) {
      if (s_[pos_] == '\r' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '\n') ++pos_;
      ++pos_;
      ++line_;
    }
    blank = fields.size() == 1 && fields[0].empty() && !first_quoted;
    return {};
  }

 private:
  // A field enclosed in double quotes: may hold the delimiter, line breaks
  // and doubled quotes (RFC 4180 section 2 rules 6 and 7).
  Status quoted(std::string& field, std::size_t record_line, std::size_t field_number) {
    const std::size_t open_line = line_;
    ++pos_;
    while (true) {
      const std::size_t next = s_.find_first_of("\"\r\n", pos_);
      if (next == std::string_view::npos) {
        return fail("CSV: line " + std::to_string(open_line) + " field " + std::to_string(field_number) +
                    ": quoted field is not closed before the end of the input");
      }
      field.append(s_.substr(pos_, next - pos_));
      pos_ = next;
      const char c = s_[pos_];
      if (c == '"') {
        if (pos_ + 1 < s_.size() && s_[pos_ + 1] == '"') {
          field += '"';
          pos_ += 2;
          continue;
        }
        ++pos_;
        break;
      }
      // A line break inside quotes is part of the value.
      field += c;
      ++pos_;
      if (c == '\n' || (c == '\r' && (pos_ >= s_.size() || s_[pos_] != '\n'))) ++line_;
    }
    if (pos_ < s_.size() && s_[pos_] != delimiter_ && s_[pos_] != '\r' && s_[pos_] != '\n') {
      return fail("CSV: line " + std::to_string(line_) + " field " + std::to_string(field_number) +
                  ": text after the closing quote of a quoted field (record starting on line " +
                  std::to_string(record_line) + ")");
    }
    return {};
  }

  std::string_view s_;
  char delimiter_;
  std::size_t max_columns_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
};

bool isNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.';
}

bool isValidUtf8(std::string_view s) { return firstInvalid(s) == std::string_view::npos; }

}  // namespace

Result<Table> parse(std::string_view bytes, const ReadOptions& options) {
  if (auto ok = checkDelimiter(options.delimiter); !ok) return std::move(ok).error();
  if (bytes.size() > options.max_bytes) {
    return fail("CSV: refused: " + std::to_string(bytes.size()) + " bytes exceeds the limit of " +
                std::to_string(options.max_bytes) + " (ReadOptions::max_bytes)");
  }
  if (bytes.starts_with(kBom)) bytes.remove_prefix(kBom.size());
  if (bytes.empty()) return fail("CSV: refused: empty input (a header row is required)");
  if (const std::size_t bad = firstInvalid(bytes); bad != std::string_view::npos) {
    const auto b = static_cast<unsigned char>(bytes[bad]);
    return fail("CSV: line " + std::to_string(lineOf(bytes, bad)) +
                (b < 0x20 ? ": control character not allowed in CSV text"
                          : ": invalid UTF-8 (the file must be UTF-8; convert it from its character set first)"));
  }

  RecordReader reader(bytes, options.delimiter, options.max_columns);
  Table table;
  bool blank = false;
  if (auto ok = reader.next(table.header, blank); !ok) return std::move(ok).error();
  if (blank) return fail("CSV: line 1: the header row is blank");

  std::vector<std::string> fields;
  std::size_t cells = 0;
  // Blank lines are held back until a record follows them, so blank lines at
  // the end of the file are dropped while one in the middle still counts.
  std::vector<std::size_t> pending_blank_lines;
  while (!reader.done()) {
    const std::size_t line = reader.line();
    if (auto ok = reader.next(fields, blank); !ok) return std::move(ok).error();
    if (blank) {
      pending_blank_lines.push_back(line);
      continue;
    }
    for (const std::size_t blank_line : pending_blank_lines) {
      if (table.header.size() != 1) {
        return fail("CSV: line " + std::to_string(blank_line) + ": blank line inside the data (header has " +
                    std::to_string(table.header.size()) + " fields)");
      }
      table.rows.push_back({std::string()});
    }
    pending_blank_lines.clear();
    if (fields.size() != table.header.size()) {
      return fail("CSV: line " + std::to_string(line) + ": " + std::to_string(fields.size()) +
                  " fields, but the header has " + std::to_string(table.header.size()) +
                  " (RFC 4180 section 2 rule 4: every record has the same number of fields)");
    }
    if (table.rows.size() + 1 > options.max_rows) {
      return fail("CSV: refused: more than " + std::to_string(options.max_rows) +
                  " data rows (ReadOptions::max_rows)");
    }
    cells += fields.size();
    if (cells > options.max_cells) {
      return fail("CSV: refused: more than " + std::to_string(options.max_cells) +
                  " cells (ReadOptions::max_cells)");
    }
    table.rows.push_back(fields);
  }
  return table;
}

Result<std::string> write(const Table& table, const WriteOptions& options) {
  if (auto ok = checkDelimiter(options.delimiter); !ok) return std::move(ok).error();
  if (table.header.empty()) return fail("CSV: cannot write a table with no columns");
  const std::string_view eol = options.line_ending == LineEnding::CrLf ? "\r\n" : "\n";
  std::string out;
  const auto writeRecord = [&](const std::vector<std::string>& record, std::size_t number) -> Status {
    if (record.size() != table.header.size()) {
      return fail("CSV: row " + std::to_string(number) + " has " + std::to_string(record.size()) +
                  " values, but the header has " + std::to_string(table.header.size()));
    }
    for (std::size_t i = 0; i < record.size(); ++i) {
      const std::string& v = record[i];
      if (!isValidUtf8(v)) {
        return fail("CSV: row " + std::to_string(number) + " column " + std::to_string(i + 1) +
                    ": not valid UTF-8 text");
      }
      if (i > 0) out += options.delimiter;
      // A lone empty field would read back as a blank line, which parse()
      // drops at the end of a file; a file that starts with U+FEFF would read
      // back with it taken for a byte order mark. Quoting keeps both.
      const bool lone_empty = record.size() == 1 && v.empty();
      const bool leading_bom = number == 0 && i == 0 && v.starts_with(kBom);
      const bool needs_quotes = options.quote_all || lone_empty || leading_bom ||
                                v.find_first_of(std::string{options.delimiter, '"', '\r', '\n'}) != std::string::npos;
      if (!needs_quotes) {
        out += v;
        continue;
      }
      out += '"';
      for (const char c : v) {
        if (c == '"') out += '"';
        out += c;
      }
      out += '"';
    }
    out += eol;
    return {};
  };
  if (auto ok = writeRecord(table.header, 0); !ok) return std::move(ok).error();
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    if (auto ok = writeRecord(table.rows[r], r + 1); !ok) return std::move(ok).error();
  }
  return out;
}

std::vector<std::string> columnElementNames(const std::vector<std::string>& header) {
  std::vector<std::string> names;
  std::set<std::string> taken;
  names.reserve(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) {
    std::string name;
    bool pending_gap = false;
    for (const char c : header[i]) {
      if (isNameChar(c)) {
        if (pending_gap && !name.empty()) name += '_';
        pending_gap = false;
        name += c;
      } else {
        pending_gap = true;
      }
    }
    if (name.empty()) {
      name = "column_" + std::to_string(i + 1);
    } else {
      const char first = name[0];
      const bool reserved = name.size() >= 3 && (name[0] | 0x20) == 'x' && (name[1] | 0x20) == 'm' &&
                            (name[2] | 0x20) == 'l';
      if ((first >= '0' && first <= '9') || first == '-' || first == '.' || reserved) name.insert(0, "_");
    }
    if (taken.count(name) != 0) {
      std::size_t n = 2;
      while (taken.count(name + "_" + std::to_string(n)) != 0) ++n;
      name += "_" + std::to_string(n);
    }
    taken.insert(name);
    names.push_back(std::move(name));
  }
  return names;
}

Result<xml::DocPtr> toXml(const Table& table) {
  if (table.header.empty()) return fail("CSV: cannot convert a table with no columns");
  for (const std::string& h : table.header) {
    if (!isValidUtf8(h)) return fail("CSV: a column name is not valid UTF-8 text");
  }
  const std::vector<std::string> names = columnElementNames(table.header);
  xml::DocPtr doc(xmlNewDoc(xc("1.0")));
  xmlNodePtr root = xmlNewDocNode(doc.get(), nullptr, xc("rows"), nullptr);
  xmlDocSetRootElement(doc.get(), root);
  xmlNodePtr columns = xmlNewChild(root, nullptr, xc("columns"), nullptr);
  for (std::size_t i = 0; i < names.size(); ++i) {
    xmlNodePtr column = xmlNewChild(columns, nullptr, xc("column"), nullptr);
    xmlNewProp(column, xc("element"), xc(names[i].c_str()));
    xmlNewProp(column, xc("name"), xc(table.header[i].c_str()));
  }
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    if (row.size() != names.size()) {
      return fail("CSV: row " + std::to_string(r + 1) + " has " + std::to_string(row.size()) +
                  " values, but the header has " + std::to_string(names.size()));
    }
    xmlNodePtr row_el = xmlNewChild(root, nullptr, xc("row"), nullptr);
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (!isValidUtf8(row[c])) {
        return fail("CSV: row " + std::to_string(r + 1) + " column " + std::to_string(c + 1) +
                    ": not valid UTF-8 text");
      }
      xmlNodePtr cell = xmlNewDocNode(doc.get(), nullptr, xc(names[c].c_str()), nullptr);
      xmlAddChild(row_el, cell);
      if (!row[c].empty()) {
        xmlAddChild(cell, xmlNewDocTextLen(doc.get(), xc(row[c].c_str()), static_cast<int>(row[c].size())));
      }
    }
  }
  return doc;
}

namespace {

std::string textOf(const xmlNode* el) {
  std::string s;
  for (const xmlNode* n = el->children; n != nullptr; n = n->next) {
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) s += sv(n->content);
  }
  return s;
}

bool isWhitespace(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

// Element children of `el`; refuses non-whitespace text between them.
Result<std::vector<const xmlNode*>> elementChildren(const xmlNode* el) {
  std::vector<const xmlNode*> out;
  for (const xmlNode* n = el->children; n != nullptr; n = n->next) {
    if (n->type == XML_ELEMENT_NODE) {
      out.push_back(n);
    } else if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && !isWhitespace(sv(n->content))) {
      return fail("CSV XML: <" + std::string(sv(el->name)) + "> holds text; expected only child elements");
    }
  }
  return out;
}

std::string attribute(const xmlNode* el, const char* name, bool& present) {
  xmlChar* raw = xmlGetNoNsProp(el, xc(name));
  present = raw != nullptr;
  std::string value(sv(raw));
  if (raw != nullptr) xmlFree(raw);
  return value;
}

}  // namespace

Result<Table> fromXml(const _xmlDoc* doc, const ReadOptions& options) {
  const xmlNode* root = doc == nullptr ? nullptr : xmlDocGetRootElement(doc);
  if (root == nullptr || sv(root->name) != "rows") return fail("CSV XML: the root element must be <rows>");
  auto children = elementChildren(root);
  if (!children) return std::move(children).error();

  Table table;
  std::vector<std::string> elements;
  std::unordered_map<std::string, std::size_t> index;
  bool declared = false;
  std::size_t first_row = 0;
  if (!children->empty() && sv(children->front()->name) == "columns") {
    declared = true;
    first_row = 1;
    auto columns = elementChildren(children->front());
    if (!columns) return std::move(columns).error();
    if (columns->size() > options.max_columns) {
      return fail("CSV XML: more than " + std::to_string(options.max_columns) + " columns (ReadOptions::max_columns)");
    }
    std::vector<bool> has_element;
    for (const xmlNode* column : *columns) {
      if (sv(column->name) != "column") return fail("CSV XML: <columns> may hold only <column> elements");
      bool has_name = false;
      bool has_el = false;
      table.header.push_back(attribute(column, "name", has_name));
      elements.push_back(attribute(column, "element", has_el));
      if (!has_name) {
        return fail("CSV XML: <column> " + std::to_string(table.header.size()) + " has no name attribute");
      }
      has_element.push_back(has_el);
    }
    // A <column> without an element attribute gets the name columnElementNames() gives it.
    const std::vector<std::string> derived = columnElementNames(table.header);
    for (std::size_t i = 0; i < elements.size(); ++i) {
      if (!has_element[i]) elements[i] = derived[i];
      if (!index.emplace(elements[i], i).second) {
        return fail("CSV XML: two <column> elements use the element name '" + elements[i] + "'");
      }
    }
  }
  if (children->size() - first_row > options.max_rows) {
    return fail("CSV XML: more than " + std::to_string(options.max_rows) + " rows (ReadOptions::max_rows)");
  }

  std::size_t cells = 0;
  std::vector<std::vector<std::pair<std::size_t, std::string>>> sparse;
  sparse.reserve(children->size() - first_row);
  for (std::size_t r = first_row; r < children->size(); ++r) {
    const xmlNode* row = (*children)[r];
    const std::size_t row_number = r - first_row + 1;
    if (sv(row->name) != "row") {
      return fail("CSV XML: <" + std::string(sv(row->name)) + "> cannot appear inside <rows> (expected <row>)");
    }
    auto row_cells = elementChildren(row);
    if (!row_cells) return std::move(row_cells).error();
    auto& values = sparse.emplace_back();
    std::vector<bool> seen(elements.size());
    for (const xmlNode* cell : *row_cells) {
      const std::string name(sv(cell->name));
      auto it = index.find(name);
      if (it == index.end()) {
        if (declared) {
          return fail("CSV XML: row " + std::to_string(row_number) + ": <" + name +
                      "> is not a column declared in <columns>");
        }
        if (elements.size() >= options.max_columns) {
          return fail("CSV XML: more than " + std::to_string(options.max_columns) +
                      " columns (ReadOptions::max_columns)");
        }
        it = index.emplace(name, elements.size()).first;
        elements.push_back(name);
        table.header.push_back(name);
        seen.push_back(false);
      }
      if (seen[it->second]) {
        return fail("CSV XML: row " + std::to_string(row_number) + ": <" + name + "> appears twice");
      }
      seen[it->second] = true;
      for (const xmlNode* n = cell->children; n != nullptr; n = n->next) {
        if (n->type == XML_ELEMENT_NODE) {
          return fail("CSV XML: row " + std::to_string(row_number) + ": <" + name +
                      "> holds an element; a cell holds text only");
        }
      }
      if (++cells > options.max_cells) {
        return fail("CSV XML: more than " + std::to_string(options.max_cells) + " cells (ReadOptions::max_cells)");
      }
      values.emplace_back(it->second, textOf(cell));
    }
  }
  if (table.header.empty()) return fail("CSV XML: no columns: give <columns> or at least one cell");
  table.rows.reserve(sparse.size());
  for (auto& values : sparse) {
    auto& row = table.rows.emplace_back(table.header.size());
    for (auto& [column, value] : values) row[column] = std::move(value);
  }
  return table;
}

Result<std::string> csvToXml(std::string_view bytes, const ReadOptions& options) {
  auto table = parse(bytes, options);
  if (!table) return std::move(table).error();
  auto doc = toXml(*table);
  if (!doc) return std::move(doc).error();
  return xml::serialize(doc->get());
}

Result<std::string> xmlToCsv(std::string_view xml_text, std::string_view name, const WriteOptions& options,
                             const ReadOptions& limits) {
  xml::ParseLimits xml_limits;
  xml_limits.max_bytes = limits.max_bytes * 8;
  xml_limits.max_depth = 8;
  auto doc = xml::parse(xml_text, name, xml_limits);
  if (!doc) return std::move(doc).error();
  auto table = fromXml(doc->get(), limits);
  if (!table) return std::move(table).error();
  return write(*table, options);
}

}  // namespace cb::codec::csv
