// Exact arithmetic shared by the analytics routes and calls/stats: money kept
// in integer nano-USD until output, shares that sum to exactly 100.0, percent
// changes to 0.1, and exact percentiles with linear interpolation.
// Pure functions: thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace rest {

// nano-USD (1e-9 USD) -> USD for a JSON number. Exact to the nano-dollar for
// sums below 2^53 nano-USD (about 9 million USD); beyond, within 1 ulp.
double NanoToUsd(int64_t nano_usd);

// Shares of `parts` (non-negative) in percent, rounded to 0.1 with the largest
// remainder method, so they sum to exactly 100.0 (or are all 0 when the total
// is 0) and each is within 0.1 of its exact share.
std::vector<double> PercentagesOfTotal(std::span<const int64_t> parts);

// (current - base) / base * 100 rounded half away from zero to 0.1; nullopt when
// the base is 0.
std::optional<double> ChangePercent(double current, double base);

// Rounds to `decimals` digits after the point (half away from zero).
double RoundTo(double value, int decimals);

// The p-th percentile (0 <= p <= 100) of `values` with linear interpolation
// between closest ranks: h = p/100 * (n - 1), x[floor h] + (h - floor h) *
// (x[floor h + 1] - x[floor h]) (numpy's default). Reorders `values`.
// REQUIRES: !values.empty().
double ExactPercentile(std::vector<double>& values, double p);

// Several percentiles of one sample, each as ExactPercentile. Reorders `values`.
std::vector<double> ExactPercentiles(std::vector<double>& values, std::span<const double> ps);

}  // namespace rest
