// Turns reference files into seeds for the XML fuzz targets, so libFuzzer
// starts from well-formed documents of the right shape instead of having to
// discover <MSH><MSH.1>... by itself. Used by run-fuzzers, not by the daemon.
//
//   fuzz_seed hl7v2-xml <message.hl7> <out.xml>
//   fuzz_seed csv-xml   <file.csv>    <out.xml>
//
// Exits 0 when it wrote a seed, 1 when the input is refused (no seed), 2 on
// bad usage or I/O errors.
#include "codec/csv/csv.h"
#include "codec/hl7v2/xml.h"

#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: fuzz_seed hl7v2-xml|csv-xml <in> <out>\n";
    return 2;
  }
  const std::string_view mode = argv[1];
  std::ifstream in(argv[2], std::ios::binary);
  if (!in) {
    std::cerr << argv[2] << ": cannot read\n";
    return 2;
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  cb::Result<std::string> xml = cb::fail("unknown mode");
  if (mode == "hl7v2-xml") {
    xml = cb::codec::hl7v2::er7ToXml(bytes.str());
  } else if (mode == "csv-xml") {
    xml = cb::codec::csv::csvToXml(bytes.str());
  } else {
    std::cerr << "unknown mode " << mode << "\n";
    return 2;
  }
  if (!xml) {
    std::cerr << argv[2] << ": no seed (" << xml.error().message << ")\n";
    return 1;
  }
  std::ofstream out(argv[3], std::ios::binary);
  out << *xml;
  return out ? 0 : 2;
}
