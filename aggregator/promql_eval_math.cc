#include "aggregator/promql_eval_math.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace promql::internal {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
}  // namespace

double Quantile(double q, std::vector<double>* values) {
  if (values->empty() || std::isnan(q)) return kNaN;
  if (q < 0) return -kInf;
  if (q > 1) return kInf;
  // Prometheus sorts with NaN first; only the two order statistics at
  // floor(rank) and the next are needed, so select them (O(n)) instead of
  // sorting: quantile_over_time over many short windows spent most of its
  // time in std::sort.
  auto less = [](double a, double b) {
    if (std::isnan(a)) return !std::isnan(b);
    return a < b;
  };
  std::vector<double>& v = *values;
  const double n = static_cast<double>(v.size());
  const double rank = q * (n - 1);
  const double lower = std::max(0.0, std::floor(rank));
  const double upper = std::min(n - 1, lower + 1);
  const double weight = rank - std::floor(rank);
  const size_t lo = static_cast<size_t>(lower);
  const size_t hi = static_cast<size_t>(upper);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(lo), v.end(), less);
  const double lo_value = v[lo];
  // After nth_element nothing past lo is less than v[lo]: the next order
  // statistic is the least of them.
  const double hi_value =
      hi == lo ? lo_value
               : *std::min_element(v.begin() + static_cast<std::ptrdiff_t>(lo) + 1, v.end(), less);
  return lo_value * (1 - weight) + hi_value * weight;
}

double BucketQuantile(double q, std::vector<Bucket>* buckets_in) {
  if (std::isnan(q)) return kNaN;
  if (q < 0) return -kInf;
  if (q > 1) return kInf;
  std::vector<Bucket>& b = *buckets_in;
  if (b.empty()) return kNaN;
  std::stable_sort(b.begin(), b.end(),
                   [](const Bucket& x, const Bucket& y) { return x.upper_bound < y.upper_bound; });
  if (!(std::isinf(b.back().upper_bound) && b.back().upper_bound > 0)) return kNaN;
  // Merge buckets with the same upper bound.
  size_t n = 0;
  for (size_t i = 1; i < b.size(); ++i) {
    if (b[i].upper_bound == b[n].upper_bound) {
      b[n].count += b[i].count;
    } else {
      b[++n] = b[i];
    }
  }
  b.resize(n + 1);
  // The envelope: no bucket counts fewer than the one before it.
  double max = b[0].count;
  for (size_t i = 1; i < b.size(); ++i) {
    if (b[i].count > max) {
      max = b[i].count;
    } else if (b[i].count < max) {
      b[i].count = max;
    }
  }
  if (b.size() < 2) return kNaN;
  const double observations = b.back().count;
  if (observations == 0) return kNaN;
  double rank = q * observations;
  // The first bucket (excluding +Inf) whose count reaches the rank.
  size_t lo = 0, hi = b.size() - 1;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (b[mid].count >= rank) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  const size_t k = lo;
  if (k == b.size() - 1) return b[b.size() - 2].upper_bound;
  if (k == 0 && b[0].upper_bound <= 0) return b[0].upper_bound;
  double start = 0;
  const double end = b[k].upper_bound;
  double count = b[k].count;
  if (k > 0) {
    start = b[k - 1].upper_bound;
    count -= b[k - 1].count;
    rank -= b[k - 1].count;
  }
  return start + (end - start) * (rank / count);
}

void KahanSumInc(double inc, double* sum, double* c) {
  const double t = *sum + inc;
  if (std::fabs(*sum) >= std::fabs(inc)) {
    *c += (*sum - t) + inc;
  } else {
    *c += (inc - t) + *sum;
  }
  *sum = t;
}

double GoMax(double x, double y) {
  if (std::isinf(x) && x > 0) return x;
  if (std::isinf(y) && y > 0) return y;
  if (std::isnan(x) || std::isnan(y)) return kNaN;
  if (x == 0 && x == y) return std::signbit(x) ? y : x;
  return x > y ? x : y;
}

double GoMin(double x, double y) {
  if (std::isinf(x) && x < 0) return x;
  if (std::isinf(y) && y < 0) return y;
  if (std::isnan(x) || std::isnan(y)) return kNaN;
  if (x == 0 && x == y) return std::signbit(x) ? x : y;
  return x < y ? x : y;
}

}  // namespace promql::internal
