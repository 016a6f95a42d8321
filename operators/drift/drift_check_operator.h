#pragma once

#include "engine/exec/operator.h"

namespace conveyor::operators {

// `drift_check`: compares a primary table (cut into time windows) with a baseline table, per
// feature (Evidently's tests and defaults, PSI on every feature) and for model quality, and
// appends the results to the `drift_results` table of the data database (the bins of the latest
// window to `drift_histograms`, for charts). With `on_drift: fail` a drifted latest window fails
// the try (so on_failure callbacks alert); `warn` logs it and succeeds.
class DriftCheckOperator : public exec::Operator {
 public:
  exec::OperatorResult Execute(exec::OperatorContext& context) override;
};

}  // namespace conveyor::operators
