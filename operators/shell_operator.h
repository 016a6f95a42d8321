#pragma once

#include "engine/exec/operator.h"

namespace conveyor::operators {

// Runs the task's command: a list is exec'd as argv; a string is exec'd directly when it has no
// shell syntax, else through /bin/sh -c. The process gets the allowlisted part of conveyor's
// environment (exec/task_environment.h), the CONVEYOR_* variables and the task's env; its key=value
// lines in $CONVEYOR_OUTPUT become the task's outputs.
class ShellOperator : public exec::ProcessOperator {
 public:
  Result<std::unique_ptr<exec::StartedProcess>> Start(exec::OperatorContext& context) override;
  exec::OperatorResult Finish(exec::OperatorContext& context,
                              Result<exec::ProcessResult> waited) override;
};

}  // namespace conveyor::operators
