#pragma once

#include "engine/exec/operator.h"

namespace conveyor::operators {

// `batch_infer`: scores a table (or a query) of the data database with a registered model
// (`name@alias` or `name/version`), writing `output_table` with every input column (or those in
// `columns`) plus the prediction column, in batches of `batch_size` rows so that memory stays
// flat. All or nothing. Outputs: rows, output_table, model_name, model_version.
class BatchInferOperator : public exec::Operator {
 public:
  exec::OperatorResult Execute(exec::OperatorContext& context) override;
};

}  // namespace conveyor::operators
