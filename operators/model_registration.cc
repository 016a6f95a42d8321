#include "operators/model_registration.h"

namespace conveyor::operators {

Result<exec::ModelVersion> AddModelVersion(exec::OperatorContext& context,
                                           exec::ModelRegistry& registry, const std::string& name,
                                           const std::string& artifact,
                                           const nlohmann::json& metrics,
                                           const std::vector<std::string>& features) {
  exec::ModelVersion version;
  version.name = name;
  version.artifact_path = artifact;
  version.dag_id = context.info.dag_id;
  version.run_id = context.info.run_id;
  version.task_id = context.info.task_id;
  version.metrics = metrics;
  version.features = features;
  auto added = registry.AddVersion(version);
  if (!added.ok()) return added.error();
  context.Log("registered " + name + " version " + std::to_string(added->version));
  return added;
}

Status PointAlias(exec::OperatorContext& context, exec::ModelRegistry& registry,
                  const std::string& name, const std::string& alias, int version) {
  const std::string who =
      "task " + context.info.dag_id + "/" + context.info.run_id + "/" + context.info.task_id;
  if (Status s = registry.SetAlias(name, alias, version, who); !s.ok()) return s;
  context.Log("alias '" + alias + "' now names version " + std::to_string(version));
  return Status::Ok();
}

}  // namespace conveyor::operators
