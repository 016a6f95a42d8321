#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/common/error.h"
#include "engine/graph/dag_bag.h"
#include "engine/graph/dag_json.h"

namespace conveyor::cli {

using graph::BrokenDagToJson;
using graph::DagToJson;

// How listings print: an aligned table for people, or the REST API's JSON objects for scripts.
enum class OutputFormat { kTable, kJson };

// Prints rows under a header, columns padded to their widest cell.
std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// {"file","line","column","message"} of one diagnostic.
nlohmann::json ErrorToJson(const Error& error);

}  // namespace conveyor::cli
