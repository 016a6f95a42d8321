// `conveyor tasks run-try LAUNCH RESULT`: what a Slurm job runs. It executes one try described by
// a launch file and writes its result file; it opens no state database and no config.
#include <csignal>
#include <iostream>

#include "engine/cli/commands.h"
#include "engine/common/secret_masker.h"
#include "engine/data/registry_snapshot.h"
#include "engine/data/sqlite_data_store.h"
#include "engine/exec/process_runner.h"
#include "engine/exec/try_files.h"

namespace conveyor::cli {
namespace {

std::atomic<bool> g_cancelled{false};

void CancelTry(int) { g_cancelled.store(true); }

int RunTry(const std::string& launch_file, const std::string& result_file) {
  auto json = exec::ReadJsonFile(launch_file);
  if (!json.ok()) return ReportError(json.error());
  auto launch = exec::LaunchFromJson(*json);
  if (!launch.ok()) return ReportError(launch.error().Prefixed(launch_file));
  if (const auto mask = json->find("mask"); mask != json->end() && mask->is_array()) {
    std::vector<std::string> values;
    for (const auto& value : *mask) {
      if (value.is_string()) values.push_back(value.get<std::string>());
    }
    RegisterSecrets(values);
  }
  // scancel and Slurm's time limit send SIGTERM: the operator stops its processes and the try
  // still reports.
  std::signal(SIGTERM, CancelTry);
  std::signal(SIGINT, CancelTry);
  auto registry = std::make_shared<data::SnapshotRegistry>((*json)["registry"]);
  if (!launch->data.data_db.empty()) {
    const std::string data_db = launch->data.data_db;
    launch->data.open_data = [data_db](const exec::LockWait& wait) {
      return store::OpenSqliteDataStore(data_db, wait);
    };
  }
  launch->data.open_registry = data::SnapshotOpener(registry);
  exec::OperatorResult result = exec::RunLaunch(BuiltinRegistry(), exec::SystemProcessRunner(),
                                                *launch, g_cancelled, exec::IgnoreProcessStart);
  if (g_cancelled.load() && result.outcome == exec::OperatorResult::Outcome::kFailed &&
      result.message.rfind("timed out", 0) != 0) {
    result.message = "cancelled";
  }
  nlohmann::json changes = result.outcome == exec::OperatorResult::Outcome::kSuccess
                               ? registry->changes()
                               : nlohmann::json::array();
  if (Status s = exec::WriteFileAtomically(result_file, exec::ResultToJson(result, changes).dump());
      !s.ok()) {
    return ReportError(s.error());
  }
  return result.outcome == exec::OperatorResult::Outcome::kFailed ? kExitFailure : 0;
}

}  // namespace

void AddRunTryCommand(CLI::App& tasks, int& exit_code) {
  auto files = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* run_try = tasks.add_subcommand(
      "run-try", "Run one try from a launch file and write its result (what a Slurm job runs)");
  run_try->add_option("launch_file", files->first, "the try's .launch.json")->required();
  run_try->add_option("result_file", files->second, "where to write the result")->required();
  run_try->callback([&, files] { exit_code = RunTry(files->first, files->second); });
}

}  // namespace conveyor::cli
