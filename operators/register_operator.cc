#include "operators/register_operator.h"

#include <cmath>
#include <sstream>

#include "engine/common/json_text.h"
#include "operators/ml_arg.h"
#include "operators/ml_metrics.h"
#include "operators/model_registration.h"
#include "operators/validation_rows.h"
#include "operators/xgboost_model.h"

namespace conveyor::operators {
namespace {

// Metrics where a smaller value is better; for the others a larger one is.
bool LowerIsBetter(const std::string& metric) {
  return metric == "rmse" || metric == "mae" || metric == "mse" || metric == "logloss";
}

std::string Number(double value) {
  std::ostringstream out;
  out.precision(4);
  out << std::fixed << value;
  return out.str();
}

// A model's metrics on `rows`, its features picked from them by name.
Result<nlohmann::json> Score(const XgbModel& model, const std::vector<std::string>& features,
                             const ValidationRows& rows) {
  auto matrix = SelectFeatures(rows, features);
  if (!matrix.ok()) return matrix.error();
  auto predictions = model.Predict(*matrix);
  if (!predictions.ok()) return predictions.error();
  const std::vector<double> scores(predictions->begin(), predictions->end());
  return rows.objective == "binary:logistic" ? BinaryMetrics(rows.labels, scores)
                                             : RegressionMetrics(rows.labels, scores);
}

struct Comparison {
  bool better = true;
  std::string why;         // logged, and the skip's message
  nlohmann::json outputs;  // the champion's figures
};

class Register {
 public:
  explicit Register(exec::OperatorContext& context) : context_(context), args_(context.args) {}

  exec::OperatorResult Run() {
    const std::string name = args_.at("name").get<std::string>();
    const std::string model_path = args_.at("model").get<std::string>();
    if (!context_.data.open_registry) return Fail("no model registry is configured");
    auto registry = context_.data.open_registry();
    if (!registry.ok()) return Fail(registry.error().ToString());
    auto challenger = XgbModel::Load(model_path);
    if (!challenger.ok()) return Fail(challenger.error().ToString());
    auto features = challenger->FeatureNames();
    if (!features.ok()) return Fail(features.error().ToString());

    nlohmann::json metrics = nlohmann::json::object();
    std::optional<ValidationRows> rows;
    if (args_.contains("validation")) {
      auto read = ReadValidationRows(args_.at("validation").get<std::string>());
      if (!read.ok()) return Fail(read.error().ToString());
      rows = std::move(read).value();
      auto scored = Score(*challenger, *features, *rows);
      if (!scored.ok()) return Fail("the challenger: " + scored.error().ToString());
      metrics = *scored;
      context_.Log("challenger on " + std::to_string(rows->labels.size()) +
                   " validation rows: " + DumpJson(metrics));
    }
    nlohmann::json outputs = {{"model_name", name}};
    if (args_.contains("only_if_better")) {
      if (!rows) return Fail("only_if_better needs the challenger's validation rows (validation)");
      auto compared = Compare(**registry, name, metrics, *rows);
      if (!compared.ok()) return Fail(compared.error().ToString());
      context_.Log(compared->why);
      if (!compared->better) return exec::OperatorResult::Skipped(compared->why);
      if (compared->outputs.is_object()) outputs.update(compared->outputs);
    }

    auto added = AddModelVersion(context_, **registry, name, model_path, metrics, *features);
    if (!added.ok()) return Fail(added.error().ToString());
    outputs["model_version"] = added->version;
    for (const auto& item : metrics.items()) outputs[item.key()] = item.value();
    const std::string alias = args_.value("alias", std::string());
    if (!alias.empty()) {
      if (Status s = PointAlias(context_, **registry, name, alias, added->version); !s.ok()) {
        return Fail(s.error().ToString());
      }
    }
    outputs["alias"] = alias;
    return exec::OperatorResult::Success(outputs);
  }

 private:
  exec::OperatorResult Fail(const std::string& message) {
    context_.Log("register failed: " + message);
    return exec::OperatorResult::Failure(message);
  }

  Result<Comparison> Compare(exec::ModelRegistry& registry, const std::string& name,
                             const nlohmann::json& metrics, const ValidationRows& rows) {
    const nlohmann::json& rule = args_.at("only_if_better");
    if (!rule.is_object() || !rule.contains("metric") || !rule["metric"].is_string()) {
      return InvalidArgument(
          "only_if_better must be a mapping such as {metric: auc, than: "
          "production, by: 0.005}");
    }
    const std::string metric = rule["metric"].get<std::string>();
    const std::string than = rule.value("than", std::string("production"));
    double by = 0;
    if (rule.contains("by")) {
      auto value = NumberValue(rule["by"], "only_if_better.by");
      if (!value.ok()) return value.error();
      by = *value;
    }
    const std::string direction =
        rule.value("direction", std::string(LowerIsBetter(metric) ? "lower" : "higher"));
    if (direction != "higher" && direction != "lower") {
      return InvalidArgument("only_if_better.direction must be higher or lower, got '" + direction +
                             "'");
    }
    if (!metrics.contains(metric) || !metrics[metric].is_number()) {
      return InvalidArgument("only_if_better's metric '" + metric +
                             "' is not a metric of this model (" + DumpJson(metrics) + ")");
    }
    const double ours = metrics[metric].get<double>();
    Comparison comparison;
    auto champion = registry.Resolve(name + "@" + than);
    if (!champion.ok()) {
      if (champion.error().code != ErrorCode::kNotFound) return champion.error();
      comparison.why = "no version of " + name + " is '" + than + "' yet: the challenger (" +
                       metric + " " + Number(ours) + ") is registered";
      return comparison;
    }
    auto model = XgbModel::Load(champion->artifact_path);
    if (!model.ok()) return model.error();
    auto scored = Score(*model, champion->features, rows);
    if (!scored.ok()) {
      return InvalidArgument("cannot score " + name + "@" + than + " (version " +
                             std::to_string(champion->version) +
                             ") on the challenger's rows: " + scored.error().message);
    }
    if (!scored->contains(metric) || !(*scored)[metric].is_number()) {
      return InvalidArgument(name + "@" + than + " has no " + metric + " on these rows");
    }
    const double theirs = (*scored)[metric].get<double>();
    const double gain = direction == "higher" ? ours - theirs : theirs - ours;
    comparison.better = gain > 0 && gain >= by;
    comparison.outputs = {{"champion_version", champion->version}, {"champion_" + metric, theirs}};
    comparison.why = std::string(comparison.better ? "the challenger beats " : "the challenger ") +
                     (comparison.better ? "" : "does not beat ") + name + "@" + than +
                     " (version " + std::to_string(champion->version) + "): " + metric + " " +
                     Number(ours) + " against " + Number(theirs) + " on the same " +
                     std::to_string(rows.labels.size()) + " validation rows, needing " +
                     (direction == "higher" ? "+" : "-") + Number(by);
    return comparison;
  }

  exec::OperatorContext& context_;
  const nlohmann::json& args_;
};

}  // namespace

exec::OperatorResult RegisterOperator::Execute(exec::OperatorContext& context) {
  return Register(context).Run();
}

}  // namespace conveyor::operators
