#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/graph/dag_bag.h"
#include "engine/scheduler/flow_decision.h"
#include "engine/store/records.h"

namespace conveyor::scheduler {

// The in-memory state of one run: its task instances, indexed like the DAG's tasks, and the
// decisions that follow from their upstream states. Pure: no I/O, no clock.
class RunPlan {
 public:
  // `tis` may come in any order; tasks without a record start as kNone.
  RunPlan(const graph::LoadedDag& dag, store::RunKey run,
          const std::vector<store::TaskInstanceRecord>& tis);

  const graph::LoadedDag& dag() const { return *dag_; }
  int size() const { return static_cast<int>(tis_.size()); }
  // Mutable except for `state`, which changes only through SetState.
  store::TaskInstanceRecord& ti(int task) { return tis_[task]; }
  const store::TaskInstanceRecord& ti(int task) const { return tis_[task]; }
  void SetState(int task, state::TaskState state);
  // The task's place in the DAG's topological order (ties broken in file order).
  int Position(int task) const { return position_[task]; }
  int IndexOf(const std::string& task_id) const { return dag_->dag.TaskIndex(task_id); }

  // Moves every waiting (kNone) task whose upstream states decide it to kScheduled, kSkipped or
  // kUpstreamFailed, cascading downstream. Returns the tasks changed, with their previous state.
  std::vector<std::pair<int, state::TaskState>> Settle();
  // The same, looking only at what a change of `task` can decide: its downstream, cascading.
  std::vector<std::pair<int, state::TaskState>> SettleDownstreamOf(int task);

  // depends_on_past: a task its trigger rule would let run is held, waiting (kNone), until the
  // caller finds the run before done with it and releases it. The tasks held since the last call.
  std::vector<int> TakeHeldOnPast();
  // Lets `task` run as its upstream states decide; settles it, and what follows, now.
  std::vector<std::pair<int, state::TaskState>> ReleasePast(int task);

  // Tasks a branch or short-circuit task decided to skip are skipped when they come to be
  // decided, whatever their trigger rules; a task already decided keeps its state.
  void Apply(const FlowDecision& decision);
  // A latest_only task in a run that is not the latest is skipped, with `reason`.
  void SkipLatestOnly(std::string reason);
  // Why a decision skipped `task`, or "" when none did.
  const std::string& SkipReason(int task) const;

  // True when every task instance is finished (success, failed, upstream_failed, skipped).
  bool Finished() const { return finished_ == size(); }
  // The run's outcome by Airflow's leaf rule: failed if any leaf failed or upstream_failed.
  state::RunState Outcome() const;

 private:
  // What `task`'s trigger rule decides now, or kNone to keep waiting.
  state::TaskState Decide(int task) const;
  // Decide, holding a task that depends on the past instead of scheduling it.
  state::TaskState DecideOrHold(int task);
  // Settles the waiting tasks of `pending` and, for each one finished, its downstream.
  std::vector<std::pair<int, state::TaskState>> SettleFrom(std::vector<int> pending);

  const graph::LoadedDag* dag_;
  std::vector<store::TaskInstanceRecord> tis_;
  std::vector<int> position_;
  int finished_ = 0;
  enum class Past : char { kFree, kHeldUnseen, kHeld };
  std::vector<Past> past_;            // per task
  std::vector<int> held_on_past_;     // held since TakeHeldOnPast
  std::vector<int> skipped_by_;       // per task: index in reasons_, or -1
  std::vector<std::string> reasons_;  // of the decisions applied
  int latest_only_reason_ = -1;       // index in reasons_ when the run is not the latest
};

}  // namespace conveyor::scheduler
