#include "operators/shell_operator.h"

#include <fstream>

#include "engine/exec/process_runner.h"

extern char** environ;

namespace conveyor::operators {
namespace {

// conveyor's own environment, read once: tasks inherit it.
const std::map<std::string, std::string>& BaseEnvironment() {
  static const std::map<std::string, std::string> vars = [] {
    std::map<std::string, std::string> out;
    for (char** entry = environ; *entry != nullptr; ++entry) {
      const std::string text(*entry);
      const size_t eq = text.find('=');
      if (eq != std::string::npos) out[text.substr(0, eq)] = text.substr(eq + 1);
    }
    return out;
  }();
  return vars;
}

std::vector<std::string> Environment(const exec::OperatorContext& context) {
  const exec::TaskRunInfo& info = context.info;
  std::map<std::string, std::string> vars = BaseEnvironment();
  vars["CONVEYOR_DAG_ID"] = info.dag_id;
  vars["CONVEYOR_RUN_ID"] = info.run_id;
  vars["CONVEYOR_TASK_ID"] = info.task_id;
  vars["CONVEYOR_TRY_NUMBER"] = std::to_string(info.try_number);
  vars["CONVEYOR_LOGICAL_DATE"] = FormatUtc(info.logical_date);
  vars["CONVEYOR_OUTPUT"] = info.output_path;
  for (const auto& [name, value] : context.env) vars[name] = value;
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (const auto& [name, value] : vars) out.push_back(name + "=" + value);
  return out;
}

// key=value lines; blank lines and lines without '=' are ignored.
nlohmann::json ReadOutputs(const std::string& path) {
  nlohmann::json outputs = nlohmann::json::object();
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    outputs[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return outputs;
}

}  // namespace

Result<std::unique_ptr<exec::StartedProcess>> ShellOperator::Start(exec::OperatorContext& context) {
  if (!context.command) return InvalidArgument("the task has no command");
  exec::ProcessSpec spec;
  if (context.command->is_array()) {
    for (const auto& arg : *context.command) spec.argv.push_back(arg.get<std::string>());
  } else {
    spec.argv = exec::CommandArgv(context.command->get<std::string>());
  }
  if (spec.argv.empty()) return InvalidArgument("the command is empty");
  spec.env = Environment(context);
  spec.cwd =
      context.args.contains("cwd") ? context.args["cwd"].get<std::string>() : context.info.work_dir;
  spec.log_path = context.info.log_path;
  // The run's folder, where $CONVEYOR_OUTPUT goes; it exists after the run's first task.
  exec::EnsureParentFolder(context.info.output_path);
  spec.deadline = context.deadline;
  spec.cancelled = &context.cancelled;
  return context.processes.Start(spec);
}

exec::OperatorResult ShellOperator::Finish(exec::OperatorContext& context,
                                           Result<exec::ProcessResult> waited) {
  if (!waited.ok()) return exec::OperatorResult::Failure(waited.error().message);
  if (waited->timed_out) {
    return exec::OperatorResult::Failure(
        "timed out: execution_timeout reached, process group killed");
  }
  if (waited->cancelled) return exec::OperatorResult::Failure("cancelled");
  if (waited->signal != 0) {
    return exec::OperatorResult::Failure("command killed by signal " +
                                         std::to_string(waited->signal));
  }
  if (waited->exit_code != 0) {
    return exec::OperatorResult::Failure("command exited with code " +
                                         std::to_string(waited->exit_code));
  }
  return exec::OperatorResult::Success(ReadOutputs(context.info.output_path));
}

}  // namespace conveyor::operators
