#include "operators/train_operator.h"

#include <cmath>
#include <filesystem>
#include <sstream>

#include "engine/common/json_text.h"
#include "engine/common/private_files.h"
#include "operators/feature_columns.h"
#include "operators/ml_arg.h"
#include "operators/ml_metrics.h"
#include "operators/model_registration.h"
#include "operators/validation_rows.h"
#include "operators/xgboost_model.h"

namespace conveyor::operators {
namespace {

std::uint64_t SplitMix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Which rows a split column sends to validation: 'validation' (or 'valid', 'test') or 1.
Result<bool> SplitValue(const exec::Cell& cell, const std::string& column, size_t row) {
  if (const auto* text = std::get_if<std::string>(&cell)) {
    if (*text == "train") return false;
    if (*text == "validation" || *text == "valid" || *text == "test") return true;
  } else if (const auto* i = std::get_if<std::int64_t>(&cell)) {
    if (*i == 0 || *i == 1) return *i == 1;
  }
  return InvalidArgument("split column '" + column + "' must hold train/validation or 0/1, row " +
                         std::to_string(row) + " holds " + CellText(cell));
}

struct Dataset {
  DenseMatrix train, validation;
  std::vector<float> train_labels, validation_labels;
  std::vector<double> validation_truth;  // the labels as stored, for the metrics
  std::vector<std::string> features;
};

// The validation rows beside the model (validation_rows.h), for a later comparison with another
// model on the same rows.
Status SaveValidationRows(const std::string& path, const Dataset& set,
                          const std::string& objective) {
  ValidationRows rows;
  rows.objective = objective;
  rows.features = set.features;
  rows.labels = set.validation_truth;
  rows.matrix = set.validation;
  return WriteValidationRows(path, rows);
}

class Train {
 public:
  explicit Train(exec::OperatorContext& context) : context_(context), args_(context.args) {}

  Result<nlohmann::json> Run() {
    const std::string objective = args_.value("objective", std::string("binary:logistic"));
    binary_ = objective == "binary:logistic";
    auto data = ReadDataset();
    if (!data.ok()) return data.error();
    Dataset& set = *data;
    context_.Log("training on " + std::to_string(set.train.rows) + " rows, validating on " +
                 std::to_string(set.validation.rows) + ", " + std::to_string(set.features.size()) +
                 " features");
    TrainSettings settings;
    settings.feature_names = set.features;
    settings.params = {{"booster", args_.value("booster", std::string("gbtree"))},
                       {"objective", objective},
                       {"seed", std::to_string(ArgInteger(args_, "seed", 42))},
                       {"nthread", "1"},
                       {"tree_method", "hist"},
                       {"verbosity", "1"}};
    if (settings.params["booster"] == "gblinear") settings.params.erase("tree_method");
    if (args_.contains("params")) {
      for (const auto& item : args_.at("params").items()) {
        settings.params[item.key()] =
            item.value().is_string() ? item.value().get<std::string>() : DumpJson(item.value());
      }
    }
    settings.rounds = static_cast<int>(ArgInteger(args_, "num_boost_round", 100));
    if (settings.rounds < 1) return InvalidArgument("num_boost_round must be at least 1");
    auto model =
        XgbModel::Train(set.train, set.train_labels, &set.validation, set.validation_labels,
                        settings, [this](const std::string& line) { context_.Log(line); });
    if (!model.ok()) return model.error();
    auto predictions = model->Predict(set.validation);
    if (!predictions.ok()) return predictions.error();
    std::vector<double> scores(predictions->begin(), predictions->end());
    nlohmann::json metrics = binary_ ? BinaryMetrics(set.validation_truth, scores)
                                     : RegressionMetrics(set.validation_truth, scores);
    context_.Log("validation metrics: " + DumpJson(metrics));

    if (context_.data.artifacts_dir.empty()) return InvalidArgument("no artifacts_dir is set");
    const auto& info = context_.info;
    const std::filesystem::path folder = std::filesystem::path(context_.data.artifacts_dir) /
                                         info.dag_id / info.run_id / info.task_id /
                                         ("try_" + std::to_string(info.try_number));
    MakePrivateFolders(folder.string());
    std::error_code ec;
    if (!std::filesystem::is_directory(folder, ec)) {
      return IoError("cannot create '" + folder.string() + "'");
    }
    const std::string artifact = (folder / "model.json").string();
    if (Status s = model->Save(artifact); !s.ok()) return s.error();
    MakePrivate(artifact);
    context_.Log("saved the model to " + artifact);

    const std::string validation = (folder / "validation.json").string();
    if (Status s = SaveValidationRows(validation, set, objective); !s.ok()) return s.error();

    nlohmann::json outputs = metrics;
    outputs["train_rows"] = set.train.rows;
    outputs["validation_rows"] = set.validation.rows;
    outputs["artifact_path"] = artifact;
    outputs["validation_path"] = validation;
    if (Status s = Register(artifact, metrics, set.features, outputs); !s.ok()) return s.error();
    return outputs;
  }

