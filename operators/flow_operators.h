#pragma once

#include "engine/exec/operator.h"

namespace conveyor::operators {

// Airflow's BranchPythonOperator, for YAML: its rendered args.choose (a task id, ids separated
// by commas, or a list) becomes its output `branch`, the direct downstream tasks to follow.
class BranchOperator : public exec::Operator {
 public:
  exec::OperatorResult Execute(exec::OperatorContext& context) override;
};

// Airflow's ShortCircuitOperator: its rendered args.condition becomes its output `condition`;
// a false one skips what follows.
class ShortCircuitOperator : public exec::Operator {
 public:
  exec::OperatorResult Execute(exec::OperatorContext& context) override;
};

}  // namespace conveyor::operators
