#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

#include "engine/common/clock.h"
#include "engine/common/error.h"
#include "engine/exec/executor.h"

namespace conveyor::scheduler {

// Who may run the run loop's step, and when: the one protocol between the loop, the executors'
// workers and the commit pipeline.
//
// The loop's state (its runs, tries in flight, ready queue, pools) is touched by one thread at a
// time, the step's owner:
// - the thread that calls RunLoop::Poll, while it is not parked;
// - while that thread is parked (Park), a worker that reports a try's end with
//   `notifier_may_step` set (the local executor sets it on the worker that waited for a process
//   and has nothing queued: it offers its thread): Report lends it the step, it runs RunLoop's
//   step on its own thread and hands it back with EndLentStep. The executor gives the first try
//   that step launches to the same worker (exec::TaskEvent::notifier_may_step). This saves two
//   thread wake-ups between one task's end and the next one's start, which make and ninja do not
//   pay. At most one step is lent at a time, never while reports are being gathered or after a
//   lent step failed, and Park does not return before a lent step has ended.
// Every other report, Wake and CommitsReady only queue and wake the parked owner. Thread-safe.
class StepOwnership {
 public:
  // A worker's report. Returns true when the caller has been lent the step: it must run it and
  // then call EndLentStep.
  bool Report(exec::TaskEvent event);
  // Ends a lent step. The owner is woken when it is needed: an error (kept for Park to return),
  // `idle_or_done` (finished runs, or nothing left), `gather` (the step queued tries ahead, whose
  // reports the owner gathers), or a timer `due` before the owner's deadline.
  void EndLentStep(Status status, bool idle_or_done, bool gather,
                   std::optional<PreciseInstant> due);
  // The reports queued so far, for the step's owner.
  std::deque<exec::TaskEvent> TakeReports();
  // Ends a Park early, or makes the next one return at once.
  void Wake();
  // The commit pipeline has committed: wakes the owner, unless it gathers reports (it takes the
  // commit with them).
  void CommitsReady();
  // The owner, before it parks: when it was woken since it last parked, clears that and returns
  // the error of a lent step, if any (Ok otherwise), instead of parking.
  std::optional<Status> TakeWake();
  // The owner parks until `gather` reports are queued, it is woken, a commit is ready or
  // `deadline` passes (on the system clock; `due` is that time on the loop's clock, against which
  // a lent step's timers are compared); then until no lent step runs. Returns the error of a
  // lent step, if any.
  Status Park(PreciseInstant due, std::chrono::system_clock::time_point deadline, size_t gather);

 private:
  std::mutex mutex_;
  std::condition_variable wake_;           // the parked owner waits here
  std::condition_variable stepped_;        // and here, for a lent step to end
  std::deque<exec::TaskEvent> events_;     // GUARDED_BY(mutex_)
  size_t wake_at_events_ = 1;              // GUARDED_BY(mutex_): a report wakes at this many
  bool woken_ = false;                     // GUARDED_BY(mutex_)
  bool commits_ready_ = false;             // GUARDED_BY(mutex_)
  bool parked_ = false;                    // GUARDED_BY(mutex_)
  PreciseInstant parked_until_;            // GUARDED_BY(mutex_)
  bool stepping_ = false;                  // GUARDED_BY(mutex_): a step is lent
  Status lent_step_error_ = Status::Ok();  // GUARDED_BY(mutex_): sticky
};

}  // namespace conveyor::scheduler
