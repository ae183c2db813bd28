#pragma once
// Value transforms used by mapping files: dates and times across the formats
// partner systems use, personal names, case and white space, NHS numbers and
// code tables. Each transform takes one string and returns one string or a
// refusal whose message never contains the value (it may be a personal
// identifier); the mapping engine adds the file, line and field.
//
// In a mapping file transforms are chained in the `transform` attribute:
//     transform="trim | date(from=uk, to=iso)"
//     transform="name(part=family, style=family-comma-given) | title"
// TransformChain::parse checks names and arguments once, at load time.

#include "common/result.h"
#include "mapping/code_table.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cb::mapping {

// ---------------------------------------------------------------- dates ----

/// The written date/time formats understood.
enum class DateFormat {
  Auto,     ///< input only: recognise any format below from its shape
  Iso,      ///< ISO 8601 as FHIR uses it: YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDThh:mm[:ss[.f+]][Z|+hh:mm]
  Hl7,      ///< HL7 v2 DTM: YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]
  Uk,       ///< DD/MM/YYYY (one-digit day and month accepted on input)
  UkMonth,  ///< DD-MMM-YYYY with an English month abbreviation, e.g. 05-Mar-2024
  Csv,      ///< vendor CSV exports: YYYY-MM-DD HH:MM:SS, or YYYY-MM-DD alone
};

/// How much of a date/time was actually recorded. Kept explicitly so that a
/// year-only birth date stays year-only (FHIR date allows YYYY and YYYY-MM;
/// HL7 v2 DTM allows any prefix).
enum class DatePrecision { Year, Month, Day, Hour, Minute, Second, Fraction };

/// A parsed date/time. Fields below `precision` are zero.
struct DateTimeValue {
  int year = 0;
  int month = 0;   ///< 1-12 when precision >= Month
  int day = 0;     ///< 1-31 when precision >= Day
  int hour = 0;
  int minute = 0;
  int second = 0;
  std::string fraction;  ///< decimal digits of the second as written (precision Fraction)
  DatePrecision precision = DatePrecision::Year;
  /// Offset from UTC in minutes; nullopt when the source gave none (local
  /// time of the sending system). Only meaningful with a time.
  std::optional<int> utc_offset_minutes;

  bool hasTime() const { return precision >= DatePrecision::Hour; }
};

/// Parses `text` (surrounding white space ignored). Checks calendar validity
/// (month length, leap years, 00-23 hours, 00-59 minutes and seconds,
/// offsets within +/-14:00). Errors name the format, never the value.
Result<DateTimeValue> parseDateTime(std::string_view text, DateFormat format);

/// Writes a value. ISO: hour and minute precision are written with zero
/// seconds (FHIR dateTime requires seconds "but may be zero-filled"). UK,
/// UkMonth need at least day precision (a year-only date is refused rather
/// than invented). Uk, UkMonth and Csv have no time zone field: a value
/// carrying an offset is refused there unless converted to UK civil time
/// first (see toUkCivilTime). HL7 fractions are cut to 4 digits.
Result<std::string> formatDateTime(const DateTimeValue& value, DateFormat format);

/// Cuts the value down to at most `max` precision (e.g. Day for a FHIR
/// date). Below Hour the offset is dropped.
DateTimeValue truncateDateTime(DateTimeValue value, DatePrecision max);

/// UK civil time (GMT in winter, BST = UTC+1 from 01:00 UTC on the last
/// Sunday of March to 01:00 UTC on the last Sunday of October; Summer Time
/// Order 2002). Both functions pass date-only values through unchanged and
/// refuse times before 1996, when this rule did not yet apply.
///
/// assumeUkCivilTime: a time without an offset is taken as UK local time
/// and given the offset in force then. A local time that does not exist
/// (the hour skipped in March) is refused; a repeated one (the hour repeated
/// in October) is taken as the first, BST, occurrence.
Result<DateTimeValue> assumeUkCivilTime(DateTimeValue value);
/// toUkCivilTime / toUtc: move a time that has an offset to UK local time
/// (keeping its new offset) or to UTC. A time without an offset is refused.
Result<DateTimeValue> toUkCivilTime(DateTimeValue value);
Result<DateTimeValue> toUtc(DateTimeValue value);

std::optional<DateFormat> dateFormatFromName(std::string_view name);
std::optional<DatePrecision> datePrecisionFromName(std::string_view name);
std::string_view toString(DateFormat format);

// ---------------------------------------------------------------- names ----

/// A personal name split into the parts FHIR HumanName and HL7 v2 XPN use.
struct PersonName {
  std::string prefix;               ///< Mr, Mrs, Miss, Ms, Mx, Dr, Prof, Rev, Revd, Sir, Dame, Lady, Lord
  std::vector<std::string> given;   ///< first and middle names in order
  std::string family;
  std::string suffix;               ///< Jr, Jnr, Sr, Snr, II, III, IV
};

/// How a name is written in one string.
enum class NameStyle {
  Auto,              ///< FamilyCommaGiven if the text has a comma, else GivenFamily
  FamilyCommaGiven,  ///< "SMITH, Jane Anne" or "Smith, Mrs Jane Anne"
  GivenFamily,       ///< "Jane Anne Smith" or "Mrs Jane Smith"; the last word is the family name
};

std::optional<NameStyle> nameStyleFromName(std::string_view name);

/// Splits a written name. Refuses an empty family name, more than one comma
/// or an empty string. Whitespace is collapsed; case is kept as written.
Result<PersonName> splitName(std::string_view text, NameStyle style);

/// Joins parts back into one string. FamilyCommaGiven writes
/// "FAMILY, Prefix Given Middle" with the family name upper-cased when
/// `upper_family` (the usual "SURNAME, Forename" convention).
std::string joinName(const PersonName& name, NameStyle style, bool upper_family);

// ----------------------------------------------------------------- text ----

/// Removes leading and trailing white space (space, tab, CR, LF).
std::string trim(std::string_view s);
/// trim, then every internal run of white space becomes one space.
std::string collapseSpace(std::string_view s);
/// ASCII letters only; other bytes (including UTF-8 sequences) unchanged.
std::string toUpper(std::string_view s);
std::string toLower(std::string_view s);
/// Upper-cases the first letter of each word (after a space, hyphen or
/// apostrophe) and lower-cases the rest: "o'BRIEN-SMITH" -> "O'Brien-Smith".
/// Deliberately simple: "McDONALD" becomes "Mcdonald".
std::string toTitle(std::string_view s);

// ---------------------------------------------------------------- chain ----

/// A parsed, bound chain of transforms, built once when a mapping loads and
/// applied per record. Immutable after parse; safe to share between threads.
class TransformChain {
 public:
  /// Parses `spec` (e.g. "trim | date(from=hl7, to=iso)"). Code tables named
  /// by code(table=...) must be in `tables`. The error explains what is wrong
  /// with the spec (the caller adds file and line).
  static Result<TransformChain> parse(std::string_view spec, const CodeTables& tables);

  /// Applies each step in turn; the first refusal stops the chain.
  Result<std::string> apply(std::string value) const;

  bool empty() const { return steps_.empty(); }
  const std::string& spec() const { return spec_; }

  /// The transform names this implementation knows, for documentation.
  static const std::vector<std::string_view>& knownTransforms();

 private:
  struct Step;
  std::vector<std::shared_ptr<const Step>> steps_;
  std::string spec_;
};

}  // namespace cb::mapping
