#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/common/error.h"
#include "engine/exec/data_store.h"

namespace conveyor::exec {

// One version of a registered model, as MLflow's registry keeps it.
struct ModelVersion {
  std::string name;
  int version = 0;
  std::string artifact_path;  // absolute path of the XGBoost JSON model
  std::string dag_id;         // where it was trained
  std::string run_id;
  std::string task_id;
  nlohmann::json metrics = nlohmann::json::object();
  std::vector<std::string> features;  // in the model's column order
  std::string created_at;             // ISO 8601, UTC
  std::vector<std::string> aliases;   // the aliases naming this version, sorted
};

// The model registry: models, numbered versions, and aliases (`production`, `staging`, any name)
// each naming one version.
class ModelRegistry {
 public:
  virtual ~ModelRegistry() = default;
  // Adds the next version of `version.name` (creating the model), numbered last + 1.
  virtual Result<ModelVersion> AddVersion(const ModelVersion& version) = 0;
  // Points `alias` at a version, recording the change in the event log as done by `who`.
  virtual Status SetAlias(const std::string& name, const std::string& alias, int version,
                          const std::string& who) = 0;
  // A version from `name@alias`, `name/version`, or `name` (its latest version).
  virtual Result<ModelVersion> Resolve(const std::string& reference) = 0;
  // A model's versions, newest first; kNotFound for an unknown model.
  virtual Result<std::vector<ModelVersion>> Versions(const std::string& name) = 0;
  virtual Result<std::vector<std::string>> ModelNames() = 0;
};

using RegistryOpener = std::function<Result<std::unique_ptr<ModelRegistry>>()>;

// Where the ML operators keep data and models, handed to every try.
struct DataAccess {
  DataOpener open_data;          // empty: none
  RegistryOpener open_registry;  // empty: none
  std::string artifacts_dir;     // model files go under it
  std::string data_db;           // the data database's path, for tries that run on Slurm
};

}  // namespace conveyor::exec
