#pragma once

#include <mutex>

#include "engine/common/clock.h"

namespace conveyor::testing {

// A clock that moves only when told, or when something waits on it with nobody else able to end
// the wait: then at once, to the time waited for. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(PreciseInstant now) : now_(now) {}
  PreciseInstant PreciseNow() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return now_;
  }
  void SleepUntil(PreciseInstant at) const override { MoveTo(at); }
  std::chrono::system_clock::time_point WaitDeadline(PreciseInstant at,
                                                     bool others_may_act) const override {
    const auto real_now = std::chrono::system_clock::now();
    if (!others_may_act) {
      MoveTo(at);
      return real_now;
    }
    // A wait for another thread is a real one, as long as this clock's time to `at`.
    std::lock_guard<std::mutex> lock(mutex_);
    return at > now_ ? real_now + (at - now_) : real_now;
  }
  void Set(PreciseInstant now) {
    std::lock_guard<std::mutex> lock(mutex_);
    now_ = now;
  }
  void Advance(std::chrono::microseconds by) {
    std::lock_guard<std::mutex> lock(mutex_);
    now_ += by;
  }

 private:
  void MoveTo(PreciseInstant at) const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (at > now_) now_ = at;
  }

  mutable std::mutex mutex_;
  mutable PreciseInstant now_;
};

}  // namespace conveyor::testing
