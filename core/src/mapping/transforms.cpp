#include "mapping/transforms.h"

#include "mapping/nhs_number.h"

#include <algorithm>
#include <array>
#include <functional>
#include <cstdint>

namespace cb::mapping {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
char asciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
char asciiUpper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (asciiLower(a[i]) != asciiLower(b[i])) return false;
  }
  return true;
}

// Reads exactly n digits at s[pos], advancing pos; -1 if they are not there.
int readDigits(std::string_view s, std::size_t& pos, std::size_t n) {
  if (pos + n > s.size()) return -1;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (!isDigit(c)) return -1;
    v = v * 10 + (c - '0');
  }
  pos += n;
  return v;
}

bool isLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int daysInMonth(int y, int m) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && isLeap(y) ? 29 : kDays[static_cast<std::size_t>(m - 1)];
}

// Calendar checks shared by every format; the message names what is wrong
// (month, day, hour...), never the value.
Status checkRanges(const DateTimeValue& v) {
  if (v.year < 1 || v.year > 9999) return fail("year out of range");
  if (v.precision >= DatePrecision::Month && (v.month < 1 || v.month > 12)) return fail("month is not 01-12");
  if (v.precision >= DatePrecision::Day && (v.day < 1 || v.day > daysInMonth(v.year, v.month))) {
    return fail("day does not exist in that month");
  }
  if (v.precision >= DatePrecision::Hour && (v.hour < 0 || v.hour > 23)) return fail("hour is not 00-23");
  if (v.precision >= DatePrecision::Minute && (v.minute < 0 || v.minute > 59)) return fail("minute is not 00-59");
  // xs:dateTime and FHIR do not allow a leap second (60).
  if (v.precision >= DatePrecision::Second && (v.second < 0 || v.second > 59)) return fail("second is not 00-59");
  if (v.utc_offset_minutes && (*v.utc_offset_minutes < -14 * 60 || *v.utc_offset_minutes > 14 * 60)) {
    return fail("time zone offset beyond +/-14:00");
  }
  return {};
}

// "Z", "+hh:mm" (ISO) at s[pos..]; leaves pos at the end. False if malformed.
bool readIsoOffset(std::string_view s, std::size_t& pos, std::optional<int>& out) {
  if (pos == s.size()) return true;
  if (s[pos] == 'Z') {
    out = 0;
    ++pos;
    return true;
  }
  if (s[pos] != '+' && s[pos] != '-') return false;
  const int sign = s[pos] == '-' ? -1 : 1;
  ++pos;
  const int hh = readDigits(s, pos, 2);
  if (hh < 0 || pos >= s.size() || s[pos] != ':') return false;
  ++pos;
  const int mm = readDigits(s, pos, 2);
  if (mm < 0 || mm > 59) return false;
  out = sign * (hh * 60 + mm);
  return true;
}

// Fraction digits after '.', at least one.
bool readFraction(std::string_view s, std::size_t& pos, std::string& out, std::size_t max_digits) {
  const std::size_t start = pos;
  while (pos < s.size() && isDigit(s[pos]) && pos - start < max_digits) ++pos;
  if (pos == start) return false;
  out.assign(s.substr(start, pos - start));
  return true;
}

Result<DateTimeValue> parseIso(std::string_view s) {
  static constexpr const char* kWhat = "not an ISO 8601 date/time (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm[:ss][Z|+hh:mm])";
  DateTimeValue v;
  std::size_t pos = 0;
  v.year = readDigits(s, pos, 4);
  if (v.year < 0) return fail(kWhat);
  v.precision = DatePrecision::Year;
  if (pos < s.size()) {
    if (s[pos++] != '-' || (v.month = readDigits(s, pos, 2)) < 0) return fail(kWhat);
    v.precision = DatePrecision::Month;
  }
  if (pos < s.size()) {
    if (s[pos++] != '-' || (v.day = readDigits(s, pos, 2)) < 0) return fail(kWhat);
    v.precision = DatePrecision::Day;
  }
  if (pos < s.size()) {
    if (s[pos++] != 'T' || (v.hour = readDigits(s, pos, 2)) < 0) return fail(kWhat);
    if (pos >= s.size() || s[pos++] != ':' || (v.minute = readDigits(s, pos, 2)) < 0) return fail(kWhat);
    v.precision = DatePrecision::Minute;
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if ((v.second = readDigits(s, pos, 2)) < 0) return fail(kWhat);
      v.precision = DatePrecision::Second;
      if (pos < s.size() && s[pos] == '.') {
        ++pos;
        if (!readFraction(s, pos, v.fraction, 9)) return fail(kWhat);
        v.precision = DatePrecision::Fraction;
      }
    }
    if (!readIsoOffset(s, pos, v.utc_offset_minutes)) return fail(kWhat);
  }
  if (pos != s.size()) return fail(kWhat);
  return v;
}

