#include "mapping/nhs_number.h"

namespace cb::mapping {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && isSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool allDigits(std::string_view s) {
  for (char c : s) {
    if (!isDigit(c)) return false;
  }
  return true;
}

int twoDigits(std::string_view s, std::size_t at) { return (s[at] - '0') * 10 + (s[at + 1] - '0'); }

// The CHI number's first six digits are the date of birth, DDMMYY (NHS
// Scotland CHI; range as in the uk-fci/nhs-number vectors, 0100000000 to
// 3112999999). The century is not recorded, so 29 February is accepted in
// any year divisible by four (2000 was a leap year, 1900 was not, and nobody
// born in 1900 is still being assessed).
bool inChiRange(std::string_view digits) { return digits >= "0100000000" && digits <= "3112999999"; }

bool chiDateIsReal(std::string_view digits) {
  const int day = twoDigits(digits, 0);
  const int month = twoDigits(digits, 2);
  const int year = twoDigits(digits, 4);
  if (month < 1 || month > 12 || day < 1) return false;
  static constexpr int kDaysInMonth[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (day > kDaysInMonth[month - 1]) return false;
  if (month == 2 && day == 29 && year % 4 != 0) return false;
  return true;
}

}  // namespace

std::string_view describe(NhsNumberStatus status) {
  switch (status) {
    case NhsNumberStatus::Valid:
      return "NHS number is valid";
    case NhsNumberStatus::Empty:
      return "NHS number is empty";
    case NhsNumberStatus::BadFormat:
      return "NHS number is not written as 10 digits (accepted: 10 digits, or 3-3-4 digits separated by single "
             "spaces or single hyphens)";
    case NhsNumberStatus::CheckValueTen:
      return "NHS number fails the Modulus 11 check (check value 10: no valid check digit exists)";
    case NhsNumberStatus::WrongCheckDigit:
      return "NHS number fails the Modulus 11 check";
    case NhsNumberStatus::ImpossibleChiDate:
      return "NHS number is in the Scottish CHI range but its first six digits are not a real date of birth";
  }
  return "NHS number is invalid";
}

std::optional<std::string> normaliseNhsNumber(std::string_view text) {
  const std::string_view s = trimmed(text);
  if (s.size() == 10 && allDigits(s)) return std::string(s);
  if (s.size() == 12 && (s[3] == ' ' || s[3] == '-') && s[7] == s[3]) {
    const std::string_view a = s.substr(0, 3), b = s.substr(4, 3), c = s.substr(8, 4);
    if (allDigits(a) && allDigits(b) && allDigits(c)) {
      std::string out;
      out.reserve(10);
      out.append(a).append(b).append(c);
      return out;
    }
  }
  return std::nullopt;
}

std::optional<int> nhsCheckValue(std::string_view nine_digits) {
  if (nine_digits.size() != 9 || !allDigits(nine_digits)) return std::nullopt;
  int sum = 0;
  for (std::size_t i = 0; i < 9; ++i) sum += (nine_digits[i] - '0') * static_cast<int>(10 - i);
  const int check = 11 - (sum % 11);
  return check == 11 ? 0 : check;
}

NhsNumberCheck checkNhsNumber(std::string_view text) {
  NhsNumberCheck out;
  if (trimmed(text).empty()) {
    out.status = NhsNumberStatus::Empty;
    return out;
  }
  auto digits = normaliseNhsNumber(text);
  if (!digits) {
    out.status = NhsNumberStatus::BadFormat;
    return out;
  }
  out.digits = std::move(*digits);
  const int check = *nhsCheckValue(std::string_view(out.digits).substr(0, 9));
  if (check == 10) {
    out.status = NhsNumberStatus::CheckValueTen;
  } else if (check != out.digits[9] - '0') {
    out.status = NhsNumberStatus::WrongCheckDigit;
  } else if (inChiRange(out.digits) && !chiDateIsReal(out.digits)) {
    out.status = NhsNumberStatus::ImpossibleChiDate;
  } else {
    out.status = NhsNumberStatus::Valid;
  }
  return out;
}

std::string formatNhsNumberSpaced(std::string_view digits) {
  if (digits.size() != 10 || !allDigits(digits)) return std::string(digits);
  std::string out;
  out.reserve(12);
  out.append(digits.substr(0, 3)).append(" ").append(digits.substr(3, 3)).append(" ").append(digits.substr(6));
  return out;
}

}  // namespace cb::mapping
