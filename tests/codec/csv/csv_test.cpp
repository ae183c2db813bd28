// The CSV codec: RFC 4180 cases, the XML form, round trips, hostile input,
// and the CSV files in ${CB_REFERENCE_DIR}.
#include "codec/csv/csv.h"

#include <gtest/gtest.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace cb::codec::csv {
namespace {

using namespace std::string_literals;
using Rows = std::vector<std::vector<std::string>>;
using Strings = std::vector<std::string>;

Table parsed(const std::string& bytes, const ReadOptions& options = {}) {
  auto t = parse(bytes, options);
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
  if (!t.ok()) std::abort();
  return std::move(t).value();
}

std::string refusal(const std::string& bytes, const ReadOptions& options = {}) {
  auto t = parse(bytes, options);
  EXPECT_FALSE(t.ok()) << "accepted: " << bytes.substr(0, 80);
  return t.ok() ? std::string() : t.error().message;
}

std::string written(const Table& table, const WriteOptions& options = {}) {
  auto s = write(table, options);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  return s.ok() ? *s : std::string();
}

Strings xpath(const _xmlDoc* doc, const std::string& expr) {
  Strings values;
  xmlXPathContextPtr ctx = xmlXPathNewContext(const_cast<xmlDocPtr>(doc));
  xmlXPathObjectPtr result = xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>(expr.c_str()), ctx);
  if (result != nullptr && result->type == XPATH_NODESET && result->nodesetval != nullptr) {
    for (int i = 0; i < result->nodesetval->nodeNr; ++i) {
      xmlChar* s = xmlXPathCastNodeToString(result->nodesetval->nodeTab[i]);
      values.emplace_back(reinterpret_cast<const char*>(s));
      xmlFree(s);
    }
  } else if (result != nullptr) {
    xmlChar* s = xmlXPathCastToString(result);
    values.emplace_back(reinterpret_cast<const char*>(s));
    xmlFree(s);
  }
  xmlXPathFreeObject(result);
  xmlXPathFreeContext(ctx);
  return values;
}

