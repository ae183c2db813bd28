#pragma once
// The mapping engine: declarative XML mapping files (mappings/<system>/*.xml,
// schema mappings/schema/mapping.xsd) translate one system's XML documents
// into canonical records (inbound) and canonical records into that system's
// XML documents (outbound). The language is described with examples in
// mappings/README.md.
//
// Loading reads files and compiles everything (XPath, transforms, code
// tables, output paths) once; it has no other side effect, so the daemon can
// load a new MappingSet beside the old one and swap a shared_ptr, keeping the
// old set when the new one fails to load. Nothing here is global.
//
// Applying a mapping is const and thread-safe. A record either translates
// completely and passes validation (the canonical XSD for inbound mappings,
// the optional target XSD for outbound ones), or is refused with an error
// naming the mapping file, the line of the rule, the target field and the
// reason. No half-translated document is ever returned. Refusals never
// contain the values of personal identifiers.

#include "common/result.h"
#include "mapping/canonical.h"
#include "mapping/code_table.h"
#include "mapping/xpath.h"
#include "xml/safe_xml.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct _xmlDoc;

namespace cb::xml {
class Schema;
}

namespace cb::mapping {

/// The schemas the engine needs, loaded once at start-up and shared by every
/// MappingSet (they do not change on a mapping reload).
struct MappingSchemas {
  std::shared_ptr<const xml::Schema> mapping;        ///< schema/mapping.xsd
  std::shared_ptr<const xml::Schema> code_table;     ///< schema/code-table.xsd
  std::shared_ptr<const CanonicalModel> canonical;   ///< canonical/canonical.xsd

  /// Loads the three from a mappings root directory (the repository's
  /// mappings/ or its installed copy). Errors name the file and line.
  static Result<MappingSchemas> load(const std::string& mappings_root);
};

enum class Direction { Inbound, Outbound };
std::string_view toString(Direction d);

struct Rule;  // internal: one compiled rule of a mapping file

/// One loaded mapping file. Immutable after load; apply() is thread-safe.
class Mapping {
 public:
  /// Loads, validates against mapping.xsd and compiles one mapping file.
  /// Code tables named by code(table=...) must be in `tables`. Errors read
  /// "<file>:<line>: <what is wrong>".
  static Result<std::shared_ptr<const Mapping>> load(const std::string& file, const CodeTables& tables,
                                                     const MappingSchemas& schemas);
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  /// Whether the mapping's <match> is true for `input` (an outbound mapping
  /// without <match> matches every canonical record of its type).
  Result<bool> matches(const _xmlDoc* input) const;

  /// Translates `input` (it does not check <match>). The result is a new
  /// document owned by the caller, already validated.
  Result<xml::DocPtr> apply(const _xmlDoc* input) const;

  /// As matches() and apply(), reusing an evaluator already created for
  /// `input` (its namespace bindings are replaced). For MappingSet.
  Result<bool> matches(const _xmlDoc* input, XPathEvaluator& xp) const;
  Result<xml::DocPtr> apply(const _xmlDoc* input, XPathEvaluator& xp) const;

  const std::string& file() const { return file_; }
  const std::string& system() const { return system_; }
  Direction direction() const { return direction_; }
  const std::string& recordType() const { return record_type_; }
  const std::string& description() const { return description_; }
  /// SHA-256 (hex) of the file's bytes, for the audit trail.
  const std::string& digest() const { return digest_; }
  /// Number of XPath expressions compiled for this mapping at load.
  std::size_t expressionCount() const { return expression_count_; }

 private:
  Mapping() = default;
  friend struct MappingLoader;
  std::string file_;
  std::string system_;
  Direction direction_ = Direction::Inbound;
  std::string record_type_;
  std::string description_;
  std::string digest_;
  std::size_t expression_count_ = 0;
  NamespaceBindings namespaces_;
  std::shared_ptr<const XPathExpr> match_;
  int root_line_ = 0;
  // Output document root: namespace URI ("" for none), prefix, local name.
  std::string out_ns_;
  std::string out_prefix_;
  std::string out_root_;
  std::shared_ptr<const xml::Schema> target_schema_;   // outbound, optional
  std::shared_ptr<const CanonicalModel> canonical_;    // inbound output check
  std::vector<std::unique_ptr<const Rule>> rules_;
};

/// A translated document and the mapping that produced it.
struct MappedDocument {
  xml::DocPtr document;
  const Mapping* mapping = nullptr;  ///< owned by the MappingSet, lives as long as it
};

/// All mapping files and code tables of one system: the *.xml files directly
/// in `dir` are mapping files, `dir`/codes/*.xml are code tables. Immutable.
class MappingSet {
 public:
  /// Loads everything or nothing. Every mapping must name the same system;
  /// at most one outbound mapping per record type. Errors name file:line.
  static Result<std::shared_ptr<const MappingSet>> load(const std::string& dir, const MappingSchemas& schemas);

  /// Inbound: picks the inbound mapping whose <match> is true; refuses if
  /// none or more than one matches. The result is a valid canonical record.
  Result<MappedDocument> toCanonical(const _xmlDoc* input) const;

  /// Outbound: translates a canonical record with the outbound mapping for
  /// `record_type` (empty: the record's own Record/@type).
  Result<MappedDocument> fromCanonical(const _xmlDoc* canonical, std::string_view record_type = {}) const;

  const std::string& system() const { return system_; }
  const std::string& directory() const { return dir_; }
  const std::vector<std::shared_ptr<const Mapping>>& mappings() const { return mappings_; }
  const CodeTables& codeTables() const { return *tables_; }
  /// The mapping file with this file name (not path), or nullptr.
  const Mapping* findByFileName(std::string_view file_name) const;
  /// SHA-256 over every mapping file's digest, for the audit trail.
  const std::string& digest() const { return digest_; }
  /// The canonical model the set was loaded with (for checking inputs).
  const CanonicalModel& canonicalModel() const { return *canonical_; }

 private:
  MappingSet() = default;
  std::string dir_;
  std::string system_;
  std::string digest_;
  std::shared_ptr<const CodeTables> tables_;
  std::shared_ptr<const CanonicalModel> canonical_;
  std::vector<std::shared_ptr<const Mapping>> mappings_;
};

}  // namespace cb::mapping
