#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/common/error.h"
#include "engine/exec/data_store.h"
#include "operators/xgboost_model.h"

namespace conveyor::operators {

// Which columns of a table are the model's features: `features` if given, else every column but
// the label, the split column and `exclude`. Each must be numeric (integer or real): a text or
// timestamp column is an error telling how to fix it.
Result<std::vector<size_t>> ChooseFeatures(const std::vector<exec::Column>& columns,
                                           const std::vector<std::string>& features,
                                           const std::vector<std::string>& exclude,
                                           const std::vector<std::string>& not_features,
                                           const std::string& source);

// The index of column `name`, or an error naming the source and suggesting a close name.
Result<size_t> FindColumn(const std::vector<exec::Column>& columns, const std::string& name,
                          const std::string& role, const std::string& source);

// An integer or real cell as a double; nothing for NULL or text.
std::optional<double> NumericValue(const exec::Cell& cell);

// Appends the chosen columns of `row` to `matrix` as one row. Returns false (and leaves the
// matrix as it was) when a chosen cell holds text, setting `bad_column`.
bool AppendFeatureRow(const std::vector<exec::Cell>& row, const std::vector<size_t>& chosen,
                      DenseMatrix& matrix, size_t* bad_column);

}  // namespace conveyor::operators