Result<DateTimeValue> parseHl7(std::string_view s) {
  static constexpr const char* kWhat = "not an HL7 v2 DTM (YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ])";
  DateTimeValue v;
  std::size_t pos = 0;
  // The offset, if any, is the last five characters (+/-ZZZZ).
  std::string_view body = s;
  const std::size_t sign_at = s.find_first_of("+-");
  if (sign_at != std::string_view::npos) {
    std::string_view tz = s.substr(sign_at);
    body = s.substr(0, sign_at);
    std::size_t tp = 1;
    const int hh = readDigits(tz, tp, 2);
    const int mm = readDigits(tz, tp, 2);
    if (hh < 0 || mm < 0 || mm > 59 || tp != tz.size()) return fail(kWhat);
    v.utc_offset_minutes = (tz[0] == '-' ? -1 : 1) * (hh * 60 + mm);
  }
  struct Part {
    int* field;
    DatePrecision precision;
  };
  const std::array<Part, 6> parts = {{{&v.year, DatePrecision::Year},
                                      {&v.month, DatePrecision::Month},
                                      {&v.day, DatePrecision::Day},
                                      {&v.hour, DatePrecision::Hour},
                                      {&v.minute, DatePrecision::Minute},
                                      {&v.second, DatePrecision::Second}}};
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (pos == body.size() && i > 0) break;
    const int n = readDigits(body, pos, i == 0 ? 4 : 2);
    if (n < 0) return fail(kWhat);
    *parts[i].field = n;
    v.precision = parts[i].precision;
  }
  if (pos < body.size()) {
    if (v.precision != DatePrecision::Second || body[pos] != '.') return fail(kWhat);
    ++pos;
    if (!readFraction(body, pos, v.fraction, 4)) return fail(kWhat);
    v.precision = DatePrecision::Fraction;
  }
  if (pos != body.size()) return fail(kWhat);
  // An offset only means something with a time.
  if (v.utc_offset_minutes && !v.hasTime()) return fail(kWhat);
  return v;
}

// One- or two-digit number; returns -1 if absent.
int readShort(std::string_view s, std::size_t& pos) {
  int v = -1;
  std::size_t n = 0;
  while (pos < s.size() && isDigit(s[pos]) && n < 2) {
    v = (v < 0 ? 0 : v * 10) + (s[pos] - '0');
    ++pos;
    ++n;
  }
  return v;
}

Result<DateTimeValue> parseUk(std::string_view s) {
  static constexpr const char* kWhat = "not a UK date (DD/MM/YYYY)";
  DateTimeValue v;
  std::size_t pos = 0;
  v.day = readShort(s, pos);
  if (v.day < 0 || pos >= s.size() || s[pos++] != '/') return fail(kWhat);
  v.month = readShort(s, pos);
  if (v.month < 0 || pos >= s.size() || s[pos++] != '/') return fail(kWhat);
  v.year = readDigits(s, pos, 4);
  if (v.year < 0 || pos != s.size()) return fail(kWhat);
  v.precision = DatePrecision::Day;
  return v;
}

constexpr std::array<std::string_view, 12> kMonthAbbrev = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

Result<DateTimeValue> parseUkMonth(std::string_view s) {
  static constexpr const char* kWhat = "not a DD-MMM-YYYY date (e.g. 05-Mar-2024)";
  DateTimeValue v;
  std::size_t pos = 0;
  v.day = readShort(s, pos);
  if (v.day < 0 || pos + 5 > s.size() || s[pos] != '-') return fail(kWhat);
  const std::string_view mon = s.substr(pos + 1, 3);
  pos += 4;
  for (std::size_t i = 0; i < kMonthAbbrev.size(); ++i) {
    if (iequals(mon, kMonthAbbrev[i])) v.month = static_cast<int>(i) + 1;
  }
  if (v.month == 0 || s[pos++] != '-') return fail(kWhat);
  v.year = readDigits(s, pos, 4);
  if (v.year < 0 || pos != s.size()) return fail(kWhat);
  v.precision = DatePrecision::Day;
  return v;
}

