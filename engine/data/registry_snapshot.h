#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "engine/common/error.h"
#include "engine/exec/model_registry.h"

namespace conveyor::data {

// Every version of every model, as JSON: {"models": {"name": [version, ...]}}.
Result<nlohmann::json> TakeRegistrySnapshot(exec::ModelRegistry& registry);

// The registry of a try that runs away from the state database (a Slurm job): it reads a
// snapshot taken when the try was submitted and records what the try changes, for the scheduler
// to apply once the try has ended. The state database is never opened on a compute node.
class SnapshotRegistry : public exec::ModelRegistry {
 public:
  explicit SnapshotRegistry(const nlohmann::json& snapshot);

  Result<exec::ModelVersion> AddVersion(const exec::ModelVersion& version) override;
  Status SetAlias(const std::string& name, const std::string& alias, int version,
                  const std::string& who) override;
  Result<exec::ModelVersion> Resolve(const std::string& reference) override;
  Result<std::vector<exec::ModelVersion>> Versions(const std::string& name) override;
  Result<std::vector<std::string>> ModelNames() override;

  // [{"op": "add_version", "version": {...}}, {"op": "set_alias", "name", "alias", "version",
  // "who"}], in the order the try made them.
  const nlohmann::json& changes() const { return changes_; }

 private:
  std::map<std::string, std::vector<exec::ModelVersion>> models_;  // newest version first
  nlohmann::json changes_ = nlohmann::json::array();
};

// Applies a try's recorded changes to the real registry. Version numbers are given anew (another
// try may have added versions meanwhile); returns, per model, the try's number -> the real one.
Result<std::map<std::string, std::map<int, int>>> ApplyRegistryChanges(
    exec::ModelRegistry& registry, const nlohmann::json& changes);

}  // namespace conveyor::data

namespace conveyor::data {

// An opener handing out views of one SnapshotRegistry, so that its changes outlive the try's use.
exec::RegistryOpener SnapshotOpener(std::shared_ptr<SnapshotRegistry> registry);

}  // namespace conveyor::data
