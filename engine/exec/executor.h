#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "engine/common/clock.h"
#include "engine/common/duration.h"
#include "engine/dag/slurm_options.h"
#include "engine/exec/operator.h"
#include "engine/exec/operator_registry.h"
#include "engine/exec/process_runner.h"

namespace conveyor::exec {

// One try of one task, rendered and ready to run.
struct TaskLaunch {
  std::uint64_t id = 0;  // the caller's handle, echoed in events
  std::string operator_name;
  bool runs_as_process = false;  // the operator's OperatorSpec::runs_as_process
  TaskRunInfo info;
  nlohmann::json args = nlohmann::json::object();
  std::optional<nlohmann::json> command;
  std::map<std::string, std::string> env;
  std::optional<Duration> execution_timeout;
  DataAccess data;  // for operators that read or write data tables and models
  ExecutorKind executor = ExecutorKind::kLocal;
  SlurmOptions slurm;  // sbatch options, when executor is kSlurm
};

// Runs inside conveyor's process, on a worker of the local executor: it leaves no process
// behind when conveyor dies.
inline bool RunsInProcess(const TaskLaunch& launch) {
  return launch.executor == ExecutorKind::kLocal && !launch.runs_as_process;
}

// What a worker reports: the try was handed to an external system (with the id it got there),
// it started (with the pid of its process, if any), or it finished.
struct TaskEvent {
  enum class Kind { kSubmitted, kStarted, kFinished };
  Kind kind = Kind::kStarted;
  std::uint64_t id = 0;
  std::optional<int> pid;
  OperatorResult result;
  // When it happened, read on the worker: a process's spawn, or the operator's return.
  PreciseInstant at{};
  // The try never began: the executor stopped starting tasks before its turn came.
  bool not_started = false;
  std::string external_id{};  // kSubmitted: the job's id outside conveyor, e.g. "slurm:42"
  std::string hostname{};     // kStarted on another machine: which one
  // kFinished of a try whose start was not reported on its own (it ended first): when it
  // started, with `pid`. Both go in one event so the scheduler applies them in one wake-up.
  std::optional<PreciseInstant> started_at{};
  // kFinished of a process try, reported on the worker that ran it, holding no lock and with no
  // other try waiting for it: the worker offers its thread. The scheduler may run its step on it
  // instead of waking its own (scheduler::StepOwnership), and the executor gives it the next try
  // launched before it wakes another worker.
  bool notifier_may_step = false;
};

// Runs tasks off the scheduler thread and reports back through `notify`, which is called on a
// worker thread and must be cheap and thread-safe.
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void Launch(TaskLaunch launch) = 0;
  // Asks every running task to stop (their processes get SIGTERM, then SIGKILL).
  virtual void CancelAll() = 0;
  // Tries launched but not yet begun finish at once with `not_started` set; running ones go on.
  virtual void StopStarting() = 0;
  // Waits for every launched task to report kFinished.
  virtual void Drain() = 0;
  // Follows a try that a previous conveyor process submitted as `external_id` and that may
  // still be running there; reports it like a launched one. `started`: it was seen running.
  virtual void Adopt(TaskLaunch launch, const std::string& external_id, bool started) = 0;
};

// A worker pool on Boost.Asio running built-in operators in-process. A shell task's process is
// spawned by Launch when a worker is idle, else by the worker that takes the task; a worker waits
// for it either way. `workers` bounds the tasks running at once.
std::unique_ptr<Executor> MakeLocalExecutor(const OperatorRegistry& registry,
                                            ProcessRunner& processes, int workers,
                                            const Clock& clock,
                                            std::function<void(TaskEvent)> notify);

// Runs one launch on the calling thread: what a worker does. Exceptions from the operator become
// its failure.
OperatorResult RunLaunch(const OperatorRegistry& registry, ProcessRunner& processes,
                         const TaskLaunch& launch, const std::atomic<bool>& cancelled,
                         const ProcessStarted& started);

}  // namespace conveyor::exec
