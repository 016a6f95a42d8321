#pragma once

#include "engine/exec/operator.h"

namespace conveyor::operators {

// Registers a trained model (args.model, a model file `train` wrote) as the next version of
// args.name and points args.alias at it. With only_if_better: {metric, than, by, direction}, it
// first scores the challenger and the version the alias `than` names on the challenger's
// validation rows (args.validation), and registers only if the challenger is better by `by`;
// otherwise the task ends skipped (the champion/challenger pattern).
class RegisterOperator : public exec::Operator {
 public:
  exec::OperatorResult Execute(exec::OperatorContext& context) override;
};

}  // namespace conveyor::operators
