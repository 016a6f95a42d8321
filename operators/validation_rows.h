#pragma once

#include <string>
#include <vector>

#include "engine/common/error.h"
#include "operators/xgboost_model.h"

namespace conveyor::operators {

// A model's validation rows, saved by `train` beside the model so that `register` can score a
// challenger and the current champion on the same rows.
struct ValidationRows {
  std::string objective;              // binary:logistic or reg:squarederror
  std::vector<std::string> features;  // the matrix's columns
  std::vector<double> labels;
  DenseMatrix matrix;  // NaN: missing
};

// JSON: {"objective", "features", "labels", "values": [[row], ...]} with null for NaN; private.
Status WriteValidationRows(const std::string& path, const ValidationRows& rows);
Result<ValidationRows> ReadValidationRows(const std::string& path);

// The columns of `rows` in the order `features` names them; an error naming the first feature
// the rows lack.
Result<DenseMatrix> SelectFeatures(const ValidationRows& rows,
                                   const std::vector<std::string>& features);

}  // namespace conveyor::operators
