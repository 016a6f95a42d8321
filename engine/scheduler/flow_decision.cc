#include "engine/scheduler/flow_decision.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace conveyor::scheduler {
namespace {

std::vector<std::string> ChosenIds(const nlohmann::json& value) {
  std::vector<std::string> ids;
  if (value.is_array()) {
    for (const auto& item : value) {
      ids.push_back(item.is_string() ? item.get<std::string>() : item.dump());
    }
    return ids;
  }
  if (!value.is_string()) return {value.dump()};
  const std::string text = value.get<std::string>();
  if (!text.empty() && text.front() == '[') {
    auto parsed = nlohmann::json::parse(text, nullptr, false);
    if (!parsed.is_discarded() && parsed.is_array()) return ChosenIds(parsed);
  }
  std::string id;
  for (const char c : text + ",") {
    if (c == ',' || std::isspace(static_cast<unsigned char>(c))) {
      if (!id.empty()) ids.push_back(std::move(id));
      id.clear();
    } else {
      id += c;
    }
  }
  return ids;
}

std::string Join(const std::vector<std::string>& ids) {
  std::string out;
  for (const std::string& id : ids) out += (out.empty() ? "" : ", ") + id;
  return out;
}

Result<FlowDecision> DecideBranch(const graph::LoadedDag& dag, int task,
                                  const nlohmann::json& outputs) {
  const std::string& id = dag.dag.tasks[task].id;
  if (!outputs.is_object() || !outputs.contains(kBranchOutput)) {
    return InvalidArgument("branch task '" + id +
                           "' chose nothing: it must write the output 'branch' (e.g. "
                           "branch=TASK_ID to $CONVEYOR_OUTPUT)");
  }
  const std::vector<int>& downstream = dag.graph.Downstream(task);
  std::vector<std::string> downstream_ids;
  for (int down : downstream) downstream_ids.push_back(dag.dag.tasks[down].id);
  std::sort(downstream_ids.begin(), downstream_ids.end());
  const std::vector<std::string> chosen = ChosenIds(outputs[kBranchOutput]);
  std::set<int> followed;
  for (const std::string& choice : chosen) {
    const int index = dag.dag.TaskIndex(choice);
    if (index < 0 || std::find(downstream.begin(), downstream.end(), index) == downstream.end()) {
      return InvalidArgument("branch task '" + id + "' chose '" + choice +
                             "', which is not a task directly downstream of it (those are: " +
                             (downstream_ids.empty() ? "none" : Join(downstream_ids)) + ")");
    }
    followed.insert(index);
    // A direct downstream task that is also downstream of a chosen one runs (Airflow's
    // skip_all_except: the join after an empty branch).
    for (int below : dag.graph.AllDownstream(index)) followed.insert(below);
  }
  FlowDecision decision;
  for (int down : downstream) {
    if (followed.count(down) == 0) decision.skipped.push_back(down);
  }
  decision.reason = "skipped: branch '" + id + "' chose " +
                    (chosen.empty() ? std::string("no task") : Join(chosen));
  return decision;
}

}  // namespace

bool Truthy(const nlohmann::json& value) {
  if (value.is_null()) return false;
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_number()) return value.get<double>() != 0;
  if (value.is_array() || value.is_object()) return !value.empty();
  if (!value.is_string()) return true;
  std::string text = value.get<std::string>();
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const std::set<std::string> kFalse = {"",     "0",    "false", "no", "off",
                                               "none", "null", "[]",    "{}"};
  return kFalse.count(text) == 0;
}

Result<FlowDecision> DecideFlow(const graph::LoadedDag& dag, int task,
                                const nlohmann::json& outputs) {
  const dag::Task& spec = dag.dag.tasks[task];
  if (spec.flow.branch) return DecideBranch(dag, task, outputs);
  FlowDecision decision;
  if (!spec.flow.short_circuit || !outputs.is_object() || !outputs.contains(kConditionOutput) ||
      Truthy(outputs[kConditionOutput])) {
    return decision;
  }
  decision.skipped = spec.flow.ignore_downstream_trigger_rules ? dag.graph.AllDownstream(task)
                                                               : dag.graph.Downstream(task);
  decision.reason = "skipped: short-circuit '" + spec.id + "' was false";
  return decision;
}

std::optional<std::string> NotLatestReason(const dag::Dag& dag, const store::DagRunRecord& run,
                                           Instant now) {
  if (run.run_type == "manual" || !run.data_interval_end) return std::nullopt;
  const auto next = dag.timetable.IntervalStartingAtOrAfter(*run.data_interval_end);
  if (!next) return std::nullopt;
  if (next->start < now && now <= next->end) return std::nullopt;
  return "skipped: latest_only, and run '" + run.run_id + "' is not the latest scheduled interval";
}

}  // namespace conveyor::scheduler
