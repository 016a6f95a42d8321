#include "operators/ml_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace conveyor::operators {

double RocAuc(std::span<const double> labels, std::span<const double> scores) {
  const size_t n = scores.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Mann-Whitney U: the positives' rank sum, ties given their average rank.
  double positive_rank_sum = 0;
  double positives = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    const double average_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (size_t k = i; k < j; ++k) {
      if (labels[order[k]] == 1.0) {
        positive_rank_sum += average_rank;
        positives += 1;
      }
    }
    i = j;
  }
  const double negatives = static_cast<double>(n) - positives;
  if (positives == 0 || negatives == 0) return std::nan("");
  return (positive_rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives);
}

nlohmann::json BinaryMetrics(std::span<const double> labels, std::span<const double> scores) {
  const size_t n = scores.size();
  double true_positive = 0, false_positive = 0, false_negative = 0, correct = 0;
  double log_loss = 0;
  constexpr double kEps = std::numeric_limits<double>::epsilon();
  for (size_t i = 0; i < n; ++i) {
    const bool actual = labels[i] == 1.0;
    const bool predicted = scores[i] >= 0.5;
    if (predicted == actual) correct += 1;
    if (predicted && actual) true_positive += 1;
    if (predicted && !actual) false_positive += 1;
    if (!predicted && actual) false_negative += 1;
    const double p = std::clamp(scores[i], kEps, 1.0 - kEps);
    log_loss -= actual ? std::log(p) : std::log1p(-p);
  }
  const double count = static_cast<double>(n);
  const double precision =
      true_positive + false_positive > 0 ? true_positive / (true_positive + false_positive) : 0.0;
  const double recall =
      true_positive + false_negative > 0 ? true_positive / (true_positive + false_negative) : 0.0;
  const double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
  nlohmann::json metrics = nlohmann::json::object();
  const double auc = RocAuc(labels, scores);
  metrics["auc"] = std::isnan(auc) ? nlohmann::json() : nlohmann::json(auc);
  metrics["gini"] = std::isnan(auc) ? nlohmann::json() : nlohmann::json(2 * auc - 1);
  metrics["logloss"] = n ? log_loss / count : 0.0;
  metrics["accuracy"] = n ? correct / count : 0.0;
  metrics["precision"] = precision;
  metrics["recall"] = recall;
  metrics["f1"] = f1;
  return metrics;
}

nlohmann::json RegressionMetrics(std::span<const double> targets,
                                 std::span<const double> predictions) {
  const size_t n = targets.size();
  const double count = static_cast<double>(n);
  double squared = 0, absolute = 0, mean = 0;
  for (size_t i = 0; i < n; ++i) {
    const double error = targets[i] - predictions[i];
    squared += error * error;
    absolute += std::abs(error);
    mean += targets[i];
  }
  mean = n ? mean / count : 0.0;
  double total = 0;
  for (double t : targets) total += (t - mean) * (t - mean);
  nlohmann::json metrics = nlohmann::json::object();
  metrics["rmse"] = n ? std::sqrt(squared / count) : 0.0;
  metrics["mae"] = n ? absolute / count : 0.0;
  metrics["r2"] = total > 0 ? nlohmann::json(1.0 - squared / total) : nlohmann::json();
  return metrics;
}

}  // namespace conveyor::operators
