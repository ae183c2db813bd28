// Value transforms: dates and times across formats with precision kept, UK
// civil time, names, case and white space, and the transform chain syntax.

#include "mapping/transforms.h"
#include "mapping_test_support.h"

#include <gtest/gtest.h>

namespace cb::mapping {
namespace {

namespace fs = std::filesystem;

std::string convert(std::string_view text, DateFormat from, DateFormat to) {
  auto v = parseDateTime(text, from);
  if (!v) return "ERROR: " + v.error().message;
  auto s = formatDateTime(*v, to);
  if (!s) return "ERROR: " + s.error().message;
  return *s;
}

TEST(Dates, Hl7DtmEveryPrecision) {
  struct Case {
    const char* in;
    const char* iso;
    DatePrecision precision;
  };
  const Case cases[] = {
      {"1941", "1941", DatePrecision::Year},
      {"194107", "1941-07", DatePrecision::Month},
      {"19410703", "1941-07-03", DatePrecision::Day},
      {"2024040109", "2024-04-01T09:00:00", DatePrecision::Hour},
      {"202404010930", "2024-04-01T09:30:00", DatePrecision::Minute},
      {"20240401093015", "2024-04-01T09:30:15", DatePrecision::Second},
      {"20240401093015.1234", "2024-04-01T09:30:15.1234", DatePrecision::Fraction},
      {"20240401093015+0100", "2024-04-01T09:30:15+01:00", DatePrecision::Second},
      {"202404010930-0500", "2024-04-01T09:30:00-05:00", DatePrecision::Minute},
      {"20240401093015.5+0000", "2024-04-01T09:30:15.5Z", DatePrecision::Fraction},
  };
  for (const auto& c : cases) {
    auto v = parseDateTime(c.in, DateFormat::Hl7);
    ASSERT_TRUE(v) << c.in << ": " << v.error().message;
    EXPECT_EQ(v->precision, c.precision) << c.in;
    EXPECT_EQ(*formatDateTime(*v, DateFormat::Iso), c.iso) << c.in;
  }
  // Round trip back to DTM keeps what was recorded (an ISO write of an hour
  // precision value zero-fills the minutes and seconds; DTM does not need to).
  EXPECT_EQ(convert("1941", DateFormat::Hl7, DateFormat::Hl7), "1941");
  EXPECT_EQ(convert("2024040109", DateFormat::Hl7, DateFormat::Hl7), "2024040109");
  EXPECT_EQ(convert("20240401093015.123456", DateFormat::Iso, DateFormat::Hl7).substr(0, 6), "ERROR:");
  EXPECT_EQ(convert("2024-04-01T09:30:15.123456Z", DateFormat::Iso, DateFormat::Hl7), "20240401093015.1234+0000");
}

TEST(Dates, Hl7DtmRefusals) {
  for (const char* bad : {"", "194", "19410", "1941070", "20240401093", "2024040109301", "20240401093015.",
                          "20240401093015.12345", "2024+0100", "20240401093015+01", "2024-04-01", "abcd",
                          "20241301", "20240230", "2024040124", "202404010960", "20240401095960"}) {
    EXPECT_FALSE(parseDateTime(bad, DateFormat::Hl7)) << "'" << bad << "'";
  }
}

TEST(Dates, IsoAndFhirForms) {
  EXPECT_EQ(convert("1941", DateFormat::Iso, DateFormat::Iso), "1941");
  EXPECT_EQ(convert("1941-07", DateFormat::Iso, DateFormat::Iso), "1941-07");
  EXPECT_EQ(convert("1941-07-03", DateFormat::Iso, DateFormat::Iso), "1941-07-03");
  EXPECT_EQ(convert("2024-04-01T09:30Z", DateFormat::Iso, DateFormat::Iso), "2024-04-01T09:30:00Z");
  EXPECT_EQ(convert("2024-04-01T09:30:15.250+01:00", DateFormat::Iso, DateFormat::Iso), "2024-04-01T09:30:15.250+01:00");
  EXPECT_EQ(convert("2024-04-01T09:30:15", DateFormat::Iso, DateFormat::Hl7), "20240401093015");
  EXPECT_EQ(convert("1941-07", DateFormat::Iso, DateFormat::Hl7), "194107");
  for (const char* bad : {"1941-7", "1941-07-3", "2024-02-30", "2023-02-29", "2024-04-01T24:00:00Z",
                          "2024-04-01T09:30:60Z", "2024-04-01 09:30:00", "2024-04-01T09", "2024-04-01T09:30:00+1500",
                          "2024-04-01T09:30:00+01", "2024-04-01Z"}) {
    EXPECT_FALSE(parseDateTime(bad, DateFormat::Iso)) << bad;
  }
  EXPECT_TRUE(parseDateTime("2024-02-29", DateFormat::Iso));
  EXPECT_TRUE(parseDateTime("2000-02-29", DateFormat::Iso));
  EXPECT_FALSE(parseDateTime("1900-02-29", DateFormat::Iso));
}

TEST(Dates, UkForms) {
  EXPECT_EQ(convert("03/07/1941", DateFormat::Uk, DateFormat::Iso), "1941-07-03");
  EXPECT_EQ(convert("3/7/1941", DateFormat::Uk, DateFormat::Iso), "1941-07-03");
  EXPECT_EQ(convert("1941-07-03", DateFormat::Iso, DateFormat::Uk), "03/07/1941");
  EXPECT_EQ(convert("05-Mar-2024", DateFormat::UkMonth, DateFormat::Iso), "2024-03-05");
  EXPECT_EQ(convert("05-MAR-2024", DateFormat::UkMonth, DateFormat::Iso), "2024-03-05");
  EXPECT_EQ(convert("2024-03-05", DateFormat::Iso, DateFormat::UkMonth), "05-Mar-2024");
  EXPECT_FALSE(parseDateTime("31/02/2024", DateFormat::Uk));
  EXPECT_FALSE(parseDateTime("03/13/1941", DateFormat::Uk));
  EXPECT_FALSE(parseDateTime("03/07/41", DateFormat::Uk));
  EXPECT_FALSE(parseDateTime("05-Mrz-2024", DateFormat::UkMonth));
  EXPECT_FALSE(parseDateTime("05 Mar 2024", DateFormat::UkMonth));
  // A year-only date is never padded into a full date for a UK format.
  auto year_only = formatDateTime(*parseDateTime("1941", DateFormat::Iso), DateFormat::Uk);
  ASSERT_FALSE(year_only);
  EXPECT_NE(year_only.error().message.find("needs a day"), std::string::npos);
}

TEST(Dates, CsvExportForm) {
  EXPECT_EQ(convert("2024-05-14 16:42:07", DateFormat::Csv, DateFormat::Iso), "2024-05-14T16:42:07");
  EXPECT_EQ(convert("2024-05-14", DateFormat::Csv, DateFormat::Iso), "2024-05-14");
  EXPECT_EQ(convert("2024-05-14T16:42:07", DateFormat::Iso, DateFormat::Csv), "2024-05-14 16:42:07");
  EXPECT_FALSE(parseDateTime("2024-05-14 16:42", DateFormat::Csv));
  EXPECT_FALSE(parseDateTime("2024-05-14T16:42:07", DateFormat::Csv));
  // A value with an offset cannot be written where there is no zone field.
  EXPECT_EQ(convert("2024-05-14T16:42:07Z", DateFormat::Iso, DateFormat::Csv).substr(0, 6), "ERROR:");
}

TEST(Dates, AutoDetection) {
  EXPECT_EQ(convert("03/07/1941", DateFormat::Auto, DateFormat::Iso), "1941-07-03");
  EXPECT_EQ(convert("1941", DateFormat::Auto, DateFormat::Iso), "1941");
  EXPECT_EQ(convert("19410703", DateFormat::Auto, DateFormat::Iso), "1941-07-03");
  EXPECT_EQ(convert("1941-07-03", DateFormat::Auto, DateFormat::Iso), "1941-07-03");
  EXPECT_EQ(convert("05-Mar-2024", DateFormat::Auto, DateFormat::Iso), "2024-03-05");
  EXPECT_EQ(convert("2024-05-14 16:42:07", DateFormat::Auto, DateFormat::Iso), "2024-05-14T16:42:07");
  EXPECT_EQ(convert("2024-04-01T09:30:00Z", DateFormat::Auto, DateFormat::Iso), "2024-04-01T09:30:00Z");
  EXPECT_FALSE(parseDateTime("next tuesday", DateFormat::Auto));
}

TEST(Dates, ErrorsNeverQuoteTheValue) {
  auto r = parseDateTime("31/02/1941", DateFormat::Uk);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.find("1941"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("day does not exist"), std::string::npos) << r.error().message;
}

TEST(Dates, Truncation) {
  auto v = *parseDateTime("20240401093015.12+0100", DateFormat::Hl7);
  EXPECT_EQ(*formatDateTime(truncateDateTime(v, DatePrecision::Day), DateFormat::Iso), "2024-04-01");
  EXPECT_EQ(*formatDateTime(truncateDateTime(v, DatePrecision::Minute), DateFormat::Hl7), "202404010930+0100");
  EXPECT_EQ(*formatDateTime(truncateDateTime(v, DatePrecision::Year), DateFormat::Iso), "2024");
  // Truncating to a finer precision than recorded changes nothing.
  auto y = *parseDateTime("1941", DateFormat::Iso);
  EXPECT_EQ(*formatDateTime(truncateDateTime(y, DatePrecision::Day), DateFormat::Iso), "1941");
}

TEST(Dates, UkCivilTime) {
  // 2024: BST from 31 March 01:00 UTC to 27 October 01:00 UTC.
  auto fmt = [](Result<DateTimeValue> v) { return v ? *formatDateTime(*v, DateFormat::Iso) : "ERROR: " + v.error().message; };
  auto local = [](const char* s) { return *parseDateTime(s, DateFormat::Iso); };
  EXPECT_EQ(fmt(assumeUkCivilTime(local("2024-01-15T12:00:00"))), "2024-01-15T12:00:00Z");
  EXPECT_EQ(fmt(assumeUkCivilTime(local("2024-05-14T16:42:07"))), "2024-05-14T16:42:07+01:00");
  EXPECT_EQ(fmt(assumeUkCivilTime(local("2024-03-31T00:59:59"))), "2024-03-31T00:59:59Z");
  EXPECT_EQ(fmt(assumeUkCivilTime(local("2024-03-31T01:30:00"))).substr(0, 6), "ERROR:");  // skipped hour
  EXPECT_EQ(fmt(assumeUkCivilTime(local("2024-03-31T02:00:00"))), "2024-03-31T02:00:00+01:00");
  EXPECT_EQ(fmt(assumeUkCivilTime(local("2024-10-27T01:30:00"))), "2024-10-27T01:30:00+01:00");  // repeated hour: BST
  EXPECT_EQ(fmt(assumeUkCivilTime(local("2024-10-27T02:00:00"))), "2024-10-27T02:00:00Z");
  EXPECT_EQ(fmt(assumeUkCivilTime(local("1990-05-14T12:00:00"))).substr(0, 6), "ERROR:");
  // Dates without a time pass through.
  EXPECT_EQ(fmt(assumeUkCivilTime(local("1941-07-03"))), "1941-07-03");

  EXPECT_EQ(fmt(toUtc(local("2024-05-14T00:30:00+01:00"))), "2024-05-13T23:30:00Z");
  EXPECT_EQ(fmt(toUtc(local("2024-12-31T23:30:00-01:00"))), "2025-01-01T00:30:00Z");
  EXPECT_EQ(fmt(toUkCivilTime(local("2024-05-14T15:42:07Z"))), "2024-05-14T16:42:07+01:00");
  EXPECT_EQ(fmt(toUkCivilTime(local("2024-02-29T23:30:00-05:00"))), "2024-03-01T04:30:00Z");
  EXPECT_EQ(fmt(toUtc(local("2024-05-14T15:42:07"))).substr(0, 6), "ERROR:");
}

TEST(Names, SplitFamilyCommaGiven) {
  auto n = splitName("SMITH, Mrs Margaret Anne", NameStyle::Auto);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->family, "SMITH");
  EXPECT_EQ(n->prefix, "Mrs");
  EXPECT_EQ(n->given, (std::vector<std::string>{"Margaret", "Anne"}));
  auto s = splitName("  de la Cruz ,  Maria   Jose Jr ", NameStyle::FamilyCommaGiven);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->family, "de la Cruz");
  EXPECT_EQ(s->given, (std::vector<std::string>{"Maria", "Jose"}));
  EXPECT_EQ(s->suffix, "Jr");
  EXPECT_FALSE(splitName("Smith, Jane, Anne", NameStyle::Auto));
  EXPECT_FALSE(splitName(", Jane", NameStyle::Auto));
  EXPECT_FALSE(splitName("Jane Smith", NameStyle::FamilyCommaGiven));
}

