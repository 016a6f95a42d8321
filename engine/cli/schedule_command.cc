#include <unistd.h>

#include <iostream>

#include "engine/cli/commands.h"
#include "engine/cli/output.h"
#include "engine/cli/run_context.h"
#include "engine/common/json_text.h"
#include "engine/common/suggest.h"
#include "engine/scheduler/backfill.h"
#include "engine/scheduler/run_driver.h"
#include "engine/scheduler/run_factory.h"
#include "engine/store/records_json.h"

namespace conveyor::cli {
namespace {

// A DAG id the database or the dags folder knows (a broken file's DAG counts), or an error.
Status CheckDagKnown(RunContext& context, const std::string& dag_id) {
  auto known = context.store->GetDag(dag_id);
  if (!known.ok()) return known.error();
  if (*known) return Status::Ok();
  auto dag = context.Dag(dag_id);
  if (dag.ok() || dag.error().code != ErrorCode::kNotFound) return Status::Ok();
  return dag.error();
}

int RunSetPaused(const GlobalOptions& options, const std::string& dag_id, bool paused) {
  auto context = OpenRunContext(options);
  if (!context.ok()) return ReportError(context.error());
  if (Status s = CheckDagKnown(**context, dag_id); !s.ok()) return ReportError(s.error());
  if (Status s = (*context)->store->SetPaused(dag_id, paused); !s.ok()) {
    return ReportError(s.error());
  }
  std::cout << "DAG " << dag_id << (paused ? " paused" : " unpaused") << "\n";
  return kExitOk;
}

struct BackfillOptions {
  std::string dag_id;
  std::string start_date;
  std::string end_date;
  bool rerun_failed = false;
  bool dry_run = false;
  bool no_cache = false;
  std::string format = "table";
};

const char* ActionName(scheduler::BackfillItem::Action action) {
  using Action = scheduler::BackfillItem::Action;
  switch (action) {
    case Action::kCreate:
      return "create";
    case Action::kSkipSucceeded:
      return "skip (succeeded)";
    case Action::kSkipFailed:
      return "skip (failed; --rerun-failed runs it again)";
    case Action::kRerunFailed:
      return "re-run failed tasks";
    case Action::kWait:
      return "see through (already queued or running)";
  }
  return "";
}

// Progress of a backfill: a bar redrawn in place on a terminal, one line per run otherwise.
class BackfillProgress {
 public:
  explicit BackfillProgress(size_t total)
      : total_(total),
        terminal_(isatty(STDOUT_FILENO) != 0),
        started_(std::chrono::steady_clock::now()) {
    if (terminal_) Draw();
  }
  void RunFinished(const store::DagRunRecord& run) {
    ++done_;
    if (run.state != state::RunState::kSuccess) ++failed_;
    if (!terminal_) {
      std::cout << "run " << run.run_id << ": " << state::Name(run.state) << " (" << done_ << "/"
                << total_ << ")" << std::endl;
      return;
    }
    Draw();
    if (done_ == total_) std::cout << "\n";
  }

 private:
  void Draw() const {
    constexpr int kWidth = 30;
    const int filled = total_ == 0 ? kWidth : static_cast<int>(kWidth * done_ / total_);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.resize(kWidth, '.');
    std::string eta = "-";
    if (done_ > 0 && done_ < total_) {
      const auto elapsed = std::chrono::steady_clock::now() - started_;
      const auto left = elapsed * static_cast<long>(total_ - done_) / static_cast<long>(done_);
      eta = FormatDuration(std::chrono::duration_cast<std::chrono::seconds>(left));
    }
    std::cout << "\r[" << bar << "] " << done_ << "/" << total_ << " runs, " << failed_
              << " failed, ETA " << eta << "   " << std::flush;
  }

