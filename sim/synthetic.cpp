#include "synthetic.h"

#include <array>

namespace cb::sim {

std::string syntheticNhsNumber(std::uint64_t i) {
  // NHS Data Dictionary: weights 10..2 over the first nine digits; check
  // digit = 11 - (sum mod 11); 11 becomes 0 and 10 means "not a valid number".
  // Person i takes serial 2i, or 2i+1 when 2i has no valid check digit: the
  // two sums differ by 2 (mod 11), so one of them is valid, and different
  // people never share a number (the sink checks per-person order by it).
  for (std::uint64_t n = (2 * i) % 1000000;; ++n) {
    std::string digits = "999" + std::string(6 - std::to_string(n).size(), '0') + std::to_string(n);
    int sum = 0;
    for (int k = 0; k < 9; ++k) sum += (digits[static_cast<std::size_t>(k)] - '0') * (10 - k);
    int check = 11 - (sum % 11);
    if (check == 11) check = 0;
    if (check == 10) continue;
    return digits + static_cast<char>('0' + check);
  }
}

std::string syntheticRecord(std::uint64_t person, std::uint64_t seq, std::size_t size, std::int64_t sent_at_us) {
  static const std::array<const char*, 6> kGiven = {"Ada", "Ben", "Cara", "Dev", "Elin", "Femi"};
  static const std::array<const char*, 6> kFamily = {"Okafor", "Smith", "Nowak", "Patel", "Evans", "Jones"};
  static const std::array<const char*, 4> kRisk = {"Neglect and acts of omission", "Financial or material abuse",
                                                   "Self-neglect", "Psychological abuse"};
  std::string r;
  r.reserve(size + 256);
  r += "<SafeguardingConcern xmlns=\"urn:carebridge:sim:1\">";
  r += "<Sequence>" + std::to_string(seq) + "</Sequence>";
  r += "<SentAtMicros>" + std::to_string(sent_at_us) + "</SentAtMicros>";
  r += "<Person><NHSNumber>" + syntheticNhsNumber(person) + "</NHSNumber>";
  r += std::string("<Given>") + kGiven[person % kGiven.size()] + "</Given>";
  r += std::string("<Family>") + kFamily[(person / 6) % kFamily.size()] + "</Family></Person>";
  r += std::string("<TypeOfRisk>") + kRisk[seq % kRisk.size()] + "</TypeOfRisk><Notes>";
  while (r.size() + 40 < size) r += "Synthetic test record; no real person. ";
  r += "</Notes></SafeguardingConcern>";
  return r;
}

}  // namespace cb::sim
