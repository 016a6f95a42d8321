#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/error.h"
#include "operators/drift/drift_tests.h"

namespace conveyor::operators::drift {

// A feature's values in the baseline and in the primary data (NaN where missing); text values
// arrive coded as numbers.
struct FeatureColumn {
  std::string name;
  FeatureKind kind = FeatureKind::kNumerical;
  std::vector<double> baseline;
  std::vector<double> primary;
};

// What drift_check compares. `primary_time` (seconds since the epoch, one per primary row) is
// empty when there are no windows; `labels`/`predictions` are empty without model quality.
struct DriftInput {
  std::vector<FeatureColumn> features;
  std::optional<FeatureColumn> prediction;  // tested for drift, not counted in the share
  std::vector<double> baseline_labels, primary_labels;
  std::vector<std::int64_t> primary_time;
};

// A window length: N hours, days, weeks or months.
struct WindowLength {
  int count = 1;
  enum class Unit { kHour, kDay, kWeek, kMonth } unit = Unit::kDay;
};
Result<WindowLength> ParseWindow(const std::string& text);  // "3 week", "1 month", "12 hours"

struct DriftOptions {
  std::string problem_type = "none";  // binary_classification, regression, none
  std::optional<WindowLength> window;
  std::map<std::string, std::string> tests;  // feature -> test
  std::map<std::string, double> thresholds;  // feature or test -> threshold
  double drift_share = 0.5;
  double metric_change_percent = 15;
  int threads = 1;
};

struct FeatureReport {
  std::string feature;
  TestResult test;
  TestResult psi;
  std::size_t baseline_dropped = 0, primary_dropped = 0;  // NaN, infinities, NULL
  Binned histogram;                                       // the PSI bins, for charts
};

struct MetricReport {
  std::string metric;
  double value = 0;
  double baseline = 0;
  bool drifted = false;  // changed by more than metric_change_percent
};

struct WindowReport {
  std::int64_t start = 0, end = 0;  // seconds since the epoch; both 0 without windows
  std::size_t primary_rows = 0;
  std::vector<FeatureReport> features;
  std::optional<FeatureReport> prediction;
  std::vector<MetricReport> metrics;
  double share = 0;  // of drifted features
  bool dataset_drift = false;
  bool quality_alert = false;
};

// Cuts the primary rows into windows and compares each with the whole baseline.
// Takes the input to sort its baseline columns in place.
Result<std::vector<WindowReport>> ComputeDrift(DriftInput input, const DriftOptions& options);

}  // namespace conveyor::operators::drift
