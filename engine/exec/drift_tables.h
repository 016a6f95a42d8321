#pragma once

#include <vector>

#include "engine/exec/data_store.h"

// The tables drift_check appends to in the data database, and engine/data reads back.
namespace conveyor::exec::drift_tables {

// One row per window, feature and test.
inline constexpr const char* kResults = "drift_results";
// The latest window's bins per feature, for charts.
inline constexpr const char* kHistograms = "drift_histograms";

inline constexpr const char* kDagId = "dag_id";
inline constexpr const char* kRunId = "run_id";
inline constexpr const char* kTaskId = "task_id";
inline constexpr const char* kWindowStart = "window_start";  // NULL without windows
inline constexpr const char* kWindowEnd = "window_end";      // NULL without windows
inline constexpr const char* kFeature = "feature";
inline constexpr const char* kTest = "test";
inline constexpr const char* kValue = "value";  // NULL when not finite
inline constexpr const char* kThreshold = "threshold";
inline constexpr const char* kDrifted = "drifted";  // 0 or 1
inline constexpr const char* kBins = "bins";        // JSON: edges, per_value, baseline, primary

// The `feature` of the rows that are not about a feature: model quality metrics (their `test`
// names the metric) and the dataset's drift share.
inline constexpr const char* kModelFeature = "model";
inline constexpr const char* kDatasetFeature = "dataset";

// The columns, in the order of the rows drift_check appends.
inline std::vector<Column> ResultsColumns() {
  return {{kDagId, ColumnType::kText},          {kRunId, ColumnType::kText},
          {kTaskId, ColumnType::kText},         {kWindowStart, ColumnType::kTimestamp},
          {kWindowEnd, ColumnType::kTimestamp}, {kFeature, ColumnType::kText},
          {kTest, ColumnType::kText},           {kValue, ColumnType::kReal},
          {kThreshold, ColumnType::kReal},      {kDrifted, ColumnType::kInteger}};
}
inline std::vector<Column> HistogramsColumns() {
  return {{kDagId, ColumnType::kText},   {kRunId, ColumnType::kText},
          {kTaskId, ColumnType::kText},  {kWindowStart, ColumnType::kTimestamp},
          {kFeature, ColumnType::kText}, {kBins, ColumnType::kText}};
}

}  // namespace conveyor::exec::drift_tables
