#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <optional>

#include "engine/exec/executor.h"
#include "engine/exec/held_starts.h"

namespace conveyor::exec {
namespace {

class LocalExecutor : public Executor {
 public:
  LocalExecutor(const OperatorRegistry& registry, ProcessRunner& processes, int workers,
                std::function<void(TaskEvent)> notify)
      : registry_(registry),
        processes_(processes),
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
  // in turn: a burst of launches wakes a worker or two, not one per try.
  void Launch(TaskLaunch launch) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++in_flight_;
      queue_.push_back(std::move(launch));
      if (runners_ == workers_) return;
      ++runners_;
    }
    boost::asio::post(pool_, [this] { RunQueued(); });
  }

  void CancelAll() override { cancelled_.store(true); }
  // Local tries die with the process that ran them: nothing outside conveyor to follow.
  void Adopt(TaskLaunch launch, const std::string& external_id, bool) override {
    notify_(
        TaskEvent{TaskEvent::Kind::kFinished, launch.id, std::nullopt,
                  OperatorResult::Failure("the local executor cannot adopt '" + external_id + "'"),
                  std::chrono::system_clock::now()});
  }
  void StopStarting() override { stop_starting_.store(true); }

  void Drain() override {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [this] { return in_flight_ == 0; });
  }

 private:
  void RunQueued() {
    while (true) {
      std::optional<TaskLaunch> launch;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (queue_.empty()) {
          --runners_;
          return;
        }
        launch.emplace(std::move(queue_.front()));
        queue_.pop_front();
      }
      Run(*launch);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--in_flight_ == 0) idle_.notify_all();
    }
  }

  void Run(const TaskLaunch& launch) {
    if (stop_starting_.load()) {
      TaskEvent skipped{TaskEvent::Kind::kFinished, launch.id, std::nullopt,
                        OperatorResult::Failure("conveyor stopped before the try began"),
                        std::chrono::system_clock::now()};
      skipped.not_started = true;
      notify_(std::move(skipped));
      return;
    }
    // The start of a process that had already ended goes out with its end, in one event.
    std::optional<TaskEvent> held_start;
    bool reported_start = false;
    auto started = [&](int pid, std::chrono::system_clock::time_point at, bool ended) {
      reported_start = true;
      TaskEvent event{TaskEvent::Kind::kStarted, launch.id, pid, {}, at};
      if (ended) {
        held_start = std::move(event);
      } else {
        notify_(std::move(event));
      }
    };
    // A shell task's process runner reports its start; an in-process one's is held.
    const bool in_process = RunsInProcess(launch);
    if (in_process) {
      held_starts_.Hold(
          TaskEvent{TaskEvent::Kind::kStarted, launch.id, 0, {}, std::chrono::system_clock::now()});
    }
    OperatorResult result = RunLaunch(registry_, processes_, launch, cancelled_, started);
    TaskEvent finished{TaskEvent::Kind::kFinished, launch.id, std::nullopt, std::move(result),
                       std::chrono::system_clock::now()};
    if (in_process) {
      held_start = held_starts_.Release(launch.id);
    } else if (!reported_start) {  // the process never started: its start is its end
      held_start = TaskEvent{TaskEvent::Kind::kStarted, launch.id, 0, {}, finished.at};
    }
    if (held_start) {
      finished.pid = held_start->pid;
      finished.started_at = held_start->at;
    }
    notify_(std::move(finished));
  }

  const OperatorRegistry& registry_;
  ProcessRunner& processes_;
  boost::asio::thread_pool pool_;
  std::function<void(TaskEvent)> notify_;
  HeldStarts held_starts_;
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> stop_starting_{false};
  std::mutex mutex_;
  std::condition_variable idle_;
  int in_flight_ = 0;  // GUARDED_BY(mutex_)
  const int workers_;
  std::deque<TaskLaunch> queue_;  // GUARDED_BY(mutex_): launched, not yet taken by a worker
  int runners_ = 0;               // GUARDED_BY(mutex_): handlers posted and not yet returned
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
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (launch.execution_timeout)
    deadline = std::chrono::steady_clock::now() + *launch.execution_timeout;
  OperatorContext context{launch.info, launch.args, launch.command, launch.env, deadline,
                          cancelled,   processes,   started,        launch.data};
  // The worker boundary: whatever an operator throws becomes its failure.
  try {
    std::unique_ptr<Operator> op = spec->factory();
    OperatorResult result = op->Execute(context);
    if (result.outcome == OperatorResult::Outcome::kSuccess && deadline &&
        std::chrono::steady_clock::now() > *deadline) {
      return OperatorResult::Failure("timed out: execution_timeout reached");
    }
    return result;
  } catch (const std::exception& e) {
    return OperatorResult::Failure(std::string("operator '") + launch.operator_name +
                                   "' raised: " + e.what());
  } catch (...) {
    return OperatorResult::Failure("operator '" + launch.operator_name +
                                   "' raised an unknown exception");
  }
}

std::unique_ptr<Executor> MakeLocalExecutor(const OperatorRegistry& registry,
                                            ProcessRunner& processes, int workers,
                                            std::function<void(TaskEvent)> notify) {
  return std::make_unique<LocalExecutor>(registry, processes, workers, std::move(notify));
}

}  // namespace conveyor::exec
