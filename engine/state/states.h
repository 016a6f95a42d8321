#pragma once

#include <optional>
#include <string_view>

namespace conveyor::state {

// A task instance's state (Airflow's names). kNone: waiting for its upstream tasks.
enum class TaskState {
  kNone,
  kScheduled,
  kQueued,
  kRunning,
  kSuccess,
  kFailed,
  kUpForRetry,
  kUpstreamFailed,
  kSkipped,
};

// A DAG run's state.
enum class RunState { kQueued, kRunning, kSuccess, kFailed };

// Stable spellings, as stored in the database and shown by the API ("none" is stored as NULL
// and shown as null).
std::string_view Name(TaskState state);
std::string_view Name(RunState state);
std::optional<TaskState> ParseTaskState(std::string_view name);
std::optional<RunState> ParseRunState(std::string_view name);

// success, failed, upstream_failed, skipped.
bool IsFinished(TaskState state);
// failed or upstream_failed: what makes a leaf fail its run.
bool IsFailure(TaskState state);

// Whether the scheduler may move a task instance from `from` to `to`. Clearing (anything back to
// kNone) and crash recovery (kQueued/kRunning back to kScheduled) are allowed explicitly.
bool CanTransition(TaskState from, TaskState to);

}  // namespace conveyor::state
