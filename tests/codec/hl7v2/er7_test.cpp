// The ER7 parser and writer: delimiters, terminators, refusals, limits,
// escape sequences and accessors.
#include "codec/hl7v2/er7.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace cb::codec::hl7v2 {
namespace {

using namespace std::string_literals;

const std::string kHeader = "MSH|^~\\&|SENDAPP|SENDFAC|RECVAPP|RECVFAC|20240101120000||ADT^A01^ADT_A01|MSG0001|P|2.5.1";

Message parsed(const std::string& er7, const ParseLimits& limits = {}) {
  auto m = parse(er7, limits);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().message);
  if (!m.ok()) std::abort();
  return std::move(m).value();
}

std::string refusal(const std::string& er7, const ParseLimits& limits = {}) {
  auto m = parse(er7, limits);
  EXPECT_FALSE(m.ok()) << "accepted: " << er7.substr(0, 80);
  return m.ok() ? std::string() : m.error().message;
}

TEST(Er7Parse, SplitsSegmentsFieldsRepetitionsComponentsAndSubcomponents) {
  const Message m = parsed(kHeader + "\rPID|1||123^^^NHS&2.16.840.1.113883.2.1.4.1&ISO^NH~456^^^LOCAL||SMITH^ANNE\r");
  ASSERT_EQ(m.segments().size(), 2u);
  const Segment& pid = m.segments()[1];
  EXPECT_EQ(pid.id, "PID");
  ASSERT_EQ(pid.fields.size(), 5u);
  EXPECT_EQ(pid.fields[0], (Field{{{"1"}}}));
  EXPECT_TRUE(pid.fields[1].empty());
  const Field& pid3 = pid.fields[2];
  ASSERT_EQ(pid3.size(), 2u);
  ASSERT_EQ(pid3[0].size(), 5u);
  EXPECT_EQ(pid3[0][0], (Component{"123"}));
  EXPECT_TRUE(pid3[0][1].empty());
  EXPECT_EQ(pid3[0][3], (Component{"NHS", "2.16.840.1.113883.2.1.4.1", "ISO"}));
  EXPECT_EQ(pid3[0][4], (Component{"NH"}));
  EXPECT_EQ(pid3[1][3], (Component{"LOCAL"}));
  EXPECT_EQ(pid.fields[4][0][1], (Component{"ANNE"}));
}

TEST(Er7Parse, MshOneAndTwoAreLiteralValues) {
  const Message m = parsed(kHeader);
  const Segment& msh = m.segments()[0];
  EXPECT_EQ(msh.fields[0], (Field{{{"|"}}}));
  EXPECT_EQ(msh.fields[1], (Field{{{"^~\\&"}}}));
  EXPECT_EQ(msh.fields[2], (Field{{{"SENDAPP"}}}));
  EXPECT_EQ(m.value("MSH-1").value(), "|");
  EXPECT_EQ(m.value("MSH-2").value(), "^~\\&");
  EXPECT_EQ(m.value("MSH-3").value(), "SENDAPP");
}

TEST(Er7Parse, ReadsNonDefaultDelimitersFromMsh) {
  // Field '^', component '~', repetition '|', as in hapi-segmentfinder_a24.hl7.
  const Message m = parsed("MSH^~|\\&^APP^FAC^^^20120918^^ADT~A24^CTRL1^T^2.4\rPID^1^^11111~~~FOO&&0363|22222^^SMITH~JOHN\r");
  const Delimiters& d = m.delimiters();
  EXPECT_EQ(d.field, '^');
  EXPECT_EQ(d.component, '~');
  EXPECT_EQ(d.repetition, '|');
  EXPECT_EQ(d.escape, '\\');
  EXPECT_EQ(d.subcomponent, '&');
  EXPECT_EQ(d.truncation, '\0');
  EXPECT_EQ(m.messageType().code, "ADT");
  EXPECT_EQ(m.messageType().trigger, "A24");
  EXPECT_EQ(m.value("PID-3.4.1").value(), "FOO");
  EXPECT_EQ(m.value("PID-3.4.3").value(), "0363");
  EXPECT_EQ(m.value("PID-3[2]").value(), "22222");
  EXPECT_EQ(m.value("PID-5.2").value(), "JOHN");
}

