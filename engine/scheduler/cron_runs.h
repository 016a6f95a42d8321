#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/error.h"
#include "engine/cron/timetable.h"
#include "engine/graph/dag_bag.h"
#include "engine/store/run_store.h"

namespace conveyor::scheduler {

// What the schedule asks for at `now`, given the latest scheduled or backfill run.
struct DueIntervals {
  // Intervals that have ended and have no run yet, oldest first (Airflow's semantics: the run
  // for [start, end) is due at `end`). With catchup every missed one; without, only the latest.
  std::vector<cron::DataInterval> due;
  // When the next interval ends, if one ever does.
  std::optional<Instant> next_due;
};

// `limit` caps `due` (the runs a DAG may still have active); the rest follow in later rounds.
DueIntervals ComputeDueIntervals(const dag::Dag& dag, std::optional<Instant> latest_automated,
                                 Instant now, int limit);

// ComputeDueIntervals' answers within one round (one `now`): DAGs with the same timetable and the
// same latest run get the same intervals, and many DAGs share a schedule.
class DueIntervalsMemo {
 public:
  const DueIntervals& Get(const dag::Dag& dag, std::optional<Instant> latest_automated, Instant now,
                          int limit);

 private:
  struct Key {
    std::string schedule;
    std::string zone;
    std::optional<Instant> start_date;
    std::optional<Instant> end_date;
    bool catchup;
    std::optional<Instant> latest_automated;
    Instant now;
    int limit;
    auto operator<=>(const Key&) const = default;
  };
  std::map<Key, DueIntervals> answers_;
};

// The scheduled runs due for `dag` at `now` (at most `limit`), built but not stored, and when to
// look again.
struct CronPlan {
  std::vector<store::NewRun> runs;
  std::optional<Instant> next_due;
};
// `latest_automated` is the latest scheduled or backfill run's logical date when the caller knows
// it; otherwise it is read from the store.
Result<CronPlan> PlanDueRuns(store::RunStore& store, const graph::LoadedDag& dag, Instant now,
                             int limit,
                             std::optional<std::optional<Instant>> latest_automated = std::nullopt,
                             DueIntervalsMemo* memo = nullptr);

// Creates the scheduled runs that are due for `dag` at `now`, at most `limit`. A run already
// made for an interval (by an earlier round, another process or a backfill) is left alone, so
// this is safe to repeat. Returns the runs created and when to look again.
struct CronRound {
  std::vector<store::DagRunRecord> created;
  std::optional<Instant> next_due;
};
Result<CronRound> CreateDueRuns(store::RunStore& store, const graph::LoadedDag& dag, Instant now,
                                int limit);

}  // namespace conveyor::scheduler
