#include "engine/serving/prediction_input.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>

namespace conveyor::serving {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

std::string Where(size_t row, const std::string& column) {
  return "row " + std::to_string(row) + ", column '" + column + "'";
}

Result<float> Value(const nlohmann::json& value, size_t row, const std::string& column) {
  if (value.is_null()) return kMissing;
  if (value.is_boolean()) return value.get<bool>() ? 1.0f : 0.0f;
  if (value.is_number()) return static_cast<float>(value.get<double>());
  return InvalidArgument(Where(row, column) + " holds " + value.dump(-1, ' ', true) +
                         ": expected a number, a boolean or null");
}

// Where each of the model's features is among `columns`; an error naming the missing and the
// unknown ones.
Result<std::vector<size_t>> MatchColumns(const std::vector<std::string>& columns,
                                         const std::vector<std::string>& features) {
  std::map<std::string, size_t> at;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (!at.emplace(columns[i], i).second) {
      return InvalidArgument("column '" + columns[i] + "' is given twice");
    }
  }
  std::vector<size_t> order;
  std::vector<std::string> missing;
  for (const std::string& feature : features) {
    auto found = at.find(feature);
    if (found == at.end()) {
      missing.push_back(feature);
    } else {
      order.push_back(found->second);
    }
  }
  const std::set<std::string> known(features.begin(), features.end());
  std::vector<std::string> unknown;
  for (const std::string& column : columns) {
    if (known.count(column) == 0) unknown.push_back(column);
  }
  if (!missing.empty() || !unknown.empty()) {
    std::string message;
    if (!missing.empty()) message = "missing features: " + Join(missing);
    if (!unknown.empty()) {
      message += (message.empty() ? "" : "; ") + std::string("unknown columns: ") + Join(unknown);
    }
    return InvalidArgument(message + " (the model's features: " + Join(features) + ")");
  }
  return order;
}

Status CheckRowCount(size_t rows, size_t max_rows) {
  if (rows > max_rows) {
    return InvalidArgument(std::to_string(rows) + " rows is more than the " +
                           std::to_string(max_rows) + " a request may hold (serving.max_rows)");
  }
  return Status::Ok();
}

// Rows as lists of values in the model's order.
Result<Rows> FromLists(const nlohmann::json& data, const std::vector<std::string>& features,
                       const std::vector<size_t>* order, size_t columns) {
  Rows rows;
  rows.cols = features.size();
  rows.values.reserve(data.size() * features.size());
  for (size_t r = 0; r < data.size(); ++r) {
    const nlohmann::json& row = data[r];
    if (!row.is_array() || row.size() != columns) {
      return InvalidArgument(
          "row " + std::to_string(r) + " must be a list of " + std::to_string(columns) +
          " values, got " +
          (row.is_array() ? std::to_string(row.size()) + " values" : row.dump(-1, ' ', true)));
    }
    for (size_t f = 0; f < features.size(); ++f) {
      auto value = Value(row[order ? (*order)[f] : f], r, features[f]);
      if (!value.ok()) return value.error();
      rows.values.push_back(*value);
    }
    ++rows.rows;
  }
  return rows;
}

Result<Rows> FromRecords(const nlohmann::json& records, const std::vector<std::string>& features) {
  Rows rows;
  rows.cols = features.size();
  rows.values.reserve(records.size() * features.size());
  for (size_t r = 0; r < records.size(); ++r) {
    const nlohmann::json& record = records[r];
    if (!record.is_object()) {
      return InvalidArgument("record " + std::to_string(r) + " must be an object of columns");
    }
    std::vector<std::string> columns;
    for (const auto& item : record.items()) columns.push_back(item.key());
    auto order = MatchColumns(columns, features);
    if (!order.ok())
      return Error{
          order.error().code, "record " + std::to_string(r) + ": " + order.error().message, {}};
    for (const std::string& feature : features) {
      auto value = Value(record.at(feature), r, feature);
      if (!value.ok()) return value.error();
      rows.values.push_back(*value);
    }
    ++rows.rows;
  }
  return rows;
}

