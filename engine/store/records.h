#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/clock.h"
#include "engine/common/time_format.h"
#include "engine/state/states.h"

namespace conveyor::store {

using RunKey = std::int64_t;
using TimePoint = PreciseInstant;

// A DAG run as stored. `id` is the database key; (dag_id, run_id) is unique.
struct DagRunRecord {
  RunKey id = 0;
  std::string dag_id;
  std::string run_id;
  std::string run_type;  // "manual", "scheduled", "backfill"
  std::optional<Instant> logical_date;
  std::optional<Instant> data_interval_start;
  std::optional<Instant> data_interval_end;
  nlohmann::json conf = nlohmann::json::object();
  state::RunState state = state::RunState::kQueued;
  std::optional<TimePoint> queued_at;
  std::optional<TimePoint> start_date;
  std::optional<TimePoint> end_date;
  // Triggered with --no-cache: its tasks run even when a cached try matches (and still write
  // the cache).
  bool no_cache = false;
};

// A task instance as stored: one row per task of a run, holding its latest try.
struct TaskInstanceRecord {
  RunKey run = 0;
  std::string task_id;
  state::TaskState state = state::TaskState::kNone;
  int try_number = 0;  // the latest try; 0 before the first
  int max_tries = 1;
  std::optional<TimePoint> start_date;
  std::optional<TimePoint> end_date;
  std::optional<TimePoint> next_try_at;  // when up_for_retry becomes schedulable
  std::string hostname;
  std::optional<int> pid;
  std::string operator_name;
  std::string pool = "default";
  int priority_weight = 1;
  // The try's job outside conveyor, "slurm:<job id>"; empty for tries of the local workers.
  std::string external_executor_id;
  // Why the scheduler put it in its state, when that is not plain: "skipped: branch 'pick'
  // chose a", "waiting for d/2026-12-01/train". Empty otherwise.
  std::string note;
  // The try a cached task instance reused instead of running, "DAG/RUN/TASK/try N"; empty
  // otherwise.
  std::string cached_from;
  // Where the row is (its rowid) when it was read from the database, 0 otherwise: a write goes
  // straight to it, and still checks that it holds this run's task.
  std::int64_t row = 0;
};

// A run to create, with its task instances.
struct NewRun {
  DagRunRecord run;
  std::vector<TaskInstanceRecord> tasks;
};

// One try of a task instance, with its log file and, when conveyor's own death cut it short, a
// note saying so.
struct TryRecord {
  RunKey run = 0;
  std::string task_id;
  int try_number = 0;
  state::TaskState state = state::TaskState::kRunning;
  std::optional<TimePoint> start_date;
  std::optional<TimePoint> end_date;
  std::optional<int> pid;
  std::string log_path;
  std::string note;
};

// A DAG as the database knows it: whether it is paused, and how its file last parsed. A row
// exists once `serve` has seen the DAG or someone paused or unpaused it.
struct DagRecord {
  std::string dag_id;
  bool is_paused = false;
  std::string fileloc;
  std::string import_error;  // empty when the file loads
  std::optional<TimePoint> last_parsed_at;
};

// One entry of the event log: a task instance's (or, without task_id, a run's) change of state.
struct EventRecord {
  std::int64_t id = 0;
  TimePoint at;
  RunKey run = 0;
  std::string task_id;  // empty for the run itself
  int try_number = 0;
  std::string from_state;  // empty when there was none
  std::string to_state;
  std::string who;
  std::string note;
};

// A cached result (a task's `cache:`): the successful try that wrote `key`, with its outputs.
struct CachedTry {
  std::string key;
  std::string dag_id;
  std::string run_id;
  std::string task_id;
  int try_number = 0;
  nlohmann::json outputs = nlohmann::json::object();
  TimePoint created_at;

  // "DAG/RUN/TASK/try N".
  std::string Name() const {
    return dag_id + "/" + run_id + "/" + task_id + "/try " + std::to_string(try_number);
  }
};

// The lease that says which process runs a run.
struct RunLease {
  int pid = 0;
  TimePoint heartbeat;
};

}  // namespace conveyor::store
