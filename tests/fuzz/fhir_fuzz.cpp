// libFuzzer target for the FHIR R4 codec (core/src/codec/fhir).
//
// Every input is tried as FHIR JSON (jsonToXml) and as FHIR XML
// (parseFhirXml). Besides crashes and sanitizer reports, it checks one
// property: whatever one direction of the codec writes, the other direction
// reads. So a converted document goes XML -> JSON -> XML (and the XML is
// serialised and parsed again); a refusal there is a bug and aborts.
//
// Build: clang++ -fsanitize=fuzzer,address,undefined, linked with
// cb::codec_fhir (which brings cb::xml, cb::common and libxml2).

#include "codec/fhir/fhir_codec.h"
#include "xml/safe_xml.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using cb::codec::fhir::JsonOptions;
using cb::codec::fhir::Limits;

// Small bounds keep each run fast; the limits themselves are under test.
Limits fuzzLimits() {
  Limits limits;
  limits.max_bytes = 1u << 20;
  limits.max_depth = 64;
  limits.max_array_length = 4096;
  limits.max_string_bytes = 1u << 20;
  return limits;
}

// Converting a document can deepen it (JSON arrays add a level, XML
// wrappers and the narrative div add others) and enlarge it, so the way back
// gets room for that; everything else stays as strict.
Limits roomier(const Limits& limits, std::size_t bytes) {
  Limits out = limits;
  out.max_bytes = bytes + 1;
  out.max_depth = limits.max_depth * 4 + 8;
  out.max_array_length = limits.max_array_length * 2;
  out.max_string_bytes = bytes + 1;
  return out;
}

[[noreturn]] void invariantBroken(const char* step, const std::string& message) {
  std::fprintf(stderr, "fhir_fuzz: %s refused what the codec itself wrote: %s\n", step, message.c_str());
  std::abort();
}

// XML -> JSON -> XML: once the codec has accepted a document, its own
// output must convert back.
void roundTrip(const _xmlDoc* doc, const Limits& limits) {
  JsonOptions options;
  options.limits = limits;
  auto json = cb::codec::fhir::xmlToJson(doc, "fuzz", options);
  if (!json) return;  // refusing hostile XML is fine

  const Limits back = roomier(limits, json->size());
  auto again = cb::codec::fhir::jsonToXml(*json, "fuzz (codec JSON)", back);
  if (!again) invariantBroken("jsonToXml", again.error().message);

  const std::string text = cb::xml::serialize(again->get());
  auto reparsed = cb::codec::fhir::parseFhirXml(text, "fuzz (codec XML)", roomier(back, text.size()));
  if (!reparsed) invariantBroken("parseFhirXml", reparsed.error().message);

  JsonOptions pretty;
  pretty.pretty = true;
  pretty.limits = roomier(back, text.size());
  auto json_again = cb::codec::fhir::xmlToJson(reparsed->get(), "fuzz (codec XML)", pretty);
  if (!json_again) invariantBroken("xmlToJson", json_again.error().message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool initialised = [] {
    cb::xml::init();
    return true;
  }();
  (void)initialised;

  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const Limits limits = fuzzLimits();

  if (auto doc = cb::codec::fhir::jsonToXml(bytes, "fuzz", limits)) roundTrip(doc->get(), limits);
  if (auto doc = cb::codec::fhir::parseFhirXml(bytes, "fuzz", limits)) roundTrip(doc->get(), limits);
  return 0;
}