// {column: [values]}: one list per column, all as long.
Result<Rows> FromColumns(const nlohmann::json& columns, const std::vector<std::string>& features) {
  std::vector<std::string> names;
  for (const auto& item : columns.items()) names.push_back(item.key());
  auto order = MatchColumns(names, features);
  if (!order.ok()) return order.error();
  size_t count = 0;
  for (size_t f = 0; f < features.size(); ++f) {
    const nlohmann::json& values = columns.at(features[f]);
    if (!values.is_array()) {
      return InvalidArgument("column '" + features[f] + "' must be a list of values");
    }
    if (f == 0) count = values.size();
    if (values.size() != count) {
      return InvalidArgument("column '" + features[f] + "' has " + std::to_string(values.size()) +
                             " values, column '" + features[0] + "' " + std::to_string(count));
    }
  }
  Rows rows;
  rows.cols = features.size();
  rows.rows = count;
  rows.values.reserve(count * features.size());
  for (size_t r = 0; r < count; ++r) {
    for (const std::string& feature : features) {
      auto value = Value(columns.at(feature)[r], r, feature);
      if (!value.ok()) return value.error();
      rows.values.push_back(*value);
    }
  }
  return rows;
}

}  // namespace

Result<Rows> RowsFromMlflowJson(const nlohmann::json& body,
                                const std::vector<std::string>& features, size_t max_rows) {
  static const std::vector<std::string> kFields = {"dataframe_split", "dataframe_records", "inputs",
                                                   "instances"};
  if (!body.is_object()) {
    return InvalidArgument(
        "the body must be a JSON object with exactly one of dataframe_split, "
        "dataframe_records, inputs or instances");
  }
  std::vector<std::string> given;
  for (const std::string& field : kFields) {
    if (body.contains(field)) given.push_back(field);
  }
  if (given.size() != 1) {
    std::vector<std::string> keys;
    for (const auto& item : body.items()) keys.push_back(item.key());
    return InvalidArgument(
        "the body must hold exactly one of dataframe_split, dataframe_records, inputs or "
        "instances; it holds " +
        (keys.empty() ? std::string("nothing") : Join(keys)));
  }
  const std::string& field = given.front();
  const nlohmann::json& input = body.at(field);
  if (field == "dataframe_split") {
    if (!input.is_object() || !input.contains("columns") || !input["columns"].is_array() ||
        !input.contains("data") || !input["data"].is_array()) {
      return InvalidArgument("dataframe_split must be {\"columns\": [...], \"data\": [[...]]}");
    }
    std::vector<std::string> columns;
    for (const auto& column : input["columns"]) {
      if (!column.is_string()) return InvalidArgument("dataframe_split's columns must be names");
      columns.push_back(column.get<std::string>());
    }
    if (Status s = CheckRowCount(input["data"].size(), max_rows); !s.ok()) return s.error();
    if (input.contains("index") &&
        (!input["index"].is_array() || input["index"].size() != input["data"].size())) {
      return InvalidArgument("dataframe_split's index must list one label per row");
    }
    auto order = MatchColumns(columns, features);
    if (!order.ok()) return order.error();
    return FromLists(input["data"], features, &*order, columns.size());
  }
  if (field == "dataframe_records") {
    if (!input.is_array()) return InvalidArgument("dataframe_records must be a list of records");
    if (Status s = CheckRowCount(input.size(), max_rows); !s.ok()) return s.error();
    return FromRecords(input, features);
  }
  // inputs, instances: rows as lists, records, or {column: [values]}.
  if (input.is_object()) {
    if (!input.empty() && input.begin()->is_array()) {
      if (Status s = CheckRowCount(input.begin()->size(), max_rows); !s.ok()) return s.error();
    }
    return FromColumns(input, features);
  }
  if (!input.is_array()) {
    return InvalidArgument(field + " must be a list of rows or an object of columns");
  }
  if (Status s = CheckRowCount(input.size(), max_rows); !s.ok()) return s.error();
  if (!input.empty() && input.front().is_object()) return FromRecords(input, features);
  return FromLists(input, features, nullptr, features.size());
}

