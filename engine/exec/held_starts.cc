#include "engine/exec/held_starts.h"

#include <algorithm>
#include <utility>

namespace conveyor::exec {

HeldStarts::HeldStarts(std::function<void(TaskEvent)> notify,
                       std::chrono::steady_clock::duration hold_for)
    : notify_(std::move(notify)), hold_for_(hold_for) {
  reporter_ = std::thread([this] { Loop(); });
}

HeldStarts::~HeldStarts() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_one();
  reporter_.join();
}

void HeldStarts::Hold(TaskEvent start) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    held_.push_back({std::move(start), std::chrono::steady_clock::now() + hold_for_});
    // An armed reporter wakes by its deadline, which is no later than this start's: only an idle
    // one needs waking, so a stream of short tries costs it about one wake-up per
    // hold_for_, not one per try.
    wake = !armed_until_;
  }
  if (wake) changed_.notify_one();
}

std::optional<TaskEvent> HeldStarts::Release(std::uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = std::find_if(held_.begin(), held_.end(),
                         [id](const Held& held) { return held.start.id == id; });
  if (it == held_.end()) return std::nullopt;
  TaskEvent start = std::move(it->start);
  held_.erase(it);
  return start;
}

void HeldStarts::Loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    while (!held_.empty() && held_.front().report_at <= now) {
      // Notified with the lock held: a worker's Release that finds the start gone returns only
      // after it went out, so the try's end never overtakes it.
      notify_(std::move(held_.front().start));
      held_.erase(held_.begin());
    }
    if (held_.empty()) {
      armed_until_.reset();
      changed_.wait(lock);
    } else {
      armed_until_ = held_.front().report_at;
      changed_.wait_until(lock, *armed_until_);
    }
  }
}

}  // namespace conveyor::exec
