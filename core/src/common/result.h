#pragma once
// Result<T>: the return type for expected failures (a bad record, a refused
// connection, a missing file). Exceptions are reserved for loading
// configuration, where main() turns them into a message and an exit code.

#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace cb {

/// What went wrong, in words an operator can act on: name the file, line,
/// field or message id at fault and, where known, what would fix it.
struct Error {
  std::string message;
};

/// Holds either a T or an Error. Deliberately small: no monadic chains, the
/// call sites stay readable with `if (!r) return r.error();`.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return ok(); }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

/// Shorthand for building an Error in a return statement.
inline Error fail(std::string message) { return Error{std::move(message)}; }

}  // namespace cb
