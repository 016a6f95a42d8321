#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/duration.h"
#include "engine/common/error.h"
#include "engine/cron/timetable.h"
#include "engine/dag/resources.h"
#include "engine/dag/slurm_options.h"
#include "engine/dag/trigger_rule.h"

namespace conveyor::dag {

// Retries and time limits of a task; DAG-wide defaults come from default_args.
struct RetryPolicy {
  int retries = 0;
  Duration retry_delay = std::chrono::minutes(5);  // Airflow's default
  bool retry_exponential_backoff = false;
  std::optional<Duration> max_retry_delay;
  std::optional<Duration> execution_timeout;

  bool operator==(const RetryPolicy&) const = default;
};

// Whether a task's successful try is reused instead of running again when its inputs are the
// same (`cache:`), and what refines the key.
struct CachePolicy {
  bool enabled = false;
  std::string version;                 // part of the key: bump it to invalidate
  std::optional<Duration> ttl;         // a cached try older than this is not reused
  std::vector<std::string> key_extra;  // templates rendered into the key, e.g. "{{ ds }}"

  bool operator==(const CachePolicy&) const = default;
};

// A webhook called when a run or task fails, succeeds or is retried.
struct Callback {
  std::string webhook;

  bool operator==(const Callback&) const = default;
};

struct Callbacks {
  std::vector<Callback> on_success;
  std::vector<Callback> on_failure;
  std::vector<Callback> on_retry;

  bool operator==(const Callbacks&) const = default;
};

// A reference from a task's template to an upstream task's output: {{ outputs.TASK.KEY }}.
struct OutputReference {
  std::string task_id;
  std::string key;
  Location location;

  bool operator==(const OutputReference&) const = default;
};

// How a task steers the tasks after it (Airflow's names).
struct ControlFlow {
  // A shell task that exits with one of these ends skipped (BashOperator's skip_on_exit_code).
  std::vector<int> skip_on_exit_code = {99};
  // Its output `branch` names the direct downstream tasks to follow; the others are skipped.
  bool branch = false;
  // Exit with a skip code (or, for operator short_circuit, a false condition) skips downstream
  // while the task itself succeeds.
  bool short_circuit = false;
  // With short_circuit: true skips every downstream task; false only the direct ones, the rest
  // following their trigger rules.
  bool ignore_downstream_trigger_rules = true;
  // Waits until the same task in the run before (by logical date) succeeded or was skipped.
  bool depends_on_past = false;
  // depends_on_past, and also that task's direct downstream tasks.
  bool wait_for_downstream = false;
  // Skipped in every run that is not the latest scheduled interval.
  bool latest_only = false;

  bool operator==(const ControlFlow&) const = default;
};

struct Task {
  std::string id;     // "GROUP.NAME" for a task of a group
  std::string group;  // the task group it belongs to, or empty
  std::string operator_name;
  std::string description;
  std::vector<std::string> depends_on;
  TriggerRule trigger_rule = TriggerRule::kAllSuccess;
  nlohmann::json args = nlohmann::json::object();
  // A string run by /bin/sh (or exec'd directly when it has no shell syntax), or a list of
  // strings exec'd as argv. Absent for operators that take no command.
  std::optional<nlohmann::json> command;
  std::map<std::string, std::string> env;
  std::string pool = "default";
  int priority_weight = 1;
  ExecutorKind executor = ExecutorKind::kDefault;
  SlurmOptions slurm;  // when it runs on Slurm; the config's defaults apply under these
  // What each try holds while it runs; absent, it reserves nothing. Locally a try starts only
  // when they are free; on Slurm they become sbatch flags under the explicit `slurm:` ones.
  std::optional<Resources> resources;
  CachePolicy cache;
  RetryPolicy retry;
  Callbacks callbacks;
  ControlFlow flow;
  std::vector<OutputReference> output_references;
  bool has_templates = false;  // some string in command, env or args holds "{{"
  Location location;           // of the task's entry in the file

  bool operator==(const Task&) const = default;
};

// A named group of tasks (Airflow's TaskGroup). Its tasks' ids are "GROUP.NAME"; a dependency
// on the group is one on its last tasks (those no other task of the group depends on), and the
// group's own depends_on are its first tasks'.
struct TaskGroup {
  std::string id;
  std::string description;
  std::vector<std::string> depends_on;  // as written: task or group ids
  Location location;

  bool operator==(const TaskGroup&) const = default;
};

// Airflow 3.1's DeadlineAlert: a run not finished `after` its reference time has missed its
// deadline, and the callbacks are called once.
struct Deadline {
  enum class Reference { kLogicalDate, kQueued, kStart };
  Duration after{};
  Reference reference = Reference::kLogicalDate;
  std::vector<Callback> on_miss;

  bool operator==(const Deadline&) const = default;
};

// A validated DAG as read from one YAML file.
struct Dag {
  std::string dag_id;
  std::string description;
  std::string file;
  std::string timezone = "UTC";
  cron::Timetable timetable;
  bool catchup = false;
  int max_active_runs = 16;
  int max_active_tasks = 16;
  std::vector<std::string> tags;
  nlohmann::json params = nlohmann::json::object();
  RetryPolicy default_retry;
  Callbacks callbacks;  // about the run as a whole; tasks have their own
  std::optional<Deadline> deadline;
  std::vector<Task> tasks;
  std::vector<TaskGroup> groups;

  // Index of a task in `tasks`, or -1. O(log n) once IndexTasks has run, else a scan.
  int TaskIndex(std::string_view task_id) const;
  // (Re)builds the index TaskIndex uses; call after changing `tasks`.
  void IndexTasks();

 private:
  std::map<std::string, int, std::less<>> task_index_;
};

}  // namespace conveyor::dag