std::filesystem::path referenceDir() {
  const char* dir = std::getenv("CB_REFERENCE_DIR");
  return dir != nullptr && *dir != '\0' ? dir : CB_DEFAULT_REFERENCE_DIR;
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- RFC 4180 section 2, rule by rule ---------------------------------------

TEST(CsvParse, RecordsOnSeparateLinesWithOrWithoutAFinalLineBreak) {  // rules 1 and 2
  const Table t = parsed("a,b\r\n1,2\r\n3,4\r\n");
  EXPECT_EQ(t.header, (Strings{"a", "b"}));
  EXPECT_EQ(t.rows, (Rows{{"1", "2"}, {"3", "4"}}));
  EXPECT_EQ(parsed("a,b\r\n1,2\r\n3,4").rows, t.rows);
  EXPECT_EQ(parsed("a,b\n1,2\n3,4\n").rows, t.rows);
  EXPECT_EQ(parsed("a,b\r1,2\r3,4").rows, t.rows);
  EXPECT_EQ(parsed("a,b\n1,2\r\n3,4\r").rows, t.rows);
}

TEST(CsvParse, HeaderOnlyIsATableWithNoRows) {  // rule 3
  const Table t = parsed("NHS Number,Date of Birth\r\n");
  EXPECT_EQ(t.header, (Strings{"NHS Number", "Date of Birth"}));
  EXPECT_TRUE(t.rows.empty());
}

TEST(CsvParse, SpacesArePartOfAFieldAndEmptyFieldsCount) {  // rule 4
  EXPECT_EQ(parsed("a,b,c\n x , y ,\n,,\n").rows, (Rows{{" x ", " y ", ""}, {"", "", ""}}));
}

TEST(CsvParse, QuotedFieldsHoldDelimitersQuotesAndLineBreaks) {  // rules 5, 6, 7
  const Table t = parsed("id,note\r\n1,\"Smith, Anne\"\r\n2,\"said \"\"no\"\"\"\r\n3,\"line one\r\nline two\nthree\"\r\n4,\"\"\r\n");
  EXPECT_EQ(t.rows, (Rows{{"1", "Smith, Anne"}, {"2", "said \"no\""}, {"3", "line one\r\nline two\nthree"}, {"4", ""}}));
  EXPECT_EQ(parsed("\"a\",\"b\"\n\"x\",\"\"\"\"\n").rows, (Rows{{"x", "\""}}));
}

TEST(CsvParse, AByteOrderMarkIsSkipped) {
  const Table t = parsed("\xEF\xBB\xBFname,dob\r\nAnne,1980-01-01\r\n");
  EXPECT_EQ(t.header, (Strings{"name", "dob"}));
}

TEST(CsvParse, OtherDelimiters) {
  for (const char d : {';', '\t', '|', ','}) {
    ReadOptions options;
    options.delimiter = d;
    const std::string s = "a"s + d + "b\n1" + d + "\"x" + d + "y\"\n";
    EXPECT_EQ(parsed(s, options).rows, (Rows{{"1", "x"s + d + "y"}})) << d;
  }
  ReadOptions semicolon;
  semicolon.delimiter = ';';
  EXPECT_EQ(parsed("a;b\n1,5;2\n", semicolon).rows, (Rows{{"1,5", "2"}}));
  ReadOptions bad;
  bad.delimiter = ':';
  EXPECT_NE(refusal("a:b\n", bad).find("delimiter must be one of"), std::string::npos);
}

TEST(CsvParse, AQuoteInsideAnUnquotedFieldIsLiteral) {
  EXPECT_EQ(parsed("name,height\nO\"Brien,5'11\"\n").rows, (Rows{{"O\"Brien", "5'11\""}}));
}

TEST(CsvParse, BlankLinesAtTheEndAreDroppedInTheMiddleTheyAreRagged) {
  EXPECT_EQ(parsed("a,b\n1,2\n\n\r\n").rows, (Rows{{"1", "2"}}));
  EXPECT_NE(refusal("a,b\n1,2\n\n3,4\n").find("line 3: blank line"), std::string::npos);
  // With one column a blank line is an empty value, except at the very end.
  EXPECT_EQ(parsed("nhs\n1\n\n2\n\n").rows, (Rows{{"1"}, {""}, {"2"}}));
  EXPECT_EQ(parsed("nhs\n1\n\"\"\n").rows, (Rows{{"1"}, {""}}));
}

TEST(CsvParse, RefusesRaggedRowsNamingTheLine) {
  const std::string error = refusal("a,b,c\r\n1,2,3\r\n\"multi\nline\",5,6\r\n4,5\r\n");
  EXPECT_NE(error.find("line 5: 2 fields, but the header has 3"), std::string::npos) << error;
  EXPECT_NE(refusal("a,b\n1,2,3\n").find("line 2: 3 fields, but the header has 2"), std::string::npos);
}

TEST(CsvParse, RefusesUnterminatedQuotesAndTextAfterAClosingQuote) {
  const std::string open = refusal("a,b\n1,2\n3,\"never closed\n4,5\n");
  EXPECT_NE(open.find("line 3 field 2: quoted field is not closed"), std::string::npos) << open;
  const std::string after = refusal("a,b\n1,\"x\"y\n");
  EXPECT_NE(after.find("line 2 field 2: text after the closing quote"), std::string::npos) << after;
  EXPECT_FALSE(parse("a\n\"").ok());
}

TEST(CsvParse, RefusesInvalidUtf8AndControlCharactersNamingTheLine) {
  const std::string latin1 = refusal("name\nAnne\nM\xFCller\n");
  EXPECT_NE(latin1.find("line 3: invalid UTF-8"), std::string::npos) << latin1;
  EXPECT_EQ(latin1.find("ller"), std::string::npos) << "no record content in errors";
  for (const std::string& bad : {"\xC0\xAF"s, "\xED\xA0\x80"s, "\xEF\xBF\xBF"s, "\xF4\x90\x80\x80"s, "\xE2\x82"s}) {
    EXPECT_NE(refusal("a\n" + bad + "\n").find("line 2: invalid UTF-8"), std::string::npos);
  }
  EXPECT_NE(refusal("a\nx\0y\n"s).find("line 2: control character"), std::string::npos);
  EXPECT_NE(refusal("a\nx\x0By\n"s).find("line 2: control character"), std::string::npos);
  EXPECT_EQ(parsed("a\nx\ty\n").rows, (Rows{{"x\ty"}}));
}

TEST(CsvParse, RefusesEmptyBlankHeaderAndOversizeInput) {
  EXPECT_NE(refusal("").find("empty input"), std::string::npos);
  EXPECT_NE(refusal("\xEF\xBB\xBF").find("empty input"), std::string::npos);
  EXPECT_NE(refusal("\n1\n").find("header row is blank"), std::string::npos);
  std::string big = "a\n";
  big.resize((32u << 20) + 1, 'x');
  EXPECT_NE(refusal(big).find("33554433 bytes exceeds the limit of 33554432"), std::string::npos);
}

TEST(CsvParse, LimitsBoundColumnsRowsAndCells) {
  ReadOptions limits;
  limits.max_columns = 3;
  EXPECT_NE(refusal("a,b,c,d\n", limits).find("line 1: more than 3 fields"), std::string::npos);
  EXPECT_NE(refusal("a,b,c\n1,2,3,4,5,6,7\n", limits).find("line 2: more than 3 fields"), std::string::npos);
  limits = {};
  limits.max_rows = 2;
  EXPECT_TRUE(parse("a\n1\n2\n", limits).ok());
  EXPECT_NE(refusal("a\n1\n2\n3\n", limits).find("more than 2 data rows"), std::string::npos);
  limits = {};
  limits.max_cells = 5;
  EXPECT_NE(refusal("a,b\n1,2\n3,4\n5,6\n", limits).find("more than 5 cells"), std::string::npos);
  // A million delimiters on one line stops at the column limit.
  EXPECT_NE(refusal("a\n" + std::string(1'000'000, ',') + "\n").find("more than 1000 fields"), std::string::npos);
}

// ---- Writing ------------------------------------------------------------------

TEST(CsvWrite, QuotesOnlyWhereNeededAndDoublesQuotes) {
  const Table t{{"id", "note", "when"},
                {{"1", "Smith, Anne", "2024"}, {"2", "said \"no\"", ""}, {"3", "two\nlines", " spaced "}}};
  EXPECT_EQ(written(t), "id,note,when\r\n1,\"Smith, Anne\",2024\r\n2,\"said \"\"no\"\"\",\r\n3,\"two\nlines\", spaced \r\n");
  WriteOptions lf_semicolon;
  lf_semicolon.delimiter = ';';
  lf_semicolon.line_ending = LineEnding::Lf;
  EXPECT_EQ(written(t, lf_semicolon), "id;note;when\n1;Smith, Anne;2024\n2;\"said \"\"no\"\"\";\n3;\"two\nlines\"; spaced \n");
  WriteOptions all;
  all.quote_all = true;
  EXPECT_EQ(written(Table{{"a"}, {{"x"}}}, all), "\"a\"\r\n\"x\"\r\n");
}

TEST(CsvWrite, RefusesWhatItCannotWrite) {
  EXPECT_FALSE(write(Table{}).ok());
  EXPECT_FALSE(write(Table{{"a", "b"}, {{"1"}}}).ok());
  EXPECT_FALSE(write(Table{{"a"}, {{"\xFF"}}}).ok());
  WriteOptions bad;
  bad.delimiter = 'x';
  EXPECT_FALSE(write(Table{{"a"}, {}}, bad).ok());
}

TEST(CsvWrite, RoundTripsThroughParse) {
  const std::vector<Table> tables = {
      Table{{"a", "b"}, {{"1", "2"}}},
      Table{{"only"}, {{""}, {"x"}, {""}}},  // single empty cells must survive
      Table{{""}, {{""}}},
      Table{{"q\"uote", "com,ma", "new\r\nline"}, {{"\"", ",", "\r"}, {"\n", "", "a\"b\"\"c"}}},
      Table{{"x", "y"}, {}},
      Table{{"unicode"}, {{"\xE2\x82\xAC \xC2\xA3 \xF0\x9F\x98\x80 caf\xC3\xA9 \xE2\x80\x93"}}},
      // Found by fuzz_csv: a header starting with U+FEFF after the byte order mark.
      Table{{"\xEF\xBB\xBF" "id", "x"}, {{"\xEF\xBB\xBF" "1", "2"}}},
  };
  for (const Table& t : tables) {
    for (const char d : {',', ';', '\t', '|'}) {
      for (const LineEnding eol : {LineEnding::CrLf, LineEnding::Lf}) {
        WriteOptions w;
        w.delimiter = d;
        w.line_ending = eol;
        ReadOptions r;
        r.delimiter = d;
        const Table back = parsed(written(t, w), r);
        EXPECT_EQ(back.header, t.header);
        EXPECT_EQ(back.rows, t.rows);
      }
    }
  }
}

// ---- XML ------------------------------------------------------------------------

TEST(CsvXml, ColumnNamesBecomeXmlNames) {
  EXPECT_EQ(columnElementNames({"Date of Birth", "NHS No.", "1st contact", "Notes", "Notes", "(\xC2\xA3)", "",
                                "xmlThing", "Amount (\xC2\xA3)", "Notes_2", "a__b", "-x", ".y", "caf\xC3\xA9"}),
            (Strings{"Date_of_Birth", "NHS_No.", "_1st_contact", "Notes", "Notes_2", "column_6", "column_7",
                     "_xmlThing", "Amount", "Notes_2_2", "a__b", "_-x", "_.y", "caf"}));
}

TEST(CsvXml, RowsAreAddressableByXPath) {
  const Table t = parsed("NHS Number,Date of Birth,Notes\r\n9434765919,1980-01-01,\"has, comma\"\r\n9990000018,,\r\n");
  auto doc = toXml(t);
  ASSERT_TRUE(doc.ok()) << doc.error().message;
  EXPECT_EQ(xpath(doc->get(), "/rows/row/NHS_Number"), (Strings{"9434765919", "9990000018"}));
  EXPECT_EQ(xpath(doc->get(), "/rows/row[1]/Notes"), Strings{"has, comma"});
  EXPECT_EQ(xpath(doc->get(), "/rows/row[2]/Date_of_Birth"), Strings{""});
  EXPECT_EQ(xpath(doc->get(), "count(/rows/row[2]/*)"), Strings{"3"});
  EXPECT_EQ(xpath(doc->get(), "/rows/columns/column/@name"), (Strings{"NHS Number", "Date of Birth", "Notes"}));
  EXPECT_EQ(xpath(doc->get(), "/rows/columns/column[@name='Date of Birth']/@element"), Strings{"Date_of_Birth"});
  EXPECT_EQ(xpath(doc->get(), "count(//NHS_Number)"), Strings{"2"});  // the header does not reuse cell names
  EXPECT_EQ(xml::serialize(doc->get()),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rows><columns><column element=\"NHS_Number\" name=\"NHS "
            "Number\"/><column element=\"Date_of_Birth\" name=\"Date of Birth\"/><column element=\"Notes\" "
            "name=\"Notes\"/></columns><row><NHS_Number>9434765919</NHS_Number><Date_of_Birth>1980-01-01</"
            "Date_of_Birth><Notes>has, comma</Notes></row><row><NHS_Number>9990000018</NHS_Number><Date_of_Birth/"
            "><Notes/></row></rows>\n");
}

TEST(CsvXml, RoundTripsThroughXml) {
  const std::string csv =
      "id,Full Name,note,x\r\n1,\"Smith, Anne\",\"line\r\nbreak and \"\"quotes\"\" & <tags>\",\t\r\n2,,  ,\r\n";
  auto xml_text = csvToXml(csv);
  ASSERT_TRUE(xml_text.ok()) << xml_text.error().message;
  auto back = xmlToCsv(*xml_text, "test");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, csv);
  auto header_only = xmlToCsv(*csvToXml("a b,c\r\n"), "test");
  ASSERT_TRUE(header_only.ok());
  EXPECT_EQ(*header_only, "a b,c\r\n");
}

