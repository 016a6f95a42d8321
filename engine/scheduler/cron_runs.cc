#include "engine/scheduler/cron_runs.h"

#include "engine/scheduler/run_factory.h"

namespace conveyor::scheduler {
namespace {

// The oldest interval that may be due: with catchup the one after the latest run (or the first
// from start_date); without, the latest that has ended, if newer than the latest run.
std::optional<cron::DataInterval> FirstCandidate(const dag::Dag& dag,
                                                 std::optional<Instant> latest_automated,
                                                 Instant now) {
  const cron::Timetable& timetable = dag.timetable;
  if (dag.catchup && (latest_automated || timetable.start_date())) {
    return latest_automated
               ? timetable.IntervalStartingAtOrAfter(*latest_automated + std::chrono::seconds(1))
               : timetable.IntervalStartingAtOrAfter(*timetable.start_date());
  }
  const auto end = timetable.schedule().Previous(now + std::chrono::seconds(1));
  if (!end) return std::nullopt;
  const auto start = timetable.schedule().Previous(*end);
  if (!start) return std::nullopt;
  auto interval = timetable.IntervalStartingAtOrAfter(*start);
  if (interval && latest_automated && interval->start <= *latest_automated) return std::nullopt;
  return interval;
}

}  // namespace

DueIntervals ComputeDueIntervals(const dag::Dag& dag, std::optional<Instant> latest_automated,
                                 Instant now, int limit) {
  const cron::Timetable& timetable = dag.timetable;
  const cron::Schedule& schedule = timetable.schedule();
  DueIntervals out;
  if (schedule.kind() == cron::Schedule::Kind::kNone) return out;
  if (schedule.kind() == cron::Schedule::Kind::kOnce) {
    const auto& start = timetable.start_date();
    if (latest_automated || !start) return out;
    if (*start > now) {
      out.next_due = *start;
    } else if (limit > 0) {
      out.due.push_back({*start, *start});
    }
    return out;
  }
  if (const auto upcoming = timetable.Upcoming(now, 1); !upcoming.empty()) {
    out.next_due = upcoming.front().end;
  }
  for (auto interval = FirstCandidate(dag, latest_automated, now);
       interval && interval->end <= now && static_cast<int>(out.due.size()) < limit;
       interval = timetable.IntervalStartingAtOrAfter(interval->end)) {
    out.due.push_back(*interval);
  }
  return out;
}

const DueIntervals& DueIntervalsMemo::Get(const dag::Dag& dag,
                                          std::optional<Instant> latest_automated, Instant now,
                                          int limit) {
  const cron::Timetable& timetable = dag.timetable;
  Key key{timetable.schedule().text(),
          timetable.schedule().zone().name(),
          timetable.start_date(),
          timetable.end_date(),
          dag.catchup,
          latest_automated,
          now,
          limit};
  auto it = answers_.find(key);
  if (it == answers_.end()) {
    it = answers_.emplace(std::move(key), ComputeDueIntervals(dag, latest_automated, now, limit))
             .first;
  }
  return it->second;
}

Result<CronPlan> PlanDueRuns(store::RunStore& store, const graph::LoadedDag& dag, Instant now,
                             int limit, std::optional<std::optional<Instant>> latest_automated,
                             DueIntervalsMemo* memo) {
  if (!latest_automated) {
    auto latest = store.LatestAutomatedRun(dag.dag.dag_id);
    if (!latest.ok()) return latest.error();
    latest_automated = *latest;
  }
  const DueIntervals due = memo != nullptr
                               ? memo->Get(dag.dag, *latest_automated, now, limit)
                               : ComputeDueIntervals(dag.dag, *latest_automated, now, limit);
  CronPlan plan;
  plan.next_due = due.next_due;
  for (const cron::DataInterval& interval : due.due) {
    RunRequest request;
    request.run_type = "scheduled";
    request.logical_date = interval.start;
    request.interval = interval;
    auto run = BuildRun(dag, request, now);
    if (!run.ok()) return run.error();
    plan.runs.push_back(std::move(run).value());
  }
  return plan;
}

Result<CronRound> CreateDueRuns(store::RunStore& store, const graph::LoadedDag& dag, Instant now,
                                int limit) {
  auto plan = PlanDueRuns(store, dag, now, limit);
  if (!plan.ok()) return plan.error();
  CronRound round;
  round.next_due = plan->next_due;
  for (const store::NewRun& run : plan->runs) {
    auto key = store.CreateRun(run.run, run.tasks);
    if (key.ok()) {
      round.created.push_back(run.run);
      round.created.back().id = *key;
    } else if (key.error().code != ErrorCode::kAlreadyExists) {
      return key.error();
    }
  }
  return round;
}

}  // namespace conveyor::scheduler
