#include "operators/drift/drift_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace conveyor::operators::drift {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double Clip(double p) { return std::clamp(p, 0.0, 1.0); }

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
std::int64_t CeilDiv(std::int64_t a, std::int64_t b) { return -FloorDiv(-a, b); }

// Pr(D_{n,n} ≥ h/n): Horner-like evaluation of the alternating binomial sum.
double ProbOutsideSquare(std::int64_t n, std::int64_t h) {
  double p = 0.0;
  for (std::int64_t k = n / h; k >= 0; --k) {
    double p1 = 1.0;
    for (std::int64_t j = 0; j < h; ++j) {
      p1 = static_cast<double>(n - k * h - j) * p1 / static_cast<double>(n + k * h + j + 1);
    }
    p = p1 * (1.0 - p);
  }
  return 2 * p;
}

// The share of lattice paths from (0,0) to (m,n) that leave |x/m − y/n| < h/lcm, computed as
// 1 − p directly (Viehmann's recursion, as scipy does).
double OuterProbInside(std::int64_t m, std::int64_t n, std::int64_t g, std::int64_t h) {
  if (m < n) std::swap(m, n);
  const std::int64_t mg = m / g;
  const std::int64_t ng = n / g;
  std::int64_t minj = 0;
  std::int64_t maxj = std::min(CeilDiv(h, mg), n + 1);
  std::int64_t curlen = maxj - minj;
  std::vector<double> a(static_cast<size_t>(n + 2), 1.0);
  std::fill(a.begin(), a.begin() + maxj, 0.0);
  for (std::int64_t i = 1; i <= m; ++i) {
    const std::int64_t lastminj = minj;
    const std::int64_t lastlen = curlen;
    minj = std::min(std::max(FloorDiv(ng * i - h, mg) + 1, std::int64_t{0}), n);
    maxj = std::min(CeilDiv(ng * i + h, mg), n + 1);
    if (maxj <= minj) return 1.0;
    double val = minj == 0 ? 0.0 : 1.0;
    for (std::int64_t jj = 0; jj < maxj - minj; ++jj) {
      const std::int64_t j = jj + minj;
      val = (a[static_cast<size_t>(jj + minj - lastminj)] * static_cast<double>(i) +
             val * static_cast<double>(j)) /
            static_cast<double>(i + j);
      a[static_cast<size_t>(jj)] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) {
      const std::int64_t from = maxj - minj;
      const std::int64_t to = std::min(from + (lastlen - curlen), n + 2);
      std::fill(a.begin() + from, a.begin() + to, 1.0);
    }
  }
  return a[static_cast<size_t>(maxj - minj - 1)];
}

// log(n! / n^n) by Stirling's series (scipy's _log_nfactorial_div_n_pow_n).
double LogFactorialOverPower(double n) {
  static const double kCoeffs[] = {-2.955065359477124183e-2,  6.4102564102564102564e-3,
                                   -1.9175269175269175269e-3, 8.4175084175084175084e-4,
                                   -5.952380952380952381e-4,  7.9365079365079365079e-4,
                                   -2.7777777777777777778e-3, 8.3333333333333333333e-2};
  const double rn = 1.0 / n;
  double poly = 0;
  for (double c : kCoeffs) poly = poly * (rn / n) + c;
  return std::log(n) / 2 - n + std::log(2 * kPi) / 2 + rn * poly;
}

// Pelz-Good's approximation of P(D_n ≤ x).
double PelzGoodCdf(std::int64_t n_int, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double n = static_cast<double>(n_int);
  const double z = std::sqrt(n) * x;
  const double z2 = z * z, z3 = z2 * z, z4 = z2 * z2, z6 = z4 * z2;
  const double pi2 = kPi * kPi, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
  const double qlog = -pi2 / 8 / z2;
  if (qlog < -708) return 0.0;
  double q = std::exp(qlog);
  const double k1a = -z2, k1b = pi2 / 4;
  const double k2a = 6 * z6 + 2 * z4, k2b = (2 * z4 - 5 * z2) * pi2 / 4,
               k2c = pi4 * (1 - 2 * z2) / 16;
  const double k3d = pi6 * (5 - 30 * z2) / 64, k3c = pi4 * (-60 * z2 + 212 * z4) / 16,
               k3b = pi2 * (135 * z4 - 96 * z6) / 4, k3a = -30 * z6 - 90 * std::pow(z, 8);
  double k[4] = {0, 0, 0, 0};
  const auto maxk = static_cast<std::int64_t>(std::ceil(16 * z / kPi));
  for (std::int64_t i = maxk; i > 0; --i) {
    const double m = static_cast<double>(2 * i - 1);
    const double m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
    const double qpower = std::pow(q, static_cast<double>(8 * i));
    const double coeffs[4] = {1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4,
                              k3a + k3b * m2 + k3c * m4 + k3d * m6};
    for (int t = 0; t < 4; ++t) k[t] = k[t] * qpower + coeffs[t];
  }
  const double sqrt2pi = std::sqrt(2 * kPi);
  const double divisors[4] = {z, 6 * z4, 72 * std::pow(z, 7), 6480 * std::pow(z, 10)};
  for (int t = 0; t < 4; ++t) k[t] = k[t] * q * sqrt2pi / divisors[t];
  q = std::exp(-pi2 / 2 / z2);
  double k2extra = 0, k3extra = 0;
  const double sqrt3z = std::sqrt(3.0) * z;
  for (std::int64_t i = maxk; i > 0; --i) {
    const double ks = static_cast<double>(i);
    const double qpower = std::pow(q, ks * ks);
    k2extra += ks * ks * qpower;
    k3extra += (sqrt3z + kPi * ks) * (sqrt3z - kPi * ks) * ks * ks * qpower;
  }
  k[2] += k2extra * pi2 * sqrt2pi / (-36 * z3);
  k[3] += k3extra * pi2 * sqrt2pi / (216 * z6);
  double sum = 0;
  for (int t = 0; t < 4; ++t) sum += k[t] / std::pow(n, t / 2.0);
  return sum;
}

}  // namespace