Result<DateTimeValue> parseCsv(std::string_view s) {
  static constexpr const char* kWhat = "not a CSV export date/time (YYYY-MM-DD HH:MM:SS or YYYY-MM-DD)";
  DateTimeValue v;
  std::size_t pos = 0;
  v.year = readDigits(s, pos, 4);
  if (v.year < 0 || pos >= s.size() || s[pos++] != '-') return fail(kWhat);
  v.month = readDigits(s, pos, 2);
  if (v.month < 0 || pos >= s.size() || s[pos++] != '-') return fail(kWhat);
  v.day = readDigits(s, pos, 2);
  if (v.day < 0) return fail(kWhat);
  v.precision = DatePrecision::Day;
  if (pos == s.size()) return v;
  if (s[pos++] != ' ') return fail(kWhat);
  v.hour = readDigits(s, pos, 2);
  if (v.hour < 0 || pos >= s.size() || s[pos++] != ':') return fail(kWhat);
  v.minute = readDigits(s, pos, 2);
  if (v.minute < 0 || pos >= s.size() || s[pos++] != ':') return fail(kWhat);
  v.second = readDigits(s, pos, 2);
  if (v.second < 0 || pos != s.size()) return fail(kWhat);
  v.precision = DatePrecision::Second;
  return v;
}

// Recognises the format from the value's shape. Digits only -> HL7 DTM,
// except that four digits alone are a year in every format.
std::optional<DateFormat> detectFormat(std::string_view s) {
  if (s.find('/') != std::string_view::npos) return DateFormat::Uk;
  if (s.size() >= 3 && s.size() <= 11) {
    for (char c : s) {
      if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) {
        if (c != 'T' && c != 'Z') return DateFormat::UkMonth;
      }
    }
  }
  if (s.size() >= 11 && s[4] == '-' && s[10] == ' ') return DateFormat::Csv;
  if (s.size() >= 5 && s[4] == '-') return DateFormat::Iso;
  if (!s.empty() && isDigit(s[0])) return DateFormat::Hl7;
  return std::nullopt;
}

std::string pad(int v, int width) {
  std::string s = std::to_string(v);
  while (static_cast<int>(s.size()) < width) s.insert(s.begin(), '0');
  return s;
}

std::string isoOffset(int minutes) {
  if (minutes == 0) return "Z";
  const int a = minutes < 0 ? -minutes : minutes;
  return std::string(minutes < 0 ? "-" : "+") + pad(a / 60, 2) + ":" + pad(a % 60, 2);
}

std::string hl7Offset(int minutes) {
  const int a = minutes < 0 ? -minutes : minutes;
  return std::string(minutes < 0 ? "-" : "+") + pad(a / 60, 2) + pad(a % 60, 2);
}

// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant,
// "chrono-Compatible Low-Level Date Algorithms", days_from_civil).
std::int64_t daysFromCivil(int y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<std::int64_t>(y - era * 400);
  const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civilFromDays(std::int64_t z, int& y, int& m, int& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y = static_cast<int>(yoe + era * 400 + (m <= 2 ? 1 : 0));
}

// Minutes since the epoch of the wall-clock fields (ignoring any offset).
std::int64_t wallMinutes(const DateTimeValue& v) {
  return daysFromCivil(v.year, v.month, v.day) * 1440 + v.hour * 60 + v.minute;
}

void setWallMinutes(DateTimeValue& v, std::int64_t minutes) {
  std::int64_t days = minutes / 1440;
  std::int64_t rem = minutes % 1440;
  if (rem < 0) {
    rem += 1440;
    --days;
  }
  civilFromDays(days, v.year, v.month, v.day);
  v.hour = static_cast<int>(rem / 60);
  v.minute = static_cast<int>(rem % 60);
}

// The last Sunday of a month, as minutes since the epoch at 01:00 UTC: the
// instant UK clocks change (Summer Time Order 2002, article 2).
std::int64_t lastSundayAt0100Utc(int year, int month) {
  const int last = daysInMonth(year, month);
  const std::int64_t days = daysFromCivil(year, month, last);
  // 1970-01-01 was a Thursday; (days + 4) % 7 == 0 is a Sunday.
  std::int64_t weekday = (days + 4) % 7;
  if (weekday < 0) weekday += 7;
  return (days - weekday) * 1440 + 60;
}

bool bstAtUtcMinutes(std::int64_t utc_minutes, int year) {
  return utc_minutes >= lastSundayAt0100Utc(year, 3) && utc_minutes < lastSundayAt0100Utc(year, 10);
}

constexpr int kFirstYearOfCurrentUkRule = 1996;

}  // namespace

// ---------------------------------------------------------------- dates ----

