#pragma once
// XML Schema (XSD 1.0) validation with libxml2, for the files carebridge
// ships schemas for: mapping files, agreements and the canonical model.
// A Schema is compiled once at load and is safe to use from several threads.

#include "common/result.h"

#include <memory>
#include <string>

struct _xmlDoc;

namespace cb::xml {

class Schema {
 public:
  /// Loads and compiles an XSD file. Errors name the schema file and line.
  static Result<std::shared_ptr<const Schema>> load(const std::string& xsd_path);
  ~Schema();
  Schema(const Schema&) = delete;
  Schema& operator=(const Schema&) = delete;

  /// Validates a parsed document. On failure the error lists each problem as
  /// "<doc_name>:<line>: <what>" (at most the first 20).
  Status validate(const _xmlDoc* doc, const std::string& doc_name) const;

  const std::string& path() const { return path_; }

 private:
  Schema() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string path_;
};

}  // namespace cb::xml
