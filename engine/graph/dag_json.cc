#include "engine/graph/dag_json.h"

namespace conveyor::graph {

nlohmann::json DagToJson(const LoadedDag& loaded, Instant now) {
  const dag::Dag& dag = loaded.dag;
  const cron::Schedule& schedule = dag.timetable.schedule();
  nlohmann::json tags = nlohmann::json::array();
  for (const std::string& tag : dag.tags) tags.push_back({{"name", tag}});
  nlohmann::json out = {
      {"dag_id", dag.dag_id},
      {"description",
       dag.description.empty() ? nlohmann::json(nullptr) : nlohmann::json(dag.description)},
      {"fileloc", dag.file},
      {"is_paused", false},
      {"is_active", true},
      {"has_import_errors", false},
      {"import_error", nullptr},
      {"timezone", dag.timezone},
      {"catchup", dag.catchup},
      {"max_active_runs", dag.max_active_runs},
      {"max_active_tasks", dag.max_active_tasks},
      {"tags", tags},
      {"params", dag.params},
      {"task_count", dag.tasks.size()},
  };
  out["schedule_interval"] =
      schedule.kind() == cron::Schedule::Kind::kNone
          ? nlohmann::json(nullptr)
          : nlohmann::json{{"__type", "CronExpression"}, {"value", schedule.text()}};
  const auto next = dag.timetable.Upcoming(now, 1);
  out["next_dagrun"] = nullptr;
  out["next_dagrun_data_interval_start"] = nullptr;
  out["next_dagrun_data_interval_end"] = nullptr;
  if (!next.empty()) {
    out["next_dagrun"] = FormatUtc(next[0].start);
    out["next_dagrun_data_interval_start"] = FormatUtc(next[0].start);
    out["next_dagrun_data_interval_end"] = FormatUtc(next[0].end);
  }
  return out;
}

nlohmann::json BrokenDagToJson(const BrokenDagFile& broken) {
  return BrokenDagToJson(broken.dag_id, broken.path, broken.errors.front().ToString());
}

nlohmann::json BrokenDagToJson(const std::string& dag_id, const std::string& fileloc,
                               const std::string& import_error) {
  return {{"dag_id", dag_id},
          {"fileloc", fileloc},
          {"is_paused", false},
          {"is_active", false},
          {"has_import_errors", true},
          {"import_error", import_error},
          {"schedule_interval", nullptr},
          {"next_dagrun", nullptr},
          {"tags", nlohmann::json::array()}};
}

}  // namespace conveyor::graph
