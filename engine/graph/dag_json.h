#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/graph/dag_bag.h"

namespace conveyor::graph {

// The REST API's DAG object for a loaded DAG (Airflow's field names), `now` giving next_dagrun.
// is_paused is false here: the flag lives in the state database.
nlohmann::json DagToJson(const LoadedDag& loaded, Instant now);
// The same object for a file that did not load: has_import_errors true and import_error set.
nlohmann::json BrokenDagToJson(const BrokenDagFile& broken);
// The same from the DAG's id, its file and the file's error (its first diagnostic).
nlohmann::json BrokenDagToJson(const std::string& dag_id, const std::string& fileloc,
                               const std::string& import_error);

}  // namespace conveyor::graph
