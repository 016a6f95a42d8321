#include "engine/store/records_json.h"

namespace conveyor::store {
namespace {

nlohmann::json Time(const std::optional<TimePoint>& t) {
  return t ? nlohmann::json(FormatUtcMillis(*t)) : nlohmann::json(nullptr);
}

nlohmann::json StateJson(state::TaskState s) {
  return s == state::TaskState::kNone ? nlohmann::json(nullptr)
                                      : nlohmann::json(std::string(state::Name(s)));
}

}  // namespace

nlohmann::json DateToJson(const std::optional<Instant>& t) {
  return t ? nlohmann::json(FormatUtc(*t)) : nlohmann::json(nullptr);
}

nlohmann::json RunToJson(const DagRunRecord& run) {
  return {{"dag_id", run.dag_id},
          {"dag_run_id", run.run_id},
          {"run_type", run.run_type},
          {"logical_date", DateToJson(run.logical_date)},
          {"execution_date", DateToJson(run.logical_date)},
          {"data_interval_start", DateToJson(run.data_interval_start)},
          {"data_interval_end", DateToJson(run.data_interval_end)},
          {"state", std::string(state::Name(run.state))},
          {"conf", run.conf},
          {"no_cache", run.no_cache},
          {"queued_at", Time(run.queued_at)},
          {"start_date", Time(run.start_date)},
          {"end_date", Time(run.end_date)},
          {"external_trigger", run.run_type == "manual"}};
}

nlohmann::json TaskInstanceToJson(const DagRunRecord& run, const TaskInstanceRecord& ti) {
  nlohmann::json duration = nullptr;
  if (ti.start_date && ti.end_date) {
    duration = std::chrono::duration<double>(*ti.end_date - *ti.start_date).count();
  }
  return {{"dag_id", run.dag_id},
          {"dag_run_id", run.run_id},
          {"task_id", ti.task_id},
          {"execution_date", DateToJson(run.logical_date)},
          {"state", StateJson(ti.state)},
          {"try_number", ti.try_number},
          {"max_tries", ti.max_tries},
          {"start_date", Time(ti.start_date)},
          {"end_date", Time(ti.end_date)},
          {"duration", duration},
          {"hostname", ti.hostname},
          {"pid", ti.pid ? nlohmann::json(*ti.pid) : nlohmann::json(nullptr)},
          {"operator", ti.operator_name},
          {"pool", ti.pool},
          {"pool_slots", 1},
          {"priority_weight", ti.priority_weight},
          {"external_executor_id", ti.external_executor_id.empty()
                                       ? nlohmann::json(nullptr)
                                       : nlohmann::json(ti.external_executor_id)},
          {"map_index", -1},
          {"cached_from",
           ti.cached_from.empty() ? nlohmann::json(nullptr) : nlohmann::json(ti.cached_from)},
          {"note", ti.note.empty() ? nlohmann::json(nullptr) : nlohmann::json(ti.note)}};
}

nlohmann::json TryToJson(const TryRecord& attempt) {
  return {{"task_id", attempt.task_id},
          {"try_number", attempt.try_number},
          {"state", StateJson(attempt.state)},
          {"start_date", Time(attempt.start_date)},
          {"end_date", Time(attempt.end_date)},
          {"pid", attempt.pid ? nlohmann::json(*attempt.pid) : nlohmann::json(nullptr)},
          {"log_path", attempt.log_path},
          {"note", attempt.note}};
}

nlohmann::json EventLogToJson(const EventLogEntry& entry) {
  const EventRecord& event = entry.event;
  const auto text_or_null = [](const std::string& text) {
    return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
  };
  nlohmann::json extra = nullptr;
  if (!event.note.empty()) {
    extra = event.note;
  } else if (!event.from_state.empty()) {
    extra = nlohmann::json({{"from_state", event.from_state}}).dump();
  }
  return {{"event_log_id", event.id},
          {"when", FormatUtcMillis(event.at)},
          {"dag_id", text_or_null(entry.dag_id)},
          {"task_id", text_or_null(event.task_id)},
          {"run_id", text_or_null(entry.run_id)},
          {"map_index", event.task_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(-1)},
          {"try_number",
           event.try_number > 0 ? nlohmann::json(event.try_number) : nlohmann::json(nullptr)},
          {"event", event.to_state},
          {"execution_date", DateToJson(entry.logical_date)},
          {"owner", event.who},
          {"extra", extra}};
}

}  // namespace conveyor::store
