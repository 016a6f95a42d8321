#pragma once

#include <functional>

#include "engine/common/error.h"
#include "engine/scheduler/run_loop.h"

namespace conveyor::scheduler {

// Brings a run to a terminal state from this process: takes the run's lease when no live
// process holds it and runs it here (recovering interrupted tries), or else waits for the holder
// to finish it, taking over if the holder dies. Exactly one process runs a run at a time.
Result<state::RunState> DriveRun(store::StateStore& store, const exec::OperatorRegistry& registry,
                                 const graph::LoadedDag& dag, store::RunKey run,
                                 const RunLoopOptions& options,
                                 const std::function<void(const Transition&)>& observer);

// True while a process with this pid exists.
bool ProcessAlive(int pid);

}  // namespace conveyor::scheduler
