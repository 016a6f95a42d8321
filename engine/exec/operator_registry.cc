#include "engine/exec/operator_registry.h"

#include <algorithm>

#include "engine/common/duration.h"
#include "engine/common/json_text.h"
#include "engine/common/suggest.h"
#include "engine/dag/template.h"

namespace conveyor::exec {
namespace {

std::string TypeName(ArgType type) {
  switch (type) {
    case ArgType::kString:
      return "a string";
    case ArgType::kInteger:
      return "an integer";
    case ArgType::kNumber:
      return "a number";
    case ArgType::kBool:
      return "true or false";
    case ArgType::kList:
      return "a list";
    case ArgType::kMap:
      return "a mapping";
    case ArgType::kDuration:
      return "a duration such as 30s";
    case ArgType::kAny:
      return "any value";
  }
  return "a value";
}

bool HasType(const nlohmann::json& value, ArgType type) {
  switch (type) {
    case ArgType::kString:
      return value.is_string();
    case ArgType::kInteger:
      return value.is_number_integer();
    case ArgType::kNumber:
      return value.is_number();
    case ArgType::kBool:
      return value.is_boolean();
    case ArgType::kList:
      return value.is_array();
    case ArgType::kMap:
      return value.is_object();
    case ArgType::kDuration:
      return (value.is_string() && ParseDuration(value.get<std::string>()).ok()) ||
             value.is_number_unsigned();
    case ArgType::kAny:
      return true;
  }
  return false;
}

}  // namespace

void OperatorRegistry::Register(OperatorSpec spec) {
  spec.runs_as_process =
      spec.factory && dynamic_cast<const ProcessOperator*>(spec.factory().get()) != nullptr;
  std::string name = spec.name;
  specs_[name] = std::move(spec);
}

const OperatorSpec* OperatorRegistry::Find(std::string_view name) const {
  auto it = specs_.find(name);
  return it == specs_.end() ? nullptr : &it->second;
}

std::vector<std::string> OperatorRegistry::OperatorNames() const {
  std::vector<std::string> names;
  for (const auto& [name, spec] : specs_) names.push_back(name);
  return names;
}

bool OperatorRegistry::HasOperator(std::string_view name) const { return Find(name) != nullptr; }

std::vector<dag::ArgProblem> OperatorRegistry::CheckArgs(std::string_view operator_name,
                                                         const nlohmann::json& args,
                                                         bool has_command) const {
  std::vector<dag::ArgProblem> problems;
  const OperatorSpec* spec = Find(operator_name);
  if (spec == nullptr) return {{"", "unknown operator '" + std::string(operator_name) + "'"}};
  const std::string op = "operator '" + spec->name + "'";
  if (spec->command == CommandUse::kRequired && !has_command) {
    problems.push_back({"", op + " needs a 'command'"});
  } else if (spec->command == CommandUse::kNone && has_command) {
    problems.push_back({"command", op + " does not take a 'command'"});
  }
  std::vector<std::string> known;
  for (const ArgSpec& arg : spec->args) known.push_back(arg.name);
  for (const auto& item : args.items()) {
    const std::string& key = item.key();
    const nlohmann::json& value = item.value();
    const auto it = std::find_if(spec->args.begin(), spec->args.end(),
                                 [&](const ArgSpec& arg) { return arg.name == key; });
    if (it == spec->args.end()) {
      problems.push_back({key, "unknown arg '" + key + "' for " + op + DidYouMean(key, known)});
      continue;
    }
    const bool templated = value.is_string() && !dag::Template::IsPlain(value.get<std::string>());
    if (templated) continue;  // checked once rendered
    if (!HasType(value, it->type)) {
      problems.push_back({key, "arg '" + key + "' of " + op + " must be " + TypeName(it->type) +
                                   ", got " + DumpJson(value)});
    } else if (!it->choices.empty() && std::find(it->choices.begin(), it->choices.end(),
                                                 value.get<std::string>()) == it->choices.end()) {
      std::string list;
      for (const auto& choice : it->choices) list += (list.empty() ? "" : ", ") + choice;
      problems.push_back({key, "arg '" + key + "' of " + op + " must be one of " + list + ", got " +
                                   DumpJson(value)});
    }
  }
  for (const ArgSpec& arg : spec->args) {
    if (arg.required && !args.contains(arg.name)) {
      problems.push_back({"", op + " needs arg '" + arg.name + "'"});
    }
  }
  return problems;
}

}  // namespace conveyor::exec
