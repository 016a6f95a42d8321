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
  position_.resize(tis_.size());
  const auto& order = dag.graph.TopologicalOrder();
  for (size_t i = 0; i < order.size(); ++i) position_[order[i]] = static_cast<int>(i);
  for (const auto& ti : tis_) finished_ += state::IsFinished(ti.state) ? 1 : 0;
}

void RunPlan::SetState(int task, TaskState state) {
  finished_ += (state::IsFinished(state) ? 1 : 0) - (state::IsFinished(tis_[task].state) ? 1 : 0);
  tis_[task].state = state;
}

TaskState RunPlan::Decide(int task) const {
  UpstreamCounts counts;
  for (int up : dag_->graph.Upstream(task)) {
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
  switch (Evaluate(dag_->dag.tasks[task].trigger_rule, counts)) {
    case Readiness::kRun:
      return TaskState::kScheduled;
    case Readiness::kSkip:
      return TaskState::kSkipped;
    case Readiness::kUpstreamFailed:
      return TaskState::kUpstreamFailed;
    case Readiness::kWait:
      break;
  }
  return TaskState::kNone;
}

std::vector<std::pair<int, TaskState>> RunPlan::Settle() {
  std::vector<std::pair<int, TaskState>> changed;
  // Topological order settles a whole cascade in one pass.
  for (int task : dag_->graph.TopologicalOrder()) {
    if (tis_[task].state != TaskState::kNone) continue;
    const TaskState next = Decide(task);
    if (next == TaskState::kNone) continue;
    changed.emplace_back(task, TaskState::kNone);
    SetState(task, next);
  }
  return changed;
}

std::vector<std::pair<int, TaskState>> RunPlan::SettleDownstreamOf(int task) {
  std::vector<std::pair<int, TaskState>> changed;
  std::vector<int> pending(dag_->graph.Downstream(task).begin(),
                           dag_->graph.Downstream(task).end());
  while (!pending.empty()) {
    const int next = pending.back();
    pending.pop_back();
    if (tis_[next].state != TaskState::kNone) continue;
    const TaskState decided = Decide(next);
    if (decided == TaskState::kNone) continue;
    changed.emplace_back(next, TaskState::kNone);
    SetState(next, decided);
    if (state::IsFinished(decided)) {
      for (int down : dag_->graph.Downstream(next)) pending.push_back(down);
    }
  }
  return changed;
}

state::RunState RunPlan::Outcome() const {
  for (int leaf : dag_->graph.Leaves()) {
    if (state::IsFailure(tis_[leaf].state)) return state::RunState::kFailed;
  }
  return state::RunState::kSuccess;
}

}  // namespace conveyor::scheduler