TEST(CsvXml, ReaderInfersColumnsWhenNotDeclaredAndAcceptsSparseRows) {
  auto csv = xmlToCsv(
      "<rows>\n  <row><b>2</b><a>1</a></row>\n  <row><c>3</c></row>\n  <row/>\n</rows>", "mapping output");
  ASSERT_TRUE(csv.ok()) << csv.error().message;
  EXPECT_EQ(*csv, "b,a,c\r\n2,1,\r\n,,3\r\n,,\r\n");
  // Declared columns fix order and names; cells may come in any order.
  auto declared = xmlToCsv(
      "<rows><columns><column element=\"dob\" name=\"Date of Birth\"/><column name=\"NHS Number\"/></columns>"
      "<row><NHS_Number>943</NHS_Number><dob>1980</dob></row></rows>",
      "mapping output");
  ASSERT_TRUE(declared.ok()) << declared.error().message;
  EXPECT_EQ(*declared, "Date of Birth,NHS Number\r\n1980,943\r\n");
}

TEST(CsvXml, ReaderRefusesWhatItCannotPlace) {
  struct Case {
    std::string xml;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"<table/>", "root element must be <rows>"},
      {"<rows/>", "no columns"},
      {"<rows>text</rows>", "<rows> holds text"},
      {"<rows><record/></rows>", "<record> cannot appear inside <rows>"},
      {"<rows><columns><column name=\"a\"/></columns><row><b>1</b></row></rows>", "row 1: <b> is not a column"},
      {"<rows><row><a>1</a><a>2</a></row></rows>", "row 1: <a> appears twice"},
      {"<rows><row><a><b>1</b></a></row></rows>", "a cell holds text only"},
      {"<rows><columns><column element=\"a\"/></columns></rows>", "has no name attribute"},
      {"<rows><columns><column name=\"x\" element=\"a\"/><column name=\"y\" element=\"a\"/></columns></rows>",
       "two <column> elements use the element name 'a'"},
      {"<rows><columns><col name=\"x\"/></columns></rows>", "<columns> may hold only <column>"},
      {"<!DOCTYPE rows [<!ENTITY e \"x\">]><rows/>", "document type declarations"},
  };
  for (const Case& c : cases) {
    auto csv = xmlToCsv(c.xml, "t");
    ASSERT_FALSE(csv.ok()) << c.xml;
    EXPECT_NE(csv.error().message.find(c.expected), std::string::npos) << c.xml << " -> " << csv.error().message;
  }
  ReadOptions limits;
  limits.max_rows = 1;
  EXPECT_FALSE(xmlToCsv("<rows><row><a>1</a></row><row><a>2</a></row></rows>", "t", {}, limits).ok());
  limits = {};
  limits.max_columns = 2;
  EXPECT_FALSE(xmlToCsv("<rows><row><a/><b/><c/></row></rows>", "t", {}, limits).ok());
}

