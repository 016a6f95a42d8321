#pragma once

#include <functional>
#include <vector>

#include "engine/common/error.h"
#include "engine/scheduler/run_loop.h"

namespace conveyor::scheduler {

// Brings runs of one DAG to a terminal state from this process. When a live `serve` holds the
// database, it runs them and this process waits. Otherwise this process takes each run's lease
// when no live process holds it and runs it here (recovering interrupted tries), at most
// `max_active` at once, or else waits for the holder to finish it, taking over if the holder
// dies. Exactly one process runs a run at a time. `on_finished` sees each run as it ends.
// `observer` sees the transitions of runs run here, and those of runs another process runs that
// were logged after the event `show_events_after` (default: the latest when this starts), read
// from the event log.
// Returns the runs' final states, in the order given.
Result<std::vector<state::RunState>> DriveRuns(
    store::StateStore& store, const exec::OperatorRegistry& registry, const graph::LoadedDag& dag,
    const std::vector<store::RunKey>& runs, int max_active, const RunLoopOptions& options,
    const std::function<void(const Transition&)>& observer,
    const std::function<void(const store::DagRunRecord&)>& on_finished,
    std::optional<std::int64_t> show_events_after = std::nullopt);

// DriveRuns for one run.
Result<state::RunState> DriveRun(store::StateStore& store, const exec::OperatorRegistry& registry,
                                 const graph::LoadedDag& dag, store::RunKey run,
                                 const RunLoopOptions& options,
                                 const std::function<void(const Transition&)>& observer,
                                 std::optional<std::int64_t> show_events_after = std::nullopt);

// True while a process with this pid exists.
bool ProcessAlive(int pid);

// The pid of the live `serve` that holds the database, or 0.
int LiveScheduler(store::LeaseStore& store, const Clock& clock);

}  // namespace conveyor::scheduler
