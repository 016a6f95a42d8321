#pragma once

#include <string>
#include <vector>

#include "engine/dag/slurm_options.h"

namespace conveyor::slurm {

// sbatch's flags for a task's options, in a fixed order.
std::vector<std::string> SbatchFlags(const SlurmOptions& options);

}  // namespace conveyor::slurm
