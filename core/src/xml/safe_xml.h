#pragma once
// Parsing XML that came from outside (a partner's message, a mapping file, an
// agreement) safely with libxml2:
//  - no network access (XML_PARSE_NONET) and no external entities or DTDs;
//  - any document type declaration is refused outright, which rules out
//    entity expansion attacks ("billion laughs") and XXE (OWASP XXE
//    Prevention Cheat Sheet: "disallow DTDs completely");
//  - a size limit before parsing and a depth limit after;
//  - errors carry the document name and line, never printed to stderr.

#include "common/result.h"

#include <memory>
#include <string>
#include <string_view>

struct _xmlDoc;
struct _xmlNode;

namespace cb::xml {

/// Call once from main() before threads start (xmlInitParser).
void init();

struct DocDeleter {
  void operator()(_xmlDoc* doc) const;
};
/// Owns a libxml2 document.
using DocPtr = std::unique_ptr<_xmlDoc, DocDeleter>;

struct ParseLimits {
  std::size_t max_bytes = 16u << 20;  ///< larger input is refused unparsed
  int max_depth = 256;                ///< element nesting beyond this is refused
};

/// Parses `bytes`; `name` (a file path or "message <id>") prefixes errors,
/// which read "<name>:<line>: <what>".
Result<DocPtr> parse(std::string_view bytes, std::string_view name, const ParseLimits& limits = {});

/// Reads and parses a file; errors name the path.
Result<DocPtr> parseFile(const std::string& path, const ParseLimits& limits = {});

/// Serialises a document (UTF-8, with XML declaration unless omitted).
std::string serialize(const _xmlDoc* doc, bool declaration = true, bool indent = false);

}  // namespace cb::xml
