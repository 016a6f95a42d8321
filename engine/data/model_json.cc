#include "engine/data/model_json.h"

namespace conveyor::data {

nlohmann::json ModelToJson(const std::string& name,
                           const std::vector<exec::ModelVersion>& versions) {
  nlohmann::json list = nlohmann::json::array();
  for (const exec::ModelVersion& v : versions) {
    list.push_back({{"version", v.version},
                    {"aliases", v.aliases},
                    {"artifact_path", v.artifact_path},
                    {"metrics", v.metrics},
                    {"features", v.features},
                    {"run_id", v.run_id},
                    {"created_at", v.created_at}});
  }
  return {{"name", name}, {"versions", list}};
}

nlohmann::json ModelSummaryToJson(const std::string& name,
                                  const std::vector<exec::ModelVersion>& versions) {
  nlohmann::json aliases = nlohmann::json::object();
  for (const exec::ModelVersion& v : versions) {
    for (const std::string& alias : v.aliases) aliases[alias] = v.version;
  }
  return {{"name", name},
          {"latest_version", versions.empty() ? 0 : versions.front().version},
          {"versions", versions.size()},
          {"aliases", aliases},
          {"updated_at", versions.empty() ? "" : versions.front().created_at}};
}

}  // namespace conveyor::data
