#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/error.h"

namespace conveyor::dag {

struct Dag;

// One thing wrong with a task's operator arguments. `arg` names the offending key of `args`
// (empty when the problem is with the args as a whole or with the task's `command`).
struct ArgProblem {
  std::string arg;
  std::string message;
};

// What the DAG loader knows of operators (their names and how to check a task's arguments) and
// of where tasks run.
// Implemented by the operator registry in engine/exec; tests may supply their own.
class OperatorCatalog {
 public:
  virtual ~OperatorCatalog() = default;

  // All operator names, sorted.
  virtual std::vector<std::string> OperatorNames() const = 0;
  virtual bool HasOperator(std::string_view name) const = 0;

  // Checks `args` (a JSON object; strings holding "{{" are templates rendered at run time) and
  // whether the task gives a `command`. Returns every problem found.
  virtual std::vector<ArgProblem> CheckArgs(std::string_view operator_name,
                                            const nlohmann::json& args, bool has_command) const = 0;

  // Checks what depends on where the DAG's tasks would run rather than on its file (a task's
  // resources against this machine's). Called on every load, a cached parse's too; none here.
  virtual Diagnostics CheckPlacement(const Dag& dag) const {
    (void)dag;
    return {};
  }
};

}  // namespace conveyor::dag
