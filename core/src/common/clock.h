#pragma once
// Time as the daemon sees it. Components that make time-dependent decisions
// (agreement validity, retry schedules, checkpoint intervals) take a Clock so
// tests can move time with a FakeClock instead of sleeping.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace cb {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point now() const = 0;
  std::int64_t nowUnixMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch()).count();
  }
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point now() const override { return std::chrono::system_clock::now(); }
  /// The process-wide instance.
  static const SystemClock& instance();
};

/// A clock that only moves when told to; for tests.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::int64_t unix_ms) : ms_(unix_ms) {}
  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms_.load()));
  }
  void set(std::int64_t unix_ms) { ms_ = unix_ms; }
  void advance(std::chrono::milliseconds d) { ms_ += d.count(); }

 private:
  std::atomic<std::int64_t> ms_;
};

/// RFC 3339 UTC timestamp with milliseconds, e.g. 2026-11-22T07:12:00.123Z.
std::string formatUtc(std::int64_t unix_ms);

}  // namespace cb
