#include "engine/state/states.h"

#include "engine/common/enum_names.h"

namespace conveyor::state {
namespace {

constexpr EnumNames<TaskState, 9> kTaskNames = {{
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

constexpr EnumNames<RunState, 4> kRunNames = {{
    {RunState::kQueued, "queued"},
    {RunState::kRunning, "running"},
    {RunState::kSuccess, "success"},
    {RunState::kFailed, "failed"},
}};

using T = TaskState;

// Rows: from; allowed targets. Anything may be cleared back to kNone.
struct Allowed {
  TaskState from;
  std::array<TaskState, 5> to;
  int count;
};
constexpr Allowed kTransitions[] = {
    {T::kNone, {T::kScheduled, T::kUpstreamFailed, T::kSkipped}, 3},
    {T::kScheduled, {T::kQueued, T::kUpstreamFailed, T::kSkipped}, 3},
    // A try that cannot start (a template that does not render) fails from kQueued.
    {T::kQueued, {T::kRunning, T::kScheduled, T::kFailed, T::kUpForRetry}, 4},
    {T::kRunning, {T::kSuccess, T::kFailed, T::kUpForRetry, T::kSkipped, T::kScheduled}, 5},
    {T::kUpForRetry, {T::kScheduled, T::kUpstreamFailed, T::kSkipped}, 3},
};

}  // namespace

std::string_view Name(TaskState state) { return NameOf(kTaskNames, state, "none"); }

std::string_view Name(RunState state) { return NameOf(kRunNames, state, "queued"); }

std::optional<TaskState> ParseTaskState(std::string_view name) { return ValueOf(kTaskNames, name); }

std::optional<RunState> ParseRunState(std::string_view name) { return ValueOf(kRunNames, name); }

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
