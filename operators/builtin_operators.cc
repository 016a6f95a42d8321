#include "operators/builtin_operators.h"

#include "operators/batch_infer_operator.h"
#include "operators/drift/drift_check_operator.h"
#include "operators/flow_operators.h"
#include "operators/ingest_operator.h"
#include "operators/noop_operator.h"
#include "operators/register_operator.h"
#include "operators/shell_operator.h"
#include "operators/train_operator.h"

namespace conveyor::operators {
namespace {

using exec::ArgSpec;
using exec::ArgType;
using exec::CommandUse;
using exec::InputKind;
using exec::OperatorSpec;

ArgSpec Required(std::string name, ArgType type = ArgType::kString) {
  return ArgSpec{std::move(name), type, true, {}};
}
ArgSpec Optional(std::string name, ArgType type = ArgType::kString) {
  return ArgSpec{std::move(name), type, false, {}};
}
template <typename T>
exec::OperatorFactory Make() {
  return [] { return std::make_unique<T>(); };
}

ArgSpec Input(ArgSpec spec, exec::InputKind kind) {
  spec.input = kind;
  return spec;
}

ArgSpec OneOf(std::string name, std::vector<std::string> choices) {
  return ArgSpec{std::move(name), ArgType::kString, false, std::move(choices)};
}

}  // namespace

void RegisterBuiltinOperators(exec::OperatorRegistry& registry) {
  registry.Register(OperatorSpec{"shell",
                                 "runs a command (argv list, or a string for /bin/sh)",
                                 CommandUse::kRequired,
                                 {Optional("cwd")},
                                 Make<ShellOperator>()});
  registry.Register(OperatorSpec{
      "noop", "does nothing and succeeds", CommandUse::kNone, {}, Make<NoopOperator>()});
  registry.Register(OperatorSpec{"branch",
                                 "follows the downstream tasks args.choose names; skips the others",
                                 CommandUse::kNone,
                                 {ArgSpec{"choose", ArgType::kAny, true, {}}},
                                 Make<BranchOperator>()});
  registry.Register(OperatorSpec{"short_circuit",
                                 "skips what follows when args.condition is false",
                                 CommandUse::kNone,
                                 {ArgSpec{"condition", ArgType::kAny, true, {}}},
                                 Make<ShortCircuitOperator>()});
  registry.Register(OperatorSpec{"sleep",
                                 "waits for a duration",
                                 CommandUse::kNone,
                                 {Required("duration", ArgType::kDuration)},
                                 Make<SleepOperator>()});
  registry.Register(OperatorSpec{
      "ingest",
      "loads a CSV file into a table of the data database",
      CommandUse::kNone,
      {Input(Required("source"), InputKind::kFile), Required("table"), Optional("delimiter"),
       Optional("columns", ArgType::kMap), OneOf("mode", {"replace", "append"}),
       Optional("required_columns", ArgType::kList), Optional("not_null", ArgType::kList),
       Optional("min_rows", ArgType::kInteger), Optional("unique_key", ArgType::kList)},
      [] { return std::make_unique<IngestOperator>(); }});
  registry.Register(OperatorSpec{
      "train",
      "trains an XGBoost model on a table and registers it",
      CommandUse::kNone,
      {Input(Optional("table"), InputKind::kTable), Input(Optional("query"), InputKind::kQuery),
       Required("label"), Optional("features", ArgType::kList), Optional("exclude", ArgType::kList),
       OneOf("booster", {"gbtree", "gblinear"}),
       OneOf("objective", {"binary:logistic", "reg:squarederror"}),
       Optional("params", ArgType::kMap), Optional("num_boost_round", ArgType::kInteger),
       Optional("validation_ratio", ArgType::kNumber), Optional("seed", ArgType::kInteger),
       Optional("split_column"), Optional("model"), Optional("register", ArgType::kMap)},
      Make<TrainOperator>()});
  registry.Register(OperatorSpec{
      "register",
      "registers a trained model, only if it beats the current alias when asked",
      CommandUse::kNone,
      {Input(Required("model"), InputKind::kFile), Required("name"), Optional("alias"),
       Input(Optional("validation"), InputKind::kFile), Optional("only_if_better", ArgType::kMap)},
      Make<RegisterOperator>()});
  registry.Register(OperatorSpec{
      "batch_infer",
      "scores a table with a registered model",
      CommandUse::kNone,
      {Input(Required("model"), InputKind::kModel), Input(Optional("table"), InputKind::kTable),
       Input(Optional("query"), InputKind::kQuery), Required("output_table"),
       Optional("prediction_column"), Optional("columns", ArgType::kList),
       Optional("batch_size", ArgType::kInteger)},
      Make<BatchInferOperator>()});
  registry.Register(OperatorSpec{
      "drift_check",
      "compares a primary table with a baseline for data drift and model quality",
      CommandUse::kNone,
      {Input(Required("baseline"), InputKind::kTable),
       Input(Required("primary"), InputKind::kTable),
       OneOf("problem_type", {"binary_classification", "regression", "none"}),
       Optional("timestamp_column"), Optional("prediction_column"), Optional("label_column"),
       Optional("features", ArgType::kList), Optional("window"), Optional("tests", ArgType::kMap),
       Optional("thresholds", ArgType::kMap), Optional("drift_share", ArgType::kNumber),
       Optional("metric_change_percent", ArgType::kNumber), OneOf("on_drift", {"fail", "warn"})},
      Make<DriftCheckOperator>()});
}

}  // namespace conveyor::operators
