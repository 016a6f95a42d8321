#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/dag/resources.h"

namespace conveyor {

// Where a task's tries run: in conveyor's own worker pool, or as Slurm batch jobs.
enum class ExecutorKind { kDefault, kLocal, kSlurm };  // kDefault: the config's `executor`

// "local" or "slurm"; nullopt for anything else.
std::optional<ExecutorKind> ParseExecutorKind(const std::string& text);
const char* ExecutorName(ExecutorKind kind);

// sbatch options of a task that runs on Slurm. Unset ones fall back to the DAG's default_args,
// then to the config's `slurm:` section, then to Slurm's own defaults.
struct SlurmOptions {
  std::optional<std::string> partition;
  std::optional<int> cpus;              // --cpus-per-task
  std::optional<std::string> mem;       // --mem, e.g. 4G
  std::optional<std::string> gres;      // --gres, e.g. gpu:1
  std::optional<std::string> time;      // --time, Slurm's format, e.g. 30 or 1:00:00
  std::optional<std::string> account;   // --account
  std::optional<std::string> qos;       // --qos
  std::vector<std::string> extra_args;  // passed to sbatch as they are

  bool operator==(const SlurmOptions&) const = default;

  // The options of `over` replace these where set; extra_args are appended.
  void MergeFrom(const SlurmOptions& over);
};

// `options` with what `resources` asks for where they leave it unset: --cpus-per-task (whole
// CPUs, rounded up), --mem (in MiB, rounded up) and --gres=gpu:N. Explicit options win.
SlurmOptions WithResources(SlurmOptions options, const dag::Resources& resources);

// The keys of a `slurm:` mapping in a DAG file.
const std::vector<std::string>& SlurmOptionKeys();

// Sets one option from its YAML text; returns the error message when the value is invalid.
// `extra_args` takes its values through SetSlurmExtraArgs.
std::optional<std::string> SetSlurmOption(SlurmOptions& options, const std::string& key,
                                          const std::string& text);
std::optional<std::string> SetSlurmExtraArgs(SlurmOptions& options,
                                             const std::vector<std::string>& args);

}  // namespace conveyor
