#pragma once

#include "engine/cli/config.h"
#include "engine/dag/operator_catalog.h"
#include "engine/dag/resources.h"

namespace conveyor::cli {

// What this machine offers tasks: the config's `resources:`, detected where it is silent.
dag::MachineResources MachineResourcesOf(const Config& config);

// What DAG files are loaded against: the operators this binary knows, and this machine's
// resources, so that a local task asking for more than the machine has is a load error.
class DagCatalog : public dag::OperatorCatalog {
 public:
  explicit DagCatalog(const Config& config);

  std::vector<std::string> OperatorNames() const override;
  bool HasOperator(std::string_view name) const override;
  std::vector<dag::ArgProblem> CheckArgs(std::string_view operator_name, const nlohmann::json& args,
                                         bool has_command) const override;
  Diagnostics CheckPlacement(const dag::Dag& dag) const override;

 private:
  dag::MachineResources machine_;
  ExecutorKind default_executor_;
};

}  // namespace conveyor::cli
