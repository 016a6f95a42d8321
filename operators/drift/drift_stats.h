#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace conveyor::operators::drift {

// Two-sample Kolmogorov-Smirnov test, two-sided, as scipy.stats.ks_2samp(method="auto")
// computes it: the exact p-value when both samples have at most 10,000 values (Hodges' lattice
// path counts, scipy's 1 − p recursion), else the asymptotic one (the distribution of the
// one-sample statistic for n = round(n1·n2 / (n1 + n2)), as scipy's kstwo.sf). Both inputs
// sorted ascending, not empty.
struct KsResult {
  double statistic = 0;
  double pvalue = 1;
  bool exact = true;
};
KsResult KsTwoSample(std::span<const double> a_sorted, std::span<const double> b_sorted);

// P(D_n ≥ x) for the two-sided one-sample Kolmogorov-Smirnov statistic (scipy's kstwo.sf),
// following Simard and L'Ecuyer's choice of methods: Ruben-Gambino at the ends, twice the
// exact one-sided Smirnov probability where it is accurate, Pelz-Good elsewhere.
double KolmogorovSf(double x, std::int64_t n);
// P(D+_n ≥ x), one-sided (scipy.special.smirnov), by the Birnbaum-Tingey sum.
double SmirnovSf(std::int64_t n, double x);

// The regularized upper incomplete gamma function Q(a, x) (scipy.special.gammaincc).
double GammaQ(double a, double x);
// P(χ²_dof ≥ statistic).
double ChiSquareSf(double statistic, double dof);
// Φ(x), as scipy.special.ndtr computes it.
double NormalCdf(double x);

// The first Wasserstein distance between two samples (scipy.stats.wasserstein_distance).
double Wasserstein(std::span<const double> a_sorted, std::span<const double> b_sorted);

// The Jensen-Shannon distance between two distributions, natural log
// (scipy.spatial.distance.jensenshannon: each normalised to sum 1 first).
double JensenShannon(std::span<const double> p, std::span<const double> q);

// numpy.histogram_bin_edges(values, bins="sturges") for n values between min and max.
std::vector<double> SturgesEdges(double min, double max, std::size_t n);
// numpy.histogram counts of sorted values in those edges (the last bin closed).
std::vector<double> HistogramCounts(std::span<const double> sorted,
                                    const std::vector<double>& edges);

}  // namespace conveyor::operators::drift
