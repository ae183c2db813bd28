#include "codec/hl7v2/charset.h"

#include <cstdint>

namespace cb::codec::hl7v2::detail {
namespace {

// ISO 8859-15 differs from ISO 8859-1 in eight positions (ISO/IEC 8859-15:1999
// Annex A); every other byte maps to the code point of the same value.
struct Latin9Difference {
  unsigned char byte;
  char32_t code_point;
};
constexpr Latin9Difference kLatin9[] = {{0xA4, 0x20AC}, {0xA6, 0x0160}, {0xA8, 0x0161}, {0xB4, 0x017D},
                                        {0xB8, 0x017E}, {0xBC, 0x0152}, {0xBD, 0x0153}, {0xBE, 0x0178}};

// XML 1.0 (Fifth Edition) section 2.2, production [2] Char.
bool isXmlChar(char32_t c) {
  return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) || (c >= 0xE000 && c <= 0xFFFD) ||
         (c >= 0x10000 && c <= 0x10FFFF);
}

void appendCodePoint(char32_t c, std::string& out) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

// Decodes one UTF-8 sequence at in[pos] as RFC 3629 section 4 defines it: no
// overlong forms, no surrogates, nothing above U+10FFFF. Returns false on any
// malformed sequence.
bool nextCodePoint(std::string_view in, std::size_t& pos, char32_t& out) {
  const auto b0 = static_cast<unsigned char>(in[pos]);
  if (b0 < 0x80) {
    out = b0;
    ++pos;
    return true;
  }
  std::size_t len = 0;
  char32_t min = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    min = 0x80;
    out = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    min = 0x800;
    out = b0 & 0x0Fu;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    min = 0x10000;
    out = b0 & 0x07u;
  } else {
    return false;
  }
  if (in.size() - pos < len) return false;
  for (std::size_t i = 1; i < len; ++i) {
    const auto b = static_cast<unsigned char>(in[pos + i]);
    if ((b & 0xC0) != 0x80) return false;
    out = (out << 6) | (b & 0x3Fu);
  }
  if (out < min || out > 0x10FFFF || (out >= 0xD800 && out <= 0xDFFF)) return false;
  pos += len;
  return true;
}

std::string upper(std::string_view s) {
  std::string u(s);
  for (char& c : u) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return u;
}

}  // namespace

std::optional<Charset> charsetFromMsh18(std::string_view msh18) {
  const std::string u = upper(msh18);
  // Table 0211 spells these "ASCII", "UNICODE UTF-8", "8859/1", "8859/15";
  // "UTF-8" is not in the table but senders use it, and it is unambiguous.
  if (u.empty() || u == "ASCII" || u == "UNICODE UTF-8" || u == "UTF-8") return Charset::Utf8;
  if (u == "8859/1") return Charset::Latin1;
  if (u == "8859/15") return Charset::Latin9;
  return std::nullopt;
}

bool appendAsUtf8(std::string_view in, Charset charset, std::string& out) {
  if (charset == Charset::Utf8) {
    std::size_t pos = 0;
    const std::size_t start = out.size();
    while (pos < in.size()) {
      char32_t c = 0;
      if (!nextCodePoint(in, pos, c) || !isXmlChar(c)) {
        out.resize(start);
        return false;
      }
    }
    out += in;
    return true;
  }
  for (const char ch : in) {
    const auto b = static_cast<unsigned char>(ch);
    char32_t c = b;
    if (charset == Charset::Latin9) {
      for (const auto& diff : kLatin9) {
        if (diff.byte == b) c = diff.code_point;
      }
    }
    if (!isXmlChar(c)) return false;
    appendCodePoint(c, out);
  }
  return true;
}

bool appendFromUtf8(std::string_view in, Charset charset, std::string& out) {
  std::size_t pos = 0;
  while (pos < in.size()) {
    char32_t c = 0;
    if (!nextCodePoint(in, pos, c)) return false;
    if (charset == Charset::Utf8) {
      appendCodePoint(c, out);
      continue;
    }
    if (charset == Charset::Latin9) {
      bool mapped = false;
      for (const auto& diff : kLatin9) {
        if (diff.code_point == c) {
          out += static_cast<char>(diff.byte);
          mapped = true;
        } else if (diff.byte == c) {
          return false;  // the Latin-1 character this byte held is not in 8859-15
        }
      }
      if (mapped) continue;
    }
    if (c > 0xFF) return false;
    out += static_cast<char>(c);
  }
  return true;
}

}  // namespace cb::codec::hl7v2::detail
