#pragma once

#include <string>
#include <vector>

#include "engine/common/error.h"
#include "engine/graph/dag_bag.h"
#include "engine/store/state_store.h"

namespace conveyor::scheduler {

// Airflow's clear: the chosen task instances (all when `task_ids` is empty, plus everything
// downstream of them when `downstream`) go back to no state so they run again, each keeping its
// try count and getting its retries anew; the run goes back to queued. Refused while another
// live process runs the run (its lease is fresh, store/lease.h). Returns the ids cleared.
// A `dry_run` writes nothing, whoever runs the run, and returns the ids a clear would clear.
// `now` decides whether the lease is fresh.
Result<std::vector<std::string>> ClearTasks(store::StateStore& store, const graph::LoadedDag& dag,
                                            const store::DagRunRecord& run,
                                            const std::vector<std::string>& task_ids,
                                            bool downstream, const std::string& who,
                                            store::TimePoint now, bool dry_run = false);

}  // namespace conveyor::scheduler
