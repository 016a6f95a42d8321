#include "engine/data/registry_snapshot.h"

#include "engine/common/time_format.h"

namespace conveyor::data {
namespace {

nlohmann::json VersionToJson(const exec::ModelVersion& v) {
  return {{"name", v.name},       {"version", v.version},   {"artifact_path", v.artifact_path},
          {"dag_id", v.dag_id},   {"run_id", v.run_id},     {"task_id", v.task_id},
          {"metrics", v.metrics}, {"features", v.features}, {"created_at", v.created_at},
          {"aliases", v.aliases}};
}

exec::ModelVersion VersionFromJson(const nlohmann::json& j) {
  exec::ModelVersion v;
  v.name = j.value("name", "");
  v.version = j.value("version", 0);
  v.artifact_path = j.value("artifact_path", "");
  v.dag_id = j.value("dag_id", "");
  v.run_id = j.value("run_id", "");
  v.task_id = j.value("task_id", "");
  v.metrics = j.value("metrics", nlohmann::json::object());
  v.features = j.value("features", std::vector<std::string>{});
  v.created_at = j.value("created_at", "");
  v.aliases = j.value("aliases", std::vector<std::string>{});
  return v;
}

}  // namespace

Result<nlohmann::json> TakeRegistrySnapshot(exec::ModelRegistry& registry) {
  auto names = registry.ModelNames();
  if (!names.ok()) return names.error();
  nlohmann::json models = nlohmann::json::object();
  for (const auto& name : *names) {
    auto versions = registry.Versions(name);
    if (!versions.ok()) return versions.error();
    nlohmann::json list = nlohmann::json::array();
    for (const auto& v : *versions) list.push_back(VersionToJson(v));
    models[name] = std::move(list);
  }
  return nlohmann::json{{"models", std::move(models)}};
}

SnapshotRegistry::SnapshotRegistry(const nlohmann::json& snapshot) {
  if (!snapshot.is_object() || !snapshot.contains("models")) return;
  for (const auto& [name, list] : snapshot["models"].items()) {
    auto& versions = models_[name];
    for (const auto& v : list) versions.push_back(VersionFromJson(v));
  }
}

Result<exec::ModelVersion> SnapshotRegistry::AddVersion(const exec::ModelVersion& version) {
  auto& versions = models_[version.name];
  exec::ModelVersion added = version;
  added.version = versions.empty() ? 1 : versions.front().version + 1;
  added.created_at = FormatUtcMillis(
      std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now()));
  added.aliases.clear();
  versions.insert(versions.begin(), added);
  changes_.push_back({{"op", "add_version"}, {"version", VersionToJson(added)}});
  return added;
}

Status SnapshotRegistry::SetAlias(const std::string& name, const std::string& alias, int version,
                                  const std::string& who) {
  auto it = models_.find(name);
  if (it == models_.end()) return NotFound("no model named '" + name + "'");
  bool found = false;
  for (auto& v : it->second) {
    std::erase(v.aliases, alias);
    if (v.version == version) {
      v.aliases.push_back(alias);
      std::sort(v.aliases.begin(), v.aliases.end());
      found = true;
    }
  }
  if (!found) {
    return NotFound("model '" + name + "' has no version " + std::to_string(version));
  }
  changes_.push_back(
      {{"op", "set_alias"}, {"name", name}, {"alias", alias}, {"version", version}, {"who", who}});
  return Status::Ok();
}

Result<exec::ModelVersion> SnapshotRegistry::Resolve(const std::string& reference) {
  const size_t at = reference.find('@');
  const size_t slash = reference.find('/');
  const std::string name = reference.substr(0, std::min(at, slash));
  auto it = models_.find(name);
  if (it == models_.end() || it->second.empty()) {
    return NotFound("no model named '" + name + "' in the registry");
  }
  if (at != std::string::npos) {
    const std::string alias = reference.substr(at + 1);
    for (const auto& v : it->second) {
      if (std::find(v.aliases.begin(), v.aliases.end(), alias) != v.aliases.end()) return v;
    }
    return NotFound("model '" + name + "' has no alias '" + alias + "'");
  }
  if (slash != std::string::npos) {
    const std::string number = reference.substr(slash + 1);
    for (const auto& v : it->second) {
      if (std::to_string(v.version) == number) return v;
    }
    return NotFound("model '" + name + "' has no version " + number);
  }
  return it->second.front();
}

Result<std::vector<exec::ModelVersion>> SnapshotRegistry::Versions(const std::string& name) {
  auto it = models_.find(name);
  if (it == models_.end()) return NotFound("no model named '" + name + "'");
  return it->second;
}

Result<std::vector<std::string>> SnapshotRegistry::ModelNames() {
  std::vector<std::string> names;
  for (const auto& [name, versions] : models_) names.push_back(name);
  return names;
}

Result<std::map<std::string, std::map<int, int>>> ApplyRegistryChanges(
    exec::ModelRegistry& registry, const nlohmann::json& changes) {
  std::map<std::string, std::map<int, int>> renumbered;
  if (!changes.is_array()) return renumbered;
  for (const auto& change : changes) {
    const std::string op = change.value("op", "");
    if (op == "add_version") {
      const exec::ModelVersion wanted = VersionFromJson(change.at("version"));
      auto added = registry.AddVersion(wanted);
      if (!added.ok()) return added.error();
      renumbered[wanted.name][wanted.version] = added->version;
    } else if (op == "set_alias") {
      const std::string name = change.value("name", "");
      int version = change.value("version", 0);
      if (auto it = renumbered[name].find(version); it != renumbered[name].end()) {
        version = it->second;
      }
      if (Status s = registry.SetAlias(name, change.value("alias", ""), version,
                                       change.value("who", "conveyor"));
          !s.ok()) {
        return s.error();
      }
    } else {
      return InvalidArgument("unknown registry change '" + op + "'");
    }
  }
  return renumbered;
}

}  // namespace conveyor::data

namespace conveyor::data {
namespace {

class SharedRegistryView : public exec::ModelRegistry {
 public:
  explicit SharedRegistryView(std::shared_ptr<SnapshotRegistry> registry)
      : registry_(std::move(registry)) {}
  Result<exec::ModelVersion> AddVersion(const exec::ModelVersion& version) override {
    return registry_->AddVersion(version);
  }
  Status SetAlias(const std::string& name, const std::string& alias, int version,
                  const std::string& who) override {
    return registry_->SetAlias(name, alias, version, who);
  }
  Result<exec::ModelVersion> Resolve(const std::string& reference) override {
    return registry_->Resolve(reference);
  }
  Result<std::vector<exec::ModelVersion>> Versions(const std::string& name) override {
    return registry_->Versions(name);
  }
  Result<std::vector<std::string>> ModelNames() override { return registry_->ModelNames(); }

 private:
  std::shared_ptr<SnapshotRegistry> registry_;
};

}  // namespace

exec::RegistryOpener SnapshotOpener(std::shared_ptr<SnapshotRegistry> registry) {
  return [registry]() -> Result<std::unique_ptr<exec::ModelRegistry>> {
    return std::unique_ptr<exec::ModelRegistry>(std::make_unique<SharedRegistryView>(registry));
  };
}

}  // namespace conveyor::data