  size_t total_;
  size_t done_ = 0;
  size_t failed_ = 0;
  bool terminal_;
  std::chrono::steady_clock::time_point started_;
};

int RunBackfill(const GlobalOptions& options, const BackfillOptions& backfill) {
  auto context = OpenRunContext(options);
  if (!context.ok()) return ReportError(context.error());
  RunContext& ctx = **context;
  auto dag = ctx.Dag(backfill.dag_id);
  if (!dag.ok()) return ReportError(dag.error());
  auto range = scheduler::BackfillRange((*dag)->dag, backfill.start_date, backfill.end_date);
  if (!range.ok()) return ReportError(range.error());
  auto plan = scheduler::PlanBackfill(*ctx.store, **dag, range->first, range->second,
                                      backfill.rerun_failed);
  if (!plan.ok()) return ReportError(plan.error());
  if (backfill.dry_run) {
    nlohmann::json runs = nlohmann::json::array();
    std::vector<std::vector<std::string>> rows;
    for (const auto& item : *plan) {
      const std::string start = FormatUtc(item.interval.start);
      if (item.action == scheduler::BackfillItem::Action::kCreate) {
        store::DagRunRecord run;
        run.dag_id = backfill.dag_id;
        run.run_type = "backfill";
        run.run_id = scheduler::MakeRunId("backfill", item.interval.start);
        run.logical_date = item.interval.start;
        run.data_interval_start = item.interval.start;
        run.data_interval_end = item.interval.end;
        runs.push_back(store::RunToJson(run));
      } else if (item.action != scheduler::BackfillItem::Action::kSkipSucceeded &&
                 item.action != scheduler::BackfillItem::Action::kSkipFailed) {
        runs.push_back(store::RunToJson(*item.existing));
      }
      rows.push_back({start, FormatUtc(item.interval.end), ActionName(item.action)});
    }
    if (backfill.format == "json") {
      std::cout << DumpJson({{"dag_runs", runs}, {"total_entries", runs.size()}}, 2) << "\n";
    } else {
      std::cout << FormatTable({"logical_date", "data_interval_end", "action"}, rows);
      std::cout << runs.size() << " run(s) would run; nothing was changed\n";
    }
    return kExitOk;
  }
  auto runs = scheduler::ApplyBackfill(*ctx.store, **dag, *plan, WallClock().Now(),
                                       "cli pid " + std::to_string(getpid()), backfill.no_cache);
  if (!runs.ok()) return ReportError(runs.error());
  size_t skipped = plan->size() - runs->size();
  std::cout << "backfill of " << backfill.dag_id << ": " << runs->size() << " run(s) to run, "
            << skipped << " skipped" << std::endl;
  if (runs->empty()) return kExitOk;
  std::vector<store::RunKey> keys;
  for (const auto& run : *runs) keys.push_back(run.id);
  BackfillProgress progress(keys.size());
  scheduler::RunLoopOptions loop_options = ctx.LoopOptions();
  loop_options.no_cache = backfill.no_cache;
  auto outcomes = scheduler::DriveRuns(
      *ctx.store, BuiltinRegistry(), **dag, keys, (*dag)->dag.max_active_runs, loop_options,
      nullptr, [&](const store::DagRunRecord& run) { progress.RunFinished(run); });
  if (!outcomes.ok()) return ReportError(outcomes.error());
  int failed = 0;
  for (state::RunState s : *outcomes) failed += s == state::RunState::kSuccess ? 0 : 1;
  std::cout << "backfill of " << backfill.dag_id << ": " << (outcomes->size() - failed)
            << " succeeded, " << failed << " failed" << std::endl;
  return failed == 0 ? kExitOk : kExitFailure;
}

}  // namespace

void AddScheduleCommands(CLI::App& dags, const GlobalOptions& options, int& exit_code) {
  for (const bool paused : {true, false}) {
    auto dag_id = std::make_shared<std::string>();
    CLI::App* cmd = dags.add_subcommand(
        paused ? "pause" : "unpause",
        paused ? "Stop creating scheduled runs of a DAG" : "Resume creating scheduled runs");
    cmd->add_option("dag_id", *dag_id, "DAG id")->required();
    cmd->callback([&, dag_id, paused] { exit_code = RunSetPaused(options, *dag_id, paused); });
  }

  auto backfill = std::make_shared<BackfillOptions>();
  CLI::App* cmd = dags.add_subcommand(
      "backfill", "Run every interval whose logical date falls between two dates");
  cmd->add_option("dag_id", backfill->dag_id, "DAG id")->required();
  cmd->add_option("--start-date", backfill->start_date, "first date (or datetime), DAG's zone")
      ->required();
  cmd->add_option("--end-date", backfill->end_date, "last date, included (or datetime, excluded)")
      ->required();
  cmd->add_flag("--rerun-failed", backfill->rerun_failed, "run the failed tasks of failed runs");
  cmd->add_flag("--dry-run", backfill->dry_run, "list the intervals; change nothing");
  cmd->add_flag("--no-cache", backfill->no_cache,
                "run cached tasks instead of reusing their cached tries");
  AddOutputOption(*cmd, backfill->format);
  cmd->callback([&, backfill] { exit_code = RunBackfill(options, *backfill); });
}

}  // namespace conveyor::cli
