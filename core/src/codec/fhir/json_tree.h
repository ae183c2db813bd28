#pragma once
// A read-only JSON tree that keeps every number's lexical form, and a JSON
// writer that writes lexical numbers back unchanged.
//
// Why not boost::json::value: FHIR decimals carry their precision in their
// lexical form ("1.50" is not "1.5", https://hl7.org/fhir/R4/datatypes.html#decimal)
// and Boost 1.81 has no option to keep it (parse_options::numbers arrived in
// 1.83), so parse() drives boost::json::basic_parser with a handler that
// stores the number text itself. Nodes live in one flat vector and all text
// in one buffer: no per-node allocation, no recursive destruction.
//
// Internal to the FHIR codec (and its tests); not a general-purpose JSON API.

#include "codec/fhir/fhir_codec.h"
#include "common/result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cb::codec::fhir {

enum class JsonKind : std::uint8_t { kNull, kFalse, kTrue, kNumber, kString, kArray, kObject };

inline constexpr std::uint32_t kNoNode = 0xffffffffu;

/// One value. Children of arrays and objects are linked in document order.
struct JsonNode {
  JsonKind kind = JsonKind::kNull;
  std::uint32_t parent = kNoNode;
  std::uint32_t first_child = kNoNode;
  std::uint32_t next_sibling = kNoNode;
  std::uint32_t child_count = 0;
  std::uint32_t position = 0;    ///< index among the parent's children
  std::uint32_t key_offset = 0;  ///< member name, when the parent is an object
  std::uint32_t key_length = 0;
  std::uint32_t text_offset = 0;  ///< string contents (unescaped) or number lexical form
  std::uint32_t text_length = 0;
};

/// A parsed JSON document. Node 0 is the root.
class JsonTree {
 public:
  /// Parses `text` within `limits` (bytes, depth, array length, string and
  /// number size). Anything RFC 8259 does not allow is refused: invalid
  /// UTF-8, comments, trailing commas, trailing data. Numbers must be finite
  /// as IEEE doubles with an exponent of at most three digits. Duplicate
  /// member names are kept (the FHIR converter refuses them). Errors read
  /// "<name>: <JSON pointer or line L column C>: <what>" and never quote content.
  static Result<JsonTree> parse(std::string_view text, std::string_view name, const Limits& limits);

  std::uint32_t root() const { return 0; }
  const JsonNode& node(std::uint32_t index) const { return nodes_[index]; }
  JsonKind kind(std::uint32_t index) const { return nodes_[index].kind; }
  std::string_view key(std::uint32_t index) const {
    return std::string_view(text_).substr(nodes_[index].key_offset, nodes_[index].key_length);
  }
  /// String contents or a number's lexical form.
  std::string_view text(std::uint32_t index) const {
    return std::string_view(text_).substr(nodes_[index].text_offset, nodes_[index].text_length);
  }
  /// Member of an object by name (first match), or kNoNode.
  std::uint32_t member(std::uint32_t object, std::string_view name) const;
  /// The JSON pointer (RFC 6901) of a node, e.g. "/name/0/given".
  std::string pointer(std::uint32_t index) const;

 private:
  friend class JsonTreeBuilder;
  std::vector<JsonNode> nodes_;
  std::string text_;
};

/// Escapes one JSON pointer reference token (RFC 6901 section 3: "~" -> "~0", "/" -> "~1").
std::string escapePointerToken(std::string_view token);

/// Writes JSON text, compact or indented by two spaces. The caller calls the
/// begin/end/key/value functions in document order; commas are automatic.
class JsonWriter {
 public:
  explicit JsonWriter(bool pretty) : pretty_(pretty) {}

  void beginObject();
  void endObject();
  void beginArray();
  void endArray();
  void key(std::string_view name);
  void string(std::string_view value);
  /// Writes a number's lexical form unchanged; the caller has checked it is
  /// valid JSON number syntax.
  void number(std::string_view lexical);
  void boolean(bool value);
  void null();

  std::string take() { return std::move(out_); }

  /// A point in the output to roll back to, e.g. when an object turns out
  /// empty after its members were considered (json.html: no empty objects).
  struct Mark {
    std::size_t length;
    std::size_t depth;
    bool any;
    bool after_key;
  };
  Mark mark() const;
  void rollback(const Mark& mark);
  /// True when nothing was written in the innermost open object or array.
  bool innermostEmpty() const { return levels_.empty() || !levels_.back().any; }

 private:
  void beforeValue();
  void newline();
  void close(char bracket);
  bool pretty_;
  std::string out_;
  struct Level {
    bool any = false;
  };
  std::vector<Level> levels_;
  bool after_key_ = false;
};

/// Appends `value` to `out` as a JSON string literal (RFC 8259 section 7).
void appendJsonString(std::string& out, std::string_view value);

/// True when `text` is a JSON number (RFC 8259 section 6), which is also the
/// FHIR decimal lexical space (https://hl7.org/fhir/R4/datatypes.html#decimal).
bool isJsonNumber(std::string_view text);

/// True when a valid JSON number is too large for an IEEE double (beyond
/// +-1.8e308) or has an exponent of more than three digits. FHIR decimals
/// are exact, but receivers commonly hold them as doubles; such a value is an
/// attack or an error, never a measurement. Both directions of the codec
/// apply this same rule, so whatever one writes the other reads.
bool isHugeNumber(std::string_view lexical);

}  // namespace cb::codec::fhir
