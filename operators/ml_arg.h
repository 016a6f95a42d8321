#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/common/error.h"
#include "engine/exec/data_store.h"

namespace conveyor::operators {

// Reading the ML operators' args. A templated arg arrives as a string once rendered, so numbers
// are accepted as JSON numbers or as numeric strings.
std::vector<std::string> StringList(const nlohmann::json& args, const char* key);
Result<double> NumberValue(const nlohmann::json& value, const std::string& what);
double ArgNumber(const nlohmann::json& args, const char* key, double fallback);
std::int64_t ArgInteger(const nlohmann::json& args, const char* key, std::int64_t fallback);

// A cell as text for messages: NULL, 12, 0.5 or 'abc'.
std::string CellText(const exec::Cell& cell);

// The rows an operator reads: `table` or `query` of its args (exactly one), and how to name them
// in messages ("table 'x'" or "the query").
struct Source {
  std::string name;
  std::unique_ptr<exec::TableReader> reader;
};
Result<Source> OpenSource(exec::DataStore& store, const nlohmann::json& args,
                          const char* table_key = "table", const char* query_key = "query");

}  // namespace conveyor::operators
