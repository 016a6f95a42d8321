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
// name: "cannot render env.TARGET: unknown template name 'conf.target'". `secrets` (name ->
// value) are seen as {{ secrets.NAME }} in env: values only.
//
// A string command's templates never become shell syntax: when its literal text has no shell
// syntax it becomes an argv (a value is never split into words); otherwise each template becomes
// a reference to an environment variable CONVEYOR_TEMPLATE_<n> holding the value, quoted for where
// it stands (dag/shell_placement.h), and the variable goes into the rendered env.
Result<RenderedTask> RenderTask(const dag::Task& task, const nlohmann::json& context,
                                const std::map<std::string, std::string>& secrets = {});

// The most bytes one environment entry or argument may hold ("NAME=value" and its NUL): Linux's
// MAX_ARG_STRLEN.
inline constexpr size_t kMaxEnvEntryBytes = 128 * 1024;

}  // namespace conveyor::scheduler
