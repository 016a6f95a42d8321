#include "engine/scheduler/step_ownership.h"

#include <utility>

namespace conveyor::scheduler {

bool StepOwnership::Report(exec::TaskEvent event) {
  std::lock_guard<std::mutex> lock(mutex_);
  const bool lend = event.notifier_may_step && parked_ && !stepping_ && wake_at_events_ <= 1 &&
                    lent_step_error_.ok();
  events_.push_back(std::move(event));
  if (lend) {
    stepping_ = true;
  } else if (events_.size() >= wake_at_events_) {
    wake_.notify_one();
  }
  return lend;
}

void StepOwnership::EndLentStep(Status status, bool idle_or_done, bool gather,
                                std::optional<PreciseInstant> due) {
  std::lock_guard<std::mutex> lock(mutex_);
  const bool owner_needed = !status.ok() || idle_or_done || gather || (due && *due < parked_until_);
  stepping_ = false;
  if (!status.ok()) lent_step_error_ = std::move(status);
  if (owner_needed) {
    woken_ = true;
    wake_.notify_one();
  }
  stepped_.notify_all();
}

std::deque<exec::TaskEvent> StepOwnership::TakeReports() {
  std::deque<exec::TaskEvent> events;
  std::lock_guard<std::mutex> lock(mutex_);
  events.swap(events_);
  return events;
}

void StepOwnership::Wake() {
  std::lock_guard<std::mutex> lock(mutex_);
  woken_ = true;
  wake_.notify_one();
}

void StepOwnership::CommitsReady() {
  std::lock_guard<std::mutex> lock(mutex_);
  commits_ready_ = true;
  if (wake_at_events_ <= 1) wake_.notify_one();
}

std::optional<Status> StepOwnership::TakeWake() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!woken_) return std::nullopt;
  woken_ = false;
  return lent_step_error_;
}

Status StepOwnership::Park(PreciseInstant due, std::chrono::system_clock::time_point deadline,
                           size_t gather) {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_at_events_ = std::max<size_t>(1, gather);
  parked_ = true;
  parked_until_ = due;
  wake_.wait_until(lock, deadline, [this] {
    return events_.size() >= wake_at_events_ || woken_ || commits_ready_;
  });
  stepped_.wait(lock, [this] { return !stepping_; });
  parked_ = false;
  wake_at_events_ = 1;
  woken_ = false;
  commits_ready_ = false;
  return lent_step_error_;
}

}  // namespace conveyor::scheduler
