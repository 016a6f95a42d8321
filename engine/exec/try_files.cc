#include "engine/exec/try_files.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/common/private_files.h"

namespace conveyor::exec {

nlohmann::json LaunchToJson(const TaskLaunch& launch, const nlohmann::json& registry_snapshot) {
  const TaskRunInfo& info = launch.info;
  nlohmann::json json = {
      {"operator", launch.operator_name},
      {"dag_id", info.dag_id},
      {"run_id", info.run_id},
      {"task_id", info.task_id},
      {"try_number", info.try_number},
      {"logical_date", info.logical_date.time_since_epoch().count()},
      {"log_path", info.log_path},
      {"output_path", info.output_path},
      {"work_dir", info.work_dir},
      {"args", launch.args},
      {"env", launch.env},
      {"data_db", launch.data.data_db},
      {"artifacts_dir", launch.data.artifacts_dir},
      {"registry", registry_snapshot},
  };
  if (launch.command) json["command"] = *launch.command;
  if (launch.execution_timeout) {
    json["execution_timeout_ms"] =
        std::chrono::duration_cast<std::chrono::milliseconds>(*launch.execution_timeout).count();
  }
  return json;
}

Result<TaskLaunch> LaunchFromJson(const nlohmann::json& json) {
  // nlohmann's typed reads throw on a wrong type; the launch file is conveyor's own, so a
  // mismatch is a corrupt or foreign file, reported as such.
  try {
    TaskLaunch launch;
    launch.operator_name = json.at("operator").get<std::string>();
    TaskRunInfo& info = launch.info;
    info.dag_id = json.at("dag_id").get<std::string>();
    info.run_id = json.at("run_id").get<std::string>();
    info.task_id = json.at("task_id").get<std::string>();
    info.try_number = json.at("try_number").get<int>();
    info.logical_date = Instant(std::chrono::seconds(json.at("logical_date").get<std::int64_t>()));
    info.log_path = json.at("log_path").get<std::string>();
    info.output_path = json.at("output_path").get<std::string>();
    info.work_dir = json.at("work_dir").get<std::string>();
    launch.args = json.at("args");
    launch.env = json.at("env").get<std::map<std::string, std::string>>();
    if (json.contains("command")) launch.command = json["command"];
    if (json.contains("execution_timeout_ms")) {
      launch.execution_timeout =
          std::chrono::milliseconds(json["execution_timeout_ms"].get<std::int64_t>());
    }
    launch.data.data_db = json.value("data_db", "");
    launch.data.artifacts_dir = json.value("artifacts_dir", "");
    return launch;
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(std::string("not a conveyor launch file: ") + e.what());
  }
}

nlohmann::json ResultToJson(const OperatorResult& result, const nlohmann::json& registry_changes) {
  const char* outcome = result.outcome == OperatorResult::Outcome::kSuccess  ? "success"
                        : result.outcome == OperatorResult::Outcome::kFailed ? "failed"
                                                                             : "skipped";
  nlohmann::json json = {{"outcome", outcome},
                         {"message", result.message},
                         {"outputs", result.outputs},
                         {"registry_changes", registry_changes}};
  if (result.exit_code) json["exit_code"] = *result.exit_code;
  return json;
}

Result<OperatorResult> ResultFromJson(const nlohmann::json& json) {
  if (!json.is_object() || !json.contains("outcome") || !json["outcome"].is_string()) {
    return InvalidArgument("not a conveyor result file");
  }
  const std::string outcome = json["outcome"].get<std::string>();
  const std::string message = json.contains("message") && json["message"].is_string()
                                  ? json["message"].get<std::string>()
                                  : "";
  if (outcome == "success") {
    nlohmann::json outputs = json.value("outputs", nlohmann::json::object());
    return OperatorResult::Success(outputs.is_object() ? outputs : nlohmann::json::object());
  }
  if (outcome == "failed") {
    OperatorResult failed = OperatorResult::Failure(message);
    if (json.contains("exit_code") && json["exit_code"].is_number_integer()) {
      failed.exit_code = json["exit_code"].get<int>();
    }
    return failed;
  }
  if (outcome == "skipped") return OperatorResult::Skipped(message);
  return InvalidArgument("unknown outcome '" + outcome + "' in a result file");
}

Status WriteFileAtomically(const std::string& path, const std::string& text) {
  return WritePrivateFile(path, text);
}

Result<nlohmann::json> ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto json = nlohmann::json::parse(text.str(), nullptr, false);
  if (json.is_discarded()) return InvalidArgument(path + " is not valid JSON");
  return json;
}

}  // namespace conveyor::exec