double SmirnovSf(std::int64_t n_int, double x) {
  if (x <= 0) return 1.0;
  if (x >= 1) return 0.0;
  const double n = static_cast<double>(n_int);
  // Birnbaum-Tingey: x Σ_{j=0}^{⌊n(1−x)⌋} C(n,j) (1 − x − j/n)^(n−j) (x + j/n)^(j−1).
  const auto last = static_cast<std::int64_t>(std::floor(n * (1 - x)));
  const double log_n_fact = std::lgamma(n + 1);
  double sum = 0;
  for (std::int64_t j = 0; j <= last; ++j) {
    const double jd = static_cast<double>(j);
    const double a = 1 - x - jd / n;
    const double b = x + jd / n;
    if (a <= 0) {
      continue;
    }
    const double log_term = log_n_fact - std::lgamma(jd + 1) - std::lgamma(n - jd + 1) +
                            (n - jd) * std::log(a) + (jd - 1) * std::log(b);
    sum += std::exp(log_term);
  }
  return Clip(x * sum);
}

double KolmogorovSf(double x, std::int64_t n_int) {
  if (n_int <= 0) return kNaN;
  if (x >= 1.0) return 0.0;
  if (x <= 0.0) return 1.0;
  const double n = static_cast<double>(n_int);
  const double t = n * x;
  if (t <= 1.0) {
    if (t <= 0.5) return 1.0;
    double prob;
    if (n_int <= 140) {
      prob = 1.0;
      for (std::int64_t i = 1; i <= n_int; ++i) {
        prob *= static_cast<double>(i) * (1.0 / n) * (2 * t - 1);
      }
    } else {
      prob = std::exp(LogFactorialOverPower(n) + n * std::log(2 * t - 1));
    }
    return Clip(1.0 - prob);
  }
  if (t >= n - 1) return Clip(2 * std::pow(1.0 - x, n));
  if (x >= 0.5) return Clip(2 * SmirnovSf(n_int, x));
  const double nx2 = t * x;
  if (n_int > 140) {
    if (nx2 >= 370.0) return 0.0;
    if (nx2 >= 2.2) return Clip(2 * SmirnovSf(n_int, x));
  } else if (nx2 > 4) {
    return Clip(2 * SmirnovSf(n_int, x));
  }
  if (nx2 >= 18.0) return 0.0;
  return Clip(1.0 - PelzGoodCdf(n_int, x));
}

KsResult KsTwoSample(std::span<const double> a, std::span<const double> b) {
  const auto n1 = static_cast<std::int64_t>(a.size());
  const auto n2 = static_cast<std::int64_t>(b.size());
  // The largest gap between the two empirical CDFs, evaluated right of every value.
  double max_s = 0, min_s = 0;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    const double v = j == b.size() || (i < a.size() && a[i] <= b[j]) ? a[i] : b[j];
    while (i < a.size() && a[i] <= v) ++i;
    while (j < b.size() && b[j] <= v) ++j;
    const double diff = static_cast<double>(i) / static_cast<double>(n1) -
                        static_cast<double>(j) / static_cast<double>(n2);
    max_s = std::max(max_s, diff);
    min_s = std::min(min_s, diff);
  }
  KsResult result;
  result.statistic = std::clamp(-min_s, 0.0, 1.0) > max_s ? std::clamp(-min_s, 0.0, 1.0) : max_s;
  if (std::max(n1, n2) <= 10000) {
    const std::int64_t g = std::gcd(n1, n2);
    const std::int64_t lcm = (n1 / g) * n2;
    const auto h =
        static_cast<std::int64_t>(std::nearbyint(result.statistic * static_cast<double>(lcm)));
    result.statistic = static_cast<double>(h) / static_cast<double>(lcm);
    if (h == 0) {
      result.pvalue = 1.0;
      return result;
    }
    const double p = n1 == n2 ? ProbOutsideSquare(n1, h) : OuterProbInside(n1, n2, g, h);
    if (std::isfinite(p) && p >= 0 && p <= 1) {
      result.pvalue = p;
      return result;
    }
  }
  result.exact = false;
  const double m = static_cast<double>(std::max(n1, n2));
  const double n = static_cast<double>(std::min(n1, n2));
  const double en = m * n / (m + n);
  result.pvalue =
      Clip(KolmogorovSf(result.statistic, static_cast<std::int64_t>(std::nearbyint(en))));
  return result;
}

