#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/common/error.h"
#include "engine/graph/dag_bag.h"

namespace conveyor::cli {

// How listings print: an aligned table for people, or the REST API's JSON objects for scripts.
enum class OutputFormat { kTable, kJson };

// Prints rows under a header, columns padded to their widest cell.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// The REST API's DAG object for a loaded DAG (Airflow's field names), `now` giving next_dagrun.
nlohmann::json DagToJson(const graph::LoadedDag& loaded, Instant now);
// The same object for a file that did not load: has_import_errors true and import_error set.
nlohmann::json BrokenDagToJson(const graph::BrokenDagFile& broken);
// {"file","line","column","message"} of one diagnostic.
nlohmann::json ErrorToJson(const Error& error);

}  // namespace conveyor::cli