 private:
  Result<Dataset> ReadDataset() {
    auto store = context_.OpenData();
    if (!store.ok()) return store.error();
    auto source = OpenSourceArg(**store, args_);
    if (!source.ok()) return source.error();
    exec::TableReader& reader = *source->reader;
    const auto& columns = reader.columns();
    const std::string label = args_.at("label").get<std::string>();
    auto label_index = FindColumn(columns, label, "label", source->name);
    if (!label_index.ok()) return label_index.error();
    std::optional<size_t> split_index;
    std::vector<std::string> not_features = {label};
    if (args_.contains("split_column")) {
      const std::string split = args_.at("split_column").get<std::string>();
      auto found = FindColumn(columns, split, "split", source->name);
      if (!found.ok()) return found.error();
      split_index = *found;
      not_features.push_back(split);
    }
    auto chosen = ChooseFeatures(columns, StringList(args_, "features"),
                                 StringList(args_, "exclude"), not_features, source->name);
    if (!chosen.ok()) return chosen.error();
    if (columns[*label_index].type == exec::ColumnType::kText ||
        columns[*label_index].type == exec::ColumnType::kTimestamp) {
      return InvalidArgument("label column '" + label + "' of " + source->name + " is " +
                             std::string(exec::ColumnTypeName(columns[*label_index].type)) +
                             ": the label must be numeric");
    }
    const double ratio = ArgNumber(args_, "validation_ratio", 0.2);
    if (!(ratio >= 0 && ratio < 1)) return InvalidArgument("validation_ratio must be in [0, 1)");
    const auto seed = static_cast<std::uint64_t>(ArgInteger(args_, "seed", 42));

    Dataset set;
    for (size_t index : *chosen) set.features.push_back(columns[index].name);
    set.train.cols = set.validation.cols = chosen->size();
    std::vector<exec::Cell> row;
    for (size_t number = 1;; ++number) {
      auto got = reader.Next(row);
      if (!got.ok()) return got.error();
      if (!*got) break;
      auto label_value = NumericValue(row[*label_index]);
      if (!label_value) {
        return InvalidArgument("label column '" + label + "' of " + source->name + " holds " +
                               CellText(row[*label_index]) + " at row " + std::to_string(number));
      }
      if (binary_ && *label_value != 0.0 && *label_value != 1.0) {
        return InvalidArgument("label column '" + label + "' of " + source->name +
                               " must hold 0 or 1 for binary:logistic, row " +
                               std::to_string(number) + " holds " + CellText(row[*label_index]));
      }
      bool validation = InValidationSet(seed, number - 1, ratio);
      if (split_index) {
        auto in = SplitValue(row[*split_index], columns[*split_index].name, number);
        if (!in.ok()) return in.error();
        validation = *in;
      }
      DenseMatrix& matrix = validation ? set.validation : set.train;
      size_t bad = 0;
      if (!AppendFeatureRow(row, *chosen, matrix, &bad)) {
        return InvalidArgument("feature column '" + columns[bad].name + "' of " + source->name +
                               " holds text " + CellText(row[bad]) + " at row " +
                               std::to_string(number) + ": features must be numeric");
      }
      (validation ? set.validation_labels : set.train_labels)
          .push_back(static_cast<float>(*label_value));
      if (validation) set.validation_truth.push_back(*label_value);
    }
    if (set.train.rows == 0) return InvalidArgument(source->name + " leaves no training rows");
    if (set.validation.rows == 0) {
      return InvalidArgument(source->name +
                             " leaves no validation rows (raise validation_ratio or fill the "
                             "split column)");
    }
    return set;
  }

