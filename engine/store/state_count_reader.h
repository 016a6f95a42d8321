#pragma once

#include <map>
#include <string>

#include "engine/common/error.h"

namespace conveyor::store {

// Counts of runs and task instances by state, kept as they are written (for /metrics).
class StateCountReader {
 public:
  virtual ~StateCountReader() = default;

  // How many runs and task instances are in each state ("none" for task instances without one).
  virtual Result<std::map<std::string, long>> CountRunsByState() = 0;
  virtual Result<std::map<std::string, long>> CountTaskInstancesByState() = 0;
};

}  // namespace conveyor::store
