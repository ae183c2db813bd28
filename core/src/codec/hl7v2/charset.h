#pragma once
// Internal to cb_codec_hl7v2: the character sets the XML encoding can carry.
// ER7 values are bytes in the character set MSH-18 names (v2.5.1 2.15.9.18,
// table 0211; ASCII when MSH-18 is empty); XML text is Unicode, held as UTF-8
// by libxml2. These functions convert between the two for the character sets
// we support, and refuse what XML 1.0 cannot carry.

#include <optional>
#include <string>
#include <string_view>

namespace cb::codec::hl7v2::detail {

enum class Charset {
  Utf8,    ///< "UNICODE UTF-8", and "ASCII" or an empty MSH-18 (ASCII is a subset)
  Latin1,  ///< "8859/1"
  Latin9,  ///< "8859/15"
};

/// The character set MSH-18 names, or nullopt when we cannot convert it.
std::optional<Charset> charsetFromMsh18(std::string_view msh18);

/// The MSH-18 values charsetFromMsh18() accepts, for error messages.
inline constexpr std::string_view kSupportedCharsets = "empty, ASCII, UNICODE UTF-8, 8859/1, 8859/15";

/// Appends `in`, encoded in `charset`, to `out` as UTF-8. Returns false (and
/// leaves `out` partly written) when `in` is not valid in `charset` or holds a
/// character XML 1.0 cannot carry (control characters other than TAB, CR, LF;
/// U+FFFE, U+FFFF).
bool appendAsUtf8(std::string_view in, Charset charset, std::string& out);

/// Appends UTF-8 `in` to `out` encoded in `charset`. Returns false when `in` is
/// not valid UTF-8 or holds a character `charset` cannot represent.
bool appendFromUtf8(std::string_view in, Charset charset, std::string& out);

}  // namespace cb::codec::hl7v2::detail
