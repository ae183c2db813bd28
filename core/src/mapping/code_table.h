#pragma once
// Code tables: translating one system's codes into another's (a source
// system's "F" into the canonical "female", a council's "Neglect and
// Omission" into the SAC "neglect-and-acts-of-omission").
//
// A code table is an XML file (mappings/<system>/codes/<name>.xml) validated
// against mappings/schema/code-table.xsd. Each table states what happens to
// a code it does not list: it is refused, or it becomes a named default code.
// Nothing is passed through untranslated by accident.
//
// Matching is exact, ignore-case, or loose. Loose exists because the same
// national list is spelled differently by different systems and even inside
// NHS England's own code (../shared/reference/MANIFEST.md finding 7: case,
// ":" vs " - " vs an en dash, "NHS funded" vs "NHS-funded").

#include "common/result.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace cb::xml {
class Schema;
}

namespace cb::mapping {

/// How a looked-up value is compared with a table's `from` codes.
enum class CodeMatch {
  Exact,       ///< byte for byte, after trimming surrounding white space
  IgnoreCase,  ///< ASCII case-insensitive, after trimming
  Loose,       ///< ignore case, collapse white space, treat ":", en/em dash and "-" alike, ignore space around them
};

/// One loaded, immutable code table. Safe to share between threads.
class CodeTable {
 public:
  /// Loads and validates one table file. Errors name the file and line
  /// (a duplicate code names both lines).
  static Result<std::shared_ptr<const CodeTable>> load(const std::string& path, const xml::Schema& schema);

  /// The translation of `code`, or nullopt when the table does not list it.
  std::optional<std::string_view> find(std::string_view code) const;

  /// The translation, applying the table's rule for unknown codes. The error
  /// names the table; it quotes the unknown code (truncated to 40 bytes) so
  /// an operator can extend the table. Codes are not personal identifiers;
  /// tables must not be used to look up free text.
  Result<std::string> translate(std::string_view code) const;

  const std::string& name() const { return name_; }
  const std::string& file() const { return file_; }
  bool refusesUnknown() const { return !default_code_.has_value(); }
  const std::optional<std::string>& defaultCode() const { return default_code_; }
  /// Every (from, to) pair in file order, for documentation and tests.
  const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }

  /// The comparison key of `code` under `match` (exposed for tests).
  static std::string key(std::string_view code, CodeMatch match);

 private:
  CodeTable() = default;
  std::string name_;
  std::string file_;
  CodeMatch match_ = CodeMatch::Exact;
  std::optional<std::string> default_code_;
  std::vector<std::pair<std::string, std::string>> entries_;
  std::unordered_map<std::string, std::size_t> index_;  // key -> entries_ position
};

/// The code tables of one system, by table name.
using CodeTables = std::map<std::string, std::shared_ptr<const CodeTable>, std::less<>>;

/// Loads every *.xml in `dir` (a missing directory is an empty set). Table
/// names must be unique. Errors name the file and line.
Result<CodeTables> loadCodeTables(const std::string& dir, const xml::Schema& schema);

}  // namespace cb::mapping
