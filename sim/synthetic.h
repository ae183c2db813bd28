#pragma once
// Synthetic records for simulated partners. Every person is invented; NHS
// numbers come from the 999 range reserved for testing and pass Modulus 11.

#include <cstdint>
#include <string>

namespace cb::sim {

/// The i-th synthetic NHS number (999 then six digits then a check digit), valid under Modulus 11.
std::string syntheticNhsNumber(std::uint64_t i);

/// A safeguarding-concern record of roughly `size` bytes (XML) about person
/// `person`, numbered `seq`, sent at `sent_at_us` (microseconds since epoch).
std::string syntheticRecord(std::uint64_t person, std::uint64_t seq, std::size_t size, std::int64_t sent_at_us);

}  // namespace cb::sim
