#include <iostream>

#include "engine/cli/commands.h"
#include "engine/cli/output.h"
#include "engine/cli/run_context.h"
#include "engine/common/json_text.h"
#include "engine/scheduler/run_driver.h"
#include "engine/scheduler/run_factory.h"
#include "engine/store/records_json.h"

namespace conveyor::cli {
namespace {

int ExitFor(state::RunState s) { return s == state::RunState::kSuccess ? kExitOk : kExitFailure; }

// Runs (or waits for) a run to its end, printing each transition; the exit code follows its state.
// The transitions another process running it logged after the event `show_after` (default: the
// latest) are shown too.
int Drive(RunContext& context, const graph::LoadedDag& dag, const store::DagRunRecord& run,
          std::optional<std::int64_t> show_after) {
  auto outcome = scheduler::DriveRun(*context.store, BuiltinRegistry(), dag, run.id,
                                     context.LoopOptions(), PrintTransition, show_after);
  if (!outcome.ok()) return ReportError(outcome.error());
  std::cout << "run " << run.run_id << ": " << state::Name(*outcome) << std::endl;
  return ExitFor(*outcome);
}

struct TriggerOptions {
  std::string dag_id;
  std::string conf = "{}";
  std::string run_id;
  bool wait = false;
  bool no_cache = false;
};

int RunTrigger(const GlobalOptions& options, const TriggerOptions& trigger) {
  auto context = OpenRunContext(options);
  if (!context.ok()) return ReportError(context.error());
  auto dag = (*context)->Dag(trigger.dag_id);
  if (!dag.ok()) return ReportError(dag.error());
  scheduler::RunRequest request;
  request.conf = nlohmann::json::parse(trigger.conf, nullptr, false);
  if (request.conf.is_discarded()) {
    return ReportError(InvalidArgument("--conf is not valid JSON: " + trigger.conf));
  }
  if (!trigger.run_id.empty()) request.run_id = trigger.run_id;
  request.no_cache = trigger.no_cache;
  // Read before the run exists, so that every transition of it a `serve` logs is shown.
  auto last_event = (*context)->store->LastEventId();
  if (!last_event.ok()) return ReportError(last_event.error());
  auto run = scheduler::CreateRun(*(*context)->store, **dag, request, WallClock().PreciseNow());
  if (!run.ok()) {
    ReportError(run.error());
    return kExitBadInput;
  }
  std::cout << "created run " << run->run_id << " (queued)" << std::endl;
  if (!trigger.wait) return kExitOk;
  return Drive(**context, **dag, *run, *last_event);
}

int RunResume(const GlobalOptions& options, const std::string& dag_id, const std::string& run_id,
              bool wait) {
  auto context = OpenRunContext(options);
  if (!context.ok()) return ReportError(context.error());
  auto dag = (*context)->Dag(dag_id);
  if (!dag.ok()) return ReportError(dag.error());
  auto run = (*context)->Run(dag_id, run_id);
  if (!run.ok()) return ReportError(run.error());
  if (!wait) {
    std::cout << "run " << run_id << ": " << state::Name(run->state)
              << " (use --wait to run it from this process)" << std::endl;
    return kExitOk;
  }
  return Drive(**context, **dag, *run, std::nullopt);
}

int RunList(const GlobalOptions& options, const std::string& dag_id, const std::string& state,
            const std::string& format) {
  auto context = OpenRunContext(options);
  if (!context.ok()) return ReportError(context.error());
  store::RunFilter filter;
  filter.limit = 1000;
  if (!dag_id.empty()) filter.dag_id = dag_id;
  if (!state.empty()) {
    filter.state = state::ParseRunState(state);
    if (!filter.state) {
      return ReportError(InvalidArgument("unknown run state '" + state +
                                         "' (expected queued, running, success or failed)"));
    }
  }
  int total = 0;
  auto runs = (*context)->store->ListRuns(filter, &total);
  if (!runs.ok()) return ReportError(runs.error());
  if (format == "json") {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& run : *runs) items.push_back(store::RunToJson(run));
    std::cout << DumpJson({{"dag_runs", items}, {"total_entries", total}}, 2) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& run : *runs) {
    const auto json = store::RunToJson(run);
    rows.push_back({run.dag_id, run.run_id, std::string(state::Name(run.state)),
                    json["logical_date"].is_null() ? "-" : json["logical_date"].get<std::string>(),
                    json["start_date"].is_null() ? "-" : json["start_date"].get<std::string>(),
                    json["end_date"].is_null() ? "-" : json["end_date"].get<std::string>()});
  }
  std::cout << FormatTable({"dag_id", "run_id", "state", "logical_date", "start_date", "end_date"},
                           rows);
  return kExitOk;
}

}  // namespace

void AddRunCommands(CLI::App& app, CLI::App& dags, const GlobalOptions& options, int& exit_code) {
  auto trigger = std::make_shared<TriggerOptions>();
  CLI::App* trigger_cmd =
      dags.add_subcommand("trigger", "Queue a manual run (and run it with --wait)");
  trigger_cmd->add_option("dag_id", trigger->dag_id, "DAG id")->required();
  trigger_cmd->add_option("--conf", trigger->conf, "run conf, a JSON object (overrides params)");
  trigger_cmd->add_option("--run-id", trigger->run_id, "run id (default manual__<time>)");
  trigger_cmd->add_flag("--no-cache", trigger->no_cache,
                        "run cached tasks instead of reusing their cached tries");
  trigger_cmd->add_flag(
      "--wait", trigger->wait,
      "run it from this process (or wait for the one running it); exit 1 if it fails");
  trigger_cmd->callback([&, trigger] { exit_code = RunTrigger(options, *trigger); });

  CLI::App* runs = app.add_subcommand("runs", "DAG runs: list, resume");
  runs->require_subcommand(1);
  auto list = std::make_shared<std::array<std::string, 3>>();
  (*list)[2] = "table";
  CLI::App* list_cmd = runs->add_subcommand("list", "List runs, newest first");
  list_cmd->add_option("dag_id", (*list)[0], "only this DAG's runs");
  list_cmd->add_option("--state", (*list)[1], "queued, running, success or failed");
  AddOutputOption(*list_cmd, (*list)[2]);
  list_cmd->callback(
      [&, list] { exit_code = RunList(options, (*list)[0], (*list)[1], (*list)[2]); });

  auto resume = std::make_shared<std::pair<std::array<std::string, 2>, bool>>();
  CLI::App* resume_cmd = runs->add_subcommand("resume", "Continue an interrupted run");
  resume_cmd->add_option("dag_id", resume->first[0], "DAG id")->required();
  resume_cmd->add_option("run_id", resume->first[1], "run id")->required();
  resume_cmd->add_flag("--wait", resume->second, "run it from this process; exit 1 if it fails");
  resume_cmd->callback([&, resume] {
    exit_code = RunResume(options, resume->first[0], resume->first[1], resume->second);
  });
}

}  // namespace conveyor::cli
