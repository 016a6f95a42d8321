#include "engine/state/states.h"

#include <array>
#include <utility>

namespace conveyor::state {
namespace {

constexpr std::array<std::pair<TaskState, std::string_view>, 9> kTaskNames = {{
    {TaskState::kNone, "none"},
    {TaskState::kScheduled, "scheduled"},
    {TaskState::kQueued, "queued"},
    {TaskState::kRunning, "running"},
    {TaskState::kSuccess, "success"},
    {TaskState::kFailed, "failed"},
    {TaskState::kUpForRetry, "up_for_retry"},
    {TaskState::kUpstreamFailed, "upstream_failed"},
    {TaskState::kSkipped, "skipped"},
}};

constexpr std::array<std::pair<RunState, std::string_view>, 4> kRunNames = {{
    {RunState::kQueued, "queued"},
    {RunState::kRunning, "running"},
    {RunState::kSuccess, "success"},
    {RunState::kFailed, "failed"},
}};

using T = TaskState;

// Rows: from; allowed targets. Anything may be cleared back to kNone.
struct Allowed {
  TaskState from;
  std::array<TaskState, 4> to;
  int count;
};
constexpr Allowed kTransitions[] = {
    {T::kNone, {T::kScheduled, T::kUpstreamFailed, T::kSkipped}, 3},
    {T::kScheduled, {T::kQueued, T::kUpstreamFailed, T::kSkipped}, 3},
    {T::kQueued, {T::kRunning, T::kScheduled, T::kFailed}, 3},
    {T::kRunning, {T::kSuccess, T::kFailed, T::kUpForRetry, T::kScheduled}, 4},
    {T::kUpForRetry, {T::kScheduled, T::kUpstreamFailed, T::kSkipped}, 3},
};

}  // namespace

std::string_view Name(TaskState state) {
  for (const auto& [value, name] : kTaskNames) {
    if (value == state) return name;
  }
  return "none";
}

std::string_view Name(RunState state) {
  for (const auto& [value, name] : kRunNames) {
    if (value == state) return name;
  }
  return "queued";
}

std::optional<TaskState> ParseTaskState(std::string_view name) {
  for (const auto& [value, spelled] : kTaskNames) {
    if (spelled == name) return value;
  }
  return std::nullopt;
}

std::optional<RunState> ParseRunState(std::string_view name) {
  for (const auto& [value, spelled] : kRunNames) {
    if (spelled == name) return value;
  }
  return std::nullopt;
}

bool IsFinished(TaskState state) {
  return state == T::kSuccess || state == T::kFailed || state == T::kUpstreamFailed ||
         state == T::kSkipped;
}

bool IsFailure(TaskState state) { return state == T::kFailed || state == T::kUpstreamFailed; }

bool CanTransition(TaskState from, TaskState to) {
  if (to == T::kNone) return true;
  for (const Allowed& row : kTransitions) {
    if (row.from != from) continue;
    for (int i = 0; i < row.count; ++i) {
      if (row.to[i] == to) return true;
    }
  }
  return false;
}

}  // namespace conveyor::state
