#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/common/error.h"
#include "engine/cron/timetable.h"
#include "engine/graph/dag_bag.h"
#include "engine/store/state_store.h"

namespace conveyor::scheduler {

// What a backfill does with one interval.
struct BackfillItem {
  enum class Action {
    kCreate,         // no run yet: create a backfill run
    kSkipSucceeded,  // a run already succeeded
    kSkipFailed,     // a run failed, and re-running failed runs was not asked for
    kRerunFailed,    // a run failed: clear its failed tasks and run it again
    kWait,           // a run is queued or running: see it through
  };
  cron::DataInterval interval;
  Action action = Action::kCreate;
  std::optional<store::DagRunRecord> existing;
};

// The intervals whose logical date lies in [from, to), and what to do with each.
Result<std::vector<BackfillItem>> PlanBackfill(store::RunStore& store, const graph::LoadedDag& dag,
                                               Instant from, Instant to, bool rerun_failed);

// Creates the backfill runs and clears the failed runs the plan re-runs. Returns every run to
// see through, in logical-date order.
Result<std::vector<store::DagRunRecord>> ApplyBackfill(store::StateStore& store,
                                                       const graph::LoadedDag& dag,
                                                       const std::vector<BackfillItem>& plan,
                                                       Instant now, const std::string& who,
                                                       bool no_cache = false);

// [from, to) for a backfill's --start-date and --end-date in the DAG's time zone: a date means
// its whole day (the end date included), a datetime means itself.
Result<std::pair<Instant, Instant>> BackfillRange(const dag::Dag& dag,
                                                  const std::string& start_date,
                                                  const std::string& end_date);

}  // namespace conveyor::scheduler
