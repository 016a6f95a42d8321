#pragma once

// Internal to the DAG file adapter: reading the `tasks:` entries and the keys that tasks share
// with the DAG's default_args.

#include <optional>
#include <string>
#include <vector>

#include "engine/dag/dag.h"
#include "engine/dag/operator_catalog.h"
#include "engine/dag/yaml_reader.h"

namespace conveyor::dag {

// What a task inherits from its DAG.
struct TaskDefaults {
  RetryPolicy retry;
  std::string pool = "default";
  int priority_weight = 1;
  ExecutorKind executor = ExecutorKind::kDefault;
  SlurmOptions slurm;
  std::optional<Resources> resources;
  CachePolicy cache;
  Callbacks callbacks;
  ControlFlow flow;  // depends_on_past, wait_for_downstream and skip_on_exit_code
};

// Reads one of retries, retry_delay, retry_exponential_backoff, max_retry_delay,
// execution_timeout, pool, priority_weight, executor, slurm, resources, cache, on_success,
// on_failure, on_retry, depends_on_past, wait_for_downstream, skip_on_exit_code into `defaults`.
// Returns false when `key` is none of them.
bool ReadSharedTaskKey(YamlReader& reader, const std::string& key, const YAML::Node& value,
                       TaskDefaults& defaults);

// The keys ReadSharedTaskKey reads.
const std::vector<std::string>& SharedTaskKeys();

// Reads on_success, on_failure or on_retry into `callbacks`; false when `key` is none of them.
bool ReadCallbackKey(YamlReader& reader, const std::string& key, const YAML::Node& value,
                     Callbacks& callbacks);

// Reads `[{webhook: URL}, ...]`.
std::vector<Callback> ReadCallbacks(YamlReader& reader, const YAML::Node& node,
                                    const std::string& key);

// Reads one task entry; returns nullopt (with diagnostics recorded) when it is unusable.
std::optional<Task> ReadTask(YamlReader& reader, const YAML::Node& node,
                             const TaskDefaults& defaults, const OperatorCatalog& catalog);

}  // namespace conveyor::dag
