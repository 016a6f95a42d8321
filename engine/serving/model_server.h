#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "engine/common/error.h"
#include "engine/exec/model_registry.h"
#include "engine/serving/fifo_gate.h"
#include "operators/xgboost_model.h"

namespace conveyor::serving {

class PredictionLog;

// What `serve` serves (config `serving:`).
struct ServingSettings {
  bool enabled = true;
  std::vector<std::string> models;  // NAME@ALIAS allowed; empty: every alias and version
  size_t max_rows = 10'000;         // rows one request may hold
  // How long an alias is trusted before the registry is read again: a moved alias serves its
  // new version within this.
  std::chrono::milliseconds refresh{1000};
};

// One registered model version, loaded and ready to predict from many threads at once.
struct LoadedModel {
  std::string name;
  int version = 0;
  std::vector<std::string> features;  // in the model's column order
  operators::XgbModel model;
};

// The models `serve` answers predictions with, by `NAME@ALIAS` or `NAME/VERSION`. Versions are
// loaded on first use and kept; an alias is resolved again once `refresh` has passed, so a moved
// alias serves its new version from then on while requests that hold the old one finish on it.
// Thread-safe.
class ModelServer {
 public:
  ModelServer(exec::RegistryOpener open_registry, ServingSettings settings);

  // `reference`: NAME@ALIAS, NAME/VERSION, or NAME (its latest version). kNotFound for an
  // unknown model, alias or version, and for one the settings do not serve.
  Result<std::shared_ptr<const LoadedModel>> Get(const std::string& reference);
  // Scores `rows` with `model` (which `reference` resolved to), and logs them when
  // serving.log asks for that reference.
  Result<std::vector<float>> Predict(const std::string& reference,
                                     const std::shared_ptr<const LoadedModel>& model,
                                     const operators::DenseMatrix& rows);
  const ServingSettings& settings() const { return settings_; }
  // Whether a version of model `name` has been loaded.
  bool HasLoaded(const std::string& name) const;
  // Set before the first request; null (the default) logs nothing.
  void set_log(PredictionLog* log) { log_ = log; }

 private:
  // Reads the registry and loads the version `reference` names (once per version).
  Result<std::shared_ptr<const LoadedModel>> Resolve(const std::string& reference);

  struct HeldEntry {
    std::shared_ptr<const LoadedModel> model;
    std::chrono::steady_clock::time_point checked;
    bool refreshing = false;  // a request is reading the registry for it
  };
  exec::RegistryOpener open_registry_;
  ServingSettings settings_;
  PredictionLog* log_ = nullptr;
  // Predictions are computed two per core at a time, first come first served.
  FifoGate scoring_;
  mutable std::mutex mutex_;
  // What each reference served resolved to, by reference.
  std::map<std::string, HeldEntry> held_;  // GUARDED_BY(mutex_)
  std::set<std::string> first_loads_;      // references being resolved first, GUARDED_BY(mutex_)
  std::condition_variable resolved_;
  std::map<std::string, std::shared_ptr<const LoadedModel>>
      loaded_;  // "NAME/VERSION", GUARDED_BY(mutex_)
};

}  // namespace conveyor::serving
