#pragma once
// Synthetic people for the simulated partner systems. Every person is
// invented: names from short built-in lists, addresses on made-up streets,
// phone numbers from Ofcom's drama range (07700 900000 to 900999), and NHS
// numbers from the 999 range reserved for testing that pass the Modulus 11
// check. Person `index` of seed `seed` is the same person in every system,
// so a record RiO sends and the update Mosaic sends are about the same adult.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace cb::sim {

/// Sex as the simulated systems record it; each system writes it in its own code.
enum class Sex { Male, Female, Unknown };

/// One invented adult, with each seed system's local id for them.
struct SyntheticPerson {
  std::uint64_t index = 0;
  std::string nhs_number;            ///< ten digits, 999..., Modulus 11 valid
  std::string title;                 ///< Mr, Mrs, Ms, Miss, Mx, Dr
  std::vector<std::string> given;    ///< one or two given names
  std::string family;                ///< as written, e.g. "O'Brien", "Okonkwo-Bell"
  Sex sex = Sex::Unknown;
  std::chrono::sys_days birth_date;
  std::string address_line1;         ///< e.g. "Flat 3, 22 Example Court"
  std::string address_line2;         ///< a locality, may be empty
  std::string town;
  std::string postcode;              ///< normal written form, "RM10 8ZA"
  std::string phone;                 ///< "07700 900123" or a landline in the 01632 960 drama range
  bool phone_is_mobile = true;
  std::string gp_practice;           ///< an ODS-shaped practice code, letter + five digits
  std::string ethnicity;             ///< NHS Data Dictionary ethnic category letter

  // Local ids in each system's own style.
  std::string rio_id;        ///< "RIO" + six digits
  std::string carenotes_id;  ///< "CN" + seven digits
  std::string ukcore_id;     ///< a UK Core partner's (CWPT-style) id, "CW" + seven digits
  std::string mosaic_id;     ///< "MOS-" + six digits
  std::string las_id;        ///< seven digits
  std::string ais_id;        ///< "AIS-" + six digits

  /// Given names joined by spaces.
  std::string forenames() const;
};

/// Person `index` (0-based) of the population of `seed`. Distinct indexes
/// below 500000 have distinct NHS numbers and local ids.
SyntheticPerson makePerson(std::uint64_t seed, std::uint64_t index);

/// True when `nhs` is ten digits whose check digit is right under Modulus 11
/// (NHS Data Dictionary: weights 10..2, 11 - sum mod 11, 11 -> 0, 10 invalid).
bool passesModulus11(const std::string& nhs);

}  // namespace cb::sim
