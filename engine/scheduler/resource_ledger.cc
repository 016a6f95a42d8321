#include "engine/scheduler/resource_ledger.h"

#include <algorithm>

namespace conveyor::scheduler {

ResourceLedger::ResourceLedger(dag::MachineResources machine)
    : machine_(std::move(machine)), gpu_busy_(machine_.gpu_ids.size(), false) {
  machine_.capacity.gpus = static_cast<int>(machine_.gpu_ids.size());
}

bool ResourceLedger::Fits(const dag::Resources& need) const {
  return need.millicpus <= machine_.capacity.millicpus - in_use_.millicpus &&
         need.memory_bytes <= machine_.capacity.memory_bytes - in_use_.memory_bytes &&
         need.gpus <= machine_.capacity.gpus - in_use_.gpus;
}

std::vector<std::string> ResourceLedger::Take(const dag::Resources& need) {
  in_use_.millicpus += need.millicpus;
  in_use_.memory_bytes += need.memory_bytes;
  in_use_.gpus += need.gpus;
  std::vector<std::string> given;
  for (size_t i = 0; i < gpu_busy_.size() && static_cast<int>(given.size()) < need.gpus; ++i) {
    if (gpu_busy_[i]) continue;
    gpu_busy_[i] = true;
    given.push_back(machine_.gpu_ids[i]);
  }
  return given;
}

void ResourceLedger::Give(const dag::Resources& need, const std::vector<std::string>& gpu_ids) {
  in_use_.millicpus -= need.millicpus;
  in_use_.memory_bytes -= need.memory_bytes;
  in_use_.gpus -= need.gpus;
  for (const std::string& id : gpu_ids) {
    auto it = std::find(machine_.gpu_ids.begin(), machine_.gpu_ids.end(), id);
    if (it != machine_.gpu_ids.end()) gpu_busy_[it - machine_.gpu_ids.begin()] = false;
  }
}

}  // namespace conveyor::scheduler
