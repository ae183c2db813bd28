#pragma once
// Helpers shared by the HL7 v2 codec tests: reference files, XPath queries on
// the XML form, and an ER7 normaliser written independently of the codec so
// round-trip tests do not grade the codec with its own code.

#include "xml/safe_xml.h"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

struct _xmlDoc;

namespace cb::codec::hl7v2::test {

/// ${CB_REFERENCE_DIR}/hl7v2: from the environment, else the CB_REFERENCE_DIR
/// the build was configured with.
std::filesystem::path referenceHl7Dir();

/// The bytes of a file; fails the calling test (and returns "") if unreadable.
std::string readFile(const std::filesystem::path& path);

/// The string value of every node `expr` selects, with prefix "v" bound to
/// urn:hl7-org:v2xml.
std::vector<std::string> xpath(const _xmlDoc* doc, const std::string& expr);

/// What an ER7 -> XML -> ER7 round trip may change: byte order mark removed,
/// blank lines dropped, every segment ended by CR, and trailing empty fields,
/// repetitions, components and sub-components removed.
std::string normaliseEr7(std::string_view bytes);

}  // namespace cb::codec::hl7v2::test
