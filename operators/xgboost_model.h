#pragma once

#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/common/error.h"

namespace conveyor::operators {

// Rows of float features, row-major; NaN is a missing value.
struct DenseMatrix {
  std::vector<float> values;
  size_t rows = 0;
  size_t cols = 0;
};

struct TrainSettings {
  // XGBoost parameters (booster, objective, seed, nthread, eta, max_depth, ...), as strings.
  std::map<std::string, std::string> params;
  int rounds = 100;
  std::vector<std::string> feature_names;
};

// A booster of the XGBoost C API (the only file that includes its header).
class XgbModel {
 public:
  XgbModel(XgbModel&&) noexcept;
  XgbModel& operator=(XgbModel&&) noexcept;
  ~XgbModel();

  // Trains on `train`. `log` receives the validation metric every `log_every` rounds when a
  // validation set is given.
  static Result<XgbModel> Train(const DenseMatrix& train, std::span<const float> labels,
                                const DenseMatrix* validation,
                                std::span<const float> validation_labels,
                                const TrainSettings& settings,
                                const std::function<void(const std::string&)>& log);
  static Result<XgbModel> Load(const std::string& path);

  Status SetParam(const std::string& name, const std::string& value);
  // Saves the model as XGBoost JSON (feature names included).
  Status Save(const std::string& path) const;
  // Predictions (probabilities for binary:logistic) for every row.
  Result<std::vector<float>> Predict(const DenseMatrix& rows) const;
  // Feature names saved with the model.
  Result<std::vector<std::string>> FeatureNames() const;

 private:
  explicit XgbModel(void* booster) : booster_(booster) {}
  void* booster_ = nullptr;
};

}  // namespace conveyor::operators
