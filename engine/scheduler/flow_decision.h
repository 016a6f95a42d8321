#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/error.h"
#include "engine/graph/dag_bag.h"
#include "engine/store/records.h"

namespace conveyor::scheduler {

// What a branch or short-circuit task decided once it succeeded: the tasks it skips outright,
// whatever their trigger rules (Airflow's SkipMixin). Read from the task's stored outputs, so a
// resumed run makes the same choice rather than a new one.
struct FlowDecision {
  std::vector<int> skipped;  // task indexes
  std::string reason;        // "skipped: branch 'pick' chose train_b"
};

// The output key a branch task writes: the ids of the direct downstream tasks to follow, as a
// JSON list, or one string of ids separated by commas or spaces ("" follows none).
inline constexpr const char* kBranchOutput = "branch";
// The output key of a short-circuit task: false skips downstream.
inline constexpr const char* kConditionOutput = "condition";

// `outputs`: those of `task`, a branch or short-circuit task that succeeded. An error when a
// branch wrote no choice or names a task that is not directly downstream of it.
Result<FlowDecision> DecideFlow(const graph::LoadedDag& dag, int task,
                                const nlohmann::json& outputs);

// Python's truth of a value: false, null, 0, "", "0", "false", "no", "off", "none", "null" (any
// case), [] and {} are false; anything else is true.
bool Truthy(const nlohmann::json& value);

// Why a latest_only task is skipped in `run` at `now`, or nullopt when the run is the latest:
// as Airflow's LatestOnlyOperator, a run is the latest while now lies in the interval after its
// own, (its data interval's end, the next interval's end]. Manual runs, and runs after which
// the schedule has no interval, are never skipped.
std::optional<std::string> NotLatestReason(const dag::Dag& dag, const store::DagRunRecord& run,
                                           Instant now);

}  // namespace conveyor::scheduler
