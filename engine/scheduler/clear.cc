#include "engine/scheduler/clear.h"

#include <unistd.h>

#include <set>

#include "engine/common/suggest.h"
#include "engine/scheduler/run_driver.h"
#include "engine/store/lease.h"

namespace conveyor::scheduler {

Result<std::vector<std::string>> ClearTasks(store::StateStore& store, const graph::LoadedDag& dag,
                                            const store::DagRunRecord& run,
                                            const std::vector<std::string>& task_ids,
                                            bool downstream, const std::string& who,
                                            store::TimePoint now, bool dry_run) {
  if (!dry_run) {
    auto lease = store.GetLease(run.id);
    if (!lease.ok()) return lease.error();
    const auto stale_before = now - store::kLeaseStaleAfter;
    if (store::WhoHolds(*lease, getpid(), stale_before, &ProcessAlive) ==
        store::LeaseHolder::kOtherLive) {
      return InvalidArgument("run '" + run.run_id + "' is being run by process " +
                             std::to_string((*lease)->pid) + "; clear it once that ends");
    }
  }
  std::set<int> chosen;
  std::vector<std::string> ids;
  for (const auto& task : dag.dag.tasks) ids.push_back(task.id);
  for (const std::string& id : task_ids) {
    const int index = dag.dag.TaskIndex(id);
    if (index < 0) {
      return NotFound("DAG '" + dag.dag.dag_id + "' has no task '" + id + "'" +
                      DidYouMean(id, ids));
    }
    chosen.insert(index);
    if (downstream) {
      for (int d : dag.graph.AllDownstream(index)) chosen.insert(d);
    }
  }
  if (task_ids.empty()) {
    for (int i = 0; i < static_cast<int>(dag.dag.tasks.size()); ++i) chosen.insert(i);
  }
  auto tis = store.ListTaskInstances(run.id);
  if (!tis.ok()) return tis.error();
  store::WriteBatch batch;
  std::vector<std::string> cleared;
  for (store::TaskInstanceRecord ti : *tis) {
    const int index = dag.dag.TaskIndex(ti.task_id);
    if (index < 0 || !chosen.count(index)) continue;
    const state::TaskState from = ti.state;
    ti.state = state::TaskState::kNone;
    ti.max_tries = ti.try_number + dag.dag.tasks[index].retry.retries + 1;
    ti.end_date.reset();
    ti.next_try_at.reset();
    ti.pid.reset();
    ti.note.clear();
    batch.PutTaskInstance(ti, from, who, "cleared");
    cleared.push_back(ti.task_id);
  }
  if (dry_run) return cleared;
  store::DagRunRecord queued = run;
  queued.state = state::RunState::kQueued;
  queued.end_date.reset();
  batch.PutRun(queued, run.state, who);
  if (Status s = store.Commit(batch); !s.ok()) return s.error();
  return cleared;
}

}  // namespace conveyor::scheduler
