#pragma once

#include "engine/dag/resources.h"

namespace conveyor::exec {

// What this machine offers tasks when the config does not say: the CPUs this process may run
// on, its memory (the cgroup's limit when that is lower), and no GPUs.
dag::MachineResources DetectMachineResources();

}  // namespace conveyor::exec
