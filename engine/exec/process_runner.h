#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/error.h"

namespace conveyor::exec {

// A command to run in its own process group, stdout and stderr appended to a log file. They go
// through a pipe: the log file is created at the first byte of output, and a process the command
// leaves running behind it is not waited for (its output after the command exits is not kept).
struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH
  std::vector<std::string> env;   // "NAME=value", the whole environment
  std::string cwd;                // empty: inherit
  std::string log_path;
  std::optional<std::chrono::steady_clock::time_point> deadline;
  const std::atomic<bool>* cancelled = nullptr;
  std::chrono::milliseconds kill_grace{5000};  // between SIGTERM and SIGKILL
};

struct ProcessResult {
  int pid = 0;
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  bool timed_out = false;
  bool cancelled = false;
};

// Called once a process is under way, with its pid and the time its spawn began (before the
// child existed).
using ProcessStarted =
    std::function<void(int pid, std::chrono::system_clock::time_point spawned_at)>;
// A ProcessStarted for callers that record nothing.
inline void IgnoreProcessStart(int, std::chrono::system_clock::time_point) {}

// A process under way, not yet waited for. Wait may be called on another thread than the one that
// started it, once; a process never waited for is killed with its group and reaped.
class StartedProcess {
 public:
  virtual ~StartedProcess() = default;
  // Waits for the process, after calling `on_start` once. On deadline or cancellation the whole
  // process group gets SIGTERM, then SIGKILL after the grace period. A log that cannot be written
  // is an error, once the process has ended.
  virtual Result<ProcessResult> Wait(const ProcessStarted& on_start) = 0;
};

// Runs processes. Implementations must be safe to call from several threads at once.
class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // Spawns the process and returns at once.
  virtual Result<std::unique_ptr<StartedProcess>> Start(const ProcessSpec& spec) = 0;
  // Start, then Wait.
  Result<ProcessResult> Run(const ProcessSpec& spec, const ProcessStarted& on_start);
};

// posix_spawn-based runner with pidfd waits.
ProcessRunner& SystemProcessRunner();

// The argv for a shell task's command: a list as it is, a plain string split on blanks, anything
// else through `/bin/sh -c`.
std::vector<std::string> CommandArgv(const std::string& command);

}  // namespace conveyor::exec
