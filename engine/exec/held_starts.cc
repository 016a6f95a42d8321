#include "engine/exec/held_starts.h"

#include <algorithm>
#include <utility>

namespace conveyor::exec {

HeldStarts::HeldStarts(std::function<void(TaskEvent)> notify) : notify_(std::move(notify)) {
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
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    first = held_.empty();
    held_.push_back({std::move(start), std::chrono::steady_clock::now() + kReportStartAfter});
  }
  if (first) changed_.notify_one();
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
    if (held_.empty()) {
      changed_.wait(lock, [this] { return stopping_ || !held_.empty(); });
      continue;
    }
    const auto report_at = held_.front().report_at;
    if (std::chrono::steady_clock::now() < report_at) {
      changed_.wait_until(lock, report_at);
      continue;
    }
    // Notified with the lock held: a worker's Release that finds the start gone returns only
    // after it went out, so the try's end never overtakes it.
    notify_(std::move(held_.front().start));
    held_.erase(held_.begin());
  }
}

}  // namespace conveyor::exec
