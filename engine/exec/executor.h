#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "engine/common/duration.h"
#include "engine/exec/operator.h"
#include "engine/exec/operator_registry.h"
#include "engine/exec/process_runner.h"

namespace conveyor::exec {

// One try of one task, rendered and ready to run.
struct TaskLaunch {
  std::uint64_t id = 0;  // the caller's handle, echoed in events
  std::string operator_name;
  TaskRunInfo info;
  nlohmann::json args = nlohmann::json::object();
  std::optional<nlohmann::json> command;
  std::map<std::string, std::string> env;
  std::optional<Duration> execution_timeout;
  DataAccess data;  // for operators that read or write data tables and models
};

// What a worker reports: the try started (with the pid of its process, if any), or it finished.
struct TaskEvent {
  enum class Kind { kStarted, kFinished };
  Kind kind = Kind::kStarted;
  std::uint64_t id = 0;
  std::optional<int> pid;
  OperatorResult result;
  // When it happened, read on the worker: a process's spawn, or the operator's return.
  std::chrono::system_clock::time_point at = std::chrono::system_clock::now();
  // The try never began: the executor stopped starting tasks before its turn came.
  bool not_started = false;
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
};

// A worker pool on Boost.Asio running built-in operators in-process (shell tasks spawn their
// process from a worker). `workers` bounds the tasks running at once.
std::unique_ptr<Executor> MakeLocalExecutor(const OperatorRegistry& registry,
                                            ProcessRunner& processes, int workers,
                                            std::function<void(TaskEvent)> notify);

// Runs one launch on the calling thread: what a worker does. Exceptions from the operator become
// its failure.
OperatorResult RunLaunch(const OperatorRegistry& registry, ProcessRunner& processes,
                         const TaskLaunch& launch, const std::atomic<bool>& cancelled,
                         const std::function<void(int pid)>& started);

}  // namespace conveyor::exec
