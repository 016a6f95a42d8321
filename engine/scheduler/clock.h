#pragma once

#include <chrono>
#include <mutex>

#include "engine/common/time_format.h"

namespace conveyor::scheduler {

// Where scheduling decisions read the time from, so tests can set it.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Instant Now() const = 0;
};

class SystemClock : public Clock {
 public:
  Instant Now() const override {
    return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  }
};

// A clock that moves only when told. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(Instant now) : now_(now) {}
  Instant Now() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return now_;
  }
  void Set(Instant now) {
    std::lock_guard<std::mutex> lock(mutex_);
    now_ = now;
  }

 private:
  mutable std::mutex mutex_;
  Instant now_;
};

}  // namespace conveyor::scheduler
