#pragma once

#include <chrono>
#include <mutex>
#include <thread>

#include "engine/common/time_format.h"

namespace conveyor::scheduler {

using PreciseInstant = std::chrono::sys_time<std::chrono::microseconds>;

// Where scheduling decisions read the time from, so tests can set it.
class Clock {
 public:
  virtual ~Clock() = default;
  // To the second: what schedules are decided on.
  virtual Instant Now() const = 0;
  // To the microsecond: for work prepared ahead of a due time.
  virtual PreciseInstant PreciseNow() const = 0;
  // Returns once the clock reads `at` or later.
  virtual void SleepUntil(PreciseInstant at) const = 0;
};

class SystemClock : public Clock {
 public:
  Instant Now() const override {
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  }
  PreciseInstant PreciseNow() const override {
    return std::chrono::time_point_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now());
  }
  void SleepUntil(PreciseInstant at) const override { std::this_thread::sleep_until(at); }
};

// A clock that moves only when told, or when something sleeps on it (to the time it waits for,
// at once). Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(Instant now) : now_(now) {}
  Instant Now() const override { return std::chrono::floor<std::chrono::seconds>(PreciseNow()); }
  PreciseInstant PreciseNow() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return now_;
  }
  void SleepUntil(PreciseInstant at) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (at > now_) now_ = at;
  }
  void Set(PreciseInstant now) {
    std::lock_guard<std::mutex> lock(mutex_);
    now_ = now;
  }

 private:
  mutable std::mutex mutex_;
  mutable PreciseInstant now_;
};

}  // namespace conveyor::scheduler
