#pragma once

#include <string>
#include <vector>

#include "engine/dag/resources.h"

namespace conveyor::scheduler {

// The machine's resources held by the local executor's running tries: a try starts only when
// what it asks for is free, and each GPU is held by one try at a time. Pure; owned by the run
// loop's thread.
class ResourceLedger {
 public:
  explicit ResourceLedger(dag::MachineResources machine);

  // Whether `need` fits the machine at all, free or not.
  bool CanEverFit(const dag::Resources& need) const { return need.FitsIn(machine_.capacity); }
  // Whether `need` fits in what is free now.
  bool Fits(const dag::Resources& need) const;
  // Holds `need`, which must fit; returns the ids of the GPUs given, lowest free first.
  std::vector<std::string> Take(const dag::Resources& need);
  // Gives back what a Take returned.
  void Give(const dag::Resources& need, const std::vector<std::string>& gpu_ids);

  const dag::Resources& capacity() const { return machine_.capacity; }
  const dag::Resources& in_use() const { return in_use_; }

 private:
  dag::MachineResources machine_;
  dag::Resources in_use_;
  std::vector<bool> gpu_busy_;  // per machine_.gpu_ids
};

}  // namespace conveyor::scheduler
