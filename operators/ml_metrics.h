#pragma once

#include <nlohmann/json.hpp>
#include <span>

namespace conveyor::operators {

// Binary classification metrics of scores (probabilities of class 1) against 0/1 labels, as
// scikit-learn computes them: AUC with ties counted half (roc_auc_score), Gini = 2·AUC − 1,
// log-loss with scores clipped to [ε, 1 − ε] (ε of double, as log_loss's eps="auto"), and accuracy,
// precision, recall and F1 of the prediction score ≥ 0.5 (precision and recall 0 when undefined, as
// zero_division=0). AUC and Gini are null when only one class is present.
nlohmann::json BinaryMetrics(std::span<const double> labels, std::span<const double> scores);

// The area under the ROC curve by the rank-sum formula with tied scores sharing their ranks;
// NaN when one class is missing.
double RocAuc(std::span<const double> labels, std::span<const double> scores);

// Regression metrics: RMSE, MAE and R² (1 − SS_res/SS_tot; null for a constant target).
nlohmann::json RegressionMetrics(std::span<const double> targets,
                                 std::span<const double> predictions);

}  // namespace conveyor::operators
