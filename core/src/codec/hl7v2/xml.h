#pragma once
// HL7 v2 messages as XML, the form the mapping engine works on, and back.
//
// Element naming follows "HL7 Version 2: XML Encoding Syntax" (v2.xml), with
// one deliberate deviation because the v2 data type tables are not available
// to us: components and sub-components are named by position, not by data
// type. An ADT^A01 looks like this:
//
//   <ADT_A01 xmlns="urn:hl7-org:v2xml">
//     <MSH>
//       <MSH.1>|</MSH.1>
//       <MSH.2>^~\&amp;</MSH.2>
//       <MSH.9><MSH.9.1>ADT</MSH.9.1><MSH.9.2>A01</MSH.9.2></MSH.9>
//       ...
//     </MSH>
//     <PID>
//       <PID.3><PID.3.1>123</PID.3.1><PID.3.4><PID.3.4.1>NHS</PID.3.4.1><PID.3.4.2>2.16.840.1.113883.2.1.4.1</PID.3.4.2></PID.3.4></PID.3>
//       <PID.3><PID.3.1>456</PID.3.1></PID.3>          (a second repetition)
//       <PID.5><PID.5.1>SMITH</PID.5.1><PID.5.2>ANNE</PID.5.2></PID.5>
//       <PID.8 null="true"/>                          (PID-8 was "")
//       <PID.11><PID.11.1>1 High St<escape V=".br"/>Flat 2</PID.11.1></PID.11>
//     </PID>
//   </ADT_A01>
//
// The rules, in full (README.md beside this file has the reasoning):
//  - Root: MSH-9.3 (message structure) when it is a usable XML name, else
//    MSH-9.1 "_" MSH-9.2, else MSH-9.1; in the namespace urn:hl7-org:v2xml.
//  - Segments are a flat list in message order (no message-structure groups),
//    each an element named by its segment id; Z-segments like any other.
//  - A field is <SEG.n>; each repetition is one more <SEG.n> element in order.
//    A field element ALWAYS holds component elements <SEG.n.m>, even when
//    the field has one component (so PID.3/PID.3.1 works however much the
//    sender filled in). MSH.1 and MSH.2 are the exception: plain text.
//  - A component with one sub-component holds its text; one with more holds
//    sub-component elements <SEG.n.m.k>.
//  - Empty fields, components and sub-components are omitted (the positional
//    names keep the gaps); an empty repetition followed by a filled one is an
//    empty <SEG.n/>, so later repetitions keep their place. Trailing empty
//    repetitions, components and sub-components are dropped.
//  - The explicit null "" (v2.5.1 2.5: "delete the value") is an empty element
//    with null="true", on the field element when the whole repetition is "",
//    else on the component or sub-component element.
//  - Text is decoded: \F\ \S\ \T\ \R\ \E\ become the literal characters; every
//    other escape sequence becomes <escape V="..."/> in place, as v2.xml
//    does, e.g. <escape V=".br"/>, <escape V="H"/>, <escape V="X0D0A"/>.
//  - Text is Unicode (UTF-8 in the serialised document); the ER7 side uses the
//    character set MSH-18 names. Supported: empty (UTF-8 is accepted; ASCII is
//    its subset), ASCII, UNICODE UTF-8, 8859/1, 8859/15. Other MSH-18 values,
//    and bytes that are not valid in the declared set, are refused with the
//    segment and field named.
//
// fromXml() reads that form back and is lenient where the meaning is clear:
// elements in no namespace are accepted as well as v2xml ones; a field or
// component element may hold text directly (meaning its first component or
// sub-component); fields, components and sub-components may come in any
// order (repetitions keep document order); whitespace between elements is
// ignored; comments are ignored. Literal delimiters in text are re-escaped,
// CR and LF become \X0D\ and \X0A\ (v2.5.1 2.7).
//
// Round trip: parse -> toXml -> fromXml -> write reproduces the message except
// for segment terminators (always CR), a byte order mark, blank lines, trailing
// empty fields, repetitions, components and sub-components, and a lone escape
// character with no closing one (written back as \E\).

#include "codec/hl7v2/er7.h"
#include "common/result.h"
#include "xml/safe_xml.h"

#include <string>
#include <string_view>

struct _xmlDoc;

namespace cb::codec::hl7v2 {

/// The namespace of the v2.xml encoding.
inline constexpr std::string_view kXmlNamespace = "urn:hl7-org:v2xml";

/// Builds the XML form of `message`. The returned document is owned by the
/// caller. Fails when MSH-9 cannot name the root element or a value is not
/// valid in the character set MSH-18 declares.
Result<xml::DocPtr> toXml(const Message& message);

/// Reads a message back from its XML form. `doc` stays owned by the caller and
/// is not modified. `limits` bounds segments, fields, repetitions, components,
/// sub-components and items as parse() does (max_bytes is not used here).
Result<Message> fromXml(const _xmlDoc* doc, const ParseLimits& limits = {});

/// ER7 bytes to serialised XML (UTF-8, with an XML declaration).
Result<std::string> er7ToXml(std::string_view er7, const ParseLimits& limits = {});

/// Serialised XML to ER7 bytes. The XML is parsed with cb::xml::parse (no
/// DTDs, size limit 8 x limits.max_bytes); `name` (e.g. "message 42") prefixes
/// XML syntax errors.
Result<std::string> xmlToEr7(std::string_view xml_text, std::string_view name, const ParseLimits& limits = {});

}  // namespace cb::codec::hl7v2
