#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "engine/common/error.h"
#include "engine/dag/dag.h"
#include "engine/store/records.h"

namespace conveyor::scheduler {

// The values templates see for one try of a task: ds, ts, run_id, params (the DAG's params
// updated with the run's conf), conf, outputs, ...
nlohmann::json TemplateContext(const dag::Dag& dag, const store::DagRunRecord& run,
                               const std::string& task_id, int try_number,
                               const nlohmann::json& outputs);

struct RenderedTask {
  nlohmann::json args = nlohmann::json::object();
  std::optional<nlohmann::json> command;
  std::map<std::string, std::string> env;
};

// Renders a task's command, env and string args. An unknown name fails with the field and the
// name: "cannot render env.TARGET: unknown template name 'conf.target'".
Result<RenderedTask> RenderTask(const dag::Task& task, const nlohmann::json& context);

}  // namespace conveyor::scheduler
