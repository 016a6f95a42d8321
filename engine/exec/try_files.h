#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/common/error.h"
#include "engine/exec/executor.h"

namespace conveyor::exec {

// A try handed to `conveyor tasks run-try` on another machine: everything TaskLaunch holds
// except the openers, plus the data database's path and a snapshot of the model registry.
nlohmann::json LaunchToJson(const TaskLaunch& launch, const nlohmann::json& registry_snapshot);
Result<TaskLaunch> LaunchFromJson(const nlohmann::json& json);

// What run-try reports: {"outcome": "success|failed|skipped", "message", "outputs",
// "registry_changes"}.
nlohmann::json ResultToJson(const OperatorResult& result, const nlohmann::json& registry_changes);
Result<OperatorResult> ResultFromJson(const nlohmann::json& json);

// Writes `text` to a temporary file beside `path` and renames it over `path`, so that a reader
// sees the whole file or none of it.
Status WriteFileAtomically(const std::string& path, const std::string& text);
// The whole file parsed as JSON.
Result<nlohmann::json> ReadJsonFile(const std::string& path);

}  // namespace conveyor::exec
