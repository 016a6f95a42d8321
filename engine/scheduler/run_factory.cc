#include "engine/scheduler/run_factory.h"

#include <date/date.h>

#include <cctype>

namespace conveyor::scheduler {
namespace {

bool IsValidRunId(const std::string& id) {
  // Run ids name folders of logs and artifacts: ".", ".." and hidden names are not run ids.
  if (id.empty() || id.size() > 250 || id.front() == '.') return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("_.:+-").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// Airflow's infer_manual_data_interval: the last complete interval before the trigger for a cron
// schedule, else an empty interval at the logical date.
cron::DataInterval InferInterval(const cron::Timetable& timetable, Instant logical) {
  const cron::Schedule& schedule = timetable.schedule();
  if (schedule.kind() == cron::Schedule::Kind::kCron) {
    const auto end = schedule.Previous(logical + std::chrono::seconds(1));
    if (end) {
      if (const auto start = schedule.Previous(*end)) return {*start, *end};
    }
  }
  return {logical, logical};
}

}  // namespace

std::string MakeRunId(const std::string& run_type, Instant logical_date) {
  std::string ts = FormatUtc(logical_date);
  ts.pop_back();
  return run_type + "__" + ts + "+00:00";
}

Result<store::NewRun> BuildRun(const graph::LoadedDag& loaded, const RunRequest& request,
                               PreciseInstant now) {
  if (!request.conf.is_object()) {
    return InvalidArgument("conf must be a JSON object, got " + request.conf.dump());
  }
  const dag::Dag& dag = loaded.dag;
  store::DagRunRecord run;
  run.dag_id = dag.dag_id;
  run.run_type = request.run_type;
  run.logical_date = request.logical_date.value_or(std::chrono::floor<std::chrono::seconds>(now));
  if (request.run_id) {
    run.run_id = *request.run_id;
  } else if (request.logical_date) {
    run.run_id = MakeRunId(request.run_type, *run.logical_date);
  } else {
    // Triggered "now": microseconds in the id (as Airflow's), so quick triggers do not collide.
    run.run_id = request.run_type + "__" + date::format("%FT%T", now) + "+00:00";
  }
  if (!IsValidRunId(run.run_id)) {
    return InvalidArgument("invalid run id '" + run.run_id +
                           "' (use letters, digits and _ . : + -, not first '.')");
  }
  // Not value_or: its argument would be computed (two cron searches) even for a cron run.
  const cron::DataInterval interval =
      request.interval ? *request.interval : InferInterval(dag.timetable, *run.logical_date);
  run.data_interval_start = interval.start;
  run.data_interval_end = interval.end;
  run.conf = request.conf;
  run.no_cache = request.no_cache;
  run.state = state::RunState::kQueued;
  run.queued_at = now;
  std::vector<store::TaskInstanceRecord> tis;
  for (const dag::Task& task : dag.tasks) {
    store::TaskInstanceRecord ti;
    ti.task_id = task.id;
    ti.max_tries = task.retry.retries + 1;
    ti.operator_name = task.operator_name;
    ti.pool = task.pool;
    ti.priority_weight = task.priority_weight;
    tis.push_back(std::move(ti));
  }
  return store::NewRun{std::move(run), std::move(tis)};
}

Result<store::DagRunRecord> CreateRun(store::RunStore& store, const graph::LoadedDag& dag,
                                      const RunRequest& request, PreciseInstant now) {
  auto built = BuildRun(dag, request, now);
  if (!built.ok()) return built.error();
  auto key = store.CreateRun(built->run, built->tasks);
  if (!key.ok()) return key.error();
  built->run.id = *key;
  return built->run;
}

}  // namespace conveyor::scheduler
