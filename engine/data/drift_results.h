#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/common/error.h"

namespace conveyor::data {

// Reads what drift_check wrote to the data database: for /metrics, the API and the UI.
class DriftResults {
 public:
  static Result<std::unique_ptr<DriftResults>> Open(const std::string& data_db);
  virtual ~DriftResults() = default;

  // The rows of every drift task's latest run and window:
  // [{"dag", "task", "feature", "test", "value", "threshold", "drifted"}].
  virtual Result<nlohmann::json> Latest() = 0;
  // One task's report: {"dag_id", "task_id", "latest": {"run_id", "window_start", "window_end",
  // "rows": [...], "histograms": {feature: bins}}, "series": [{"feature", "test", "points":
  // [{"run_id", "window_start", "window_end", "value", "threshold", "drifted"}]}]}, the series
  // holding every run's every window (the latest run's value for a window repeated by runs).
  // kNotFound when the task has written nothing.
  virtual Result<nlohmann::json> Report(const std::string& dag_id, const std::string& task_id) = 0;
  // The (dag_id, task_id) pairs with results: [{"dag_id", "task_id"}].
  virtual Result<nlohmann::json> Tasks() = 0;
};

// Prometheus gauges of the latest results: conveyor_drift_score, conveyor_drift_detected and
// conveyor_model_metric.
std::string RenderDriftGauges(const nlohmann::json& latest);

}  // namespace conveyor::data
