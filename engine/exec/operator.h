#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "engine/common/time_format.h"
#include "engine/exec/model_registry.h"
#include "engine/exec/process_runner.h"

namespace conveyor::exec {

class ProcessRunner;

// Which try of which task is running, and where its files go.
struct TaskRunInfo {
  std::string dag_id;
  std::string run_id;
  std::string task_id;
  int try_number = 1;
  Instant logical_date;
  std::string log_path;     // the try's log file
  std::string output_path;  // $CONVEYOR_OUTPUT: key=value lines read back after the try
  std::string work_dir;     // the DAG file's folder; relative paths resolve against it
};

// What an operator gets: its rendered arguments, a log, cancellation and a deadline.
struct OperatorContext {
  const TaskRunInfo& info;
  const nlohmann::json& args;                                     // templates rendered
  const std::optional<nlohmann::json>& command;                   // string or argv list, rendered
  const std::map<std::string, std::string>& env;                  // the task's env, rendered
  std::optional<std::chrono::steady_clock::time_point> deadline;  // execution_timeout
  const std::atomic<bool>& cancelled;
  ProcessRunner& processes;
  // Called with the pid of a process the operator starts, so that it can be recorded (and killed
  // after a crash of conveyor).
  ProcessStarted process_started = IgnoreProcessStart;
  // The data database, the model registry and the artifacts folder.
  DataAccess data;
  // Appends a line to the try's log.
  void Log(const std::string& line) const;
  // Opens the data database, waiting for other writers as long as this try may run.
  Result<std::unique_ptr<DataStore>> OpenData() const;
};

// Creates the folder that will hold `path` (a log or output file) if it is missing.
void EnsureParentFolder(const std::string& path);
// Opens `path` for appending (close-on-exec), creating the file, and its folder when that is
// missing too. Returns the descriptor, or -1 with errno set.
int OpenForAppend(const std::string& path);
// Writes all `size` bytes to `fd`, again after a signal; false with errno set on an error.
bool WriteFully(int fd, const char* data, size_t size);

struct OperatorResult {
  enum class Outcome { kSuccess, kFailed, kSkipped };
  Outcome outcome = Outcome::kSuccess;
  std::string message;                                // why it failed or was skipped
  nlohmann::json outputs = nlohmann::json::object();  // XCom: {"key": value}
  // A failed process's exit code, for the scheduler's skip_on_exit_code.
  std::optional<int> exit_code{};

  static OperatorResult Success(nlohmann::json outputs = nlohmann::json::object());
  static OperatorResult Failure(std::string message);
  static OperatorResult Skipped(std::string message);
};

// A built-in operator. Execute runs on a worker thread; an exception escaping it is caught at
// the worker boundary and becomes the try's failure.
class Operator {
 public:
  virtual ~Operator() = default;
  virtual OperatorResult Execute(OperatorContext& context) = 0;
};

// An operator whose work is one process. Its process can be started on one thread and waited for
// on another: the local executor starts it on the thread that launches the try when a worker is
// idle, so that waking the worker is not on the way from the launch to the process's start.
class ProcessOperator : public Operator {
 public:
  // Spawns the process and returns at once; an error fails the try with its message.
  virtual Result<std::unique_ptr<StartedProcess>> Start(OperatorContext& context) = 0;
  // The try's result once the process Start returned has been waited for.
  virtual OperatorResult Finish(OperatorContext& context, Result<ProcessResult> waited) = 0;
  // Start, wait (reporting the start through context.process_started), Finish.
  OperatorResult Execute(OperatorContext& context) final;
};

}  // namespace conveyor::exec
