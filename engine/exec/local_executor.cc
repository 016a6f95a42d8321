#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>
#include <utility>

#include "engine/exec/executor.h"
#include "engine/exec/held_starts.h"

namespace conveyor::exec {
namespace {

using Deadline = std::optional<std::chrono::steady_clock::time_point>;

Deadline DeadlineOf(const TaskLaunch& launch) {
  if (!launch.execution_timeout) return std::nullopt;
  return std::chrono::steady_clock::now() + *launch.execution_timeout;
}

OperatorContext ContextOf(const TaskLaunch& launch, Deadline deadline,
                          const std::atomic<bool>& cancelled, ProcessRunner& processes,
                          const ProcessStarted& started) {
  return {launch.info, launch.args, launch.command, launch.env, deadline,
          cancelled,   processes,   started,        launch.data};
}

// The worker boundary: whatever an operator throws becomes its failure.
template <typename Body>
OperatorResult Guarded(const TaskLaunch& launch, Body&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return OperatorResult::Failure(std::string("operator '") + launch.operator_name +
                                   "' raised: " + e.what());
  } catch (...) {
    return OperatorResult::Failure("operator '" + launch.operator_name +
                                   "' raised an unknown exception");
  }
}

// A success that came after the deadline is a timeout.
OperatorResult Concluded(OperatorResult result, Deadline deadline) {
  if (result.outcome == OperatorResult::Outcome::kSuccess && deadline &&
      std::chrono::steady_clock::now() > *deadline) {
    return OperatorResult::Failure("timed out: execution_timeout reached");
  }
  return result;
}

// A launched try on its way to a worker. A process try may have been started already, on the
// thread that launched it.
struct Job {
  TaskLaunch launch;
  Deadline deadline;
  std::unique_ptr<Operator> op;                // set when started at launch
  std::unique_ptr<StartedProcess> process;     // idem, when its start succeeded
  std::optional<OperatorResult> start_failed;  // idem, when it did not
};

class LocalExecutor : public Executor {
 public:
  LocalExecutor(const OperatorRegistry& registry, ProcessRunner& processes, int workers,
                const Clock& clock, std::function<void(TaskEvent)> notify)
      : registry_(registry),
        processes_(processes),
        clock_(clock),
        pool_(static_cast<size_t>(std::max(1, workers))),
        notify_(std::move(notify)),
        held_starts_(notify_),
        workers_(std::max(1, workers)) {}

  ~LocalExecutor() override {
    CancelAll();
    Drain();
    pool_.join();
  }