TEST(Er7Parse, ToleratesTheV27TruncationCharacter) {
  const Message m = parsed("MSH|^~\\&#|A|B|C|D|20240101||ADT^A01|X1|P|2.7\rNTE|1||Long text cut here#\r");
  EXPECT_EQ(m.delimiters().truncation, '#');
  EXPECT_EQ(m.delimiters().encodingCharacters(), "^~\\&#");
  EXPECT_EQ(m.value("MSH-2").value(), "^~\\&#");
  // The truncation character in a value is data we pass on, not a delimiter.
  EXPECT_EQ(m.value("NTE-3").value(), "Long text cut here#");
  EXPECT_EQ(write(m), "MSH|^~\\&#|A|B|C|D|20240101||ADT^A01|X1|P|2.7\rNTE|1||Long text cut here#\r");
}

TEST(Er7Parse, AcceptsCrLfAndCrLfTerminatorsAndNormalisesToCr) {
  const std::string body = "EVN|A01|20240101\rPID|1||123\rZXY|custom|segment";
  const std::string cr = kHeader + "\r" + body + "\r";
  std::string lf = cr;
  std::replace(lf.begin(), lf.end(), '\r', '\n');
  std::string crlf;
  for (const char c : cr) crlf += c == '\r' ? "\r\n"s : std::string(1, c);
  std::string mixed = kHeader + "\r\n" + "EVN|A01|20240101\nPID|1||123\rZXY|custom|segment";  // and no final terminator
  const std::string expected = write(parsed(cr));
  EXPECT_EQ(expected, cr);
  for (const std::string& variant : {lf, crlf, mixed, cr + "\r\n\n", "\r\n" + cr}) {
    EXPECT_EQ(write(parsed(variant)), expected);
  }
}

TEST(Er7Parse, AcceptsAUtf8ByteOrderMark) {
  const Message m = parsed("\xEF\xBB\xBF" + kHeader + "\rPID|1\r");
  EXPECT_EQ(m.segments().size(), 2u);
  EXPECT_EQ(write(m), kHeader + "\rPID|1\r");
}

TEST(Er7Parse, KeepsZSegmentsLikeAnyOther) {
  const Message m = parsed(kHeader + "\rZEV|2001|200702080406|PointClickCare\rZ01|a^b\r");
  ASSERT_EQ(m.segments().size(), 3u);
  EXPECT_EQ(m.segments()[1].id, "ZEV");
  EXPECT_EQ(m.value("ZEV-3").value(), "PointClickCare");
  EXPECT_EQ(m.value("Z01-1.2").value(), "b");
}

TEST(Er7Write, ReproducesCrTerminatedInputExactlyIncludingTrailingSeparators) {
  const std::string er7 = kHeader + "|||||\rPID|1||123^^^~||A&&^B^^\rNTE|||\\H\\bold\\N\\ and \\.br\\ \\X0D0A\\|\rZZZ\r";
  EXPECT_EQ(write(parsed(er7)), er7);
}

TEST(Er7Parse, RefusesInputThatIsNotAnHl7Message) {
  EXPECT_NE(refusal("").find("empty input"), std::string::npos);
  EXPECT_NE(refusal("\r\n\n\r").find("no segments"), std::string::npos);
  EXPECT_NE(refusal("this is an invalid message\n\n\nit is blah blah").find("does not start with an MSH"),
            std::string::npos);
  EXPECT_NE(refusal("PID|1||123\r" + kHeader).find("(it starts with PID)"), std::string::npos);
  EXPECT_NE(refusal("\x89PNG\r\n\x1A\n\0\0\0\rIHDR"s).find("does not start with an MSH"), std::string::npos);
  EXPECT_NE(refusal("msh|^~\\&|a").find("does not start with an MSH"), std::string::npos);
}

TEST(Er7Parse, RefusesBatchesAndSecondMessages) {
  EXPECT_NE(refusal("FHS|^~\\&|A\rBHS|^~\\&|A\r" + kHeader + "\rBTS|1\rFTS|1\r").find("batches are not accepted"),
            std::string::npos);
  EXPECT_NE(refusal("BHS|^~\\&|A\r" + kHeader).find("segment 1 (BHS)"), std::string::npos);
  EXPECT_NE(refusal(kHeader + "\rPID|1\rBTS|1\r").find("segment 3 (BTS)"), std::string::npos);
  EXPECT_NE(refusal(kHeader + "\rPID|1\r" + kHeader + "\r").find("segment 3 (MSH): a second MSH"), std::string::npos);
}