Result<DateTimeValue> parseDateTime(std::string_view text, DateFormat format) {
  std::string_view s = text;
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  if (s.empty()) return fail("date is empty");
  if (format == DateFormat::Auto) {
    auto detected = detectFormat(s);
    if (!detected) return fail("date/time is in no recognised format (ISO 8601, HL7 DTM, DD/MM/YYYY, DD-MMM-YYYY, YYYY-MM-DD HH:MM:SS)");
    format = *detected;
  }
  Result<DateTimeValue> parsed = fail("unsupported date format");
  switch (format) {
    case DateFormat::Iso:
      parsed = parseIso(s);
      break;
    case DateFormat::Hl7:
      parsed = parseHl7(s);
      break;
    case DateFormat::Uk:
      parsed = parseUk(s);
      break;
    case DateFormat::UkMonth:
      parsed = parseUkMonth(s);
      break;
    case DateFormat::Csv:
      parsed = parseCsv(s);
      break;
    case DateFormat::Auto:
      break;
  }
  if (!parsed) return parsed;
  if (auto st = checkRanges(*parsed); !st) {
    return fail(std::string("not a real ") + std::string(toString(format)) + " date/time: " + st.error().message);
  }
  return parsed;
}

DateTimeValue truncateDateTime(DateTimeValue v, DatePrecision max) {
  if (v.precision <= max) return v;
  v.precision = max;
  if (max < DatePrecision::Fraction) v.fraction.clear();
  if (max < DatePrecision::Second) v.second = 0;
  if (max < DatePrecision::Minute) v.minute = 0;
  if (max < DatePrecision::Hour) {
    v.hour = 0;
    v.utc_offset_minutes.reset();
  }
  if (max < DatePrecision::Day) v.day = 0;
  if (max < DatePrecision::Month) v.month = 0;
  return v;
}

Result<std::string> formatDateTime(const DateTimeValue& v, DateFormat format) {
  switch (format) {
    case DateFormat::Iso: {
      std::string out = pad(v.year, 4);
      if (v.precision >= DatePrecision::Month) out += "-" + pad(v.month, 2);
      if (v.precision >= DatePrecision::Day) out += "-" + pad(v.day, 2);
      if (v.hasTime()) {
        out += "T" + pad(v.hour, 2) + ":" + pad(v.minute, 2) + ":" + pad(v.second, 2);
        if (v.precision == DatePrecision::Fraction) out += "." + v.fraction;
        if (v.utc_offset_minutes) out += isoOffset(*v.utc_offset_minutes);
      }
      return out;
    }
    case DateFormat::Hl7: {
      std::string out = pad(v.year, 4);
      if (v.precision >= DatePrecision::Month) out += pad(v.month, 2);
      if (v.precision >= DatePrecision::Day) out += pad(v.day, 2);
      if (v.precision >= DatePrecision::Hour) out += pad(v.hour, 2);
      if (v.precision >= DatePrecision::Minute) out += pad(v.minute, 2);
      if (v.precision >= DatePrecision::Second) out += pad(v.second, 2);
      if (v.precision == DatePrecision::Fraction) out += "." + v.fraction.substr(0, 4);
      if (v.hasTime() && v.utc_offset_minutes) out += hl7Offset(*v.utc_offset_minutes);
      return out;
    }
    case DateFormat::Uk:
    case DateFormat::UkMonth:
    case DateFormat::Csv: {
      if (v.precision < DatePrecision::Day) {
        return fail(std::string("the date is not a full date (year or month only); ") + std::string(toString(format)) +
                    " needs a day");
      }
      if (v.hasTime() && v.utc_offset_minutes) {
        return fail(std::string(toString(format)) +
                    " has no time zone: convert the time to UK local time first (date(..., zone=uk-local))");
      }
      if (format == DateFormat::Uk) return pad(v.day, 2) + "/" + pad(v.month, 2) + "/" + pad(v.year, 4);
      if (format == DateFormat::UkMonth) {
        return pad(v.day, 2) + "-" + std::string(kMonthAbbrev[static_cast<std::size_t>(v.month - 1)]) + "-" +
               pad(v.year, 4);
      }
      std::string out = pad(v.year, 4) + "-" + pad(v.month, 2) + "-" + pad(v.day, 2);
      if (v.hasTime()) out += " " + pad(v.hour, 2) + ":" + pad(v.minute, 2) + ":" + pad(v.second, 2);
      return out;
    }
    case DateFormat::Auto:
      break;
  }
  return fail("auto is an input format only");
}

Result<DateTimeValue> assumeUkCivilTime(DateTimeValue v) {
  if (!v.hasTime() || v.utc_offset_minutes) return v;
  if (v.year < kFirstYearOfCurrentUkRule) return fail("UK civil time is only computed for 1996 onwards");
  const std::int64_t wall = wallMinutes(v);
  // As GMT the instant is `wall`; as BST it is wall - 60. Take whichever is
  // consistent with the rule; both (October) -> BST; neither (March) -> refuse.
  const bool as_bst = bstAtUtcMinutes(wall - 60, v.year);
  const bool as_gmt = !bstAtUtcMinutes(wall, v.year);
  if (as_bst) {
    v.utc_offset_minutes = 60;
  } else if (as_gmt) {
    v.utc_offset_minutes = 0;
  } else {
    return fail("local time does not exist in the UK (clocks go forward at 01:00 GMT on the last Sunday in March)");
  }
  return v;
}

