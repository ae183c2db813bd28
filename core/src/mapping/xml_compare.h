#pragma once
// Comparing two XML documents as information rather than as bytes, for
// golden cases: element names and namespaces must agree, attributes are
// compared as a set (order ignored), text is compared after trimming, and
// white-space-only text, comments and processing instructions are ignored.
// Namespace prefixes do not matter, only the namespace URIs.

#include <optional>
#include <string>

struct _xmlDoc;

namespace cb::mapping {

/// nullopt when the documents are equal; otherwise the first difference in
/// document order, e.g.
///   "/Record/Person/Name[1]/Given[2]: text differs: expected \"Anne\", got \"Ann\"".
/// The message quotes values: use it for test fixtures, not live records.
std::optional<std::string> firstDifference(const _xmlDoc* expected, const _xmlDoc* actual);

}  // namespace cb::mapping
