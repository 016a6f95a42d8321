#include "engine/cli/dag_catalog.h"

#include "engine/cli/command_context.h"
#include "engine/dag/resource_check.h"
#include "engine/exec/machine_resources.h"

namespace conveyor::cli {

dag::MachineResources MachineResourcesOf(const Config& config) {
  dag::MachineResources machine = exec::DetectMachineResources();
  if (config.resources_millicpus) machine.capacity.millicpus = *config.resources_millicpus;
  if (config.resources_memory_bytes) machine.capacity.memory_bytes = *config.resources_memory_bytes;
  if (config.resources_gpu_ids) machine.gpu_ids = *config.resources_gpu_ids;
  machine.capacity.gpus = static_cast<int>(machine.gpu_ids.size());
  return machine;
}

DagCatalog::DagCatalog(const Config& config)
    : machine_(MachineResourcesOf(config)), default_executor_(config.executor) {}

std::vector<std::string> DagCatalog::OperatorNames() const {
  return BuiltinRegistry().OperatorNames();
}

bool DagCatalog::HasOperator(std::string_view name) const {
  return BuiltinRegistry().HasOperator(name);
}

std::vector<dag::ArgProblem> DagCatalog::CheckArgs(std::string_view operator_name,
                                                   const nlohmann::json& args,
                                                   bool has_command) const {
  return BuiltinRegistry().CheckArgs(operator_name, args, has_command);
}

Diagnostics DagCatalog::CheckPlacement(const dag::Dag& dag) const {
  return dag::CheckLocalResources(dag, machine_, default_executor_);
}

}  // namespace conveyor::cli
