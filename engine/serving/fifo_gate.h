#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>

namespace conveyor::serving {

// At most `slots` holders at once, admitted in the order they came. Requests' predictions pass
// through one, two per core: the rest wait asleep instead of preempting each other (and the lock
// holders among them), which keeps the slowest requests near the typical ones.
class FifoGate {
 public:
  explicit FifoGate(int slots) : free_(slots) {}

  size_t waiting() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return waiting_.size();
  }

  class Pass {
   public:
    explicit Pass(FifoGate& gate) : gate_(gate) { gate_.Enter(); }
    ~Pass() { gate_.Leave(); }
    Pass(const Pass&) = delete;
    Pass& operator=(const Pass&) = delete;

   private:
    FifoGate& gate_;
  };

 private:
  struct Waiter {
    std::condition_variable admitted;
    bool in = false;
  };

  void Enter() {
    std::unique_lock<std::mutex> lock(mutex_);
    if (free_ > 0 && waiting_.empty()) {
      --free_;
      return;
    }
    Waiter me;
    waiting_.push_back(&me);
    me.admitted.wait(lock, [&me] { return me.in; });
  }

  // A leaving holder hands its slot to the longest waiter, waking that one only.
  void Leave() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (waiting_.empty()) {
      ++free_;
      return;
    }
    Waiter* next = waiting_.front();
    waiting_.pop_front();
    next->in = true;
    next->admitted.notify_one();
  }

  mutable std::mutex mutex_;
  int free_;
  std::deque<Waiter*> waiting_;
};

}  // namespace conveyor::serving
