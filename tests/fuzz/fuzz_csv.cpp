// libFuzzer target: arbitrary bytes as a CSV file. Whatever parse() accepts
// must write back to CSV that parses to the same table, with every delimiter,
// and survive the XML form unchanged.
#include "codec/csv/csv.h"
#include "fuzz_check.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using namespace cb::codec::csv;
using cb::fuzz::check;

// The delimiter to read with: the first of ; TAB | in the input's first line,
// else ','. Lets one target cover every dialect deterministically.
char sniffDelimiter(std::string_view s) {
  const std::string_view first_line = s.substr(0, s.find_first_of("\r\n"));
  const std::size_t at = first_line.find_first_of(";\t|");
  return at == std::string_view::npos ? ',' : first_line[at];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  ReadOptions read;
  read.delimiter = sniffDelimiter(input);
  auto table = parse(input, read);
  if (!table) return 0;

  for (const char delimiter : {',', ';', '\t', '|'}) {
    WriteOptions write_options;
    write_options.delimiter = delimiter;
    write_options.line_ending = delimiter == ',' ? LineEnding::CrLf : LineEnding::Lf;
    auto csv = write(*table, write_options);
    check(csv.ok(), "a parsed table can be written");
    ReadOptions again;
    again.delimiter = delimiter;
    auto back = parse(*csv, again);
    check(back.ok(), "written CSV parses");
    check(back->header == table->header && back->rows == table->rows, "written CSV parses to the same table");
  }

  auto doc = toXml(*table);
  check(doc.ok(), "a parsed table converts to XML");
  auto from_doc = fromXml(doc->get());
  check(from_doc.ok(), "fromXml accepts what toXml produced");
  check(from_doc->header == table->header && from_doc->rows == table->rows, "XML keeps the table");
  auto csv = xmlToCsv(cb::xml::serialize(doc->get()), "fuzz");
  check(csv.ok(), "serialised XML reads back");
  auto back = parse(*csv);
  check(back.ok() && back->header == table->header && back->rows == table->rows, "CSV -> XML -> CSV keeps the table");
  return 0;
}
