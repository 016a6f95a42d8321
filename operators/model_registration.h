#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/exec/model_registry.h"
#include "engine/exec/operator.h"

namespace conveyor::operators {

// Adds `artifact` as the next version of `name`, with the try's DAG, run and task as its lineage,
// and logs it.
Result<exec::ModelVersion> AddModelVersion(exec::OperatorContext& context,
                                           exec::ModelRegistry& registry, const std::string& name,
                                           const std::string& artifact,
                                           const nlohmann::json& metrics,
                                           const std::vector<std::string>& features);

// Points `alias` of `name` at `version`, recorded as done by the try's task, and logs it.
Status PointAlias(exec::OperatorContext& context, exec::ModelRegistry& registry,
                  const std::string& name, const std::string& alias, int version);

}  // namespace conveyor::operators
