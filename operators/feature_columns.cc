#include "operators/feature_columns.h"

#include <algorithm>
#include <cmath>

#include "engine/common/suggest.h"

namespace conveyor::operators {

Result<size_t> FindColumn(const std::vector<exec::Column>& columns, const std::string& name,
                          const std::string& role, const std::string& source) {
  std::vector<std::string> names;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name == name) return i;
    names.push_back(columns[i].name);
  }
  return InvalidArgument(source + " has no " + role + " column '" + name + "'" +
                         DidYouMean(name, names));
}

Result<std::vector<size_t>> ChooseFeatures(const std::vector<exec::Column>& columns,
                                           const std::vector<std::string>& features,
                                           const std::vector<std::string>& exclude,
                                           const std::vector<std::string>& not_features,
                                           const std::string& source) {
  std::vector<size_t> chosen;
  if (!features.empty()) {
    for (const std::string& name : features) {
      auto index = FindColumn(columns, name, "feature", source);
      if (!index.ok()) return index.error();
      chosen.push_back(*index);
    }
  } else {
    for (const std::string& name : exclude) {
      if (auto index = FindColumn(columns, name, "excluded", source); !index.ok()) {
        return index.error();
      }
    }
    for (size_t i = 0; i < columns.size(); ++i) {
      const std::string& name = columns[i].name;
      const auto skip = [&](const std::vector<std::string>& list) {
        return std::find(list.begin(), list.end(), name) != list.end();
      };
      if (!skip(exclude) && !skip(not_features)) chosen.push_back(i);
    }
  }
  if (chosen.empty()) return InvalidArgument(source + " leaves no feature columns");
  for (size_t index : chosen) {
    const exec::Column& column = columns[index];
    if (column.type == exec::ColumnType::kInteger || column.type == exec::ColumnType::kReal) {
      continue;
    }
    return InvalidArgument("feature column '" + column.name + "' of " + source + " is " +
                           std::string(exec::ColumnTypeName(column.type)) +
                           ": features must be numeric (one-hot encode categorical data, or "
                           "list the column in exclude)");
  }
  return chosen;
}

std::optional<double> NumericValue(const exec::Cell& cell) {
  if (const auto* i = std::get_if<std::int64_t>(&cell)) return static_cast<double>(*i);
  if (const auto* d = std::get_if<double>(&cell)) return *d;
  return std::nullopt;
}

bool AppendFeatureRow(const std::vector<exec::Cell>& row, const std::vector<size_t>& chosen,
                      DenseMatrix& matrix, size_t* bad_column) {
  const size_t start = matrix.values.size();
  for (size_t index : chosen) {
    const exec::Cell& cell = row[index];
    if (std::holds_alternative<std::monostate>(cell)) {
      matrix.values.push_back(NAN);  // missing
      continue;
    }
    auto value = NumericValue(cell);
    if (!value) {
      matrix.values.resize(start);
      *bad_column = index;
      return false;
    }
    matrix.values.push_back(static_cast<float>(*value));
  }
  ++matrix.rows;
  return true;
}

}  // namespace conveyor::operators
