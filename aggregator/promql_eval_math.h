// Numeric helpers of the PromQL engine with Prometheus' (and Go's) exact
// semantics: the quantile definitions, compensated summation, Go's math.Max
// and math.Min. Internal to the engine; pure functions.
#pragma once

#include <vector>

namespace promql::internal {

// The φ-quantile of `values` (quantile aggregation, quantile_over_time), as
// Prometheus defines it: sort the n values ascending (NaN first), take the
// rank r = φ·(n-1) and interpolate linearly between the values at floor(r)
// and floor(r)+1. No values or φ = NaN gives NaN; φ < 0 gives -Inf and φ > 1
// gives +Inf. Reorders `values`.
double Quantile(double q, std::vector<double>* values);

// One classic histogram bucket: cumulative count of observations <= upper_bound.
struct Bucket {
  double upper_bound = 0;
  double count = 0;
};

// histogram_quantile over classic buckets (Prometheus' bucketQuantile): sort
// by upper bound; the highest bound must be +Inf (else NaN); merge equal
// bounds; force counts to be monotonic; with fewer than 2 buckets or no
// observations the result is NaN. The rank φ·total is located by binary
// search and interpolated linearly within its bucket, assuming a lower bound
// of 0 for the first bucket (unless its upper bound is <= 0, which is then
// returned); a rank in the +Inf bucket returns the second-highest bound.
// φ = NaN gives NaN, φ < 0 -Inf, φ > 1 +Inf. Reorders `buckets`.
double BucketQuantile(double q, std::vector<Bucket>* buckets);

// Kahan-Neumaier summation step: adds inc to *sum, accumulating the
// compensation in *c. The total is *sum + *c.
void KahanSumInc(double inc, double* sum, double* c);

// Go's math.Max / math.Min: NaN wins over finite values, ±Inf over NaN, and
// +0 is larger than -0.
double GoMax(double x, double y);
double GoMin(double x, double y);

}  // namespace promql::internal