TEST(Er7Parse, RefusesATruncatedHeaderNamingWhatIsMissing) {
  struct Case {
    std::string er7;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"MSH", "truncated before MSH-1"},
      {"MSH|", "truncated MSH-2: 0 encoding characters"},
      {"MSH|^~", "truncated MSH-2: 2 encoding characters"},
      {"MSH|^~\\", "truncated MSH-2: 3 encoding characters"},
      {"MSH|^~\\&", "MSH-9 (message type) is missing"},
      {"MSH|^~\\&\rPID|1", "MSH-9 (message type) is missing"},
      {"MSH|^~\\&|A|B|C|D|20240101||ADT^A01", "MSH-10 (message control id) is missing"},
      {"MSH|^~\\&|A|B|C|D|20240101||^A01|X|P|2.5", "MSH-9 (message type) is missing"},
      {"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X|P", "MSH-12 (version id) is missing"},
      {"MSH|^~\\&|A|B|C|D|20240101||ADT^A01|X|P|", "MSH-12 (version id) is missing"},
      {"MSH|^~\\&#!|A", "MSH-2 has 6 characters"},
      {"MSH|^~\\^|A", "repeat a character"},
      {"MSH|^~\\||A", "truncated MSH-2: 3 encoding characters"},  // '|' ends MSH-2 early
      {"MSHA^~\\&A", "MSH-1 (field separator) is 0x41"},
      {"MSH|^~ &|A", "MSH-2 escape character is 0x20"},
      {"MSH\t^~\\&\t", "MSH-1 (field separator) is 0x09"},
  };
  for (const Case& c : cases) {
    const std::string error = refusal(c.er7);
    EXPECT_NE(error.find(c.expected), std::string::npos) << c.er7 << " -> " << error;
    EXPECT_NE(error.find("segment 1 (MSH)"), std::string::npos) << error;
  }
}

TEST(Er7Parse, RefusesMalformedSegmentIdsNamingTheSegment) {
  EXPECT_NE(refusal(kHeader + "\rPID|1\rpv1|1").find("segment 3: segment id must be"), std::string::npos);
  EXPECT_NE(refusal(kHeader + "\rPI|1").find("segment 2: segment id must be"), std::string::npos);
  EXPECT_NE(refusal(kHeader + "\rPIDX|1").find("segment 2 (PID): segment id must be followed"), std::string::npos);
  EXPECT_NE(refusal(kHeader + "\r PID|1").find("segment 2:"), std::string::npos);
  EXPECT_NE(refusal(kHeader + "\r1ID|1").find("segment 2:"), std::string::npos);
}

TEST(Er7Parse, RefusesNulAndControlCharactersNamingSegmentAndFieldButNotContent) {
  const std::string nul = refusal(kHeader + "\rPID|1||SECRETNAME\0X|\r"s);
  EXPECT_NE(nul.find("segment 2 (PID) field 3: control character 0x00"), std::string::npos) << nul;
  EXPECT_EQ(nul.find("SECRETNAME"), std::string::npos) << "error messages must not carry record content";

  const std::string vt = refusal("MSH|^~\\&|A\x0B|B|C|D|20240101||ADT^A01|X|P|2.5");
  EXPECT_NE(vt.find("segment 1 (MSH) field 3: control character 0x0B"), std::string::npos) << vt;
  EXPECT_NE(vt.find("\\X0B\\"), std::string::npos) << vt;

  const std::string fs = refusal(kHeader + "\rOBX|1|TX|||text\x1Cmore\r");
  EXPECT_NE(fs.find("segment 2 (OBX) field 5: control character 0x1C"), std::string::npos) << fs;

  // TAB is text.
  EXPECT_EQ(parsed(kHeader + "\rNTE|1||a\tb").value("NTE-3").value(), "a\tb");
}

TEST(Er7Parse, AcceptsBytesInAnyCharacterSet) {
  // The ER7 layer is byte-oriented: MSH-18 may name 8859/1 or another set, so
  // invalid UTF-8 is not refused here (the XML layer checks it against MSH-18).
  const Message m = parsed(kHeader + "\rPID|1||||M\xFCller^J\xF6rg\r");
  EXPECT_EQ(m.value("PID-5.1").value(), "M\xFCller");
  EXPECT_EQ(write(m), kHeader + "\rPID|1||||M\xFCller^J\xF6rg\r");
}

