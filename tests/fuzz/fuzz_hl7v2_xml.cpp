// libFuzzer target: arbitrary bytes as the XML form of an HL7 v2 message
// (what a mapping produces for outbound messages). Whatever xmlToEr7()
// accepts must be valid ER7, and converting that on through XML must settle
// after one round trip.
#include "codec/hl7v2/xml.h"
#include "fuzz_check.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using namespace cb::codec::hl7v2;
using cb::fuzz::check;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto er7 = xmlToEr7(input, "fuzz");
  if (!er7) return 0;

  auto message = parse(*er7);
  check(message.ok(), "ER7 written from XML parses");
  check(write(*message) == *er7, "ER7 written from XML is written back unchanged");

  auto first = er7ToXml(*er7);
  if (!first) return 0;  // e.g. a root name MSH-9 cannot give; refused cleanly
  auto once = xmlToEr7(*first, "fuzz");
  check(once.ok(), "XML from toXml reads back");
  auto second = er7ToXml(*once);
  check(second.ok(), "normalised ER7 converts to XML");
  auto twice = xmlToEr7(*second, "fuzz");
  check(twice.ok() && *twice == *once, "a second XML round trip changes nothing");
  return 0;
}