  Status Register(const std::string& artifact, const nlohmann::json& metrics,
                  const std::vector<std::string>& features, nlohmann::json& outputs) {
    const nlohmann::json spec = args_.value("register", nlohmann::json::object());
    std::string name = spec.value("name", args_.value("model", std::string()));
    if (name.empty()) return Status::Ok();
    if (!context_.data.open_registry) return InvalidArgument("no model registry is configured");
    auto registry = context_.data.open_registry();
    if (!registry.ok()) return registry.error();
    auto added = AddModelVersion(context_, **registry, name, artifact, metrics, features);
    if (!added.ok()) return added.error();
    outputs["model_name"] = name;
    outputs["model_version"] = added->version;
    const std::string alias = spec.value("alias", std::string());
    if (alias.empty()) return Status::Ok();
    auto bounds = CheckBounds(spec, metrics);
    if (!bounds.ok()) return bounds.error();
    if (!bounds->empty()) {
      context_.Log("alias '" + alias + "' left where it was: " + *bounds);
      outputs["alias"] = "";
      return Status::Ok();
    }
    if (Status s = PointAlias(context_, **registry, name, alias, added->version); !s.ok()) {
      return s;
    }
    outputs["alias"] = alias;
    return Status::Ok();
  }

  // Checks register's min_<metric>/max_<metric> bounds: empty when all hold, else why not.
  static Result<std::string> CheckBounds(const nlohmann::json& spec,
                                         const nlohmann::json& metrics) {
    for (const auto& item : spec.items()) {
      const std::string& key = item.key();
      if (key == "name" || key == "alias") continue;
      const bool is_min = key.rfind("min_", 0) == 0;
      if (!is_min && key.rfind("max_", 0) != 0) {
        return InvalidArgument("register takes name, alias, min_<metric> and max_<metric>, not '" +
                               key + "'");
      }
      const std::string metric = key.substr(4);
      if (!metrics.contains(metric)) {
        return InvalidArgument("register's " + key + " names no metric of this model (" +
                               DumpJson(metrics) + ")");
      }
      auto bound = NumberValue(item.value(), "register." + key);
      if (!bound.ok()) return bound.error();
      const nlohmann::json& value = metrics.at(metric);
      if (!value.is_number()) return metric + " is undefined";
      const double v = value.get<double>();
      if (is_min ? v < *bound : v > *bound) {
        std::ostringstream why;
        why << metric << " " << v << (is_min ? " < " : " > ") << key << " " << *bound;
        return why.str();
      }
    }
    return std::string();
  }

  exec::OperatorContext& context_;
  const nlohmann::json& args_;
  bool binary_ = true;
};

}  // namespace

bool InValidationSet(std::uint64_t seed, std::uint64_t index, double ratio) {
  const double u = static_cast<double>(SplitMix64(seed + index) >> 11) * 0x1.0p-53;
  return u < ratio;
}

exec::OperatorResult TrainOperator::Execute(exec::OperatorContext& context) {
  return ResultOf(context, "train", Train(context).Run());
}

}  // namespace conveyor::operators