TEST(Names, SplitGivenFamily) {
  auto n = splitName("Dr. Jane Anne Smith III", NameStyle::Auto);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->prefix, "Dr.");
  EXPECT_EQ(n->given, (std::vector<std::string>{"Jane", "Anne"}));
  EXPECT_EQ(n->family, "Smith");
  EXPECT_EQ(n->suffix, "III");
  auto single = splitName("Cher", NameStyle::GivenFamily);
  ASSERT_TRUE(single);
  EXPECT_EQ(single->family, "Cher");
  EXPECT_TRUE(single->given.empty());
  EXPECT_FALSE(splitName("   ", NameStyle::Auto));
  EXPECT_FALSE(splitName("Smith, Jane", NameStyle::GivenFamily));
}

TEST(Names, Join) {
  PersonName n{"Mrs", {"Margaret", "Anne"}, "Smith", ""};
  EXPECT_EQ(joinName(n, NameStyle::FamilyCommaGiven, true), "SMITH, Mrs Margaret Anne");
  EXPECT_EQ(joinName(n, NameStyle::FamilyCommaGiven, false), "Smith, Mrs Margaret Anne");
  EXPECT_EQ(joinName(n, NameStyle::GivenFamily, false), "Mrs Margaret Anne Smith");
  EXPECT_EQ(joinName(PersonName{"", {}, "Smith", ""}, NameStyle::FamilyCommaGiven, false), "Smith");
  // Split and join are inverse for the house form.
  auto back = splitName(joinName(n, NameStyle::FamilyCommaGiven, false), NameStyle::Auto);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->family, "Smith");
  EXPECT_EQ(back->given, n.given);
  EXPECT_EQ(back->prefix, "Mrs");
}