TEST(Er7Parse, RefusesOversizeInput) {
  std::string big = kHeader + "\rOBX|1|ED|||";
  big.resize((10u << 20) + 1, 'A');
  const std::string error = refusal(big);
  EXPECT_NE(error.find("10485761 bytes exceeds the limit of 10485760"), std::string::npos) << error;
  big.resize(10u << 20);
  EXPECT_TRUE(parse(big).ok());  // exactly at the limit is fine
  ParseLimits small;
  small.max_bytes = 100;
  EXPECT_NE(refusal(kHeader + "\rPID|" + std::string(100, 'x'), small).find("(ParseLimits::max_bytes)"),
            std::string::npos);
}

TEST(Er7Parse, RefusesDeeplyRepeatedSeparatorsWithinLimits) {
  const auto tail = [](char c, std::size_t n) { return kHeader + "\rPID|1||" + std::string(n, c) + "\r"; };
  EXPECT_NE(refusal(tail('^', 1'000'000)).find("segment 2 (PID) field 3 repetition 1: more than 100 components"),
            std::string::npos);
  EXPECT_NE(refusal(tail('~', 1'000'000)).find("segment 2 (PID) field 3: more than 1000 repetitions"),
            std::string::npos);
  EXPECT_NE(refusal(tail('&', 1'000'000)).find("component 1: more than 100 sub-components"), std::string::npos);
  EXPECT_NE(refusal(tail('|', 1'000'000)).find("segment 2 (PID): more than 1000 fields"), std::string::npos);
  std::string many_segments = kHeader;
  for (int i = 0; i < 10'001; ++i) many_segments += "\rNTE|1";
  EXPECT_NE(refusal(many_segments).find("more than 10000 segments"), std::string::npos);

  // Within every per-level limit, the item budget still bounds memory.
  std::string wide = kHeader;
  for (int s = 0; s < 200; ++s) {
    wide += "\rOBX";
    for (int f = 0; f < 100; ++f) wide += "|" + std::string(99, '^');
  }
  EXPECT_NE(refusal(wide).find("(ParseLimits::max_items)"), std::string::npos);

  ParseLimits tight;
  tight.max_components = 3;
  EXPECT_TRUE(parse(kHeader + "\rPID|1||a^b^c", tight).ok());
  EXPECT_FALSE(parse(kHeader + "\rPID|1||a^b^c^d", tight).ok());
}

struct EscapeCase {
  std::string encoded;
  std::vector<TextRun> runs;
  std::string decoded;
};

TEST(Er7Escapes, DecodesDelimiterEscapesAndKeepsEveryOtherSequence) {
  using K = TextRun::Kind;
  const std::vector<EscapeCase> cases = {
      {"plain", {{K::Text, "plain"}}, "plain"},
      {"", {}, ""},
      {"A\\F\\B", {{K::Text, "A|B"}}, "A|B"},
      {"\\S\\\\T\\\\R\\\\E\\", {{K::Text, "^&~\\"}}, "^&~\\"},
      {"A\\T\\E", {{K::Text, "A&E"}}, "A&E"},
      {"line1\\.br\\line2", {{K::Text, "line1"}, {K::Escape, ".br"}, {K::Text, "line2"}}, "line1\\.br\\line2"},
      {"\\H\\bold\\N\\", {{K::Escape, "H"}, {K::Text, "bold"}, {K::Escape, "N"}}, "\\H\\bold\\N\\"},
      {"\\X0D0A\\", {{K::Escape, "X0D0A"}}, "\\X0D0A\\"},
      {"\\C2842\\kanji\\C2B42\\", {{K::Escape, "C2842"}, {K::Text, "kanji"}, {K::Escape, "C2B42"}},
       "\\C2842\\kanji\\C2B42\\"},
      {"\\M2442\\", {{K::Escape, "M2442"}}, "\\M2442\\"},
      {"\\Zlocal\\", {{K::Escape, "Zlocal"}}, "\\Zlocal\\"},
      {"\\.sp 2\\\\.in+4\\\\.ti-2\\\\.sk 3\\\\.fi\\\\.nf\\\\.ce\\",
       {{K::Escape, ".sp 2"}, {K::Escape, ".in+4"}, {K::Escape, ".ti-2"}, {K::Escape, ".sk 3"}, {K::Escape, ".fi"},
        {K::Escape, ".nf"}, {K::Escape, ".ce"}},
       "\\.sp 2\\\\.in+4\\\\.ti-2\\\\.sk 3\\\\.fi\\\\.nf\\\\.ce\\"},
      {"\\P\\", {{K::Escape, "P"}}, "\\P\\"},  // v2.7 truncation escape: kept
      {"\\\\", {{K::Escape, ""}}, "\\\\"},     // empty escape: kept, round-trips
      {"C:\\temp", {{K::Text, "C:\\temp"}}, "C:\\temp"},  // lone escape character: literal
      {"a\\F\\b\\", {{K::Text, "a|b\\"}}, "a|b\\"},
      {"\\e\\", {{K::Escape, "e"}}, "\\e\\"},  // escapes are case-sensitive
  };
  const Delimiters d;
  for (const EscapeCase& c : cases) {
    const auto runs = decodeRuns(c.encoded, d);
    ASSERT_EQ(runs.size(), c.runs.size()) << c.encoded;
    for (std::size_t i = 0; i < runs.size(); ++i) {
      EXPECT_EQ(runs[i].kind, c.runs[i].kind) << c.encoded << " run " << i;
      EXPECT_EQ(runs[i].text, c.runs[i].text) << c.encoded << " run " << i;
    }
    EXPECT_EQ(decode(c.encoded, d), c.decoded) << c.encoded;
  }
}

TEST(Er7Escapes, EncodeEscapesDelimitersAndLineBreaksOnly) {
  const Delimiters d;
  EXPECT_EQ(encode("A|B^C&D~E\\F", d), "A\\F\\B\\S\\C\\T\\D\\R\\E\\E\\F");
  EXPECT_EQ(encode("one\rtwo\nthree", d), "one\\X0D\\two\\X0A\\three");
  EXPECT_EQ(encode("tab\tstays, #too, \xC3\xA9 too", d), "tab\tstays, #too, \xC3\xA9 too");
  for (const std::string text : {"A|B^C&D~E\\F", "\\\\", "\\F\\", "x\\", ""}) {
    EXPECT_EQ(decode(encode(text, d), d), text);
  }
}

TEST(Er7Escapes, UsesTheMessagesOwnEscapeAndDelimiterCharacters) {
  const Message m = parsed("MSH|^~!&|A|B|C|D|20240101||ADT^A01|X|P|2.5\rNTE|1||A!T!E !F! !.br! back\\slash");
  EXPECT_EQ(m.delimiters().escape, '!');
  EXPECT_EQ(m.value("NTE-3").value(), "A&E | !.br! back\\slash");
  EXPECT_EQ(encode("a!b|c", m.delimiters()), "a!E!b!F!c");
  EXPECT_EQ(encodeEscape(".br", m.delimiters()).value(), "!.br!");
}

TEST(Er7Escapes, EncodeEscapeRefusesContentsThatWouldBreakTheStructure) {
  const Delimiters d;
  EXPECT_EQ(encodeEscape("H", d).value(), "\\H\\");
  EXPECT_EQ(encodeEscape("", d).value(), "\\\\");
  for (const std::string bad : {"a|b", "a^b", "a~b", "a&b", "a\\b", "a\rb", "a\nb", "a\x01"}) {
    EXPECT_FALSE(encodeEscape(bad, d).ok()) << bad;
  }
}

TEST(Er7Accessors, ReadTheHeaderFields) {
  const Message m = parsed(kHeader + "||||||UNICODE UTF-8\rPID|1");
  EXPECT_EQ(m.messageType().code, "ADT");
  EXPECT_EQ(m.messageType().trigger, "A01");
  EXPECT_EQ(m.messageType().structure, "ADT_A01");
  EXPECT_EQ(m.controlId(), "MSG0001");
  EXPECT_EQ(m.version(), "2.5.1");
  EXPECT_EQ(m.characterSet(), "UNICODE UTF-8");
  const Message old = parsed("MSH|^~\\&|A|B|C|D|20240101||ACK^|CTL\\F\\1|P|2.3.1");
  EXPECT_EQ(old.messageType().trigger, "");
  EXPECT_EQ(old.messageType().structure, "");
  EXPECT_EQ(old.controlId(), "CTL|1");
  EXPECT_EQ(old.characterSet(), "");
}

TEST(Er7Accessors, ValueFollowsTerserPaths) {
  const Message m = parsed(kHeader +
                           "\rPID|1||123^^^NHS&2.16.840.1.113883.2.1.4.1&ISO~456^^^LOCAL||SMITH^ANNE^^^MRS|\"\"|"
                           "19800101\rOBX|1|ST|A||first\rOBX|2|ST|B||second\\T\\third\r");
  EXPECT_EQ(m.value("PID-3").value(), "123");
  EXPECT_EQ(m.value("PID-3.1").value(), "123");
  EXPECT_EQ(m.value("PID-3.4").value(), "NHS");
  EXPECT_EQ(m.value("PID-3.4.2").value(), "2.16.840.1.113883.2.1.4.1");
  EXPECT_EQ(m.value("PID-3[2].4").value(), "LOCAL");
  EXPECT_EQ(m.value("PID-3[3]").value(), "");
  EXPECT_EQ(m.value("PID-5.5").value(), "MRS");
  EXPECT_EQ(m.value("PID-6").value(), "\"\"");
  EXPECT_EQ(m.value("PID-99").value(), "");
  EXPECT_EQ(m.value("OBX-5").value(), "first");
  EXPECT_EQ(m.value("OBX[2]-5").value(), "second&third");
  EXPECT_EQ(m.value("OBX[3]-5").value(), "");
  EXPECT_EQ(m.value("NK1-1").value(), "");
  EXPECT_EQ(m.segment("OBX", 2)->fields[0], (Field{{{"2"}}}));
  EXPECT_EQ(m.segment("OBX", 3), nullptr);
  for (const std::string bad : {"", "PID", "PID-", "PID-0", "PID-3.", "PID-3.0", "pid-3", "PID-3[0]", "PID-3[2",
                                "PID.3", "PID-3.1.1.1", "PID-x", "PID[2-3", "PID-3 "}) {
    EXPECT_FALSE(m.value(bad).ok()) << bad;
  }
}

TEST(Er7Assemble, BuildsAValidMessageAndRefusesInconsistentParts) {
  const Delimiters d;
  const auto msh = [&] {
    Segment s{"MSH", {}};
    s.fields = {{{{"|"}}}, {{{"^~\\&"}}}, {{{"A"}}}, {}, {}, {}, {}, {}, {{{"ADT"}, {"A01"}}}, {{{"X1"}}}, {{{"P"}}}, {{{"2.5"}}}};
    return s;
  };
  auto ok = Message::assemble(d, {msh(), Segment{"PID", {{{{"1"}}}}}});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(write(*ok), "MSH|^~\\&|A||||||ADT^A01|X1|P|2.5\rPID|1\r");

  EXPECT_FALSE(Message::assemble(d, {}).ok());
  EXPECT_FALSE(Message::assemble(d, {Segment{"PID", {}}}).ok());
  auto with_delimiter = Message::assemble(d, {msh(), Segment{"PID", {{{{"a|b"}}}}}});
  ASSERT_FALSE(with_delimiter.ok());
  EXPECT_NE(with_delimiter.error().message.find("segment 2 (PID) field 1: a value holds a delimiter"),
            std::string::npos);
  EXPECT_FALSE(Message::assemble(d, {msh(), Segment{"PID", {{{{"a\rb"}}}}}}).ok());
  EXPECT_FALSE(Message::assemble(d, {msh(), Segment{"pid", {}}}).ok());
  EXPECT_FALSE(Message::assemble(d, {msh(), msh()}).ok());
  Segment wrong_sep = msh();
  wrong_sep.fields[0] = {{{"^"}}};
  EXPECT_FALSE(Message::assemble(d, {wrong_sep}).ok());
  Segment no_control_id = msh();
  no_control_id.fields[9].clear();
  EXPECT_FALSE(Message::assemble(d, {no_control_id}).ok());
  Delimiters bad = d;
  bad.component = '|';
  EXPECT_FALSE(Message::assemble(bad, {msh()}).ok());
}

}  // namespace
}  // namespace cb::codec::hl7v2
