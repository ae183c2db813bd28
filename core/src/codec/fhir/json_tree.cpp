#include "codec/fhir/json_tree.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <boost/system/errc.hpp>

#include <charconv>
#include <limits>

namespace cb::codec::fhir {

// Receives boost::json::basic_parser events and builds the flat tree. Limits
// Boost cannot express (array length, string size, number size) are checked
// here; a refusal stops the parser and keeps the message in problem_.
class JsonTreeBuilder {
 public:
  // basic_parser's own size checks are left open: ours below name the place.
  static constexpr std::size_t max_array_size = std::numeric_limits<std::size_t>::max();
  static constexpr std::size_t max_object_size = std::numeric_limits<std::size_t>::max();
  static constexpr std::size_t max_string_size = std::numeric_limits<std::size_t>::max();
  static constexpr std::size_t max_key_size = std::numeric_limits<std::size_t>::max();

  JsonTreeBuilder(JsonTree& tree, const Limits& limits) : tree_(tree), limits_(limits) {}

  bool on_document_begin(boost::json::error_code&) { return true; }
  bool on_document_end(boost::json::error_code&) { return true; }

  bool on_array_begin(boost::json::error_code& ec) { return open(JsonKind::kArray, ec); }
  bool on_array_end(std::size_t, boost::json::error_code&) {
    stack_.pop_back();
    return true;
  }
  bool on_object_begin(boost::json::error_code& ec) { return open(JsonKind::kObject, ec); }
  bool on_object_end(std::size_t, boost::json::error_code&) {
    stack_.pop_back();
    return true;
  }

  bool on_string_part(boost::json::string_view s, std::size_t n, boost::json::error_code& ec) {
    if (!in_string_) {
      in_string_ = true;
      part_offset_ = tree_.text_.size();
    }
    if (n > limits_.max_string_bytes) return refuseStringSize(ec);
    tree_.text_.append(s.data(), s.size());
    return true;
  }
  bool on_string(boost::json::string_view s, std::size_t n, boost::json::error_code& ec) {
    if (!on_string_part(s, n, ec)) return false;
    in_string_ = false;
    return leaf(JsonKind::kString, part_offset_, ec);
  }

  bool on_key_part(boost::json::string_view s, std::size_t n, boost::json::error_code& ec) {
    if (!in_key_) {
      in_key_ = true;
      key_offset_ = tree_.text_.size();
    }
    if (n > limits_.max_string_bytes) return refuseStringSize(ec);
    tree_.text_.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t n, boost::json::error_code& ec) {
    if (!on_key_part(s, n, ec)) return false;
    in_key_ = false;
    key_length_ = tree_.text_.size() - key_offset_;
    return true;
  }

  bool on_number_part(boost::json::string_view s, boost::json::error_code& ec) {
    if (!in_number_) {
      in_number_ = true;
      part_offset_ = tree_.text_.size();
    }
    tree_.text_.append(s.data(), s.size());
    if (tree_.text_.size() - part_offset_ > limits_.max_number_chars) {
      return refuse("refused: a number longer than " + std::to_string(limits_.max_number_chars) + " characters", ec);
    }
    return true;
  }
  // The parsed values are ignored: the lexical form is what FHIR keeps.
  bool on_int64(std::int64_t, boost::json::string_view s, boost::json::error_code& ec) { return number(s, ec); }
  bool on_uint64(std::uint64_t, boost::json::string_view s, boost::json::error_code& ec) { return number(s, ec); }
  bool on_double(double, boost::json::string_view s, boost::json::error_code& ec) { return number(s, ec); }
  bool on_bool(bool b, boost::json::error_code& ec) {
    return leaf(b ? JsonKind::kTrue : JsonKind::kFalse, tree_.text_.size(), ec);
  }
  bool on_null(boost::json::error_code& ec) { return leaf(JsonKind::kNull, tree_.text_.size(), ec); }
  bool on_comment_part(boost::json::string_view, boost::json::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::json::error_code&) { return true; }

