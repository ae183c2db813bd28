#pragma once
// Repeatable randomness for the simulators: the same seed gives the same
// people and records on every machine. std::mt19937_64's output sequence is
// fixed by the C++ standard ([rand.eng.mers], the 10000th output is pinned),
// but std::uniform_int_distribution and friends are not, so every draw here
// is our own arithmetic on the engine's raw 64-bit outputs.

#include <chrono>
#include <cstdint>
#include <random>
#include <string>

namespace cb::sim {

/// Mixes two numbers into one well-spread seed (the SplitMix64 finaliser), so
/// that record n of seed s and record n+1 of seed s have unrelated streams.
std::uint64_t mixSeed(std::uint64_t a, std::uint64_t b);

/// A seeded stream of draws. Not thread-safe; cheap to make one per record.
class SeededRandom {
 public:
  explicit SeededRandom(std::uint64_t seed) : engine_(seed) {}

  std::uint64_t next() { return engine_(); }
  /// Uniform in [0, n) (n > 0), by rejection so no value is favoured.
  std::uint64_t below(std::uint64_t n);
  /// Uniform in [lo, hi].
  int between(int lo, int hi);
  /// True about once in `n` draws.
  bool oneIn(std::uint64_t n) { return below(n) == 0; }
  /// A uniformly chosen element of a non-empty array or vector.
  template <class Container>
  const auto& pick(const Container& c) {
    return c[static_cast<std::size_t>(below(static_cast<std::uint64_t>(std::size(c))))];
  }
  /// `n` decimal digits, the first one not zero.
  std::string digits(int n);

 private:
  std::mt19937_64 engine_;
};

/// A calendar day and a time of day in UK local time, as records carry them.
struct LocalTime {
  std::chrono::sys_days day;
  int hour = 9, minute = 0, second = 0;
};

/// "YYYY-MM-DD", "DD/MM/YYYY", "YYYYMMDD".
std::string isoDate(std::chrono::sys_days d);
std::string ukDate(std::chrono::sys_days d);
std::string hl7Date(std::chrono::sys_days d);
/// "YYYY-MM-DD HH:MM:SS" (the export timestamp form), "YYYY-MM-DDTHH:MM:SS",
/// "YYYYMMDDHHMMSS".
std::string csvDateTime(const LocalTime& t);
std::string isoDateTime(const LocalTime& t);
std::string hl7DateTime(const LocalTime& t);
/// "YYYY-MM-DDTHH:MM:SS+01:00" or "+00:00": the UK offset in force on that
/// day (BST from the last Sunday of March to the last Sunday of October; the
/// change-over hours themselves are never generated, see recordTime()).
std::string fhirDateTime(const LocalTime& t);

}  // namespace cb::sim
