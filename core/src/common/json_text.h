#pragma once
// Writing JSON text by hand where a document model would be overkill (audit
// entries, metrics labels, log fields): string escaping per RFC 8259 section 7.

#include <string>
#include <string_view>

namespace cb {

/// Appends `s` as a quoted JSON string to `out`. Control characters are
/// escaped; invalid UTF-8 bytes are replaced by U+FFFD so the output is
/// always valid JSON.
void appendJsonString(std::string& out, std::string_view s);
std::string jsonString(std::string_view s);

}  // namespace cb
