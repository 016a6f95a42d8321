#include "engine/scheduler/run_plan.h"

#include <utility>

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
  skipped_by_.assign(tis_.size(), -1);
  past_.assign(tis_.size(), Past::kFree);
  for (size_t i = 0; i < tis_.size(); ++i) {
    if (dag.dag.tasks[i].flow.depends_on_past && tis_[i].state == TaskState::kNone) {
      past_[i] = Past::kHeldUnseen;
    }
  }
}

TaskState RunPlan::DecideOrHold(int task) {
  const TaskState decided = Decide(task);
  if (decided != TaskState::kScheduled || past_[task] == Past::kFree) return decided;
  if (past_[task] == Past::kHeldUnseen) {
    past_[task] = Past::kHeld;
    held_on_past_.push_back(task);
  }
  return TaskState::kNone;
}

std::vector<int> RunPlan::TakeHeldOnPast() { return std::exchange(held_on_past_, {}); }

std::vector<std::pair<int, TaskState>> RunPlan::ReleasePast(int task) {
  past_[task] = Past::kFree;
  return SettleFrom({task});
}

void RunPlan::Apply(const FlowDecision& decision) {
  if (decision.skipped.empty()) return;
  reasons_.push_back(decision.reason);
  const int reason = static_cast<int>(reasons_.size()) - 1;
  for (int task : decision.skipped) {
    if (skipped_by_[task] < 0) skipped_by_[task] = reason;
  }
}

void RunPlan::SkipLatestOnly(std::string reason) {
  reasons_.push_back(std::move(reason));
  latest_only_reason_ = static_cast<int>(reasons_.size()) - 1;
}

const std::string& RunPlan::SkipReason(int task) const {
  static const std::string kNone;
  if (skipped_by_[task] >= 0) return reasons_[skipped_by_[task]];
  if (latest_only_reason_ >= 0 && dag_->dag.tasks[task].flow.latest_only) {
    return reasons_[latest_only_reason_];
  }
  return kNone;
}

void RunPlan::SetState(int task, TaskState state) {
  finished_ += (state::IsFinished(state) ? 1 : 0) - (state::IsFinished(tis_[task].state) ? 1 : 0);
  tis_[task].state = state;
}

TaskState RunPlan::Decide(int task) const {
  if (skipped_by_[task] >= 0) return TaskState::kSkipped;
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
      if (latest_only_reason_ >= 0 && dag_->dag.tasks[task].flow.latest_only) {
        return TaskState::kSkipped;
      }
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
    const TaskState next = DecideOrHold(task);
    if (next == TaskState::kNone) continue;
    changed.emplace_back(task, TaskState::kNone);
    SetState(task, next);
  }
  return changed;
}

std::vector<std::pair<int, TaskState>> RunPlan::SettleDownstreamOf(int task) {
  return SettleFrom(
      std::vector<int>(dag_->graph.Downstream(task).begin(), dag_->graph.Downstream(task).end()));
}

std::vector<std::pair<int, TaskState>> RunPlan::SettleFrom(std::vector<int> pending) {
  std::vector<std::pair<int, TaskState>> changed;
  while (!pending.empty()) {
    const int next = pending.back();
    pending.pop_back();
    if (tis_[next].state != TaskState::kNone) continue;
    const TaskState decided = DecideOrHold(next);
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
