#pragma once

#include "engine/common/error.h"
#include "engine/dag/dag.h"
#include "engine/dag/resources.h"

namespace conveyor::dag {

// Every task of `dag` that runs on the local executor (by its `executor:` or, without one,
// `default_executor`) and asks for more of some resource than `machine` has: it could never
// start. Located at the task's id.
Diagnostics CheckLocalResources(const Dag& dag, const MachineResources& machine,
                                ExecutorKind default_executor);

}  // namespace conveyor::dag
