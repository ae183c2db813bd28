#pragma once
// Helpers for the FHIR codec tests: reference data discovery and semantic
// comparison of JSON values and XML trees.

#include "codec/fhir/json_tree.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

struct _xmlDoc;
struct _xmlNode;

namespace cb::codec::fhir::test {

/// ${CB_REFERENCE_DIR} (set by ctest), else the path CMake configured.
std::filesystem::path referenceDir();

/// Regular files in `dir` ending in `extension` (".json"), sorted by name.
std::vector<std::filesystem::path> filesWithExtension(const std::filesystem::path& dir, const std::string& extension);

std::string readFile(const std::filesystem::path& path);

/// How sibling elements are compared.
enum class Order {
  kExact,         ///< document order
  kGroupsByName,  ///< runs of same-named siblings may come in any order (items within a run keep theirs)
};

/// Compares two JSON values semantically: object member order is ignored,
/// numbers are compared by lexical form, narrative "div" strings are compared
/// as XHTML trees by canonicalXml (so serialisation details such as `<br/>`
/// against `<br></br>` or attribute quoting do not count). Returns a
/// description of the first difference, or nullopt.
std::optional<std::string> jsonDifference(const JsonTree& a, const JsonTree& b);

/// A canonical text form of an element tree: namespace and local name,
/// attributes sorted (namespace declarations excluded), children in order
/// without comments, processing instructions and whitespace-only text nodes.
/// Text is compared exactly, including inside the narrative.
std::string canonicalXml(const _xmlNode* root, Order order = Order::kExact);

/// Compares two documents by canonicalXml; returns the first difference.
std::optional<std::string> xmlDifference(const _xmlDoc* a, const _xmlDoc* b, Order order = Order::kExact);

}  // namespace cb::codec::fhir::test
