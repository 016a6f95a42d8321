#include "engine/scheduler/backfill.h"

#include "engine/scheduler/clear.h"
#include "engine/scheduler/run_factory.h"

namespace conveyor::scheduler {

Result<std::vector<BackfillItem>> PlanBackfill(store::RunStore& store, const graph::LoadedDag& dag,
                                               Instant from, Instant to, bool rerun_failed) {
  std::vector<BackfillItem> plan;
  for (const cron::DataInterval& interval : dag.dag.timetable.IntervalsStartingIn(from, to)) {
    BackfillItem item;
    item.interval = interval;
    auto existing = store.FindRunsAt(dag.dag.dag_id, interval.start);
    if (!existing.ok()) return existing.error();
    // A scheduled or backfill run owns the interval; a manual run at the same instant does not.
    for (const store::DagRunRecord& run : *existing) {
      if (run.run_type != "manual") item.existing = run;
    }
    if (item.existing) {
      switch (item.existing->state) {
        case state::RunState::kSuccess:
          item.action = BackfillItem::Action::kSkipSucceeded;
          break;
        case state::RunState::kFailed:
          item.action =
              rerun_failed ? BackfillItem::Action::kRerunFailed : BackfillItem::Action::kSkipFailed;
          break;
        default:
          item.action = BackfillItem::Action::kWait;
      }
    }
    plan.push_back(std::move(item));
  }
  return plan;
}

Result<std::vector<store::DagRunRecord>> ApplyBackfill(store::StateStore& store,
                                                       const graph::LoadedDag& dag,
                                                       const std::vector<BackfillItem>& plan,
                                                       Instant now, const std::string& who,
                                                       bool no_cache) {
  std::vector<store::DagRunRecord> runs;
  for (const BackfillItem& item : plan) {
    switch (item.action) {
      case BackfillItem::Action::kSkipSucceeded:
      case BackfillItem::Action::kSkipFailed:
        break;
      case BackfillItem::Action::kWait:
        runs.push_back(*item.existing);
        break;
      case BackfillItem::Action::kRerunFailed: {
        auto tis = store.ListTaskInstances(item.existing->id);
        if (!tis.ok()) return tis.error();
        std::vector<std::string> failed;
        for (const auto& ti : *tis) {
          if (state::IsFailure(ti.state)) failed.push_back(ti.task_id);
        }
        auto cleared = ClearTasks(store, dag, *item.existing, failed, false, who, now);
        if (!cleared.ok()) return cleared.error();
        runs.push_back(*item.existing);
        break;
      }
      case BackfillItem::Action::kCreate: {
        RunRequest request;
        request.run_type = "backfill";
        request.no_cache = no_cache;
        request.logical_date = item.interval.start;
        request.interval = item.interval;
        auto run = CreateRun(store, dag, request, now);
        if (run.ok()) {
          runs.push_back(*run);
        } else if (run.error().code == ErrorCode::kAlreadyExists) {
          // The scheduler made this interval's run meanwhile: see that one through.
          auto existing = store.FindRunsAt(dag.dag.dag_id, item.interval.start);
          if (!existing.ok()) return existing.error();
          for (const auto& other : *existing) {
            if (other.run_type != "manual") runs.push_back(other);
          }
        } else {
          return run.error();
        }
        break;
      }
    }
  }
  return runs;
}

Result<std::pair<Instant, Instant>> BackfillRange(const dag::Dag& dag,
                                                  const std::string& start_date,
                                                  const std::string& end_date) {
  const cron::TimeZone& zone = dag.timetable.schedule().zone();
  auto start = ParseDateTime(start_date);
  if (!start.ok()) return start.error().Prefixed("--start-date");
  auto end = ParseDateTime(end_date);
  if (!end.ok()) return end.error().Prefixed("--end-date");
  if (end->date_only) end->local += std::chrono::days(1);  // the whole end date
  const Instant from = zone.Resolve(*start);
  const Instant to = zone.Resolve(*end);
  if (to <= from) {
    return InvalidArgument("--end-date " + end_date + " is before --start-date " + start_date);
  }
  return std::make_pair(from, to);
}

}  // namespace conveyor::scheduler
