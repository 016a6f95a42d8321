#pragma once

#include "engine/exec/operator.h"

namespace conveyor::operators {

// Does nothing and succeeds: for tests and benchmarks of the scheduler itself.
class NoopOperator : public exec::Operator {
 public:
  exec::OperatorResult Execute(exec::OperatorContext& context) override;
};

// Waits for args.duration, honouring cancellation and the execution timeout.
class SleepOperator : public exec::Operator {
 public:
  exec::OperatorResult Execute(exec::OperatorContext& context) override;
};

}  // namespace conveyor::operators
