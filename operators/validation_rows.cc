#include "operators/validation_rows.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/common/private_files.h"

namespace conveyor::operators {

Status WriteValidationRows(const std::string& path, const ValidationRows& rows) {
  nlohmann::json values = nlohmann::json::array();
  for (size_t r = 0; r < rows.matrix.rows; ++r) {
    nlohmann::json row = nlohmann::json::array();
    for (size_t c = 0; c < rows.matrix.cols; ++c) {
      const float v = rows.matrix.values[r * rows.matrix.cols + c];
      row.push_back(std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v));
    }
    values.push_back(std::move(row));
  }
  const nlohmann::json json = {{"objective", rows.objective},
                               {"features", rows.features},
                               {"labels", rows.labels},
                               {"values", std::move(values)}};
  return WritePrivateFile(path, json.dump());
}

Result<ValidationRows> ReadValidationRows(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("cannot read the validation rows " + path);
  std::stringstream text;
  text << in.rdbuf();
  const auto json = nlohmann::json::parse(text.str(), nullptr, false);
  const auto bad = [&path] { return InvalidArgument(path + " is not a file of validation rows"); };
  if (json.is_discarded() || !json.is_object() || !json.contains("features") ||
      !json.contains("labels") || !json.contains("values") || !json["values"].is_array()) {
    return bad();
  }
  ValidationRows rows;
  rows.objective = json.value("objective", std::string("binary:logistic"));
  for (const auto& name : json["features"]) {
    if (!name.is_string()) return bad();
    rows.features.push_back(name.get<std::string>());
  }
  for (const auto& label : json["labels"]) {
    if (!label.is_number()) return bad();
    rows.labels.push_back(label.get<double>());
  }
  rows.matrix.cols = rows.features.size();
  for (const auto& row : json["values"]) {
    if (!row.is_array() || row.size() != rows.matrix.cols) return bad();
    for (const auto& v : row) {
      if (!v.is_null() && !v.is_number()) return bad();
      rows.matrix.values.push_back(v.is_null() ? std::numeric_limits<float>::quiet_NaN()
                                               : v.get<float>());
    }
    ++rows.matrix.rows;
  }
  if (rows.matrix.rows != rows.labels.size()) return bad();
  return rows;
}

Result<DenseMatrix> SelectFeatures(const ValidationRows& rows,
                                   const std::vector<std::string>& features) {
  std::vector<size_t> columns;
  for (const std::string& name : features) {
    size_t found = rows.features.size();
    for (size_t c = 0; c < rows.features.size(); ++c) {
      if (rows.features[c] == name) found = c;
    }
    if (found == rows.features.size()) {
      return InvalidArgument("the validation rows have no feature '" + name + "'");
    }
    columns.push_back(found);
  }
  DenseMatrix out;
  out.rows = rows.matrix.rows;
  out.cols = columns.size();
  out.values.reserve(out.rows * out.cols);
  for (size_t r = 0; r < rows.matrix.rows; ++r) {
    for (size_t c : columns) out.values.push_back(rows.matrix.values[r * rows.matrix.cols + c]);
  }
  return out;
}

}  // namespace conveyor::operators