  const std::string& problem() const { return problem_; }

 private:
  // Adds a node as the next child of the open container (or as the root).
  bool add(JsonKind kind, std::size_t text_offset, boost::json::error_code& ec) {
    if (tree_.nodes_.size() >= std::numeric_limits<std::uint32_t>::max() - 1) {
      return refuse("refused: too many values", ec);
    }
    const auto index = static_cast<std::uint32_t>(tree_.nodes_.size());
    JsonNode node;
    node.kind = kind;
    node.text_offset = static_cast<std::uint32_t>(text_offset);
    node.text_length = static_cast<std::uint32_t>(tree_.text_.size() - text_offset);
    if (!stack_.empty()) {
      Frame& parent = stack_.back();
      JsonNode& p = tree_.nodes_[parent.node];
      node.parent = parent.node;
      node.position = p.child_count;
      if (p.kind == JsonKind::kObject) {
        node.key_offset = static_cast<std::uint32_t>(key_offset_);
        node.key_length = static_cast<std::uint32_t>(key_length_);
      }
      if (p.child_count >= limits_.max_array_length) {
        tree_.nodes_.push_back(node);  // so pointer() can name the place
        const char* what = p.kind == JsonKind::kArray ? "an array with more than " : "an object with more than ";
        const std::string noun = p.kind == JsonKind::kArray ? " items" : " members";
        return refuseAt(parent.node, std::string("refused: ") + what + std::to_string(limits_.max_array_length) + noun,
                        ec);
      }
      if (parent.last_child == kNoNode) p.first_child = index;
      else tree_.nodes_[parent.last_child].next_sibling = index;
      ++p.child_count;
      parent.last_child = index;
    }
    tree_.nodes_.push_back(node);
    return true;
  }

  bool open(JsonKind kind, boost::json::error_code& ec) {
    if (!add(kind, tree_.text_.size(), ec)) return false;
    stack_.push_back({static_cast<std::uint32_t>(tree_.nodes_.size() - 1), kNoNode});
    return true;
  }

  bool leaf(JsonKind kind, std::size_t text_offset, boost::json::error_code& ec) { return add(kind, text_offset, ec); }

  bool number(boost::json::string_view rest, boost::json::error_code& ec) {
    if (!on_number_part(rest, ec)) return false;
    in_number_ = false;
    if (isHugeNumber(std::string_view(tree_.text_).substr(part_offset_))) {
      if (!leaf(JsonKind::kNumber, part_offset_, ec)) return false;
      return refuseAt(static_cast<std::uint32_t>(tree_.nodes_.size() - 1),
                      "refused: a number outside the range of an IEEE double", ec);
    }
    return leaf(JsonKind::kNumber, part_offset_, ec);
  }

  bool refuseStringSize(boost::json::error_code& ec) {
    return refuse("refused: a string longer than " + std::to_string(limits_.max_string_bytes) + " bytes", ec);
  }

  // Names the place by the pointer of the container being filled (and the
  // pending key, when inside an object).
  bool refuse(std::string what, boost::json::error_code& ec) {
    std::string where;
    if (!stack_.empty()) {
      where = tree_.pointer(stack_.back().node);
      const JsonNode& p = tree_.nodes_[stack_.back().node];
      if (p.kind == JsonKind::kObject && !in_key_) {
        where += "/" + escapePointerToken(std::string_view(tree_.text_).substr(key_offset_, key_length_));
      } else if (p.kind == JsonKind::kArray) {
        where += "/" + std::to_string(p.child_count);
      }
    }
    problem_ = (where.empty() ? std::string("(root)") : where) + ": " + what;
    ec = boost::system::errc::make_error_code(boost::system::errc::value_too_large);
    return false;
  }

  bool refuseAt(std::uint32_t node, std::string what, boost::json::error_code& ec) {
    std::string where = tree_.pointer(node);
    problem_ = (where.empty() ? std::string("(root)") : where) + ": " + what;
    ec = boost::system::errc::make_error_code(boost::system::errc::value_too_large);
    return false;
  }

