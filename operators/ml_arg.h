#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/error.h"
#include "engine/exec/data_store.h"
#include "engine/exec/operator.h"

namespace conveyor::operators {

// Reading the ML operators' args. A templated arg arrives as a string once rendered, so numbers
// are accepted as JSON numbers or as numeric strings.
std::vector<std::string> StringList(const nlohmann::json& args, const char* key);
Result<double> NumberValue(const nlohmann::json& value, const std::string& what);
double ArgNumber(const nlohmann::json& args, const char* key, double fallback);
std::int64_t ArgInteger(const nlohmann::json& args, const char* key, std::int64_t fallback);

// A cell as text for messages: NULL, 12, 0.5 or 'abc'.
std::string CellText(const exec::Cell& cell);

// The rows an operator reads, and how to name them in messages ("table 'x'" or "the query").
struct Source {
  std::string name;
  std::unique_ptr<exec::TableReader> reader;
};
// Reads table `text`, or the rows of query `text`.
Result<Source> OpenSource(exec::DataStore& store, const std::string& text, bool is_query);
// Opens `table` or `query` of the args (exactly one).
Result<Source> OpenSourceArg(exec::DataStore& store, const nlohmann::json& args,
                             const char* table_key = "table", const char* query_key = "query");

// The try's result from what the operator's work returned: its outputs, or a failure that is
// also logged as "<operator_name> failed: <error>".
exec::OperatorResult ResultOf(exec::OperatorContext& context, std::string_view operator_name,
                              Result<nlohmann::json> outputs);

}  // namespace conveyor::operators
