#pragma once

#include "engine/exec/operator.h"

namespace conveyor::operators {

// `train`: reads a table (or a query) of the data database, splits it into train and validation
// sets (by `split_column`, or by a seeded hash of the row number with `validation_ratio`), trains
// an XGBoost model through its C API, computes validation metrics, saves the model as XGBoost
// JSON under the artifacts folder and registers it (`register: {name, alias, min_<metric>,
// max_<metric>}`: the alias is set only when every bound holds). Outputs: the metrics, rows,
// artifact_path, and model_name/model_version/alias when registered.
class TrainOperator : public exec::Operator {
 public:
  exec::OperatorResult Execute(exec::OperatorContext& context) override;
};

// Whether row `index` goes to the validation set for `seed` and `ratio`: the SplitMix64 hash of
// seed + index, as a fraction of 2^64, below ratio. Stable across machines and versions.
bool InValidationSet(std::uint64_t seed, std::uint64_t index, double ratio);

}  // namespace conveyor::operators
