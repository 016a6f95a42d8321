#pragma once

#include <nlohmann/json.hpp>

#include "engine/store/records.h"

namespace conveyor::store {

// The REST API's objects (Airflow's stable API v1 field names), shared by the CLI's -o json.
nlohmann::json RunToJson(const DagRunRecord& run);
nlohmann::json TaskInstanceToJson(const DagRunRecord& run, const TaskInstanceRecord& ti);
nlohmann::json TryToJson(const TryRecord& attempt);

}  // namespace conveyor::store