Result<Rows> RowsFromCsv(std::string_view text, const std::vector<std::string>& features,
                         size_t max_rows) {
  std::vector<std::vector<std::string_view>> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    start = end + 1;
    if (line.empty()) continue;
    std::vector<std::string_view> fields;
    size_t from = 0;
    while (true) {
      const size_t comma = line.find(',', from);
      fields.push_back(
          line.substr(from, comma == std::string_view::npos ? line.npos : comma - from));
      if (comma == std::string_view::npos) break;
      from = comma + 1;
    }
    lines.push_back(std::move(fields));
    if (lines.size() > max_rows + 1) {
      return InvalidArgument("more than the " + std::to_string(max_rows) +
                             " rows a request may hold (serving.max_rows)");
    }
  }
  if (lines.empty()) return InvalidArgument("the CSV body has no header row");
  std::vector<std::string> columns(lines[0].begin(), lines[0].end());
  auto order = MatchColumns(columns, features);
  if (!order.ok()) return order.error();
  Rows rows;
  rows.cols = features.size();
  for (size_t r = 1; r < lines.size(); ++r) {
    if (lines[r].size() != columns.size()) {
      return InvalidArgument("CSV line " + std::to_string(r + 1) + " has " +
                             std::to_string(lines[r].size()) + " fields, the header " +
                             std::to_string(columns.size()));
    }
    for (size_t f = 0; f < features.size(); ++f) {
      const std::string_view field = lines[r][(*order)[f]];
      if (field.empty()) {
        rows.values.push_back(kMissing);
        continue;
      }
      double value = 0;
      const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), value);
      if (ec != std::errc() || end != field.data() + field.size()) {
        return InvalidArgument(Where(r - 1, features[f]) + " holds '" + std::string(field) +
                               "': expected a number");
      }
      rows.values.push_back(static_cast<float>(value));
    }
    ++rows.rows;
  }
  return rows;
}

namespace {

// A tensor's values, flattened (nested lists are read row-major), checked against its datatype.
Result<std::vector<float>> TensorValues(const nlohmann::json& tensor, const std::string& name,
                                        size_t rank) {
  const std::string datatype = tensor.value("datatype", std::string());
  static const std::set<std::string> kTypes = {"FP32", "FP64", "INT64", "INT32", "BOOL"};
  if (kTypes.count(datatype) == 0) {
    return InvalidArgument("input '" + name + "' has datatype '" + datatype +
                           "': expected FP32, FP64, INT64, INT32 or BOOL");
  }
  if (!tensor.contains("data") || !tensor["data"].is_array()) {
    return InvalidArgument("input '" + name + "' has no data list");
  }
  std::vector<float> values;
  // Depth-first, in order: row-major for nested rows.
  std::function<Status(const nlohmann::json&, int)> walk = [&](const nlohmann::json& item,
                                                               int depth) -> Status {
    if (item.is_array()) {
      // The data list itself (depth 0), then one level of lists per dimension beyond the first.
      if (depth >= static_cast<int>(std::max<size_t>(rank, 1))) {
        return InvalidArgument("input '" + name + "' nests deeper than its shape");
      }
      for (const auto& inner : item) {
        if (Status s = walk(inner, depth + 1); !s.ok()) return s;
      }
      return Status::Ok();
    }
    const bool fits = datatype == "BOOL"              ? item.is_boolean()
                      : datatype.rfind("INT", 0) == 0 ? item.is_number_integer()
                                                      : item.is_number() || item.is_null();
    if (!fits) {
      return InvalidArgument("input '" + name + "' (" + datatype + ") holds " +
                             item.dump(-1, ' ', true));
    }
    values.push_back(item.is_null()      ? kMissing
                     : item.is_boolean() ? (item.get<bool>() ? 1.0f : 0.0f)
                                         : static_cast<float>(item.get<double>()));
    return Status::Ok();
  };
  if (Status s = walk(tensor["data"], 0); !s.ok()) return s.error();
  return values;
}

Result<std::vector<long long>> TensorShape(const nlohmann::json& tensor, const std::string& name) {
  if (!tensor.contains("shape") || !tensor["shape"].is_array() || tensor["shape"].empty()) {
    return InvalidArgument("input '" + name + "' has no shape");
  }
  std::vector<long long> shape;
  for (const auto& dim : tensor["shape"]) {
    if (!dim.is_number_integer() || dim.get<long long>() < 0) {
      return InvalidArgument("input '" + name + "' has a bad shape " + tensor["shape"].dump());
    }
    shape.push_back(dim.get<long long>());
  }
  return shape;
}

}  // namespace