TEST(Text, CaseAndSpace) {
  EXPECT_EQ(trim(" \t a b \r\n"), "a b");
  EXPECT_EQ(collapseSpace("  a \t\n b   c "), "a b c");
  EXPECT_EQ(toUpper("o'Brien-smith é"), "O'BRIEN-SMITH é");
  EXPECT_EQ(toLower("SMITH É"), "smith É");
  EXPECT_EQ(toTitle("o'BRIEN-SMITH mary"), "O'Brien-Smith Mary");
  EXPECT_EQ(toTitle("ZOË-ANN"), "ZoË-Ann");  // ASCII only: multi-byte letters are left as written
  EXPECT_EQ(toTitle("McDONALD"), "Mcdonald");
}

Result<std::string> run(const std::string& spec, const std::string& value, const CodeTables& tables = {}) {
  auto chain = TransformChain::parse(spec, tables);
  if (!chain) return fail("PARSE: " + chain.error().message);
  return chain->apply(value);
}

TEST(TransformChain, EachTransform) {
  EXPECT_EQ(*run("trim", "  x  "), "x");
  EXPECT_EQ(*run("normalize-space", " a   b "), "a b");
  EXPECT_EQ(*run("upper", "abc"), "ABC");
  EXPECT_EQ(*run("lower", "ABC"), "abc");
  EXPECT_EQ(*run("title", "JANE"), "Jane");
  EXPECT_EQ(*run("nhs-number", "999 000 0018"), "9990000018");
  EXPECT_EQ(*run("nhs-number(format=spaced)", "9990000018"), "999 000 0018");
  EXPECT_EQ(*run("date(from=uk, to=iso)", "03/07/1941"), "1941-07-03");
  EXPECT_EQ(*run("date(from=hl7, to=iso, precision=day)", "202404010930"), "2024-04-01");
  EXPECT_EQ(*run("date(from=csv, to=iso, zone=assume-uk)", "2024-05-14 16:42:07"), "2024-05-14T16:42:07+01:00");
  EXPECT_EQ(*run("date(from=iso, to=hl7, zone=utc)", "2024-05-14T16:42:07+01:00"), "20240514154207+0000");
  EXPECT_EQ(*run("date(from=iso, to=csv, zone=uk-local)", "2024-05-14T15:42:07Z"), "2024-05-14 16:42:07");
  EXPECT_EQ(*run("date", "19410703"), "1941-07-03");
  EXPECT_EQ(*run("name(part=family)", "SMITH, Jane Anne"), "SMITH");
  EXPECT_EQ(*run("name(part=given)", "SMITH, Jane Anne"), "Jane Anne");
  EXPECT_EQ(*run("name(part=prefix, style=given-family)", "Mrs Jane Smith"), "Mrs");
  EXPECT_EQ(*run("name(part=suffix)", "Smith, John Jr"), "Jr");
  EXPECT_EQ(*run("postcode", " ig11  7aa "), "IG11 7AA");
  EXPECT_EQ(*run("postcode", "sw1a1aa"), "SW1A 1AA");
  EXPECT_EQ(*run("replace-empty(values='N/A;-;unknown')", " n/a "), "");
  EXPECT_EQ(*run("replace-empty(values='N/A;-')", "x"), "x");
}

