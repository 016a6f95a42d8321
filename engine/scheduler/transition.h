#pragma once

#include <optional>
#include <string>

#include "engine/common/time_format.h"
#include "engine/state/states.h"

namespace conveyor::scheduler {

// One task instance's change of state, as the run loop reports it once committed.
struct Transition {
  std::string dag_id;
  std::string run_id;
  std::string task_id;
  int try_number = 0;
  state::TaskState from = state::TaskState::kNone;
  state::TaskState to = state::TaskState::kNone;
  std::string message;
  std::optional<Instant> logical_date;
  std::optional<double> duration_seconds;  // of the try, when it ended
};

}  // namespace conveyor::scheduler
