#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/exec/model_registry.h"

namespace conveyor::data {

// The spec's shape, shared by `models show -o json` and GET /api/v1/models/{name}:
// {"name", "versions": [{"version", "aliases", "artifact_path", "metrics", "features", "run_id",
// "created_at"}]}, newest version first.
nlohmann::json ModelToJson(const std::string& name,
                           const std::vector<exec::ModelVersion>& versions);

// One model in a listing: {"name", "latest_version", "versions", "aliases": {"alias": version},
// "updated_at"}.
nlohmann::json ModelSummaryToJson(const std::string& name,
                                  const std::vector<exec::ModelVersion>& versions);

}  // namespace conveyor::data
