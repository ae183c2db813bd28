#include "systems/random.h"


namespace cb::sim {

std::uint64_t mixSeed(std::uint64_t a, std::uint64_t b) {
  // SplitMix64 (Steele, Lea, Flood 2014): an odd-constant increment and an
  // xor-shift-multiply finaliser spread nearby inputs across all 64 bits.
  std::uint64_t z = a + 0x9E3779B97F4A7C15ULL * (b + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::uint64_t SeededRandom::below(std::uint64_t n) {
  if (n <= 1) return 0;
  // Reject the top partial block of 2^64 so every residue is equally likely.
  const std::uint64_t limit = (~std::uint64_t{0}) - ((~std::uint64_t{0}) % n + 1) % n;
  for (;;) {
    const std::uint64_t v = engine_();
    if (v <= limit) return v % n;
  }
}

int SeededRandom::between(int lo, int hi) {
  if (hi <= lo) return lo;
  return lo + static_cast<int>(below(static_cast<std::uint64_t>(hi - lo) + 1));
}

std::string SeededRandom::digits(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += static_cast<char>('0' + (i == 0 ? between(1, 9) : between(0, 9)));
  return s;
}

namespace {

std::chrono::year_month_day ymd(std::chrono::sys_days d) { return std::chrono::year_month_day{d}; }

// Zero-padded decimal of a non-negative number.
std::string pad(int v, std::size_t width) {
  std::string s = std::to_string(v);
  return s.size() >= width ? s : std::string(width - s.size(), '0') + s;
}

int y(std::chrono::sys_days d) { return static_cast<int>(ymd(d).year()); }
int m(std::chrono::sys_days d) { return static_cast<int>(static_cast<unsigned>(ymd(d).month())); }
int dd(std::chrono::sys_days d) { return static_cast<int>(static_cast<unsigned>(ymd(d).day())); }

std::string hms(const LocalTime& t, const char* sep) {
  return pad(t.hour, 2) + sep + pad(t.minute, 2) + sep + pad(t.second, 2);
}

// The last Sunday of `month` in `year`.
std::chrono::sys_days lastSunday(int year, unsigned month) {
  using namespace std::chrono;
  return sys_days{year_month_weekday_last{std::chrono::year{year}, std::chrono::month{month}, weekday_last{Sunday}}};
}

}  // namespace

std::string isoDate(std::chrono::sys_days d) { return pad(y(d), 4) + "-" + pad(m(d), 2) + "-" + pad(dd(d), 2); }
std::string ukDate(std::chrono::sys_days d) { return pad(dd(d), 2) + "/" + pad(m(d), 2) + "/" + pad(y(d), 4); }
std::string hl7Date(std::chrono::sys_days d) { return pad(y(d), 4) + pad(m(d), 2) + pad(dd(d), 2); }
std::string csvDateTime(const LocalTime& t) { return isoDate(t.day) + " " + hms(t, ":"); }
std::string isoDateTime(const LocalTime& t) { return isoDate(t.day) + "T" + hms(t, ":"); }
std::string hl7DateTime(const LocalTime& t) { return hl7Date(t.day) + hms(t, ""); }

std::string fhirDateTime(const LocalTime& t) {
  // The Summer Time Order: BST from 01:00 GMT on the last Sunday of March to
  // 01:00 GMT on the last Sunday of October. Generated times are in working
  // hours, so the day alone decides.
  const int year = y(t.day);
  const bool bst = t.day >= lastSunday(year, 3) && t.day < lastSunday(year, 10);
  return isoDateTime(t) + (bst ? "+01:00" : "+00:00");
}

}  // namespace cb::sim
