// libFuzzer target: arbitrary bytes as the XML form of a CSV file (what a
// mapping produces for outbound files). Whatever xmlToCsv() accepts must be
// CSV that parses back to a table of the same shape.
#include "codec/csv/csv.h"
#include "fuzz_check.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cb::codec::csv;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto csv = xmlToCsv(input, "fuzz");
  if (!csv) return 0;
  auto table = parse(*csv);
  cb::fuzz::check(table.ok(), "CSV written from XML parses");
  auto again = write(*table);
  cb::fuzz::check(again.ok() && *again == *csv, "CSV written from XML is written back unchanged");
  return 0;
}
