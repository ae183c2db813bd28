#include "systems/person.h"

#include "synthetic.h"
#include "systems/random.h"

#include <array>

namespace cb::sim {

namespace {

using std::chrono::sys_days;

constexpr std::array kFemaleGiven = {"Grace",  "Farida", "Helen", "Chloe",  "Patricia", "Amara",  "Siobhan",
                                     "Priya",  "Zofia",  "Margaret", "Aisha", "Niamh",   "Ruth",   "Mei",
                                     "Joanne", "Bethan", "Adaeze", "Rosa",  "Kerry-Ann", "Sinead"};
constexpr std::array kMaleGiven = {"Daniel", "Kofi",   "Harold", "Thomas", "Tomasz", "Arjun", "Sean",
                                   "Kwame",  "Ibrahim", "David", "Owen",   "Rhys",   "Jamal", "Wei",
                                   "Edward", "Gareth", "Emeka",  "Luca",   "Jean-Paul", "Callum"};
constexpr std::array kFamily = {"Okafor",   "Begum",   "Mensah",  "Whitfield", "Hargreaves", "Adeyemi",
                                "Asante",   "O'Brien", "Okonkwo-Bell", "Nowak", "Patel",     "Evans",
                                "Jones",    "Khan",    "Murphy",  "Kowalski",  "Ahmed",      "Smith",
                                "Taylor",   "Da Silva", "Ng",     "Fitzgerald", "Osei",      "Hughes"};

struct Area {
  const char* outward_letters;  // postcode area
  int district_lo, district_hi;
  const char* town;
  std::array<const char*, 3> localities;
};
// The seed partnerships' areas: Barking and Dagenham, Bromley, West Sussex, Warwickshire.
constexpr std::array<Area, 8> kAreas = {{
    {"RM", 8, 10, "Dagenham", {"Becontree", "Chadwell Heath", ""}},
    {"IG", 11, 11, "Barking", {"Gascoigne", "Thames View", ""}},
    {"BR", 1, 6, "Bromley", {"Orpington", "Beckenham", "Penge"}},
    {"BN", 11, 14, "Worthing", {"Broadwater", "Goring-by-Sea", ""}},
    {"RH", 10, 11, "Crawley", {"Three Bridges", "Broadfield", ""}},
    {"PO", 19, 22, "Chichester", {"Bognor Regis", "Selsey", ""}},
    {"CV", 31, 35, "Leamington Spa", {"Warwick", "Whitnash", ""}},
    {"CV", 10, 11, "Nuneaton", {"Bedworth", "Attleborough", ""}},
}};
constexpr std::array kStreets = {"Sample Street", "Example Road",   "Specimen Close", "Invented Way",
                                 "Fictional Road", "Sample Gardens", "Example Lane",   "Test Crescent",
                                 "Model Avenue",   "Invented Row",    "Demo Terrace",  "Mock Mews"};
constexpr std::array kBuildings = {"Example Court", "Sample House", "Specimen Lodge", "Mill & Granary House"};
// Inward-code unit letters (the Royal Mail never uses C, I, K, M, O, V there).
constexpr const char* kUnitLetters = "ABDEFGHJLNPQRSTUWXYZ";
constexpr std::array kEthnicity = {"A", "A", "A", "B", "C", "D", "F", "G", "H", "J", "K",
                                   "L", "M", "N", "P", "R", "S", "Z"};
constexpr const char* kGpLetters = "ABCDEFGHJKLMNPY";

std::string threeDigits(std::uint64_t n) {
  std::string s = std::to_string(n % 1000);
  return std::string(3 - s.size(), '0') + s;
}

std::string padded(std::uint64_t n, std::size_t width) {
  std::string s = std::to_string(n);
  return s.size() >= width ? s : std::string(width - s.size(), '0') + s;
}

}  // namespace

std::string SyntheticPerson::forenames() const {
  std::string s;
  for (const auto& g : given) s += (s.empty() ? "" : " ") + g;
  return s;
}

bool passesModulus11(const std::string& nhs) {
  if (nhs.size() != 10) return false;
  int sum = 0;
  for (std::size_t i = 0; i < 10; ++i) {
    if (nhs[i] < '0' || nhs[i] > '9') return false;
    if (i < 9) sum += (nhs[i] - '0') * static_cast<int>(10 - i);
  }
  int check = 11 - sum % 11;
  if (check == 11) check = 0;
  return check != 10 && check == nhs[9] - '0';
}

SyntheticPerson makePerson(std::uint64_t seed, std::uint64_t index) {
  SeededRandom r(mixSeed(mixSeed(seed, 0x5045524bULL), index));
  SyntheticPerson p;
  p.index = index;
  // syntheticNhsNumber(i) is distinct for i below 500000; each seed starts
  // its population at its own place in that range.
  p.nhs_number = syntheticNhsNumber((seed % 997) * 499 + index);

  const int sex_draw = r.between(0, 39);
  p.sex = sex_draw < 19 ? Sex::Male : sex_draw < 39 ? Sex::Female : Sex::Unknown;
  const bool male = p.sex == Sex::Male || (p.sex == Sex::Unknown && r.oneIn(2));
  p.given.emplace_back(male ? r.pick(kMaleGiven) : r.pick(kFemaleGiven));
  if (r.oneIn(3)) {
    std::string second = male ? r.pick(kMaleGiven) : r.pick(kFemaleGiven);
    if (second != p.given.front()) p.given.push_back(second);
  }
  p.family = r.pick(kFamily);
  if (p.sex == Sex::Unknown) {
    p.title = "Mx";
  } else if (r.oneIn(15)) {
    p.title = "Dr";
  } else if (male) {
    p.title = "Mr";
  } else {
    p.title = std::array{"Mrs", "Ms", "Miss"}[r.below(3)];
  }

  using namespace std::chrono;
  // Adults born 1930-2005, any day of the year.
  p.birth_date = sys_days{year{r.between(1930, 2005)} / January / 1} + days{r.between(0, 364)};

  const Area& area = r.pick(kAreas);
  const int district = r.between(area.district_lo, area.district_hi);
  const int number = r.between(1, 140);
  if (r.oneIn(4)) {
    p.address_line1 = "Flat " + std::to_string(r.between(1, 24)) + ", " + std::to_string(number) + " " +
                      r.pick(kBuildings);
  } else {
    p.address_line1 = std::to_string(number) + " " + r.pick(kStreets);
  }
  p.address_line2 = area.localities[r.below(3)];
  p.town = area.town;
  p.postcode = std::string(area.outward_letters) + std::to_string(district) + " " + std::to_string(r.between(0, 9)) +
               kUnitLetters[r.below(20)] + kUnitLetters[r.below(20)];
  p.phone_is_mobile = !r.oneIn(4);
  p.phone = p.phone_is_mobile ? "07700 900" + threeDigits(r.below(1000)) : "01632 960" + threeDigits(r.below(1000));
  p.gp_practice = std::string(1, kGpLetters[r.below(15)]) + "8" + padded(r.below(10000), 4);
  p.ethnicity = r.pick(kEthnicity);

  // Local ids: a per-seed offset plus the index keeps them distinct.
  const std::uint64_t serial = (seed % 1000) * 500000 + index;
  p.rio_id = "RIO" + padded(100000 + serial % 900000, 6);
  p.carenotes_id = "CN" + padded(1000000 + serial % 9000000, 7);
  p.ukcore_id = "CW" + padded(2000000 + serial % 8000000, 7);
  p.mosaic_id = "MOS-" + padded(400000 + serial % 600000, 6);
  p.las_id = padded(1000000 + serial % 9000000, 7);
  p.ais_id = "AIS-" + padded(500000 + serial % 500000, 6);
  return p;
}

}  // namespace cb::sim
