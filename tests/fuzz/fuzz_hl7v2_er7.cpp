// libFuzzer target: arbitrary bytes as an HL7 v2 ER7 message, through parse,
// write, the XML encoding and the ACK builder, checking what the codec
// promises (README.md in core/src/codec/hl7v2):
//  - whatever parse() accepts, write() turns into ER7 that parses to the same tree;
//  - whatever toXml() produces, fromXml() accepts, in memory and serialised;
//  - one XML round trip normalises: a second one changes nothing;
//  - an ACK can be built for every accepted message and parses back.
#include "codec/hl7v2/ack.h"
#include "codec/hl7v2/xml.h"
#include "fuzz_check.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using namespace cb::codec::hl7v2;
using cb::fuzz::check;

bool sameTree(const Message& a, const Message& b) {
  if (a.segments().size() != b.segments().size()) return false;
  for (std::size_t i = 0; i < a.segments().size(); ++i) {
    if (a.segments()[i].id != b.segments()[i].id || a.segments()[i].fields != b.segments()[i].fields) return false;
  }
  return true;
}

std::string viaXml(const Message& m) {
  auto doc = toXml(m);
  check(doc.ok(), "toXml succeeds on a message it accepted once");
  auto back = fromXml(doc->get());
  check(back.ok(), "fromXml accepts what toXml produced");
  return write(*back);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto message = parse(input);
  if (!message) return 0;

  const std::string er7 = write(*message);
  auto reparsed = parse(er7);
  check(reparsed.ok(), "written ER7 parses");
  check(sameTree(*message, *reparsed), "written ER7 parses to the same tree");
  check(write(*reparsed) == er7, "write is stable");

  if (auto doc = toXml(*message); doc) {
    auto back = fromXml(doc->get());
    check(back.ok(), "fromXml accepts what toXml produced");
    const std::string normalised = write(*back);
    auto from_text = xmlToEr7(cb::xml::serialize(doc->get()), "fuzz");
    check(from_text.ok(), "serialised XML reads back");
    check(*from_text == normalised, "serialised and in-memory XML give the same ER7");
    auto normalised_message = parse(normalised);
    check(normalised_message.ok(), "ER7 written from XML parses");
    check(viaXml(*normalised_message) == normalised, "a second XML round trip changes nothing");
  }

  AckRequest request;
  request.code = AckCode::ApplicationError;
  request.control_id = "FUZZ-1";
  request.time = std::chrono::system_clock::time_point{};
  request.errors.push_back(AckError{ErrorCondition::DataTypeError, Severity::Error,
                                    ErrorLocation{"PID", 1, 3, 2, 1, 1}, std::string(input.substr(0, 64))});
  auto ack = buildAck(*message, request);
  check(ack.ok(), "an ACK can be built for every accepted message");
  auto ack_back = parse(write(*ack));
  check(ack_back.ok(), "the ACK parses");
  check(ack_back->value("MSA-2").value() == message->controlId(), "MSA-2 echoes MSH-10");

  (void)message->value(input.substr(0, 24));  // arbitrary paths never crash
  return 0;
}
