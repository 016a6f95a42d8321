#pragma once

#include <string>
#include <vector>

namespace conveyor::exec {

// The part of conveyor's own environment a task inherits: PATH HOME LANG LC_* TZ USER TMPDIR
// SLURM_* (a Slurm job's own variables, SLURM_CONF),
// plus the names and globs of config `env_passthrough` (PYTHONPATH, AWS_*, ...). Nothing else of
// the server's environment (its token, its secrets' sources) reaches a task or a Slurm job.
const std::vector<std::string>& DefaultPassthrough();

// Sets the passthrough globs (the defaults plus `extra`); call once at start-up, before any
// task starts. Without a call, the defaults alone.
void SetEnvironmentPassthrough(const std::vector<std::string>& extra);

// conveyor's environment filtered by the passthrough, as "NAME=value" entries, read once.
const std::vector<std::string>& TaskBaseEnvironment();

}  // namespace conveyor::exec
