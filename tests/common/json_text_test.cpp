// appendJsonString writes what audit entries, metrics labels and log fields
// quote: the result must always be one valid JSON string (RFC 8259 section 7)
// that reads back as the input, with invalid UTF-8 replaced by U+FFFD.
#include "common/json_text.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <string>

namespace cb {
namespace {

std::string readBack(const std::string& json) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(json, ec);
  EXPECT_FALSE(ec) << json;
  if (ec || !v.is_string()) return "<not a JSON string>";
  return std::string(v.get_string());
}

TEST(JsonString, PlainTextIsQuotedUnchanged) {
  EXPECT_EQ(jsonString(""), "\"\"");
  EXPECT_EQ(jsonString("delivery.attempt"), "\"delivery.attempt\"");
  EXPECT_EQ(jsonString("UK GDPR 6(1)(e); 9(2)(b) ~\x7f"), "\"UK GDPR 6(1)(e); 9(2)(b) ~\x7f\"");
}

TEST(JsonString, QuotesBackslashesAndControlCharactersAreEscapedWithinRuns) {
  EXPECT_EQ(jsonString("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(jsonString("line\nnext\r\ttab\b\f"), R"("line\nnext\r\ttab\b\f")");
  EXPECT_EQ(jsonString(std::string("x\0y\x1f", 4)), R"("x\u0000y\u001f")");
  EXPECT_EQ(jsonString("\"\"\\"), R"("\"\"\\")");
  const std::string mixed = std::string("plain \"quoted\" \\ back\x01slash\n", 31) + std::string(300, 'z') + "\"";
  EXPECT_EQ(readBack(jsonString(mixed)), mixed);
}

TEST(JsonString, ValidUtf8PassesAndInvalidBytesBecomeReplacementCharacters) {
  const std::string welsh = "Ysbyty Glan Clwyd \xE2\x80\x93 Bodelwyddan \xF0\x9F\x8F\xA5";  // en dash, hospital emoji
  EXPECT_EQ(jsonString(welsh), "\"" + welsh + "\"");
  EXPECT_EQ(readBack(jsonString(welsh)), welsh);
  // A lone continuation byte, a truncated sequence and an overlong '/'.
  EXPECT_EQ(readBack(jsonString("a\x80" "b\xE2\x80" "c\xC0\xAF" "d")),
            "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD" "d");
}

TEST(JsonString, AppendsAfterWhatIsAlreadyThere) {
  std::string out = "{\"k\":";
  appendJsonString(out, "v\"1");
  out += "}";
  EXPECT_EQ(out, R"({"k":"v\"1"})");
}

}  // namespace
}  // namespace cb
