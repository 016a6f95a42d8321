#include "operators/shell_operator.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <string_view>
#include <utility>

#include "engine/common/secret_masker.h"
#include "engine/exec/process_runner.h"
#include "engine/exec/task_environment.h"

namespace conveyor::operators {
namespace {

// The allowlisted part of conveyor's environment, then the CONVEYOR_* variables, then the task's
// env; a later entry
// replaces an earlier one of the same name. Built on the path from one task's end to the next
// one's start: no map of the whole environment per try.
std::vector<std::string> Environment(const exec::OperatorContext& context) {
  const exec::TaskRunInfo& info = context.info;
  std::vector<std::pair<std::string_view, std::string>> own = {
      {"CONVEYOR_DAG_ID", info.dag_id},
      {"CONVEYOR_RUN_ID", info.run_id},
      {"CONVEYOR_TASK_ID", info.task_id},
      {"CONVEYOR_TRY_NUMBER", std::to_string(info.try_number)},
      {"CONVEYOR_LOGICAL_DATE", FormatUtc(info.logical_date)},
      {"CONVEYOR_OUTPUT", info.output_path}};
  for (const auto& var : context.env) {
    auto same =
        std::find_if(own.begin(), own.end(), [&](const auto& v) { return v.first == var.first; });
    if (same != own.end()) {
      same->second = var.second;
    } else {
      own.emplace_back(var.first, var.second);
    }
  }
  const std::vector<std::string>& base = exec::TaskBaseEnvironment();
  std::vector<std::string> out;
  out.reserve(base.size() + own.size());
  for (const std::string& entry : base) {
    const std::string_view name(entry.data(), entry.find('='));
    if (std::none_of(own.begin(), own.end(), [&](const auto& v) { return v.first == name; })) {
      out.push_back(entry);
    }
  }
  for (const auto& [name, value] : own) {
    std::string entry;
    entry.reserve(name.size() + 1 + value.size());
    out.push_back(entry.append(name).append("=").append(value));
  }
  return out;
}

// key=value lines; blank lines and lines without '=' are ignored.
nlohmann::json ReadOutputs(const std::string& path) {
  nlohmann::json outputs = nlohmann::json::object();
  // Most tasks write none: a failed access() is cheaper than a failed std::ifstream.
  if (access(path.c_str(), F_OK) != 0) return outputs;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0) continue;
    outputs[MaskSecrets(line.substr(0, eq))] = MaskSecrets(line.substr(eq + 1));
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
    auto failed = exec::OperatorResult::Failure("command exited with code " +
                                                std::to_string(waited->exit_code));
    failed.exit_code = waited->exit_code;
    return failed;
  }
  return exec::OperatorResult::Success(ReadOutputs(context.info.output_path));
}

}  // namespace conveyor::operators
