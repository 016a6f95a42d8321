#include "operators/ml_arg.h"

#include <charconv>
#include <sstream>

namespace conveyor::operators {

std::vector<std::string> StringList(const nlohmann::json& args, const char* key) {
  std::vector<std::string> out;
  if (args.contains(key)) {
    for (const auto& item : args.at(key)) out.push_back(item.get<std::string>());
  }
  return out;
}

Result<double> NumberValue(const nlohmann::json& value, const std::string& what) {
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    double out = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) return out;
  }
  return InvalidArgument(what + " must be a number, got " + value.dump());
}

double ArgNumber(const nlohmann::json& args, const char* key, double fallback) {
  if (!args.contains(key)) return fallback;
  auto value = NumberValue(args.at(key), key);
  return value.ok() ? *value : fallback;
}

std::int64_t ArgInteger(const nlohmann::json& args, const char* key, std::int64_t fallback) {
  return static_cast<std::int64_t>(ArgNumber(args, key, static_cast<double>(fallback)));
}

std::string CellText(const exec::Cell& cell) {
  if (const auto* i = std::get_if<std::int64_t>(&cell)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&cell)) {
    std::ostringstream out;
    out << *d;
    return out.str();
  }
  if (const auto* s = std::get_if<std::string>(&cell)) return "'" + *s + "'";
  return "NULL";
}

Result<Source> OpenSource(exec::DataStore& store, const std::string& text, bool is_query) {
  auto reader = is_query ? store.ReadQuery(text) : store.ReadTable(text);
  if (!reader.ok()) return reader.error();
  return Source{is_query ? "the query" : "table '" + text + "'", std::move(reader).value()};
}

Result<Source> OpenSourceArg(exec::DataStore& store, const nlohmann::json& args,
                             const char* table_key, const char* query_key) {
  const bool has_table = args.contains(table_key);
  const bool has_query = args.contains(query_key);
  if (has_table == has_query) {
    return InvalidArgument(std::string("give either '") + table_key + "' or '" + query_key +
                           "', not " + (has_table ? "both" : "neither"));
  }
  return OpenSource(store, args.at(has_query ? query_key : table_key).get<std::string>(),
                    has_query);
}

exec::OperatorResult ResultOf(exec::OperatorContext& context, std::string_view operator_name,
                              Result<nlohmann::json> outputs) {
  if (!outputs.ok()) {
    context.Log(std::string(operator_name) + " failed: " + outputs.error().ToString());
    return exec::OperatorResult::Failure(outputs.error().ToString());
  }
  return exec::OperatorResult::Success(std::move(outputs).value());
}

}  // namespace conveyor::operators