  // Tries wait in this executor's queue, and at most `workers_` handlers on the pool take them
  // in turn: a burst of launches wakes a worker or two, not one per try. When a worker is idle,
  // a process try's process is started here first, so that the worker's wake-up (a cross-CPU
  // wake-up, often the slowest step between two tasks of a chain) overlaps with the process.
  // A worker that offers its thread with its report (TaskEvent::notifier_may_step, the executor's
  // side of scheduler::StepOwnership) takes the queue again once its report returns: a launch
  // uses that offer instead of waking another worker, and when the scheduler's step was lent to
  // that worker, no other thread is woken between one try's end and the next one's start.
  void Launch(TaskLaunch launch) override {
    Job job{std::move(launch), std::nullopt, nullptr, nullptr, std::nullopt};
    bool start_here = false;
    bool offered = false;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++in_flight_;
      start_here = !RunsInProcess(job.launch) && queue_.empty() && !stop_starting_.load();
      if (offered_ > 0) {
        --offered_;
        offered = true;
        if (!start_here) {
          queue_.push_back(std::move(job));  // the offering worker, awake, finds it
          return;
        }
        ++promised_;  // the offering worker waits for it (RunQueued)
      } else {
        start_here = start_here && runners_ < workers_;
        if (!start_here) queue_.push_back(std::move(job));
        if (runners_ == workers_) return;
        ++runners_;
      }
    }
    if (start_here) {
      job.op = ProcessOperatorFor(job.launch);
      if (job.op != nullptr) StartProcess(job);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        queue_.push_front(std::move(job));  // taken first, by the offering worker or the handler
        if (offered) --promised_;
      }
      if (offered) {
        promised_ready_.notify_all();
        return;
      }
    }
    boost::asio::post(pool_, [this] { RunQueued(); });
  }

  void CancelAll() override { cancelled_.store(true); }
  // Local tries die with the process that ran them: nothing outside conveyor to follow.
  void Adopt(TaskLaunch launch, const std::string& external_id, bool) override {
    notify_(
        TaskEvent{TaskEvent::Kind::kFinished, launch.id, std::nullopt,
                  OperatorResult::Failure("the local executor cannot adopt '" + external_id + "'"),
                  clock_.PreciseNow()});
  }
  void StopStarting() override { stop_starting_.store(true); }

  void Drain() override {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [this] { return in_flight_ == 0; });
  }

 private:
  // The operator of a launch that is one process (shell), or null.
  std::unique_ptr<Operator> ProcessOperatorFor(const TaskLaunch& launch) const {
    if (!launch.runs_as_process) return nullptr;
    const OperatorSpec* spec = registry_.Find(launch.operator_name);
    if (spec == nullptr || !spec->factory || !spec->runs_as_process) return nullptr;
    return spec->factory();
  }

  void StartProcess(Job& job) {
    job.deadline = DeadlineOf(job.launch);
    OperatorContext context =
        ContextOf(job.launch, job.deadline, cancelled_, processes_, IgnoreProcessStart);
    auto& op = static_cast<ProcessOperator&>(*job.op);
    OperatorResult started = Guarded(job.launch, [&] {
      auto process = op.Start(context);
      if (!process.ok()) return OperatorResult::Failure(process.error().message);
      job.process = std::move(process).value();
      return OperatorResult::Success();
    });
    if (!job.process) job.start_failed = std::move(started);
  }

  // Waits for a process started at launch; the try's result.
  OperatorResult FinishProcess(Job& job, const ProcessStarted& started) {
    if (job.start_failed) return *job.start_failed;
    OperatorContext context = ContextOf(job.launch, job.deadline, cancelled_, processes_, started);
    auto& op = static_cast<ProcessOperator&>(*job.op);
    return Guarded(job.launch, [&] {
      return Concluded(op.Finish(context, job.process->Wait(started)), job.deadline);
    });
  }

  void RunQueued() {
    while (true) {
      std::optional<Job> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        // A launch that took a worker's offer is being started: a worker stays for it.
        promised_ready_.wait(lock, [this] { return !queue_.empty() || promised_ == 0; });
        if (queue_.empty()) {
          --runners_;
          return;
        }
        job.emplace(std::move(queue_.front()));
        queue_.pop_front();
      }
      Run(*job);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--in_flight_ == 0) idle_.notify_all();
    }
  }

  void Run(Job& job) {
    const TaskLaunch& launch = job.launch;
    const bool started_at_launch = job.op != nullptr;
    if (stop_starting_.load() && !started_at_launch) {
      TaskEvent skipped{TaskEvent::Kind::kFinished, launch.id, std::nullopt,
                        OperatorResult::Failure("conveyor stopped before the try began"),
                        clock_.PreciseNow()};
      skipped.not_started = true;
      notify_(std::move(skipped));
      return;
    }
    // The try's start is held back: it goes out with the try's end when the try ends soon.
    bool held = false;
    const auto hold_start = [&](int pid, PreciseInstant at) {
      if (held) return;  // an operator that runs several processes started once
      held = true;
      held_starts_.Hold(TaskEvent{TaskEvent::Kind::kStarted, launch.id, pid, {}, at});
    };
    const bool in_process = RunsInProcess(launch);
    if (in_process) hold_start(0, clock_.PreciseNow());
    // A process's spawn is read on the system clock by the process runner.
    const auto started = [&](int pid, std::chrono::system_clock::time_point at) {
      hold_start(pid, std::chrono::time_point_cast<std::chrono::microseconds>(at));
    };
    OperatorResult result = started_at_launch
                                ? FinishProcess(job, started)
                                : RunLaunch(registry_, processes_, launch, cancelled_, started);
    TaskEvent finished{TaskEvent::Kind::kFinished, launch.id, std::nullopt, std::move(result),
                       clock_.PreciseNow()};
    std::optional<TaskEvent> held_start;
    if (held) {
      held_start = held_starts_.Release(launch.id);
    } else {  // the process never started: its start is its end
      held_start = TaskEvent{TaskEvent::Kind::kStarted, launch.id, 0, {}, finished.at};
    }
    if (held_start) {
      finished.pid = held_start->pid;
      finished.started_at = held_start->at;
    }
    // The worker offers its thread only when it has nothing else to run: a process try's end
    // that the next task waits on, as in a chain. In-process tries end in bursts, which the
    // scheduler's thread gathers while the workers run the next ones.
    bool offers = false;
    if (!in_process) {
      std::lock_guard<std::mutex> lock(mutex_);
      offers = queue_.empty();
      if (offers) ++offered_;
    }
    finished.notifier_may_step = offers;
    notify_(std::move(finished));
    if (offers) {
      // Taken by a launch, or withdrawn: either way this worker takes the queue next.
      std::lock_guard<std::mutex> lock(mutex_);
      if (offered_ > 0) --offered_;
    }
  }

  const OperatorRegistry& registry_;
  ProcessRunner& processes_;
  const Clock& clock_;
  boost::asio::thread_pool pool_;
  std::function<void(TaskEvent)> notify_;
  HeldStarts held_starts_;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> stop_starting_{false};
  std::mutex mutex_;
  std::condition_variable idle_;
  int in_flight_ = 0;  // GUARDED_BY(mutex_)
  const int workers_;
  std::deque<Job> queue_;  // GUARDED_BY(mutex_): launched, not yet taken by a worker
  int runners_ = 0;        // GUARDED_BY(mutex_): handlers posted and not yet returned
  // GUARDED_BY(mutex_): workers inside their report with their thread offered, less the offers
  // launches have used; each of them takes the queue once its report returns.
  int offered_ = 0;
  // GUARDED_BY(mutex_): launches that took an offer and are starting their process, not yet
  // queued; workers wait for them on promised_ready_ rather than leave.
  int promised_ = 0;
  std::condition_variable promised_ready_;
};

}  // namespace

OperatorResult RunLaunch(const OperatorRegistry& registry, ProcessRunner& processes,
                         const TaskLaunch& launch, const std::atomic<bool>& cancelled,
                         const ProcessStarted& started) {
  const OperatorSpec* spec = registry.Find(launch.operator_name);
  if (spec == nullptr || !spec->factory) {
    return OperatorResult::Failure("operator '" + launch.operator_name +
                                   "' cannot run in this build");
  }
  const Deadline deadline = DeadlineOf(launch);
  OperatorContext context = ContextOf(launch, deadline, cancelled, processes, started);
  return Guarded(launch, [&] {
    std::unique_ptr<Operator> op = spec->factory();
    return Concluded(op->Execute(context), deadline);
  });
}

std::unique_ptr<Executor> MakeLocalExecutor(const OperatorRegistry& registry,
                                            ProcessRunner& processes, int workers,
                                            const Clock& clock,
                                            std::function<void(TaskEvent)> notify) {
  return std::make_unique<LocalExecutor>(registry, processes, workers, clock, std::move(notify));
}

}  // namespace conveyor::exec
