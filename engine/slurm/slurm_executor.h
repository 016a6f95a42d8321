#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "engine/dag/slurm_options.h"
#include "engine/exec/executor.h"

namespace conveyor::slurm {

// The config's `slurm:` section.
struct SlurmSettings {
  SlurmOptions defaults;  // under every task's own options
  // How often the jobs' states are read, in one scontrol call for all of them.
  std::chrono::milliseconds poll_interval{200};
  std::string conveyor_binary;  // what jobs run for `tasks run-try`; default: this binary
  std::string jobcomp_file;     // Slurm's jobcomp/filetxt log: the end of jobs Slurm purged
  int max_jobs = 512;           // tries out on Slurm at once
  std::string sbatch = "sbatch";
  std::string scontrol = "scontrol";
  std::string scancel = "scancel";
};

// Runs each try as a Slurm batch job that executes `conveyor tasks run-try` on a compute node.
// The job reads its launch file and writes its result file beside the try's log, so the log
// folder must be on a filesystem the nodes share; the state database is never opened there.
// One thread submits jobs and follows them (an event, not a poll, wakes it for submissions).
std::unique_ptr<exec::Executor> MakeSlurmExecutor(SlurmSettings settings, const Clock& clock,
                                                  std::function<void(exec::TaskEvent)> notify);

// Files of a try beside its log: "<log without .log><suffix>".
std::string TrySibling(const std::string& log_path, const std::string& suffix);

}  // namespace conveyor::slurm
