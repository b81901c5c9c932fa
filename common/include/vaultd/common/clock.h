// Time seams. Decision functions take `now` as an argument; code with timers
// takes a Clock so tests can drive it with a ManualClock instead of sleeping.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <string_view>

#include "vaultd/common/status.h"

namespace vaultd {

using WallTime = std::chrono::system_clock::time_point;
using MonoTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual WallTime Now() const = 0;        // wall clock, for timestamps and expiry
  virtual MonoTime Monotonic() const = 0;  // for timeouts and debounce
};

// The process-wide real clock.
const Clock& RealClock();

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(WallTime start = WallTime{std::chrono::seconds(1'700'000'000)})
      : wall_(start) {}
  WallTime Now() const override;
  MonoTime Monotonic() const override;
  void Advance(std::chrono::nanoseconds d);
  void SetWall(WallTime t);

 private:
  mutable std::mutex mu_;
  WallTime wall_;
  MonoTime mono_{};
};

// RFC 3339 in UTC: "2026-11-28T16:21:27Z".
std::string FormatRfc3339(WallTime t);
// With milliseconds: "2026-11-28T16:21:27.123Z".
std::string FormatRfc3339Millis(WallTime t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)" ('t'/'z'/' ' accepted too).
// Rejects anything else, including out-of-range fields, with a message quoting the input.
Result<WallTime> ParseRfc3339(std::string_view text);

}  // namespace vaultd