Result<DateTimeValue> toUtc(DateTimeValue v) {
  if (!v.hasTime()) return v;
  if (!v.utc_offset_minutes) return fail("time has no time zone offset to convert from");
  setWallMinutes(v, wallMinutes(v) - *v.utc_offset_minutes);
  v.utc_offset_minutes = 0;
  return v;
}

Result<DateTimeValue> toUkCivilTime(DateTimeValue v) {
  if (!v.hasTime()) return v;
  auto utc = toUtc(std::move(v));
  if (!utc) return utc;
  DateTimeValue u = std::move(*utc);
  if (u.year < kFirstYearOfCurrentUkRule) return fail("UK civil time is only computed for 1996 onwards");
  const bool bst = bstAtUtcMinutes(wallMinutes(u), u.year);
  if (bst) setWallMinutes(u, wallMinutes(u) + 60);
  u.utc_offset_minutes = bst ? 60 : 0;
  return u;
}

std::optional<DateFormat> dateFormatFromName(std::string_view name) {
  if (name == "auto") return DateFormat::Auto;
  if (name == "iso" || name == "fhir") return DateFormat::Iso;
  if (name == "hl7") return DateFormat::Hl7;
  if (name == "uk") return DateFormat::Uk;
  if (name == "uk-mon") return DateFormat::UkMonth;
  if (name == "csv") return DateFormat::Csv;
  return std::nullopt;
}

std::optional<DatePrecision> datePrecisionFromName(std::string_view name) {
  if (name == "year") return DatePrecision::Year;
  if (name == "month") return DatePrecision::Month;
  if (name == "day") return DatePrecision::Day;
  if (name == "hour") return DatePrecision::Hour;
  if (name == "minute") return DatePrecision::Minute;
  if (name == "second") return DatePrecision::Second;
  if (name == "fraction") return DatePrecision::Fraction;
  return std::nullopt;
}

std::string_view toString(DateFormat format) {
  switch (format) {
    case DateFormat::Auto:
      return "auto";
    case DateFormat::Iso:
      return "ISO 8601";
    case DateFormat::Hl7:
      return "HL7 v2 DTM";
    case DateFormat::Uk:
      return "DD/MM/YYYY";
    case DateFormat::UkMonth:
      return "DD-MMM-YYYY";
    case DateFormat::Csv:
      return "YYYY-MM-DD HH:MM:SS";
  }
  return "unknown";
}

// ----------------------------------------------------------------- text ----

std::string trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return std::string(s);
}

std::string collapseSpace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  for (char c : s) {
    if (isSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

std::string toUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = asciiUpper(c);
  return out;
}

std::string toLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = asciiLower(c);
  return out;
}

std::string toTitle(std::string_view s) {
  std::string out(s);
  bool start = true;
  for (char& c : out) {
    const bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    if (letter) {
      c = start ? asciiUpper(c) : asciiLower(c);
      start = false;
    } else {
      // A new word starts after a separator; UTF-8 bytes (>= 0x80) count as
      // letters so "Zoë-ann" keeps going inside a word.
      start = isSpace(c) || c == '-' || c == '\'';
      if (static_cast<unsigned char>(c) >= 0x80) start = false;
    }
  }
  return out;
}

// ---------------------------------------------------------------- names ----

