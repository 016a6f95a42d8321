#pragma once

#include <chrono>
#include <thread>

#include "engine/common/time_format.h"

namespace conveyor {

// A wall-clock time to the microsecond: what conveyor records.
using PreciseInstant = std::chrono::sys_time<std::chrono::microseconds>;

// Where the scheduler, the store and the executors read the time and wait on it, so that tests
// can replace it (leveldb's Env, dagu's Clock). Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  // To the microsecond: what is recorded, and when timers fall due.
  virtual PreciseInstant PreciseNow() const = 0;
  // To the second: what schedules are decided on.
  Instant Now() const { return std::chrono::floor<std::chrono::seconds>(PreciseNow()); }
  // Returns once the clock reads `at` or later.
  virtual void SleepUntil(PreciseInstant at) const = 0;
  // Until when, on the system clock, a thread waiting for something to happen should wait for
  // this clock to read `at`. `others_may_act`: another thread may end the wait sooner (a worker
  // with a try in flight), so a clock that moves only when waited on must not move now.
  virtual std::chrono::system_clock::time_point WaitDeadline(PreciseInstant at,
                                                             bool others_may_act) const = 0;
};

// The system's wall clock.
class SystemClock final : public Clock {
 public:
  PreciseInstant PreciseNow() const override {
    return std::chrono::time_point_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now());
  }
  void SleepUntil(PreciseInstant at) const override { std::this_thread::sleep_until(at); }
  std::chrono::system_clock::time_point WaitDeadline(PreciseInstant at, bool) const override {
    return at;
  }
};

// The one system clock, for code that is not handed another.
inline const Clock& WallClock() {
  static const SystemClock clock;
  return clock;
}

}  // namespace conveyor
