#include "engine/scheduler/run_plan.h"

#include "engine/scheduler/trigger_rules.h"

namespace conveyor::scheduler {

using state::TaskState;

RunPlan::RunPlan(const graph::LoadedDag& dag, store::RunKey run,
                 const std::vector<store::TaskInstanceRecord>& tis)
    : dag_(&dag), tis_(dag.dag.tasks.size()) {
  for (size_t i = 0; i < tis_.size(); ++i) {
    const dag::Task& task = dag.dag.tasks[i];
    tis_[i].run = run;
    tis_[i].task_id = task.id;
    tis_[i].operator_name = task.operator_name;
    tis_[i].pool = task.pool;
    tis_[i].priority_weight = task.priority_weight;
    tis_[i].max_tries = task.retry.retries + 1;
  }
  for (const auto& ti : tis) {
    const int index = dag.dag.TaskIndex(ti.task_id);
    if (index >= 0) tis_[index] = ti;
  }
}

std::vector<std::pair<int, TaskState>> RunPlan::Settle() {
  std::vector<std::pair<int, TaskState>> changed;
  const graph::TaskGraph& graph = dag_->graph;
  // Topological order settles a whole cascade in one pass.
  for (int task : graph.TopologicalOrder()) {
    if (tis_[task].state != TaskState::kNone) continue;
    UpstreamCounts counts;
    for (int up : graph.Upstream(task)) {
      ++counts.total;
      switch (tis_[up].state) {
        case TaskState::kSuccess:
          ++counts.success;
          break;
        case TaskState::kFailed:
          ++counts.failed;
          break;
        case TaskState::kUpstreamFailed:
          ++counts.upstream_failed;
          break;
        case TaskState::kSkipped:
          ++counts.skipped;
          break;
        default:
          break;
      }
    }
    TaskState next = TaskState::kNone;
    switch (Evaluate(dag_->dag.tasks[task].trigger_rule, counts)) {
      case Readiness::kRun:
        next = TaskState::kScheduled;
        break;
      case Readiness::kSkip:
        next = TaskState::kSkipped;
        break;
      case Readiness::kUpstreamFailed:
        next = TaskState::kUpstreamFailed;
        break;
      case Readiness::kWait:
        continue;
    }
    changed.emplace_back(task, TaskState::kNone);
    tis_[task].state = next;
  }
  return changed;
}

bool RunPlan::Finished() const {
  for (const auto& ti : tis_) {
    if (!state::IsFinished(ti.state)) return false;
  }
  return true;
}

state::RunState RunPlan::Outcome() const {
  for (int leaf : dag_->graph.Leaves()) {
    if (state::IsFailure(tis_[leaf].state)) return state::RunState::kFailed;
  }
  return state::RunState::kSuccess;
}

}  // namespace conveyor::scheduler
