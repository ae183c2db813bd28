#pragma once
// Message identifiers. Every record carebridge accepts gets one id at receipt;
// it travels with every delivery attempt so a receiver can detect a redelivery.

#include <string>

namespace cb {

/// A new UUID version 7 (RFC 9562 section 5.7) in its canonical text form:
/// 48 bits of Unix milliseconds then 74 random bits, so ids sort by arrival
/// time and carry nothing about the record or the person it concerns.
std::string newMessageId();

/// True if `s` is a canonical lower-case UUID (8-4-4-4-12 hex digits).
bool isMessageId(const std::string& s);

}  // namespace cb
