#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/error.h"
#include "operators/xgboost_model.h"

namespace conveyor::serving {

// The rows of a prediction request, in the model's feature order (NaN: XGBoost's missing
// value). Every error is the client's: a message for a 400 that names what is wrong.
using Rows = operators::DenseMatrix;

// MLflow's scoring protocol, a JSON body with exactly one of `dataframe_split` ({columns, data,
// index?}), `dataframe_records` ([{column: value}]), `inputs` or `instances` (rows as lists in
// the model's order, records, or {column: [values]}). Columns are matched by name, in any order;
// a missing or unknown one is an error naming it. Values are numbers, booleans (1/0) or null.
Result<Rows> RowsFromMlflowJson(const nlohmann::json& body,
                                const std::vector<std::string>& features, size_t max_rows);

// MLflow's text/csv: a header row of column names, then one row per line; an empty field is a
// missing value.
Result<Rows> RowsFromCsv(std::string_view text, const std::vector<std::string>& features,
                         size_t max_rows);

// The Open Inference Protocol's (KServe v2) `inputs`: one tensor of shape [N, F] with the
// features in the model's order, or one tensor per feature, named by it, of shape [N] (or
// [N, 1]); datatypes FP32, FP64, INT64, INT32 or BOOL; data flat (row-major) or nested.
Result<Rows> RowsFromInferenceRequest(const nlohmann::json& body,
                                      const std::vector<std::string>& features, size_t max_rows);

// Seldon Core v1's `{"data": {"names": [...], "ndarray": [[...]]}}`: rows in the order `names`
// gives (the model's when absent).
Result<Rows> RowsFromSeldon(const nlohmann::json& body, const std::vector<std::string>& features,
                            size_t max_rows);

}  // namespace conveyor::serving
