#include "engine/dag/resource_check.h"

namespace conveyor::dag {

Diagnostics CheckLocalResources(const Dag& dag, const MachineResources& machine,
                                ExecutorKind default_executor) {
  Diagnostics out;
  const Resources& capacity = machine.capacity;
  for (const Task& task : dag.tasks) {
    const ExecutorKind executor =
        task.executor == ExecutorKind::kDefault ? default_executor : task.executor;
    if (!task.resources || executor != ExecutorKind::kLocal || task.resources->FitsIn(capacity)) {
      continue;
    }
    const Resources& need = *task.resources;
    std::string what;
    const auto add = [&what](const std::string& part) {
      what += (what.empty() ? "" : "; ") + part;
    };
    if (need.millicpus > capacity.millicpus) {
      add(FormatCpus(need.millicpus) + (need.millicpus == 1000 ? " CPU" : " CPUs") +
          ", and this machine offers " + FormatCpus(capacity.millicpus));
    }
    if (need.memory_bytes > capacity.memory_bytes) {
      add(FormatMemory(need.memory_bytes) + " of memory, and this machine offers " +
          FormatMemory(capacity.memory_bytes));
    }
    if (need.gpus > capacity.gpus) {
      add(std::to_string(need.gpus) + (need.gpus == 1 ? " GPU" : " GPUs") +
          ", and this machine offers " + std::to_string(capacity.gpus));
    }
    out.push_back(InvalidArgument(
        "task '" + task.id + "' asks for " + what + " (config 'resources'); it could never start",
        task.location));
  }
  return out;
}

}  // namespace conveyor::dag
