#include "rest/analytics_math.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace rest {

double NanoToUsd(int64_t nano_usd) {
  // Split so both halves convert exactly; the division rounds once.
  const int64_t whole = nano_usd / 1'000'000'000;
  const int64_t frac = nano_usd % 1'000'000'000;
  return static_cast<double>(whole) + static_cast<double>(frac) / 1e9;
}

std::vector<double> PercentagesOfTotal(std::span<const int64_t> parts) {
  std::vector<double> out(parts.size(), 0.0);
  __int128 total = 0;
  for (int64_t p : parts) total += p;
  if (total <= 0) return out;
  // Each share in tenths of a percent: 1000 * part / total, floored, then the
  // remaining tenths go to the largest remainders (ties: earlier index).
  std::vector<int64_t> tenths(parts.size());
  std::vector<__int128> remainder(parts.size());
  int64_t assigned = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    __int128 scaled = static_cast<__int128>(parts[i]) * 1000;
    tenths[i] = static_cast<int64_t>(scaled / total);
    remainder[i] = scaled % total;
    assigned += tenths[i];
  }
  std::vector<size_t> order(parts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return remainder[a] > remainder[b]; });
  for (size_t k = 0; assigned < 1000 && k < order.size(); ++k, ++assigned) ++tenths[order[k]];
  for (size_t i = 0; i < parts.size(); ++i) out[i] = static_cast<double>(tenths[i]) / 10.0;
  return out;
}

double RoundTo(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

std::optional<double> ChangePercent(double current, double base) {
  if (base == 0) return std::nullopt;
  return RoundTo((current - base) / base * 100.0, 1);
}

double ExactPercentile(std::vector<double>& values, double p) {
  const size_t n = values.size();
  const double h = p / 100.0 * static_cast<double>(n - 1);
  const size_t lo = static_cast<size_t>(std::floor(h));
  std::nth_element(values.begin(), values.begin() + lo, values.end());
  const double x_lo = values[lo];
  if (lo + 1 >= n) return x_lo;
  // The next order statistic is the minimum of the upper part.
  const double x_hi = *std::min_element(values.begin() + lo + 1, values.end());
  return x_lo + (h - static_cast<double>(lo)) * (x_hi - x_lo);
}

std::vector<double> ExactPercentiles(std::vector<double>& values, std::span<const double> ps) {
  std::vector<double> out;
  out.reserve(ps.size());
  if (ps.size() > 2) {
    std::sort(values.begin(), values.end());
    const size_t n = values.size();
    for (double p : ps) {
      const double h = p / 100.0 * static_cast<double>(n - 1);
      const size_t lo = static_cast<size_t>(std::floor(h));
      const double x_lo = values[lo];
      out.push_back(lo + 1 >= n ? x_lo : x_lo + (h - lo) * (values[lo + 1] - x_lo));
    }
    return out;
  }
  for (double p : ps) out.push_back(ExactPercentile(values, p));
  return out;
}

}  // namespace rest
