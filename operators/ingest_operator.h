#pragma once

#include "engine/exec/operator.h"

namespace conveyor::operators {

// `ingest`: a CSV file with a header into a table of the data database, all or nothing. Column
// types come from `columns` or are inferred (integer, real, timestamp, text); empty fields are
// NULL. Checks: required_columns, not_null, unique_key, min_rows. A bad row fails the try with
// file:line:column. Outputs: rows, table.
class IngestOperator : public exec::Operator {
 public:
  exec::OperatorResult Execute(exec::OperatorContext& context) override;
};

}  // namespace conveyor::operators