double GammaQ(double a, double x) {
  if (x < 0 || a <= 0 || std::isnan(x)) return kNaN;
  if (x == 0) return 1.0;
  if (std::isinf(x)) return 0.0;
  const double log_prefix = -x + a * std::log(x) - std::lgamma(a);
  if (x < a + 1) {
    // Series for P(a, x); Q = 1 − P.
    double term = 1.0 / a, sum = term, ap = a;
    for (int k = 0; k < 100000; ++k) {
      ap += 1;
      term *= x / ap;
      sum += term;
      if (std::abs(term) < std::abs(sum) * 1e-17) break;
    }
    return Clip(1.0 - sum * std::exp(log_prefix));
  }
  // Continued fraction for Q(a, x) (modified Lentz).
  constexpr double kTiny = 1e-300;
  double b = x + 1 - a, c = 1 / kTiny, d = 1 / b, h = d;
  for (int i = 1; i < 100000; ++i) {
    const double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (std::abs(d) < kTiny) d = kTiny;
    c = b + an / c;
    if (std::abs(c) < kTiny) c = kTiny;
    d = 1 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1) < 1e-17) break;
  }
  return Clip(std::exp(log_prefix) * h);
}

double ChiSquareSf(double statistic, double dof) {
  if (std::isinf(statistic)) return 0.0;
  return GammaQ(dof / 2, statistic / 2);
}

double NormalCdf(double a) {
  const double sqrth = 0.70710678118654752440;
  const double x = a * sqrth;
  const double z = std::abs(x);
  if (z < sqrth) return 0.5 + 0.5 * std::erf(x);
  const double y = 0.5 * std::erfc(z);
  return x > 0 ? 1.0 - y : y;
}

double Wasserstein(std::span<const double> a, std::span<const double> b) {
  // ∫ |F_a − F_b| over the merged values.
  const double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  size_t i = 0, j = 0;
  double total = 0;
  double previous = std::min(a.front(), b.front());
  while (i < a.size() || j < b.size()) {
    const double v = j == b.size() || (i < a.size() && a[i] <= b[j]) ? a[i] : b[j];
    total += std::abs(static_cast<double>(i) / na - static_cast<double>(j) / nb) * (v - previous);
    previous = v;
    while (i < a.size() && a[i] <= v) ++i;
    while (j < b.size() && b[j] <= v) ++j;
  }
  return total;
}

double JensenShannon(std::span<const double> p, std::span<const double> q) {
  const double sp = std::accumulate(p.begin(), p.end(), 0.0);
  const double sq = std::accumulate(q.begin(), q.end(), 0.0);
  double js = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double pi = p[i] / sp, qi = q[i] / sq;
    const double m = (pi + qi) / 2.0;
    if (pi > 0) js += pi * std::log(pi / m);
    if (qi > 0) js += qi * std::log(qi / m);
  }
  return std::sqrt(std::max(js, 0.0) / 2.0);
}

std::vector<double> SturgesEdges(double first, double last, std::size_t n) {
  const double range = last - first;
  std::size_t bins = 1;
  if (first == last) {
    first -= 0.5;
    last += 0.5;
  } else {
    const double width = range / (std::log2(static_cast<double>(n)) + 1.0);
    bins = static_cast<std::size_t>(std::ceil(range / width));
  }
  std::vector<double> edges(bins + 1);
  const double step = (last - first) / static_cast<double>(bins);
  for (std::size_t i = 0; i <= bins; ++i) edges[i] = static_cast<double>(i) * step + first;
  edges[bins] = last;
  return edges;
}

std::vector<double> HistogramCounts(std::span<const double> sorted,
                                    const std::vector<double>& edges) {
  std::vector<double> counts(edges.size() - 1);
  std::size_t previous = static_cast<std::size_t>(
      std::lower_bound(sorted.begin(), sorted.end(), edges[0]) - sorted.begin());
  for (std::size_t i = 1; i < edges.size(); ++i) {
    const auto at = i + 1 == edges.size()
                        ? std::upper_bound(sorted.begin(), sorted.end(), edges[i])
                        : std::lower_bound(sorted.begin(), sorted.end(), edges[i]);
    const auto cum = static_cast<std::size_t>(at - sorted.begin());
    counts[i - 1] = static_cast<double>(cum - previous);
    previous = cum;
  }
  return counts;
}

}  // namespace conveyor::operators::drift