  struct Frame {
    std::uint32_t node;
    std::uint32_t last_child;
  };
  JsonTree& tree_;
  const Limits& limits_;
  std::vector<Frame> stack_;
  std::size_t key_offset_ = 0;
  std::size_t key_length_ = 0;
  std::size_t part_offset_ = 0;
  bool in_string_ = false;
  bool in_key_ = false;
  bool in_number_ = false;
  std::string problem_;
};

namespace {

std::string lineColumn(std::string_view text, std::size_t offset) {
  std::size_t line = 1;
  std::size_t column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + " column " + std::to_string(column);
}

}  // namespace

Result<JsonTree> JsonTree::parse(std::string_view text, std::string_view name, const Limits& limits) {
  const std::string who(name);
  if (text.size() > limits.max_bytes) {
    return fail(who + ": refused: " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                std::to_string(limits.max_bytes));
  }
  // Offsets are 32-bit; the unescaped text is never longer than the input.
  if (text.size() >= std::numeric_limits<std::uint32_t>::max()) return fail(who + ": refused: too large");
  // RFC 8259 section 8.1 lets a parser ignore a byte order mark; some
  // Windows systems write one.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return fail(who + ": refused: empty document");

  JsonTree tree;
  boost::json::parse_options options;
  options.max_depth = limits.max_depth;
  options.allow_comments = false;
  options.allow_trailing_commas = false;
  options.allow_invalid_utf8 = false;
  boost::json::basic_parser<JsonTreeBuilder> parser(options, tree, limits);
  boost::json::error_code ec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (ec) {
    if (!parser.handler().problem().empty()) return fail(who + ": " + parser.handler().problem());
    std::string where = lineColumn(text, used);
    if (ec == boost::json::error::too_deep) {
      return fail(who + ": " + where + ": refused: JSON nested deeper than " + std::to_string(limits.max_depth) +
                  " levels");
    }
    if (ec == boost::json::error::exponent_overflow) {
      return fail(who + ": " + where + ": refused: a number outside the range of an IEEE double");
    }
    if (ec == boost::json::error::syntax || ec == boost::json::error::incomplete) {
      // Boost reports invalid UTF-8 as a syntax error at the offending byte.
      return fail(who + ": " + where + ": not valid JSON (or not UTF-8): " + ec.message());
    }
    return fail(who + ": " + where + ": not valid JSON: " + ec.message());
  }
  if (!parser.done() || tree.nodes_.empty()) return fail(who + ": not a complete JSON document");
  if (used != text.size()) {
    return fail(who + ": " + lineColumn(text, used) + ": not valid JSON: data after the end of the document");
  }
  return tree;
}

std::uint32_t JsonTree::member(std::uint32_t object, std::string_view name) const {
  if (nodes_[object].kind != JsonKind::kObject) return kNoNode;
  for (std::uint32_t c = nodes_[object].first_child; c != kNoNode; c = nodes_[c].next_sibling) {
    if (key(c) == name) return c;
  }
  return kNoNode;
}

std::string JsonTree::pointer(std::uint32_t index) const {
  std::vector<std::string> tokens;
  for (std::uint32_t n = index; n < nodes_.size() && nodes_[n].parent != kNoNode; n = nodes_[n].parent) {
    const JsonNode& parent = nodes_[nodes_[n].parent];
    if (parent.kind == JsonKind::kObject) {
      tokens.push_back(escapePointerToken(key(n)));
    } else {
      tokens.push_back(std::to_string(nodes_[n].position));
    }
  }
  std::string out;
  for (auto it = tokens.rbegin(); it != tokens.rend(); ++it) out += "/" + *it;
  return out;
}

std::string escapePointerToken(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

void appendJsonString(std::string& out, std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

bool isJsonNumber(std::string_view s) {
  // number = [ minus ] int [ frac ] [ exp ]  (RFC 8259 section 6)
  std::size_t i = 0;
  auto digit = [&](std::size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '9'; };
  if (i < s.size() && s[i] == '-') ++i;
  if (!digit(i)) return false;
  if (s[i] == '0') {
    ++i;
  } else {
    while (digit(i)) ++i;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  return i == s.size();
}

bool isHugeNumber(std::string_view lexical) {
  std::size_t e = lexical.find_first_of("eE");
  int exponent = 0;
  if (e != std::string_view::npos) {
    std::size_t i = e + 1;
    const bool negative = i < lexical.size() && lexical[i] == '-';
    if (i < lexical.size() && (lexical[i] == '+' || lexical[i] == '-')) ++i;
    while (i < lexical.size() && lexical[i] == '0') ++i;  // leading zeros carry no size
    if (lexical.size() - i > 3) return true;
    for (; i < lexical.size(); ++i) exponent = exponent * 10 + (lexical[i] - '0');
    if (negative) exponent = -exponent;
  }
  double value = 0;
  auto [end, ec] = std::from_chars(lexical.data(), lexical.data() + lexical.size(), value);
  if (ec != std::errc::result_out_of_range) return false;
  // Out of range is overflow or underflow; only overflow matters (an
  // underflow is a tiny value that rounds to zero). Tell them apart by the
  // decimal magnitude of the leading significant digit.
  std::string_view mantissa = lexical.substr(0, e);
  if (!mantissa.empty() && mantissa.front() == '-') mantissa.remove_prefix(1);
  const std::size_t dot = mantissa.find('.');
  const std::string_view whole = mantissa.substr(0, dot);
  int lead = 0;
  if (whole != "0") {
    lead = static_cast<int>(whole.size()) - 1;
  } else {
    const std::string_view fraction = dot == std::string_view::npos ? std::string_view() : mantissa.substr(dot + 1);
    const std::size_t first = fraction.find_first_not_of('0');
    if (first == std::string_view::npos) return false;  // zero
    lead = -static_cast<int>(first) - 1;
  }
  return lead + exponent >= 0;
}

void JsonWriter::newline() {
  if (!pretty_) return;
  out_ += '\n';
  out_.append(levels_.size() * 2, ' ');
}

void JsonWriter::beforeValue() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!levels_.empty()) {
    if (levels_.back().any) out_ += ',';
    levels_.back().any = true;
    newline();
  }
}

JsonWriter::Mark JsonWriter::mark() const {
  return Mark{out_.size(), levels_.size(), !levels_.empty() && levels_.back().any, after_key_};
}

void JsonWriter::rollback(const Mark& mark) {
  out_.resize(mark.length);
  levels_.resize(mark.depth);
  if (!levels_.empty()) levels_.back().any = mark.any;
  after_key_ = mark.after_key;
}

void JsonWriter::beginObject() {
  beforeValue();
  out_ += '{';
  levels_.push_back({});
}

void JsonWriter::close(char bracket) {
  const bool any = levels_.back().any;
  levels_.pop_back();
  if (any) newline();
  out_ += bracket;
}

void JsonWriter::endObject() { close('}'); }

void JsonWriter::beginArray() {
  beforeValue();
  out_ += '[';
  levels_.push_back({});
}

void JsonWriter::endArray() { close(']'); }

void JsonWriter::key(std::string_view name) {
  beforeValue();
  appendJsonString(out_, name);
  out_ += pretty_ ? ": " : ":";
  after_key_ = true;
}

void JsonWriter::string(std::string_view value) {
  beforeValue();
  appendJsonString(out_, value);
}

void JsonWriter::number(std::string_view lexical) {
  beforeValue();
  out_ += lexical;
}

void JsonWriter::boolean(bool value) {
  beforeValue();
  out_ += value ? "true" : "false";
}

void JsonWriter::null() {
  beforeValue();
  out_ += "null";
}

}  // namespace cb::codec::fhir
