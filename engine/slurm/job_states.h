#pragma once

#include <map>
#include <string>

namespace conveyor::slurm {

// What conveyor reads of a Slurm job.
struct JobInfo {
  std::string state;      // JobState: PENDING, RUNNING, COMPLETED, FAILED, TIMEOUT, ...
  std::string exit_code;  // ExitCode: "status:signal"
  std::string reason;     // Reason
  std::string node;       // BatchHost: where the batch script runs
};

// Jobs by id from `scontrol show job -o` (one job per line, key=value fields) or from a
// jobcomp/filetxt log, whose lines have the same shape. A later line for a job replaces an
// earlier one (a requeued job is logged once per end).
std::map<std::string, JobInfo> ParseJobLines(const std::string& text);

// States after which a job does no more.
bool IsFinalState(const std::string& state);
// States in which a job's program runs.
bool IsRunningState(const std::string& state);

}  // namespace conveyor::slurm