Result<Rows> RowsFromInferenceRequest(const nlohmann::json& body,
                                      const std::vector<std::string>& features, size_t max_rows) {
  if (!body.is_object() || !body.contains("inputs") || !body["inputs"].is_array() ||
      body["inputs"].empty()) {
    return InvalidArgument("the body must be an inference request with a non-empty 'inputs' list");
  }
  const nlohmann::json& inputs = body["inputs"];
  for (const auto& tensor : inputs) {
    if (!tensor.is_object() || !tensor.contains("name") || !tensor["name"].is_string()) {
      return InvalidArgument("each input must be a tensor with a name, shape, datatype and data");
    }
  }
  Rows rows;
  rows.cols = features.size();
  if (inputs.size() == 1 && std::find(features.begin(), features.end(),
                                      inputs[0]["name"].get<std::string>()) == features.end()) {
    // One tensor [N, F]: the features in the model's order.
    const std::string name = inputs[0]["name"].get<std::string>();
    auto shape = TensorShape(inputs[0], name);
    if (!shape.ok()) return shape.error();
    if (shape->size() != 2 || (*shape)[1] != static_cast<long long>(features.size())) {
      return InvalidArgument("input '" + name + "' has shape " + inputs[0]["shape"].dump() +
                             ": expected [N, " + std::to_string(features.size()) +
                             "], the model's features in order, or one input per feature");
    }
    if (Status s = CheckRowCount(static_cast<size_t>((*shape)[0]), max_rows); !s.ok()) {
      return s.error();
    }
    auto values = TensorValues(inputs[0], name, shape->size());
    if (!values.ok()) return values.error();
    if (values->size() != static_cast<size_t>((*shape)[0] * (*shape)[1])) {
      return InvalidArgument("input '" + name + "' holds " + std::to_string(values->size()) +
                             " values, its shape " + inputs[0]["shape"].dump());
    }
    rows.rows = static_cast<size_t>((*shape)[0]);
    rows.values = std::move(values).value();
    return rows;
  }
  // One tensor per feature.
  std::vector<std::string> names;
  for (const auto& tensor : inputs) names.push_back(tensor["name"].get<std::string>());
  auto order = MatchColumns(names, features);
  if (!order.ok()) return order.error();
  std::vector<std::vector<float>> columns;
  for (size_t f = 0; f < features.size(); ++f) {
    const nlohmann::json& tensor = inputs[(*order)[f]];
    auto shape = TensorShape(tensor, features[f]);
    if (!shape.ok()) return shape.error();
    if (shape->size() > 2 || (shape->size() == 2 && (*shape)[1] != 1)) {
      return InvalidArgument("input '" + features[f] + "' has shape " + tensor["shape"].dump() +
                             ": expected [N]");
    }
    auto values = TensorValues(tensor, features[f], shape->size());
    if (!values.ok()) return values.error();
    if (values->size() != static_cast<size_t>((*shape)[0])) {
      return InvalidArgument("input '" + features[f] + "' holds " + std::to_string(values->size()) +
                             " values, its shape " + tensor["shape"].dump());
    }
    if (f > 0 && values->size() != columns[0].size()) {
      return InvalidArgument("input '" + features[f] + "' has " + std::to_string(values->size()) +
                             " rows, input '" + features[0] + "' " +
                             std::to_string(columns[0].size()));
    }
    if (Status s = CheckRowCount(values->size(), max_rows); !s.ok()) return s.error();
    columns.push_back(std::move(values).value());
  }
  rows.rows = columns.empty() ? 0 : columns[0].size();
  rows.values.reserve(rows.rows * rows.cols);
  for (size_t r = 0; r < rows.rows; ++r) {
    for (const auto& column : columns) rows.values.push_back(column[r]);
  }
  return rows;
}

Result<Rows> RowsFromSeldon(const nlohmann::json& body, const std::vector<std::string>& features,
                            size_t max_rows) {
  if (!body.is_object() || !body.contains("data") || !body["data"].is_object() ||
      !body["data"].contains("ndarray") || !body["data"]["ndarray"].is_array()) {
    return InvalidArgument("the body must be {\"data\": {\"names\": [...], \"ndarray\": [[...]]}}");
  }
  const nlohmann::json& data = body["data"];
  if (Status s = CheckRowCount(data["ndarray"].size(), max_rows); !s.ok()) return s.error();
  if (!data.contains("names"))
    return FromLists(data["ndarray"], features, nullptr, features.size());
  std::vector<std::string> names;
  if (!data["names"].is_array()) return InvalidArgument("data.names must be a list of names");
  for (const auto& name : data["names"]) {
    if (!name.is_string()) return InvalidArgument("data.names must be a list of names");
    names.push_back(name.get<std::string>());
  }
  auto order = MatchColumns(names, features);
  if (!order.ok()) return order.error();
  return FromLists(data["ndarray"], features, &*order, names.size());
}

}  // namespace conveyor::serving
