#include "operators/xgboost_model.h"

#include <xgboost/c_api.h>

#include <cmath>
#include <cstdint>
#include <utility>

namespace conveyor::operators {
namespace {

Error XgbError(const std::string& what) {
  return Error{ErrorCode::kInternal, "XGBoost: " + what + ": " + XGBGetLastError(), {}};
}

// A DMatrix freed on scope exit.
class Matrix {
 public:
  ~Matrix() {
    if (handle_ != nullptr) XGDMatrixFree(handle_);
  }
  static Result<std::unique_ptr<Matrix>> From(const DenseMatrix& rows,
                                              std::span<const float> labels,
                                              const std::vector<std::string>& names) {
    auto matrix = std::make_unique<Matrix>();
    if (XGDMatrixCreateFromMat(rows.values.data(), rows.rows, rows.cols, NAN, &matrix->handle_) !=
        0) {
      return XgbError("cannot build the data matrix");
    }
    if (!labels.empty() &&
        XGDMatrixSetFloatInfo(matrix->handle_, "label", labels.data(), labels.size()) != 0) {
      return XgbError("cannot set the labels");
    }
    if (!names.empty()) {
      std::vector<const char*> c_names;
      for (const std::string& name : names) c_names.push_back(name.c_str());
      if (XGDMatrixSetStrFeatureInfo(matrix->handle_, "feature_name", c_names.data(),
                                     c_names.size()) != 0) {
        return XgbError("cannot set the feature names");
      }
    }
    return matrix;
  }
  DMatrixHandle handle() const { return handle_; }

 private:
  DMatrixHandle handle_ = nullptr;
};

}  // namespace

XgbModel::XgbModel(XgbModel&& other) noexcept : booster_(std::exchange(other.booster_, nullptr)) {}

XgbModel& XgbModel::operator=(XgbModel&& other) noexcept {
  std::swap(booster_, other.booster_);
  return *this;
}

XgbModel::~XgbModel() {
  if (booster_ != nullptr) XGBoosterFree(booster_);
}

Result<XgbModel> XgbModel::Train(const DenseMatrix& train, std::span<const float> labels,
                                 const DenseMatrix* validation,
                                 std::span<const float> validation_labels,
                                 const TrainSettings& settings,
                                 const std::function<void(const std::string&)>& log) {
  auto dtrain = Matrix::From(train, labels, settings.feature_names);
  if (!dtrain.ok()) return dtrain.error();
  std::unique_ptr<Matrix> dvalid;
  if (validation != nullptr && validation->rows > 0) {
    auto made = Matrix::From(*validation, validation_labels, settings.feature_names);
    if (!made.ok()) return made.error();
    dvalid = std::move(made).value();
  }
  std::vector<DMatrixHandle> cache = {(*dtrain)->handle()};
  if (dvalid) cache.push_back(dvalid->handle());
  BoosterHandle booster = nullptr;
  if (XGBoosterCreate(cache.data(), cache.size(), &booster) != 0) {
    return XgbError("cannot create the booster");
  }
  XgbModel model(booster);
  for (const auto& [name, value] : settings.params) {
    if (XGBoosterSetParam(booster, name.c_str(), value.c_str()) != 0) {
      return XgbError("parameter '" + name + "' = '" + value + "'");
    }
  }
  const int log_every = std::max(1, settings.rounds / 10);
  for (int round = 0; round < settings.rounds; ++round) {
    if (XGBoosterUpdateOneIter(booster, round, (*dtrain)->handle()) != 0) {
      return XgbError("round " + std::to_string(round));
    }
    if (dvalid && ((round + 1) % log_every == 0 || round + 1 == settings.rounds)) {
      DMatrixHandle sets[] = {(*dtrain)->handle(), dvalid->handle()};
      const char* names[] = {"train", "validation"};
      const char* result = nullptr;
      if (XGBoosterEvalOneIter(booster, round, sets, names, 2, &result) != 0) {
        return XgbError("evaluating round " + std::to_string(round));
      }
      log(result);
    }
  }
  if (!settings.feature_names.empty()) {
    std::vector<const char*> c_names;
    for (const std::string& name : settings.feature_names) c_names.push_back(name.c_str());
    if (XGBoosterSetStrFeatureInfo(booster, "feature_name", c_names.data(), c_names.size()) != 0) {
      return XgbError("cannot name the features");
    }
  }
  return model;
}

Result<XgbModel> XgbModel::Load(const std::string& path) {
  BoosterHandle booster = nullptr;
  if (XGBoosterCreate(nullptr, 0, &booster) != 0) return XgbError("cannot create a booster");
  XgbModel model(booster);
  if (XGBoosterLoadModel(booster, path.c_str()) != 0) {
    return XgbError("cannot load the model '" + path + "'");
  }
  return model;
}

Status XgbModel::SetParam(const std::string& name, const std::string& value) {
  if (XGBoosterSetParam(booster_, name.c_str(), value.c_str()) != 0) {
    return XgbError("parameter '" + name + "' = '" + value + "'");
  }
  return Status::Ok();
}

Status XgbModel::Save(const std::string& path) const {
  if (XGBoosterSaveModel(booster_, path.c_str()) != 0) {
    return XgbError("cannot save the model to '" + path + "'");
  }
  return Status::Ok();
}

Result<std::vector<float>> XgbModel::Predict(const DenseMatrix& rows) const {
  if (rows.rows == 0) return std::vector<float>();
  // In-place prediction reads the rows where they are (no DMatrix copy) on every thread.
  const std::string values = "{\"data\": [" +
                             std::to_string(reinterpret_cast<std::uintptr_t>(rows.values.data())) +
                             ", true], \"shape\": [" + std::to_string(rows.rows) + ", " +
                             std::to_string(rows.cols) + "], \"typestr\": \"<f4\", \"version\": 3}";
  const char* config =
      "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
      "\"strict_shape\": false, \"missing\": NaN}";
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* result = nullptr;
  if (XGBoosterPredictFromDense(booster_, values.c_str(), config, nullptr, &shape, &dims,
                                &result) == 0) {
    return std::vector<float>(result, result + rows.rows);
  }
  // Boosters without in-place prediction (gblinear) go through a DMatrix.
  auto matrix = Matrix::From(rows, {}, {});
  if (!matrix.ok()) return matrix.error();
  bst_ulong length = 0;
  if (XGBoosterPredict(booster_, (*matrix)->handle(), 0, 0, 0, &length, &result) != 0) {
    return XgbError("prediction failed");
  }
  return std::vector<float>(result, result + length);
}

Result<std::vector<std::string>> XgbModel::FeatureNames() const {
  bst_ulong count = 0;
  const char** names = nullptr;
  if (XGBoosterGetStrFeatureInfo(booster_, "feature_name", &count, &names) != 0) {
    return XgbError("cannot read the feature names");
  }
  return std::vector<std::string>(names, names + count);
}

}  // namespace conveyor::operators
