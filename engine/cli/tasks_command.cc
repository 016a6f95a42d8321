#include <filesystem>
#include <fstream>
#include <iostream>

#include "engine/cli/commands.h"
#include "engine/cli/output.h"
#include "engine/cli/run_context.h"
#include "engine/common/json_text.h"
#include "engine/common/private_files.h"
#include "engine/common/suggest.h"
#include "engine/data/data_access.h"
#include "engine/exec/executor.h"
#include "engine/scheduler/clear.h"
#include "engine/scheduler/task_render.h"
#include "engine/store/records_json.h"

namespace conveyor::cli {
namespace {

int RunTasksList(const GlobalOptions& options, const std::string& dag_id, const std::string& run_id,
                 const std::string& format) {
  auto context = OpenRunContext(options);
  if (!context.ok()) return ReportError(context.error());
  auto run = (*context)->Run(dag_id, run_id);
  if (!run.ok()) return ReportError(run.error());
  auto tis = (*context)->store->ListTaskInstances(run->id);
  if (!tis.ok()) return ReportError(tis.error());
  if (format == "json") {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& ti : *tis) items.push_back(store::TaskInstanceToJson(*run, ti));
    std::cout << DumpJson({{"task_instances", items}, {"total_entries", items.size()}}, 2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& ti : *tis) {
    const auto json = store::TaskInstanceToJson(*run, ti);
    rows.push_back({ti.task_id, std::string(state::Name(ti.state)), std::to_string(ti.try_number),
                    json["start_date"].is_null() ? "-" : json["start_date"].get<std::string>(),
                    json["duration"].is_null() ? "-" : json["duration"].dump(),
                    ti.note.empty() ? "-" : ti.note});
  }
  std::cout << FormatTable({"task_id", "state", "try_number", "start_date", "duration", "note"},
                           rows);
  return kExitOk;
}

int RunTasksTest(const GlobalOptions& options, const std::string& dag_id,
                 const std::string& task_id, const std::string& date) {
  auto context = OpenRunContext(options);
  if (!context.ok()) return ReportError(context.error());
  auto dag = (*context)->Dag(dag_id);
  if (!dag.ok()) return ReportError(dag.error());
  const dag::Dag& spec = (*dag)->dag;
  const int index = spec.TaskIndex(task_id);
  if (index < 0) {
    std::vector<std::string> ids;
    for (const auto& task : spec.tasks) ids.push_back(task.id);
    return ReportError(
        NotFound("DAG '" + dag_id + "' has no task '" + task_id + "'" + DidYouMean(task_id, ids)));
  }
  store::DagRunRecord run;
  run.dag_id = dag_id;
  run.logical_date = WallClock().Now();
  if (!date.empty()) {
    auto parsed = ParseDateTime(date);
    if (!parsed.ok()) return ReportError(parsed.error());
    run.logical_date = spec.timetable.schedule().zone().Resolve(*parsed);
  }
  run.run_id = "test__" + FormatUtc(*run.logical_date);
  const dag::Task& task = spec.tasks[index];
  auto rendered = scheduler::RenderTask(
      task, scheduler::TemplateContext(spec, run, task_id, 1, nlohmann::json::object()),
      (*context)->secrets);
  if (!rendered.ok()) {
    std::cout << "task " << task_id << ": failed: " << rendered.error().message << std::endl;
    return kExitFailure;
  }
  const auto dir =
      std::filesystem::temp_directory_path() / ("conveyor_test_" + std::to_string(getpid()));
  MakePrivateFolders(dir.string());
  exec::TaskLaunch launch;
  launch.operator_name = task.operator_name;
  launch.info.dag_id = dag_id;
  launch.info.run_id = run.run_id;
  launch.info.task_id = task_id;
  launch.info.logical_date = *run.logical_date;
  launch.info.log_path = (dir / "attempt=1.log").string();
  launch.info.output_path = (dir / "attempt=1.output").string();
  launch.info.work_dir = std::filesystem::path(spec.file).parent_path().string();
  launch.args = rendered->args;
  launch.command = rendered->command;
  launch.env = rendered->env;
  launch.execution_timeout = task.retry.execution_timeout;
  // As in Airflow, a tested task does its work (data tables included); only its state is not kept.
  const Config& config = (*context)->config;
  launch.data = data::MakeDataAccess(config.data_db, config.db, config.artifacts_dir);
  const std::atomic<bool> cancelled{false};
  const auto result = exec::RunLaunch(BuiltinRegistry(), exec::SystemProcessRunner(), launch,
                                      cancelled, exec::IgnoreProcessStart);
  std::cout << std::ifstream(launch.info.log_path).rdbuf();
  std::filesystem::remove_all(dir);
  if (!result.outputs.empty()) std::cout << "outputs: " << DumpJson(result.outputs) << "\n";
  const bool ok = result.outcome != exec::OperatorResult::Outcome::kFailed;
  std::cout << "task " << task_id << ": "
            << (result.outcome == exec::OperatorResult::Outcome::kSuccess   ? "success"
                : result.outcome == exec::OperatorResult::Outcome::kSkipped ? "skipped"
                                                                            : "failed")
            << (result.message.empty() ? "" : ": " + result.message) << std::endl;
  return ok ? kExitOk : kExitFailure;
}

struct ClearOptions {
  std::string dag_id;
  std::string run_id;
  std::vector<std::string> tasks;
  bool downstream = false;
};

int RunTasksClear(const GlobalOptions& options, const ClearOptions& clear) {
  auto context = OpenRunContext(options);
  if (!context.ok()) return ReportError(context.error());
  auto dag = (*context)->Dag(clear.dag_id);
  if (!dag.ok()) return ReportError(dag.error());
  auto run = (*context)->Run(clear.dag_id, clear.run_id);
  if (!run.ok()) return ReportError(run.error());
  auto cleared = scheduler::ClearTasks(*(*context)->store, **dag, *run, clear.tasks,
                                       clear.downstream, "cli clear", WallClock().PreciseNow());
  if (!cleared.ok()) return ReportError(cleared.error());
  std::cout << "cleared " << cleared->size() << " task instance(s) of " << clear.run_id << ":";
  for (const auto& id : *cleared) std::cout << " " << id;
  std::cout << "\nrun " << clear.run_id << " is queued again (conveyor runs resume " << clear.dag_id
            << " " << clear.run_id << " --wait)" << std::endl;
  return kExitOk;
}

int RunLogs(const GlobalOptions& options, const std::array<std::string, 3>& ids, int try_number) {
  auto context = OpenRunContext(options);
  if (!context.ok()) return ReportError(context.error());
  auto run = (*context)->Run(ids[0], ids[1]);
  if (!run.ok()) return ReportError(run.error());
  auto tries = (*context)->store->ListTries(run->id, ids[2]);
  if (!tries.ok()) return ReportError(tries.error());
  if (tries->empty()) {
    return ReportError(NotFound("task '" + ids[2] + "' of run '" + ids[1] + "' has no tries"));
  }
  const store::TryRecord* chosen = &tries->back();
  if (try_number > 0) {
    chosen = nullptr;
    for (const auto& attempt : *tries) {
      if (attempt.try_number == try_number) chosen = &attempt;
    }
    if (chosen == nullptr) {
      return ReportError(
          NotFound("task '" + ids[2] + "' has no try " + std::to_string(try_number)));
    }
  }
  std::ifstream log(chosen->log_path, std::ios::binary);
  if (log) std::cout << log.rdbuf();
  if (!chosen->note.empty()) std::cout << "conveyor: " << chosen->note << "\n";
  return kExitOk;
}

}  // namespace

void AddTaskCommands(CLI::App& app, const GlobalOptions& options, int& exit_code) {
  CLI::App* tasks = app.add_subcommand("tasks", "Task instances: list, test, clear");
  tasks->require_subcommand(1);
  AddRunTryCommand(*tasks, exit_code);

  auto list = std::make_shared<std::array<std::string, 3>>();
  (*list)[2] = "table";
  CLI::App* list_cmd = tasks->add_subcommand("list", "List a run's task instances");
  list_cmd->add_option("dag_id", (*list)[0], "DAG id")->required();
  list_cmd->add_option("run_id", (*list)[1], "run id")->required();
  AddOutputOption(*list_cmd, (*list)[2]);
  list_cmd->callback(
      [&, list] { exit_code = RunTasksList(options, (*list)[0], (*list)[1], (*list)[2]); });

  auto test = std::make_shared<std::array<std::string, 3>>();
  CLI::App* test_cmd = tasks->add_subcommand("test", "Run one task now, recording nothing");
  test_cmd->add_option("dag_id", (*test)[0], "DAG id")->required();
  test_cmd->add_option("task_id", (*test)[1], "task id")->required();
  test_cmd->add_option("date", (*test)[2], "logical date (default now)");
  test_cmd->callback(
      [&, test] { exit_code = RunTasksTest(options, (*test)[0], (*test)[1], (*test)[2]); });

  auto clear = std::make_shared<ClearOptions>();
  CLI::App* clear_cmd = tasks->add_subcommand("clear", "Clear task instances so they run again");
  clear_cmd->add_option("dag_id", clear->dag_id, "DAG id")->required();
  clear_cmd->add_option("run_id", clear->run_id, "run id")->required();
  clear_cmd->add_option("--task", clear->tasks, "task to clear (repeatable; default all)");
  clear_cmd->add_flag("--downstream", clear->downstream, "also clear everything downstream");
  clear_cmd->callback([&, clear] { exit_code = RunTasksClear(options, *clear); });

  auto logs = std::make_shared<std::pair<std::array<std::string, 3>, int>>();
  logs->second = 0;
  CLI::App* logs_cmd = app.add_subcommand("logs", "Print a task's log (default: its latest try)");
  logs_cmd->add_option("dag_id", logs->first[0], "DAG id")->required();
  logs_cmd->add_option("run_id", logs->first[1], "run id")->required();
  logs_cmd->add_option("task_id", logs->first[2], "task id")->required();
  logs_cmd->add_option("--try", logs->second, "try number")->check(CLI::PositiveNumber);
  logs_cmd->callback([&, logs] { exit_code = RunLogs(options, logs->first, logs->second); });
}

}  // namespace conveyor::cli
