#include "operators/xgboost_model.h"

#include <dlfcn.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <cstdint>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>

namespace conveyor::operators {
namespace {

// XGBoost's C API, loaded when a model is first trained or read: linked in, the library and its
// dependencies (dmlc, OpenMP) cost every conveyor command about 4 ms of start-up.
struct XgbApi {
  decltype(&XGBGetLastError) GetLastError = nullptr;
  decltype(&XGDMatrixCreateFromMat) DMatrixCreateFromMat = nullptr;
  decltype(&XGDMatrixSetFloatInfo) DMatrixSetFloatInfo = nullptr;
  decltype(&XGDMatrixSetStrFeatureInfo) DMatrixSetStrFeatureInfo = nullptr;
  decltype(&XGDMatrixFree) DMatrixFree = nullptr;
  decltype(&XGBoosterCreate) BoosterCreate = nullptr;
  decltype(&XGBoosterFree) BoosterFree = nullptr;
  decltype(&XGBoosterSetParam) BoosterSetParam = nullptr;
  decltype(&XGBoosterUpdateOneIter) BoosterUpdateOneIter = nullptr;
  decltype(&XGBoosterEvalOneIter) BoosterEvalOneIter = nullptr;
  decltype(&XGBoosterSetStrFeatureInfo) BoosterSetStrFeatureInfo = nullptr;
  decltype(&XGBoosterGetStrFeatureInfo) BoosterGetStrFeatureInfo = nullptr;
  decltype(&XGBoosterLoadModel) BoosterLoadModel = nullptr;
  decltype(&XGBoosterSaveModel) BoosterSaveModel = nullptr;
  decltype(&XGBoosterPredictFromDense) BoosterPredictFromDense = nullptr;
  decltype(&XGBoosterPredict) BoosterPredict = nullptr;
  decltype(&XGProxyDMatrixCreate) ProxyDMatrixCreate = nullptr;
};

// The API, or why it could not be loaded.
Result<const XgbApi*> Api() {
  static XgbApi api;
  static std::string problem;
  static std::once_flag loaded;
  std::call_once(loaded, [] {
    void* library = dlopen(CONVEYOR_XGBOOST_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (library == nullptr) {
      problem = std::string("cannot load XGBoost: ") + dlerror();
      return;
    }
    const auto Resolve = [library](auto& function, const char* name) {
      function =
          reinterpret_cast<std::remove_reference_t<decltype(function)>>(dlsym(library, name));
      if (function == nullptr && problem.empty()) {
        problem =
            std::string("cannot load XGBoost: ") + CONVEYOR_XGBOOST_SONAME + " has no " + name;
      }
    };
    Resolve(api.GetLastError, "XGBGetLastError");
    Resolve(api.DMatrixCreateFromMat, "XGDMatrixCreateFromMat");
    Resolve(api.DMatrixSetFloatInfo, "XGDMatrixSetFloatInfo");
    Resolve(api.DMatrixSetStrFeatureInfo, "XGDMatrixSetStrFeatureInfo");
    Resolve(api.DMatrixFree, "XGDMatrixFree");
    Resolve(api.BoosterCreate, "XGBoosterCreate");
    Resolve(api.BoosterFree, "XGBoosterFree");
    Resolve(api.BoosterSetParam, "XGBoosterSetParam");
    Resolve(api.BoosterUpdateOneIter, "XGBoosterUpdateOneIter");
    Resolve(api.BoosterEvalOneIter, "XGBoosterEvalOneIter");
    Resolve(api.BoosterSetStrFeatureInfo, "XGBoosterSetStrFeatureInfo");
    Resolve(api.BoosterGetStrFeatureInfo, "XGBoosterGetStrFeatureInfo");
    Resolve(api.BoosterLoadModel, "XGBoosterLoadModel");
    Resolve(api.BoosterSaveModel, "XGBoosterSaveModel");
    Resolve(api.BoosterPredictFromDense, "XGBoosterPredictFromDense");
    Resolve(api.BoosterPredict, "XGBoosterPredict");
    Resolve(api.ProxyDMatrixCreate, "XGProxyDMatrixCreate");
  });
  if (!problem.empty()) return Error{ErrorCode::kInternal, problem, {}};
  return &api;
}

// The API of a library already loaded (a model exists, so Api() succeeded).
const XgbApi& LoadedApi() { return **Api(); }

Error XgbError(const std::string& what) {
  return Error{ErrorCode::kInternal, "XGBoost: " + what + ": " + LoadedApi().GetLastError(), {}};
}

// A DMatrix freed on scope exit.
class Matrix {
 public:
  ~Matrix() {
    if (handle_ != nullptr) LoadedApi().DMatrixFree(handle_);
  }
  static Result<std::unique_ptr<Matrix>> From(const DenseMatrix& rows,
                                              std::span<const float> labels,
                                              const std::vector<std::string>& names) {
    auto matrix = std::make_unique<Matrix>();
    if (LoadedApi().DMatrixCreateFromMat(rows.values.data(), rows.rows, rows.cols, NAN,
                                         &matrix->handle_) != 0) {
      return XgbError("cannot build the data matrix");
    }
    if (!labels.empty() && LoadedApi().DMatrixSetFloatInfo(matrix->handle_, "label", labels.data(),
                                                           labels.size()) != 0) {
      return XgbError("cannot set the labels");
    }
    if (!names.empty()) {
      std::vector<const char*> c_names;
      for (const std::string& name : names) c_names.push_back(name.c_str());
      if (LoadedApi().DMatrixSetStrFeatureInfo(matrix->handle_, "feature_name", c_names.data(),
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
  if (booster_ != nullptr) LoadedApi().BoosterFree(booster_);
}

Result<XgbModel> XgbModel::Train(const DenseMatrix& train, std::span<const float> labels,
                                 const DenseMatrix* validation,
                                 std::span<const float> validation_labels,
                                 const TrainSettings& settings,
                                 const std::function<void(const std::string&)>& log) {
  if (auto api = Api(); !api.ok()) return api.error();
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
  if (LoadedApi().BoosterCreate(cache.data(), cache.size(), &booster) != 0) {
    return XgbError("cannot create the booster");
  }
  XgbModel model(booster);
  for (const auto& [name, value] : settings.params) {
    if (LoadedApi().BoosterSetParam(booster, name.c_str(), value.c_str()) != 0) {
      return XgbError("parameter '" + name + "' = '" + value + "'");
    }
  }
  const int log_every = std::max(1, settings.rounds / 10);
  for (int round = 0; round < settings.rounds; ++round) {
    if (LoadedApi().BoosterUpdateOneIter(booster, round, (*dtrain)->handle()) != 0) {
      return XgbError("round " + std::to_string(round));
    }
    if (dvalid && ((round + 1) % log_every == 0 || round + 1 == settings.rounds)) {
      DMatrixHandle sets[] = {(*dtrain)->handle(), dvalid->handle()};
      const char* names[] = {"train", "validation"};
      const char* result = nullptr;
      if (LoadedApi().BoosterEvalOneIter(booster, round, sets, names, 2, &result) != 0) {
        return XgbError("evaluating round " + std::to_string(round));
      }
      log(result);
    }
  }
  if (!settings.feature_names.empty()) {
    std::vector<const char*> c_names;
    for (const std::string& name : settings.feature_names) c_names.push_back(name.c_str());
    if (LoadedApi().BoosterSetStrFeatureInfo(booster, "feature_name", c_names.data(),
                                             c_names.size()) != 0) {
      return XgbError("cannot name the features");
    }
  }
  return model;
}

Result<XgbModel> XgbModel::Load(const std::string& path) {
  if (auto api = Api(); !api.ok()) return api.error();
  BoosterHandle booster = nullptr;
  if (LoadedApi().BoosterCreate(nullptr, 0, &booster) != 0)
    return XgbError("cannot create a booster");
  XgbModel model(booster);
  if (LoadedApi().BoosterLoadModel(booster, path.c_str()) != 0) {
    return XgbError("cannot load the model '" + path + "'");
  }
  return model;
}

Status XgbModel::SetParam(const std::string& name, const std::string& value) {
  if (LoadedApi().BoosterSetParam(booster_, name.c_str(), value.c_str()) != 0) {
    return XgbError("parameter '" + name + "' = '" + value + "'");
  }
  return Status::Ok();
}

Status XgbModel::Save(const std::string& path) const {
  if (LoadedApi().BoosterSaveModel(booster_, path.c_str()) != 0) {
    return XgbError("cannot save the model to '" + path + "'");
  }
  return Status::Ok();
}

namespace {

// This thread's proxy matrix for in-place prediction. Without one XGBoost makes a proxy per call,
// and each reads the cgroup's CPU quota from two files (six system calls a prediction).
// The free function is kept with the handle: a detached thread may end while the process exits,
// after the API table's statics are gone.
class ThreadProxy {
 public:
  ~ThreadProxy() {
    if (handle_ != nullptr) free_(handle_);
  }
  DMatrixHandle get() {
    if (handle_ == nullptr) {
      if (LoadedApi().ProxyDMatrixCreate(&handle_) != 0) return handle_ = nullptr;
      free_ = LoadedApi().DMatrixFree;
    }
    return handle_;
  }

 private:
  DMatrixHandle handle_ = nullptr;
  decltype(&XGDMatrixFree) free_ = nullptr;
};

}  // namespace

Result<std::vector<float>> XgbModel::Predict(const DenseMatrix& rows) const {
  if (rows.rows == 0) return std::vector<float>();
  // In-place prediction reads the rows where they are (no DMatrix copy) on every thread.
  const std::string values = "{\"data\": [" +
                             std::to_string(reinterpret_cast<std::uintptr_t>(rows.values.data())) +
                             ", true], \"shape\": [" + std::to_string(rows.rows) + ", " +
                             std::to_string(rows.cols) + "], \"typestr\": \"<f4\", \"version\": 3}";
  // XGBoost 1.7 requires "cache_id" (0: no cache); without it every call fails, slowly (it builds
  // a stack trace), and the fallback below copies the rows into a DMatrix.
  const char* config =
      "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "
      "\"strict_shape\": false, \"missing\": NaN, \"cache_id\": 0}";
  const bst_ulong* shape = nullptr;
  bst_ulong dims = 0;
  const float* result = nullptr;
  thread_local ThreadProxy proxy;
  if (LoadedApi().BoosterPredictFromDense(booster_, values.c_str(), config, proxy.get(), &shape,
                                          &dims, &result) == 0) {
    return std::vector<float>(result, result + rows.rows);
  }
  // Boosters without in-place prediction (gblinear) go through a DMatrix.
  auto matrix = Matrix::From(rows, {}, {});
  if (!matrix.ok()) return matrix.error();
  bst_ulong length = 0;
  if (LoadedApi().BoosterPredict(booster_, (*matrix)->handle(), 0, 0, 0, &length, &result) != 0) {
    return XgbError("prediction failed");
  }
  return std::vector<float>(result, result + length);
}

Result<std::vector<std::string>> XgbModel::FeatureNames() const {
  bst_ulong count = 0;
  const char** names = nullptr;
  if (LoadedApi().BoosterGetStrFeatureInfo(booster_, "feature_name", &count, &names) != 0) {
    return XgbError("cannot read the feature names");
  }
  return std::vector<std::string>(names, names + count);
}

}  // namespace conveyor::operators