namespace {

constexpr std::array<std::string_view, 13> kPrefixes = {"Mr",  "Mrs", "Miss", "Ms",   "Mx",   "Dr",  "Prof",
                                                        "Rev", "Revd", "Sir", "Dame", "Lady", "Lord"};
constexpr std::array<std::string_view, 7> kSuffixes = {"Jr", "Jnr", "Sr", "Snr", "II", "III", "IV"};

template <std::size_t N>
bool isOneOf(std::string_view word, const std::array<std::string_view, N>& list) {
  std::string_view w = word;
  if (!w.empty() && w.back() == '.') w.remove_suffix(1);
  for (auto p : list) {
    if (iequals(w, p)) return true;
  }
  return false;
}

std::vector<std::string> words(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (isSpace(c)) {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

}  // namespace

std::optional<NameStyle> nameStyleFromName(std::string_view name) {
  if (name == "auto") return NameStyle::Auto;
  if (name == "family-comma-given") return NameStyle::FamilyCommaGiven;
  if (name == "given-family") return NameStyle::GivenFamily;
  return std::nullopt;
}

Result<PersonName> splitName(std::string_view text, NameStyle style) {
  const std::string s = collapseSpace(text);
  if (s.empty()) return fail("name is empty");
  const auto comma = s.find(',');
  if (style == NameStyle::Auto) style = comma != std::string::npos ? NameStyle::FamilyCommaGiven : NameStyle::GivenFamily;
  PersonName name;
  std::vector<std::string> rest;
  if (style == NameStyle::FamilyCommaGiven) {
    if (comma == std::string::npos) return fail("name has no comma (expected FAMILY, Given)");
    if (s.find(',', comma + 1) != std::string::npos) return fail("name has more than one comma");
    name.family = trim(std::string_view(s).substr(0, comma));
    rest = words(std::string_view(s).substr(comma + 1));
  } else {
    if (comma != std::string::npos) return fail("name has a comma (expected Given Family)");
    rest = words(s);
    if (!rest.empty() && isOneOf(rest.back(), kSuffixes) && rest.size() > 1) {
      name.suffix = rest.back();
      rest.pop_back();
    }
    if (!rest.empty()) {
      name.family = rest.back();
      rest.pop_back();
    }
  }
  if (name.family.empty()) return fail("name has no family name");
  std::size_t i = 0;
  if (i < rest.size() && isOneOf(rest[i], kPrefixes)) name.prefix = rest[i++];
  for (; i < rest.size(); ++i) {
    if (i + 1 == rest.size() && style == NameStyle::FamilyCommaGiven && name.suffix.empty() && isOneOf(rest[i], kSuffixes)) {
      name.suffix = rest[i];
    } else {
      name.given.push_back(rest[i]);
    }
  }
  return name;
}

std::string joinName(const PersonName& name, NameStyle style, bool upper_family) {
  std::vector<std::string> front;
  if (!name.prefix.empty()) front.push_back(name.prefix);
  for (const auto& g : name.given) {
    if (!g.empty()) front.push_back(g);
  }
  auto spaced = [](const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) {
      if (!out.empty()) out += ' ';
      out += p;
    }
    return out;
  };
  const std::string family = upper_family ? toUpper(name.family) : name.family;
  if (style == NameStyle::GivenFamily) {
    std::vector<std::string> all = front;
    if (!family.empty()) all.push_back(family);
    if (!name.suffix.empty()) all.push_back(name.suffix);
    return spaced(all);
  }
  if (!name.suffix.empty()) front.push_back(name.suffix);
  const std::string given = spaced(front);
  if (given.empty()) return family;
  return family + ", " + given;
}

// ---------------------------------------------------------------- chain ----

namespace {

struct Arg {
  std::string key;
  std::string value;
};

struct ParsedCall {
  std::string name;
  std::vector<Arg> args;
};

// Grammar: chain := call ('|' call)*; call := name ['(' [arg (',' arg)*] ')'];
// arg := key '=' value; value := bare word or '...' / "..." (no escapes).
Result<std::vector<ParsedCall>> parseCalls(std::string_view spec) {
  std::vector<ParsedCall> out;
  std::size_t pos = 0;
  auto skip = [&] {
    while (pos < spec.size() && isSpace(spec[pos])) ++pos;
  };
  auto word = [&]() {
    const std::size_t start = pos;
    while (pos < spec.size()) {
      const char c = spec[pos];
      if (isSpace(c) || c == '(' || c == ')' || c == ',' || c == '=' || c == '|' || c == '\'' || c == '"') break;
      ++pos;
    }
    return std::string(spec.substr(start, pos - start));
  };
  while (true) {
    skip();
    ParsedCall call;
    call.name = word();
    if (call.name.empty()) return fail("expected a transform name at character " + std::to_string(pos + 1));
    skip();
    if (pos < spec.size() && spec[pos] == '(') {
      ++pos;
      skip();
      while (pos < spec.size() && spec[pos] != ')') {
        Arg a;
        a.key = word();
        skip();
        if (a.key.empty() || pos >= spec.size() || spec[pos] != '=') {
          return fail("expected key=value in the arguments of '" + call.name + "'");
        }
        ++pos;
        skip();
        if (pos < spec.size() && (spec[pos] == '\'' || spec[pos] == '"')) {
          const char q = spec[pos++];
          const std::size_t end = spec.find(q, pos);
          if (end == std::string_view::npos) return fail("unterminated quote in the arguments of '" + call.name + "'");
          a.value = std::string(spec.substr(pos, end - pos));
          pos = end + 1;
        } else {
          a.value = word();
        }
        call.args.push_back(std::move(a));
        skip();
        if (pos < spec.size() && spec[pos] == ',') {
          ++pos;
          skip();
        }
      }
      if (pos >= spec.size()) return fail("missing ')' after the arguments of '" + call.name + "'");
      ++pos;
      skip();
    }
    out.push_back(std::move(call));
    if (pos >= spec.size()) break;
    if (spec[pos] != '|') return fail("expected '|' between transforms at character " + std::to_string(pos + 1));
    ++pos;
  }
  return out;
}

const Arg* findArg(const ParsedCall& call, std::string_view key) {
  for (const auto& a : call.args) {
    if (a.key == key) return &a;
  }
  return nullptr;
}

Status onlyArgs(const ParsedCall& call, std::initializer_list<std::string_view> allowed) {
  for (const auto& a : call.args) {
    if (std::find(allowed.begin(), allowed.end(), a.key) == allowed.end()) {
      std::string list;
      for (auto k : allowed) list += (list.empty() ? "" : ", ") + std::string(k);
      return fail("transform '" + call.name + "' has no argument '" + a.key + "'" +
                  (list.empty() ? std::string(" (it takes none)") : " (it takes: " + list + ")"));
    }
  }
  return {};
}

enum class Zone { Keep, UkLocal, Utc, AssumeUk };

}  // namespace

// One step: a function of the value, bound at load.
struct TransformChain::Step {
  std::string name;
  std::function<Result<std::string>(std::string)> run;
};

const std::vector<std::string_view>& TransformChain::knownTransforms() {
  static const std::vector<std::string_view> kNames = {"trim",       "normalize-space", "upper", "lower",
                                                       "title",      "nhs-number",      "date",  "name",
                                                       "code",       "postcode", "replace-empty"};
  return kNames;
}

Result<TransformChain> TransformChain::parse(std::string_view spec, const CodeTables& tables) {
  TransformChain chain;
  chain.spec_ = std::string(spec);
  auto calls = parseCalls(spec);
  if (!calls) return calls.error();
  for (const ParsedCall& call : *calls) {
    auto step = std::make_shared<Step>();
    step->name = call.name;
    if (call.name == "trim" || call.name == "normalize-space" || call.name == "upper" || call.name == "lower" ||
        call.name == "title") {
      if (auto st = onlyArgs(call, {}); !st) return st.error();
      if (call.name == "trim") step->run = [](std::string v) -> Result<std::string> { return trim(v); };
      if (call.name == "normalize-space") step->run = [](std::string v) -> Result<std::string> { return collapseSpace(v); };
      if (call.name == "upper") step->run = [](std::string v) -> Result<std::string> { return toUpper(v); };
      if (call.name == "lower") step->run = [](std::string v) -> Result<std::string> { return toLower(v); };
      if (call.name == "title") step->run = [](std::string v) -> Result<std::string> { return toTitle(v); };
    } else if (call.name == "nhs-number") {
      // NHS Data Dictionary NHS NUMBER: normalise, then Modulus 11.
      if (auto st = onlyArgs(call, {"format"}); !st) return st.error();
      bool spaced = false;
      if (const Arg* f = findArg(call, "format")) {
        if (f->value != "digits" && f->value != "spaced") return fail("nhs-number format must be digits or spaced");
        spaced = f->value == "spaced";
      }
      step->run = [spaced](std::string v) -> Result<std::string> {
        const NhsNumberCheck check = checkNhsNumber(v);
        if (!check.valid()) return fail(std::string(describe(check.status)));
        return spaced ? formatNhsNumberSpaced(check.digits) : check.digits;
      };
    } else if (call.name == "date") {
      if (auto st = onlyArgs(call, {"from", "to", "precision", "zone"}); !st) return st.error();
      DateFormat from = DateFormat::Auto, to = DateFormat::Iso;
      std::optional<DatePrecision> precision;
      Zone zone = Zone::Keep;
      if (const Arg* a = findArg(call, "from")) {
        auto f = dateFormatFromName(a->value);
        if (!f) return fail("date from= must be auto, iso, hl7, uk, uk-mon or csv");
        from = *f;
      }
      if (const Arg* a = findArg(call, "to")) {
        auto f = dateFormatFromName(a->value);
        if (!f || *f == DateFormat::Auto) return fail("date to= must be iso, hl7, uk, uk-mon or csv");
        to = *f;
      }
      if (const Arg* a = findArg(call, "precision")) {
        precision = datePrecisionFromName(a->value);
        if (!precision) return fail("date precision= must be year, month, day, hour, minute, second or fraction");
      }
      if (const Arg* a = findArg(call, "zone")) {
        if (a->value == "keep") zone = Zone::Keep;
        else if (a->value == "uk-local") zone = Zone::UkLocal;
        else if (a->value == "utc") zone = Zone::Utc;
        else if (a->value == "assume-uk") zone = Zone::AssumeUk;
        else return fail("date zone= must be keep, assume-uk, uk-local or utc");
      }
      step->run = [from, to, precision, zone](std::string v) -> Result<std::string> {
        auto parsed = parseDateTime(v, from);
        if (!parsed) return parsed.error();
        DateTimeValue d = std::move(*parsed);
        if (zone == Zone::AssumeUk) {
          auto z = assumeUkCivilTime(std::move(d));
          if (!z) return z.error();
          d = std::move(*z);
        } else if (zone == Zone::UkLocal || zone == Zone::Utc) {
          if (d.hasTime() && !d.utc_offset_minutes) {
            auto z = assumeUkCivilTime(std::move(d));
            if (!z) return z.error();
            d = std::move(*z);
          }
          auto z = zone == Zone::Utc ? toUtc(std::move(d)) : toUkCivilTime(std::move(d));
          if (!z) return z.error();
          d = std::move(*z);
          // A UK-format target has no offset field; the wall clock is UK time.
          if (zone == Zone::UkLocal && (to == DateFormat::Uk || to == DateFormat::UkMonth || to == DateFormat::Csv)) {
            d.utc_offset_minutes.reset();
          }
        }
        if (precision) d = truncateDateTime(std::move(d), *precision);
        return formatDateTime(d, to);
      };
    } else if (call.name == "name") {
      if (auto st = onlyArgs(call, {"part", "style"}); !st) return st.error();
      const Arg* part_arg = findArg(call, "part");
      if (part_arg == nullptr) return fail("name needs part=family, given, prefix or suffix");
      const std::string part = part_arg->value;
      if (part != "family" && part != "given" && part != "prefix" && part != "suffix") {
        return fail("name part= must be family, given, prefix or suffix");
      }
      NameStyle style = NameStyle::Auto;
      if (const Arg* a = findArg(call, "style")) {
        auto s = nameStyleFromName(a->value);
        if (!s) return fail("name style= must be auto, family-comma-given or given-family");
        style = *s;
      }
      step->run = [part, style](std::string v) -> Result<std::string> {
        auto n = splitName(v, style);
        if (!n) return n.error();
        if (part == "family") return n->family;
        if (part == "prefix") return n->prefix;
        if (part == "suffix") return n->suffix;
        std::string given;
        for (const auto& g : n->given) given += (given.empty() ? "" : " ") + g;
        return given;
      };
    } else if (call.name == "code") {
      if (auto st = onlyArgs(call, {"table"}); !st) return st.error();
      const Arg* t = findArg(call, "table");
      if (t == nullptr) return fail("code needs table=<name of a table in codes/>");
      auto it = tables.find(t->value);
      if (it == tables.end()) return fail("code table '" + t->value + "' is not among this system's codes/");
      std::shared_ptr<const CodeTable> table = it->second;
      step->run = [table](std::string v) -> Result<std::string> { return table->translate(v); };
    } else if (call.name == "postcode") {
      // UK postcodes are written "OUTWARD INWARD" with one space; the inward
      // code is always three characters (digit, letter, letter), so the
      // space goes before the last three. Validity is left to the schema.
      if (auto st = onlyArgs(call, {}); !st) return st.error();
      step->run = [](std::string v) -> Result<std::string> {
        std::string compact;
        for (char c : v) {
          if (!isSpace(c)) compact.push_back(asciiUpper(c));
        }
        if (compact.size() >= 5 && compact.size() <= 7) compact.insert(compact.size() - 3, " ");
        return compact;
      };
    } else if (call.name == "replace-empty") {
      // For sources that write a placeholder for "nothing recorded" (e.g.
      // "N/A", "-"): those values become empty, so the field's default or
      // required rule applies.
      if (auto st = onlyArgs(call, {"values"}); !st) return st.error();
      const Arg* a = findArg(call, "values");
      if (a == nullptr) return fail("replace-empty needs values='A;B;...'");
      std::vector<std::string> values;
      std::string cur;
      for (char c : a->value) {
        if (c == ';') {
          values.push_back(trim(cur));
          cur.clear();
        } else {
          cur.push_back(c);
        }
      }
      values.push_back(trim(cur));
      step->run = [values](std::string v) -> Result<std::string> {
        const std::string t = trim(v);
        for (const auto& p : values) {
          if (iequals(t, p)) return std::string();
        }
        return v;
      };
    } else {
      std::string names;
      for (auto n : knownTransforms()) names += (names.empty() ? "" : ", ") + std::string(n);
      return fail("unknown transform '" + call.name + "' (known: " + names + ")");
    }
    chain.steps_.push_back(std::move(step));
  }
  return chain;
}

Result<std::string> TransformChain::apply(std::string value) const {
  for (const auto& step : steps_) {
    // An empty value is "not recorded": it skips the remaining steps so the
    // field's default/required rule decides, instead of every transform
    // refusing an empty string.
    if (value.empty()) return value;
    auto r = step->run(std::move(value));
    if (!r) return fail(step->name + ": " + r.error().message);
    value = std::move(*r);
  }
  return value;
}

}  // namespace cb::mapping