TEST(TransformChain, Chaining) {
  EXPECT_EQ(*run("name(part=family, style=family-comma-given) | title", "SMITH, Jane"), "Smith");
  EXPECT_EQ(*run(" trim |upper| normalize-space ", "  a   b  "), "A B");
  // An empty value stops the chain (the field's default/required rule decides).
  EXPECT_EQ(*run("replace-empty(values='-') | nhs-number", "-"), "");
  // The failing step names itself; the value is not repeated.
  auto r = run("trim | nhs-number", "999 000 0019");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "nhs-number: NHS number fails the Modulus 11 check");
}

TEST(TransformChain, ParseErrors) {
  auto expectParseError = [](const std::string& spec, const std::string& part) {
    auto chain = TransformChain::parse(spec, CodeTables{});
    ASSERT_FALSE(chain) << spec;
    EXPECT_NE(chain.error().message.find(part), std::string::npos) << spec << " -> " << chain.error().message;
  };
  expectParseError("uppercase", "unknown transform 'uppercase'");
  expectParseError("trim(x=1)", "has no argument 'x'");
  expectParseError("date(from=yyyy)", "from= must be");
  expectParseError("date(to=auto)", "to= must be");
  expectParseError("date(zone=paris)", "zone= must be");
  expectParseError("date(precision=week)", "precision= must be");
  expectParseError("name", "needs part=");
  expectParseError("name(part=middle)", "part= must be");
  expectParseError("code(table=nope)", "code table 'nope'");
  expectParseError("code", "needs table=");
  expectParseError("trim upper", "expected '|'");
  expectParseError("date(from=uk", "missing ')'");
  expectParseError("date(from='uk)", "unterminated quote");
  expectParseError("| trim", "expected a transform name");
  expectParseError("nhs-number(format=dotted)", "digits or spaced");
}

}  // namespace
}  // namespace cb::mapping
