#include "operators/flow_operators.h"

namespace conveyor::operators {

exec::OperatorResult BranchOperator::Execute(exec::OperatorContext& context) {
  const nlohmann::json& choice = context.args.at("choose");
  context.Log("branch: chose " + (choice.is_string() ? choice.get<std::string>() : choice.dump()));
  return exec::OperatorResult::Success({{"branch", choice}});
}

exec::OperatorResult ShortCircuitOperator::Execute(exec::OperatorContext& context) {
  const nlohmann::json& condition = context.args.at("condition");
  context.Log("short-circuit: condition " +
              (condition.is_string() ? condition.get<std::string>() : condition.dump()));
  return exec::OperatorResult::Success({{"condition", condition}});
}

}  // namespace conveyor::operators
