#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/common/error.h"

namespace conveyor::operators::drift {

// Whether a feature is compared as numbers or as categories. Text columns are categorical
// (their values coded as numbers), numeric columns numerical.
enum class FeatureKind { kNumerical, kCategorical };

// One drift test's result, as a row of drift_results.
struct TestResult {
  std::string test;  // ks, chisquare, z, wasserstein, jensenshannon, psi
  double value = 0;  // a p-value (ks, chisquare, z) or a distance
  double threshold = 0;
  bool drifted = false;
};

// Evidently's default choice: a baseline of at most 1,000 values compares a numerical feature
// with more than 5 distinct values (over both samples) by `ks`, otherwise by `chisquare` (more
// than 2 values) or `z`; a larger baseline by `wasserstein` (numerical, more than 5 values) or
// else `jensenshannon`.
std::string DefaultTest(std::size_t baseline_size, FeatureKind kind, std::size_t distinct);

// The default threshold of a test: 0.05 for p-values, 0.1 for distances and PSI.
double DefaultThreshold(const std::string& test);
bool IsPValueTest(const std::string& test);
bool IsKnownTest(const std::string& test);

// Runs one test on two samples, both sorted ascending, NaN and infinities removed, not empty.
// A p-value test drifts when value < threshold, a distance when value ≥ threshold.
// `distinct` is CountDistinct(baseline, primary) when the caller has it.
Result<TestResult> RunTest(const std::string& test, std::span<const double> baseline,
                           std::span<const double> primary, FeatureKind kind, double threshold,
                           std::optional<std::size_t> distinct = std::nullopt);

// The distinct values over both sorted samples.
std::size_t CountDistinct(std::span<const double> a, std::span<const double> b);

// The bins a feature is drawn in (and PSI computed on): Sturges bins over both samples for a
// numerical feature with more than 20 distinct values, else one bin per value. `labels` are the
// bins' lower edges or values; the shares are the fractions of each sample in each bin.
struct Binned {
  std::vector<double> edges;  // bin edges (numerical bins) or the values (one bin per value)
  bool per_value = false;
  std::vector<double> baseline;  // shares
  std::vector<double> primary;
};
Binned BinForPsi(std::span<const double> baseline, std::span<const double> primary,
                 FeatureKind kind, std::optional<std::size_t> distinct = std::nullopt);
// PSI of binned shares, empty bins filled as Evidently does.
double Psi(Binned binned);

}  // namespace conveyor::operators::drift
