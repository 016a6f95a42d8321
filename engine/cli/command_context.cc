#include "engine/cli/command_context.h"

#include <iostream>

#include "operators/builtin_operators.h"

namespace conveyor::cli {

Result<Config> ResolveConfig(const GlobalOptions& options) {
  auto config = LoadConfig(options.config_path);
  if (!config.ok()) return config.error();
  if (!options.dags_folder.empty()) config->dags_folder = options.dags_folder;
  if (!options.db.empty()) config->db = options.db;
  ApplyPathDefaults(*config);
  return config;
}

const exec::OperatorRegistry& BuiltinRegistry() {
  static const exec::OperatorRegistry registry = [] {
    exec::OperatorRegistry r;
    operators::RegisterBuiltinOperators(r);
    return r;
  }();
  return registry;
}

int ReportError(const Error& error) {
  std::cerr << "conveyor: error: " << error.ToString() << "\n";
  return error.code == ErrorCode::kInvalidArgument || error.code == ErrorCode::kNotFound
             ? kExitBadInput
             : kExitFailure;
}

}  // namespace conveyor::cli
