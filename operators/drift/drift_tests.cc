#include "operators/drift/drift_tests.h"

#include <algorithm>
#include <cmath>

#include "operators/drift/drift_stats.h"

namespace conveyor::operators::drift {
namespace {

// The values present in either sample, with their counts in each (samples sorted).
struct ValueCounts {
  std::vector<double> values;
  std::vector<double> baseline;
  std::vector<double> primary;
};
ValueCounts CountValues(std::span<const double> a, std::span<const double> b) {
  ValueCounts out;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    const double v = j == b.size() || (i < a.size() && a[i] <= b[j]) ? a[i] : b[j];
    double ca = 0, cb = 0;
    while (i < a.size() && a[i] == v) ++i, ++ca;
    while (j < b.size() && b[j] == v) ++j, ++cb;
    out.values.push_back(v);
    out.baseline.push_back(ca);
    out.primary.push_back(cb);
  }
  return out;
}

// Evidently's get_binned_data: shares of each sample per bin (Sturges bins over both samples
// for numbers, one bin per value for categories).
void Shares(std::span<const double> a, std::span<const double> b, bool numeric_bins,
            Binned& binned) {
  const double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  if (numeric_bins) {
    binned.edges = SturgesEdges(std::min(a.front(), b.front()), std::max(a.back(), b.back()),
                                a.size() + b.size());
    binned.baseline = HistogramCounts(a, binned.edges);
    binned.primary = HistogramCounts(b, binned.edges);
  } else {
    ValueCounts counts = CountValues(a, b);
    binned.per_value = true;
    binned.edges = std::move(counts.values);
    binned.baseline = std::move(counts.baseline);
    binned.primary = std::move(counts.primary);
  }
  for (double& v : binned.baseline) v /= na;
  for (double& v : binned.primary) v /= nb;
}

// Evidently's "feel zeroes": an empty bin gets the smallest non-empty share / 10^6 when that is
// at most 0.0001, else 0.0001.
void FillZeroes(std::vector<double>& shares) {
  double smallest = 0;
  for (double v : shares) {
    if (v != 0 && (smallest == 0 || v < smallest)) smallest = v;
  }
  const double fill = smallest <= 0.0001 ? smallest / 1e6 : 0.0001;
  for (double& v : shares) {
    if (v == 0) v = fill;
  }
}

double PopulationStd(std::span<const double> values) {
  double mean = 0;
  for (double v : values) mean += v;
  mean /= static_cast<double>(values.size());
  double sum = 0;
  for (double v : values) sum += (v - mean) * (v - mean);
  return std::sqrt(sum / static_cast<double>(values.size()));
}

double ZTestPValue(std::span<const double> a, std::span<const double> b) {
  const ValueCounts counts = CountValues(a, b);
  const bool same_constant = counts.values.size() == 1;
  if (same_constant) return 1.0;
  // The share of the first value in each sample (the test is symmetric in the choice).
  const double n1 = static_cast<double>(a.size()), n2 = static_cast<double>(b.size());
  const double p1 = counts.baseline[0] / n1;
  const double p2 = counts.primary[0] / n2;
  const double pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
  const double z = (p1 - p2) / std::sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2));
  return 2 * (1 - NormalCdf(std::abs(z)));
}

double ChiSquarePValue(std::span<const double> a, std::span<const double> b) {
  const ValueCounts counts = CountValues(a, b);
  if (counts.values.size() < 2) return 1.0;
  const double k_norm = static_cast<double>(b.size()) / static_cast<double>(a.size());
  double statistic = 0;
  for (size_t i = 0; i < counts.values.size(); ++i) {
    const double expected = counts.baseline[i] * k_norm;
    const double observed = counts.primary[i];
    statistic += (observed - expected) * (observed - expected) / expected;
  }
  return ChiSquareSf(statistic, static_cast<double>(counts.values.size() - 1));
}

}  // namespace

std::string DefaultTest(std::size_t baseline_size, FeatureKind kind, std::size_t distinct) {
  const bool numerical = kind == FeatureKind::kNumerical && distinct > 5;
  if (baseline_size <= 1000) {
    if (numerical) return "ks";
    return distinct > 2 ? "chisquare" : "z";
  }
  return numerical ? "wasserstein" : "jensenshannon";
}

bool IsPValueTest(const std::string& test) {
  return test == "ks" || test == "chisquare" || test == "z";
}

bool IsKnownTest(const std::string& test) {
  return IsPValueTest(test) || test == "wasserstein" || test == "jensenshannon" || test == "psi";
}

double DefaultThreshold(const std::string& test) { return IsPValueTest(test) ? 0.05 : 0.1; }

std::size_t CountDistinct(std::span<const double> a, std::span<const double> b) {
  std::size_t distinct = 0;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    const double v = j == b.size() || (i < a.size() && a[i] <= b[j]) ? a[i] : b[j];
    while (i < a.size() && a[i] == v) ++i;
    while (j < b.size() && b[j] == v) ++j;
    ++distinct;
  }
  return distinct;
}

Binned BinForPsi(std::span<const double> baseline, std::span<const double> primary,
                 FeatureKind kind, std::optional<std::size_t> distinct) {
  Binned binned;
  const bool numeric_bins = kind == FeatureKind::kNumerical &&
                            (distinct ? *distinct : CountDistinct(baseline, primary)) > 20;
  Shares(baseline, primary, numeric_bins, binned);
  return binned;
}

double Psi(Binned binned) {
  FillZeroes(binned.baseline);
  FillZeroes(binned.primary);
  double psi = 0;
  for (size_t i = 0; i < binned.baseline.size(); ++i) {
    psi +=
        (binned.baseline[i] - binned.primary[i]) * std::log(binned.baseline[i] / binned.primary[i]);
  }
  return psi;
}

Result<TestResult> RunTest(const std::string& test, std::span<const double> baseline,
                           std::span<const double> primary, FeatureKind kind, double threshold,
                           std::optional<std::size_t> distinct) {
  TestResult result{test, 0, threshold, false};
  if (test == "ks") {
    result.value = KsTwoSample(baseline, primary).pvalue;
  } else if (test == "chisquare") {
    result.value = ChiSquarePValue(baseline, primary);
  } else if (test == "z") {
    result.value = ZTestPValue(baseline, primary);
  } else if (test == "wasserstein") {
    result.value = Wasserstein(baseline, primary) / std::max(PopulationStd(baseline), 0.001);
  } else if (test == "jensenshannon") {
    Binned binned;
    Shares(baseline, primary, kind == FeatureKind::kNumerical, binned);
    result.value = JensenShannon(binned.baseline, binned.primary);
  } else if (test == "psi") {
    result.value = Psi(BinForPsi(baseline, primary, kind, distinct));
  } else {
    return InvalidArgument("unknown drift test '" + test +
                           "' (ks, chisquare, z, wasserstein, jensenshannon, psi)");
  }
  result.drifted = IsPValueTest(test) ? result.value < threshold : result.value >= threshold;
  return result;
}

}  // namespace conveyor::operators::drift
