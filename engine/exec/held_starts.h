#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "engine/exec/executor.h"

namespace conveyor::exec {

// How long a try's start is held back.
inline constexpr std::chrono::milliseconds kReportStartAfter{2};

// The one place where tries' starts are held back, in-process and process tries alike: a try that
// ends within kReportStartAfter has its start reported with its end, in one event (one wake-up of
// the scheduler, one write of the task instance); a longer one has it reported on its own when the
// moment has passed, by this class's thread.
class HeldStarts {
 public:
  explicit HeldStarts(std::function<void(TaskEvent)> notify,
                      std::chrono::steady_clock::duration hold_for = kReportStartAfter);
  ~HeldStarts();
  HeldStarts(const HeldStarts&) = delete;
  HeldStarts& operator=(const HeldStarts&) = delete;

  void Hold(TaskEvent start);
  // The try's start if it is still held (it was not reported): the caller reports it with the
  // try's end. Once this returns, a start reported on its own has been notified.
  std::optional<TaskEvent> Release(std::uint64_t id);

 private:
  struct Held {
    TaskEvent start;
    std::chrono::steady_clock::time_point report_at;
  };
  void Loop();

  std::function<void(TaskEvent)> notify_;
  const std::chrono::steady_clock::duration hold_for_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Held> held_;  // GUARDED_BY(mutex_); in the order held, so by report_at
  bool stopping_ = false;   // GUARDED_BY(mutex_)
  // When the reporter waits for a deadline, that deadline; unset while it waits for a Hold.
  std::optional<std::chrono::steady_clock::time_point> armed_until_;  // GUARDED_BY(mutex_)
  std::thread reporter_;
};

}  // namespace conveyor::exec
