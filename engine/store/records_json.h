#pragma once

#include <nlohmann/json.hpp>

#include "engine/store/records.h"
#include "engine/store/state_store.h"

namespace conveyor::store {

// An instant as the API shows a date ("2026-01-01T03:00:00Z"), or null.
nlohmann::json DateToJson(const std::optional<Instant>& t);

// The REST API's objects (Airflow's stable API v1 field names), shared by the CLI's -o json.
nlohmann::json RunToJson(const DagRunRecord& run);
nlohmann::json TaskInstanceToJson(const DagRunRecord& run, const TaskInstanceRecord& ti);
nlohmann::json TryToJson(const TryRecord& attempt);
// Airflow's EventLog: event_log_id, when, dag_id, task_id, run_id, map_index, try_number, event,
// execution_date, owner, extra (a transition's previous state, or the note, as text).
nlohmann::json EventLogToJson(const EventLogEntry& entry);

}  // namespace conveyor::store
