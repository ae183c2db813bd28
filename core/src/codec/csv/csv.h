#pragma once
// CSV files with a header row (RFC 4180, "Common Format and MIME Type for
// Comma-Separated Values (CSV) Files"), as vendor systems export them into
// watched folders, to XML for the mapping engine and back for outbound files.
//
// The XML form (README.md beside this file has the reasoning):
//
//   <rows>
//     <columns>
//       <column element="NHS_Number" name="NHS Number"/>
//       <column element="Date_of_Birth" name="Date of Birth"/>
//     </columns>
//     <row>
//       <NHS_Number>9434765919</NHS_Number>
//       <Date_of_Birth>1990-01-01</Date_of_Birth>
//     </row>
//   </rows>
//
// Each cell is an element named after its column, so a mapping file reads a
// value as /rows/row/Date_of_Birth. Column names are made into XML names by
// columnElementNames(); the header text as written is kept once, in
// <columns>, which also preserves the header of a file with no data rows.
// No namespace. Every row holds every column, empty cells as empty elements.

#include "common/result.h"
#include "xml/safe_xml.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

struct _xmlDoc;

namespace cb::codec::csv {

/// A parsed CSV file: the header row and the data rows, each row exactly as
/// wide as the header. Values are UTF-8 text, quotes removed.
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

/// How to read a file, and the bounds that keep hostile input from
/// exhausting memory.
struct ReadOptions {
  /// Field separator: one of ',' ';' '\t' '|'.
  char delimiter = ',';
  std::size_t max_bytes = 32u << 20;    ///< input size (32 MiB)
  std::size_t max_columns = 1'000;
  std::size_t max_rows = 1'000'000;     ///< data rows, header excluded
  std::size_t max_cells = 5'000'000;    ///< data cells in all
};

/// Parses CSV as RFC 4180 section 2 describes it, with a header row. Accepts
/// CRLF, LF or CR line breaks, a UTF-8 byte order mark, a missing final line
/// break, blank lines at the end, and a '"' inside an unquoted field (taken
/// literally; unambiguous though RFC 4180 does not allow it). Refuses empty
/// input, a blank header, rows whose field count differs from the header's
/// (naming the line), unterminated quoted fields, text after a closing quote,
/// invalid UTF-8, control characters other than TAB/CR/LF, and anything over
/// the limits. Error messages name the line and field, never a value.
Result<Table> parse(std::string_view bytes, const ReadOptions& options = {});

/// Line break written after each record.
enum class LineEnding { CrLf, Lf };

/// How to write a file.
struct WriteOptions {
  char delimiter = ',';                    ///< one of ',' ';' '\t' '|'
  LineEnding line_ending = LineEnding::CrLf;  ///< RFC 4180 section 2 rule 1
  bool quote_all = false;                  ///< quote every field, not only those that need it
};

/// Writes `table` as CSV: header first, each record ending with the line
/// break, fields quoted when they hold the delimiter, '"', CR or LF (or
/// always, with quote_all), embedded quotes doubled (RFC 4180 section 2 rules
/// 5-7). Refuses a table with no columns, rows of the wrong width, an invalid
/// delimiter, and values that are not valid UTF-8.
Result<std::string> write(const Table& table, const WriteOptions& options = {});

/// The XML element name for each header entry, in order: characters other
/// than ASCII letters, digits, '_', '-' and '.' become '_' (runs of them one
/// '_', none at either end); a name that would start with a digit, '-', '.'
/// or "xml" gets a leading '_'; an empty result becomes "column_N" (N the
/// 1-based position); a name already taken gets "_2", "_3"... So "Date of
/// Birth" -> "Date_of_Birth", "NHS No." -> "NHS_No.", "1st contact" ->
/// "_1st_contact", a second "Notes" -> "Notes_2".
std::vector<std::string> columnElementNames(const std::vector<std::string>& header);

/// The XML form of `table` (above). The document is owned by the caller.
Result<xml::DocPtr> toXml(const Table& table);

/// Reads the XML form back. With <columns>, the header is its name
/// attributes in order and each cell element must be a declared column;
/// without it, the columns are the cell element names in order of first
/// appearance. Cells may come in any order within a row; a missing cell is
/// empty; a cell given twice is refused. `doc` stays owned by the caller.
/// `options` bounds columns, rows and cells as parse() does.
Result<Table> fromXml(const _xmlDoc* doc, const ReadOptions& options = {});

/// CSV bytes to serialised XML (UTF-8, with an XML declaration).
Result<std::string> csvToXml(std::string_view bytes, const ReadOptions& options = {});

/// Serialised XML to CSV bytes. The XML is parsed with cb::xml::parse (no
/// DTDs, size limit 8 x max_bytes); `name` prefixes XML syntax errors.
Result<std::string> xmlToCsv(std::string_view xml_text, std::string_view name, const WriteOptions& options = {},
                             const ReadOptions& limits = {});

}  // namespace cb::codec::csv
