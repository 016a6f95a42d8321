#pragma once

#include <string>

#include "engine/exec/model_registry.h"

namespace conveyor::data {

// The ML operators' view of conveyor's storage: the data database at `data_db`, the model
// registry inside the state database at `state_db`, and model files under `artifacts_dir`.
exec::DataAccess MakeDataAccess(const std::string& data_db, const std::string& state_db,
                                const std::string& artifacts_dir);

}  // namespace conveyor::data
