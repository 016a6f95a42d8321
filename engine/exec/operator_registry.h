#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/dag/operator_catalog.h"
#include "engine/exec/operator.h"

namespace conveyor::exec {

enum class ArgType { kString, kInteger, kNumber, kBool, kList, kMap, kDuration, kAny };

// One argument an operator accepts in a task's `args`.
// What an argument names that a try reads, for a cached try's key (input_fingerprints.h).
enum class InputKind { kNone, kFile, kTable, kQuery, kModel };

struct ArgSpec {
  std::string name;
  ArgType type = ArgType::kString;
  bool required = false;
  std::vector<std::string> choices;  // allowed values of a string argument, when restricted
  InputKind input = InputKind::kNone;
};

enum class CommandUse { kNone, kRequired };

using OperatorFactory = std::function<std::unique_ptr<Operator>()>;

// An operator: its name and arguments (what the loader checks) and how to make one (what the
// executor runs). An operator without a factory validates but cannot run in this build.
struct OperatorSpec {
  std::string name;
  std::string description;
  CommandUse command = CommandUse::kNone;
  std::vector<ArgSpec> args;
  OperatorFactory factory;
  // Its work is one process (a ProcessOperator), which outlives conveyor if conveyor dies: such a
  // try starts only once its start can be accounted for. Set by Register, from the factory.
  bool runs_as_process = false;
};

// The operators conveyor knows, by name. Filled once at start-up (RegisterBuiltinOperators) and
// read-only afterwards, so concurrent reads are safe.
class OperatorRegistry : public dag::OperatorCatalog {
 public:
  // Adds or replaces an operator.
  void Register(OperatorSpec spec);
  const OperatorSpec* Find(std::string_view name) const;

  std::vector<std::string> OperatorNames() const override;
  bool HasOperator(std::string_view name) const override;
  std::vector<dag::ArgProblem> CheckArgs(std::string_view operator_name, const nlohmann::json& args,
                                         bool has_command) const override;

 private:
  std::map<std::string, OperatorSpec, std::less<>> specs_;
};

}  // namespace conveyor::exec
