#include "operators/drift/drift_report.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <numeric>
#include <thread>

#include "operators/drift/drift_stats.h"
#include "operators/drift/radix_sort.h"
#include "operators/ml_metrics.h"

namespace conveyor::operators::drift {
namespace {

using std::chrono::days;
using std::chrono::sys_days;
using std::chrono::sys_seconds;

// The finite values of `rows` of `values`, sorted, in a buffer of this thread that is reused
// from call to call (no allocation once it has grown).
const std::vector<double>& FinitePrimary(const std::vector<double>& values,
                                         const std::vector<size_t>& rows, std::size_t* dropped) {
  thread_local std::vector<double> out;
  out.clear();
  for (size_t r : rows) {
    const double v = values[r];
    if (std::isfinite(v)) {
      out.push_back(v);
    } else {
      ++*dropped;
    }
  }
  SortDoubles(out);
  return out;
}

// Drops the non-finite values of `values` and sorts the rest, in place.
std::size_t CleanInPlace(std::vector<double>& values) {
  const std::size_t before = values.size();
  std::erase_if(values, [](double v) { return !std::isfinite(v); });
  SortDoubles(values);
  return before - values.size();
}

std::int64_t MonthIndex(std::int64_t seconds) {
  const std::chrono::year_month_day ymd{
      std::chrono::floor<days>(sys_seconds{std::chrono::seconds{seconds}})};
  return static_cast<int>(ymd.year()) * 12 + static_cast<int>(static_cast<unsigned>(ymd.month())) -
         1;
}

std::int64_t MonthStart(std::int64_t month_index) {
  const std::chrono::year_month_day ymd{
      std::chrono::year{static_cast<int>(month_index / 12)},
      std::chrono::month{static_cast<unsigned>(month_index % 12 + 1)}, std::chrono::day{1}};
  return sys_seconds{sys_days{ymd}}.time_since_epoch().count();
}

struct Window {
  std::int64_t start = 0, end = 0;
  std::vector<size_t> rows;
};

std::vector<Window> CutWindows(const DriftInput& input, const DriftOptions& options,
                               std::size_t primary_rows) {
  const auto& time = input.primary_time;
  if (time.empty()) {
    Window all;
    all.rows.resize(primary_rows);
    std::iota(all.rows.begin(), all.rows.end(), size_t{0});
    return {all};
  }
  const auto [lo, hi] = std::minmax_element(time.begin(), time.end());
  if (!options.window) {
    Window all{*lo, *hi, std::vector<size_t>(time.size())};
    std::iota(all.rows.begin(), all.rows.end(), size_t{0});
    return {all};
  }
  const WindowLength& w = *options.window;
  std::vector<Window> windows;
  if (w.unit == WindowLength::Unit::kMonth) {
    const std::int64_t first = MonthIndex(*lo);
    for (size_t r = 0; r < time.size(); ++r) {
      const auto k = static_cast<size_t>((MonthIndex(time[r]) - first) / w.count);
      if (windows.size() <= k) windows.resize(k + 1);
      windows[k].rows.push_back(r);
    }
    for (size_t k = 0; k < windows.size(); ++k) {
      windows[k].start = MonthStart(first + static_cast<std::int64_t>(k) * w.count);
      windows[k].end = MonthStart(first + static_cast<std::int64_t>(k + 1) * w.count);
    }
  } else {
    const std::int64_t unit = w.unit == WindowLength::Unit::kHour ? 3600 : 86400;
    const std::int64_t length = unit * w.count * (w.unit == WindowLength::Unit::kWeek ? 7 : 1);
    // Windows end where the latest row's hour or day ends and are counted back from there, so
    // the latest window is always a whole one.
    const std::int64_t end = *hi - (((*hi % unit) + unit) % unit) + unit;
    const auto count = static_cast<size_t>((end - 1 - *lo) / length) + 1;
    windows.resize(count);
    for (size_t r = 0; r < time.size(); ++r) {
      const auto back = static_cast<size_t>((end - 1 - time[r]) / length);
      windows[count - 1 - back].rows.push_back(r);
    }
    for (size_t k = 0; k < count; ++k) {
      windows[k].end = end - static_cast<std::int64_t>(count - 1 - k) * length;
      windows[k].start = windows[k].end - length;
    }
  }
  std::erase_if(windows, [](const Window& w) { return w.rows.empty(); });
  return windows;
}

// A feature's own threshold (for its test, not its PSI), else the test's, else the default.
double Threshold(const DriftOptions& options, const std::string& feature, const std::string& test) {
  if (auto it = options.thresholds.find(feature); test != "psi" && it != options.thresholds.end()) {
    return it->second;
  }
  if (auto it = options.thresholds.find(test); it != options.thresholds.end()) return it->second;
  return DefaultThreshold(test);
}

// One feature in one window. Returns nothing when a sample is empty once cleaned.
Result<std::optional<FeatureReport>> CompareFeature(const FeatureColumn& column,
                                                    const std::vector<double>& baseline,
                                                    std::size_t baseline_dropped,
                                                    const std::vector<size_t>& rows,
                                                    const DriftOptions& options) {
  FeatureReport report;
  report.feature = column.name;
  report.baseline_dropped = baseline_dropped;
  const std::vector<double>& primary = FinitePrimary(column.primary, rows, &report.primary_dropped);
  if (baseline.empty() || primary.empty()) return std::optional<FeatureReport>();
  const std::size_t distinct = CountDistinct(baseline, primary);
  std::string test;
  if (auto it = options.tests.find(column.name); it != options.tests.end()) {
    test = it->second;
  } else {
    test = DefaultTest(baseline.size(), column.kind, distinct);
  }
  auto result = RunTest(test, baseline, primary, column.kind, Threshold(options, column.name, test),
                        distinct);
  if (!result.ok()) return result.error();
  report.test = *result;
  report.histogram = BinForPsi(baseline, primary, column.kind, distinct);
  const double psi_threshold = Threshold(options, column.name, "psi");
  const double psi = Psi(report.histogram);
  report.psi = TestResult{"psi", psi, psi_threshold, psi >= psi_threshold};
  return std::optional<FeatureReport>(std::move(report));
}

// The model-quality metrics of labelled rows (label and prediction both present).
std::map<std::string, double> Quality(const std::string& problem_type,
                                      const std::vector<double>& labels,
                                      const std::vector<double>& predictions,
                                      const std::vector<size_t>* rows) {
  std::vector<double> y, p;
  const auto take = [&](size_t r) {
    if (std::isfinite(labels[r]) && std::isfinite(predictions[r])) {
      y.push_back(labels[r]);
      p.push_back(predictions[r]);
    }
  };
  if (rows) {
    for (size_t r : *rows) take(r);
  } else {
    for (size_t r = 0; r < labels.size(); ++r) take(r);
  }
  std::map<std::string, double> out;
  if (y.empty()) return out;
  const nlohmann::json metrics =
      problem_type == "regression" ? RegressionMetrics(y, p) : BinaryMetrics(y, p);
  for (const auto& item : metrics.items()) {
    if (item.value().is_number()) out[item.key()] = item.value().get<double>();
  }
  if (problem_type == "binary_classification") {
    std::vector<double> positives, negatives;
    for (size_t i = 0; i < y.size(); ++i) (y[i] == 1.0 ? positives : negatives).push_back(p[i]);
    if (!positives.empty() && !negatives.empty()) {
      std::sort(positives.begin(), positives.end());
      std::sort(negatives.begin(), negatives.end());
      out["class_ks"] = KsTwoSample(negatives, positives).statistic;
    }
  }
  return out;
}

// Runs fn(i) for every i < count on `threads` threads.
template <typename Fn>
void ParallelFor(std::size_t count, int threads, const Fn& fn) {
  std::atomic<size_t> next{0};
  const auto work = [&] {
    for (size_t i = next++; i < count; i = next++) fn(i);
  };
  std::vector<std::thread> pool;
  const int extra = std::max(0, std::min(threads, static_cast<int>(count)) - 1);
  for (int t = 0; t < extra; ++t) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();
}

}  // namespace

Result<WindowLength> ParseWindow(const std::string& text) {
  WindowLength w;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  while (begin < end && *begin == ' ') ++begin;
  auto [after, ec] = std::from_chars(begin, end, w.count);
  if (ec != std::errc() || w.count < 1) {
    return InvalidArgument("bad window '" + text + "': write a count and a unit, e.g. '3 week'");
  }
  std::string unit(after, end);
  unit.erase(0, unit.find_first_not_of(' '));
  if (!unit.empty() && unit.back() == 's') unit.pop_back();
  if (unit == "hour" || unit == "h") {
    w.unit = WindowLength::Unit::kHour;
  } else if (unit == "day" || unit == "d") {
    w.unit = WindowLength::Unit::kDay;
  } else if (unit == "week" || unit == "w") {
    w.unit = WindowLength::Unit::kWeek;
  } else if (unit == "month") {
    w.unit = WindowLength::Unit::kMonth;
  } else {
    return InvalidArgument("bad window '" + text + "': the unit is hour, day, week or month");
  }
  return w;
}

Result<std::vector<WindowReport>> ComputeDrift(DriftInput input, const DriftOptions& options) {
  const std::size_t primary_rows =
      input.features.empty() ? input.primary_time.size() : input.features[0].primary.size();
  const bool quality = options.problem_type != "none" && !input.baseline_labels.empty() &&
                       !input.primary_labels.empty() && input.prediction;
  std::map<std::string, double> baseline_quality;
  if (quality) {
    baseline_quality =
        Quality(options.problem_type, input.baseline_labels, input.prediction->baseline, nullptr);
  }
  // Every feature's baseline, cleaned and sorted in place once for all windows (after the
  // baseline's model quality, which needs the predictions in row order).
  std::vector<FeatureColumn*> columns;
  for (auto& f : input.features) columns.push_back(&f);
  if (input.prediction) columns.push_back(&*input.prediction);
  std::vector<std::size_t> baseline_dropped(columns.size(), 0);
  ParallelFor(columns.size(), options.threads,
              [&](size_t i) { baseline_dropped[i] = CleanInPlace(columns[i]->baseline); });

  std::vector<WindowReport> reports;
  for (const Window& window : CutWindows(input, options, primary_rows)) {
    WindowReport report;
    report.start = window.start;
    report.end = window.end;
    report.primary_rows = window.rows.size();
    // Features are compared in parallel; each slot is written by one thread.
    std::vector<Result<std::optional<FeatureReport>>> results(
        columns.size(), Result<std::optional<FeatureReport>>(std::optional<FeatureReport>()));
    std::atomic<size_t> next{0};
    const auto work = [&] {
      for (size_t i = next++; i < columns.size(); i = next++) {
        results[i] = CompareFeature(*columns[i], columns[i]->baseline, baseline_dropped[i],
                                    window.rows, options);
      }
    };
    std::vector<std::thread> threads;
    const int extra = std::max(0, std::min(options.threads, static_cast<int>(columns.size())) - 1);
    for (int t = 0; t < extra; ++t) threads.emplace_back(work);
    work();
    for (auto& thread : threads) thread.join();

    std::size_t drifted = 0, compared = 0;
    for (size_t i = 0; i < columns.size(); ++i) {
      if (!results[i].ok()) return results[i].error();
      if (!*results[i]) continue;
      FeatureReport feature = std::move(**results[i]);
      if (input.prediction && i + 1 == columns.size()) {
        report.prediction = std::move(feature);
        continue;
      }
      ++compared;
      drifted += feature.test.drifted ? 1 : 0;
      report.features.push_back(std::move(feature));
    }
    report.share = compared ? static_cast<double>(drifted) / static_cast<double>(compared) : 0;
    report.dataset_drift = compared > 0 && report.share >= options.drift_share;
    if (quality) {
      for (const auto& [metric, value] : Quality(options.problem_type, input.primary_labels,
                                                 input.prediction->primary, &window.rows)) {
        MetricReport m{metric, value, 0, false};
        if (auto it = baseline_quality.find(metric); it != baseline_quality.end()) {
          m.baseline = it->second;
          m.drifted = m.baseline != 0 && std::abs(value - m.baseline) / std::abs(m.baseline) * 100 >
                                             options.metric_change_percent;
        }
        report.quality_alert = report.quality_alert || m.drifted;
        report.metrics.push_back(m);
      }
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

}  // namespace conveyor::operators::drift
