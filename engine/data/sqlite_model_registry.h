#pragma once

#include <memory>
#include <string>

#include "engine/common/error.h"
#include "engine/exec/model_registry.h"

namespace conveyor::data {

// The model registry in the state database at `state_db` (migrating it if needed).
Result<std::unique_ptr<exec::ModelRegistry>> OpenSqliteModelRegistry(const std::string& state_db);

// Checks a model or alias name: [A-Za-z0-9_.-]+; an alias is not `latest` nor all digits.
Status CheckModelName(const std::string& name);
Status CheckAliasName(const std::string& alias);

}  // namespace conveyor::data
