#pragma once

#include <string>
#include <vector>

#include "engine/common/error.h"

namespace conveyor::exec {

struct CommandOutput {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

// Runs a short command (argv[0] looked up in PATH) and collects what it prints; for the
// cluster's command-line tools. `env` ("NAME=value" entries) replaces conveyor's environment
// when given. An error only when it cannot be started.
Result<CommandOutput> RunCommandOutput(const std::vector<std::string>& argv,
                                       const std::vector<std::string>* env = nullptr);

}  // namespace conveyor::exec
