#pragma once
// NHS numbers: normalising the written forms partner systems send and
// checking the Modulus 11 check digit.
//
// NHS Data Dictionary, "NHS NUMBER": ten digits, the tenth a check digit.
// Multiply the first nine digits by the weights 10, 9, ..., 2, sum, take the
// remainder modulo 11 and subtract it from 11. A result of 11 means the check
// digit is 0; a result of 10 means the number can never be valid (no single
// digit can carry 10). Some published tools treat 10 as 0; they are wrong
// (see ../shared/reference/MANIFEST.md, finding 2).
//
// The Scottish CHI number shares the format and the check digit and lives in
// the range 0100000000-3112999999, where the first six digits are the date of
// birth (DDMMYY). A number in that range whose first six digits are not a
// real date is refused, as the uk-fci/nhs-number reference vectors do.
//
// Nothing here logs or returns the number in an error: callers name the
// field, never the value.

#include <optional>
#include <string>
#include <string_view>

namespace cb::mapping {

/// Why a written NHS number was refused, or Valid.
enum class NhsNumberStatus {
  Valid,
  Empty,              ///< nothing but white space
  BadFormat,          ///< not one of the accepted written forms (see normaliseNhsNumber)
  CheckValueTen,      ///< Modulus 11 gives 10: no check digit can be right
  WrongCheckDigit,    ///< the tenth digit is not the computed check digit
  ImpossibleChiDate,  ///< in the Scottish CHI range but DDMMYY is not a date
};

/// A sentence for error messages that never contains the number itself,
/// e.g. "NHS number fails the Modulus 11 check".
std::string_view describe(NhsNumberStatus status);

/// Normalises the accepted written forms to ten digits:
///   "9434765919", "943 476 5919" (single spaces), "943-476-5919" (single
///   hyphens), each with any surrounding white space (space, tab, CR, LF).
/// Anything else (double spaces, dots, mixed separators, letters, 9 or 11
/// digits) is refused with nullopt rather than guessed at: a mangled
/// identifier is a data quality problem to send back, not to repair.
/// The check digit is not examined here.
std::optional<std::string> normaliseNhsNumber(std::string_view text);

/// The Modulus 11 check value for nine digits: 0..9 is the expected check
/// digit, 10 means no valid NHS number starts with these nine digits.
/// Returns nullopt unless `nine_digits` is exactly nine ASCII digits.
std::optional<int> nhsCheckValue(std::string_view nine_digits);

/// The result of checking a written NHS number.
struct NhsNumberCheck {
  NhsNumberStatus status = NhsNumberStatus::Empty;
  std::string digits;  ///< the ten normalised digits when the format was accepted, else empty
  bool valid() const { return status == NhsNumberStatus::Valid; }
};

/// Normalises and validates (format, Modulus 11, CHI date rule).
NhsNumberCheck checkNhsNumber(std::string_view text);

/// Writes ten digits in the 3-3-4 form people read ("943 476 5919").
/// Returns the input unchanged unless it is exactly ten digits.
std::string formatNhsNumberSpaced(std::string_view digits);

}  // namespace cb::mapping