// ---- Third-party files --------------------------------------------------------

TEST(CsvReference, ParsesAndRoundTripsTheReferenceCsvFiles) {
  struct Expected {
    std::string path;
    std::size_t columns;
    std::size_t rows;
  };
  // Counts from ../shared/reference/MANIFEST.md and sac/README.txt (e.g. 834
  // long-format cells in cld-reference-tables-from-sql.csv).
  const std::vector<Expected> files = {
      {"sac/cld-defined-values-from-sql.csv", 5, 142},
      {"sac/cld-reference-tables-from-sql.csv", 5, 834},
      {"sac/sac-categories-from-python.csv", 5, 23},
      {"sac/sac-risk-pick-lists-hackney-form.csv", 3, 72},
      // A headerless list of numbers with a BOM and CRLF: the first number
      // becomes the column name.
      {"nhs-number/uk-fci-testdata-9-valid-nhs-numbers.csv", 1, 8},
  };
  for (const Expected& e : files) {
    const std::string bytes = readFile(referenceDir() / e.path);
    auto table = parse(bytes);
    ASSERT_TRUE(table.ok()) << e.path << ": " << table.error().message;
    EXPECT_EQ(table->header.size(), e.columns) << e.path;
    EXPECT_EQ(table->rows.size(), e.rows) << e.path;
    auto xml_text = csvToXml(bytes);
    ASSERT_TRUE(xml_text.ok()) << e.path;
    auto back = xmlToCsv(*xml_text, e.path);
    ASSERT_TRUE(back.ok()) << e.path << ": " << back.error().message;
    auto again = parse(*back);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->header, table->header) << e.path;
    EXPECT_EQ(again->rows, table->rows) << e.path;
  }
  const Table pick = parsed(readFile(referenceDir() / "sac/sac-risk-pick-lists-hackney-form.csv"));
  EXPECT_EQ(pick.rows[2][1],
            "Social Care Support or Service Provider - voluntary (voluntary /community organisations, charities etc.)");
}

}  // namespace
}  // namespace cb::codec::csv
