#pragma once

#include <iosfwd>
#include <string>

#include "engine/cli/config.h"
#include "engine/common/error.h"
#include "engine/exec/operator_registry.h"

namespace conveyor::cli {

// Exit codes of every command (the spec): 0 ok, 1 the work failed, 2 bad input.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

// The options every command takes.
struct GlobalOptions {
  std::string config_path = "config/conveyor.yaml";
  std::string dags_folder;  // overrides the config file when set
  std::string db;           // overrides the config file when set
};

// The config file's values with the flags applied on top.
Result<Config> ResolveConfig(const GlobalOptions& options);

// The operators this binary knows.
const exec::OperatorRegistry& BuiltinRegistry();

// Prints "conveyor: error: ..." to stderr and returns the exit code for the error's kind.
int ReportError(const Error& error);

}  // namespace conveyor::cli
