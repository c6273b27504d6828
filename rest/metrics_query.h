// GET /v1/metrics/query as plain functions (API.md section 2, DESIGN.md
// sections 5 and 6): parse the query string into a MetricsQuery, run it over the
// raw samples of a SeriesStore, render the JSON answer. The HTTP handler in
// rest/metrics_routes.cc only wires these together (auth and tenancy there).
//
// Semantics: samples with since <= ts < until of every series of the metric
// whose tags include all `tags` are put into buckets [k*window, (k+1)*window)
// (aligned to the unix epoch; without a window the whole range is one bucket
// stamped `since`), per `group_by` tag values, and each non-empty bucket is
// aggregated over all its raw samples. Quantiles are exact: sort order
// statistics with linear interpolation, rank h = q*(n-1),
// x[floor h] + (h - floor h) * (x[floor h + 1] - x[floor h]) (numpy's default
// and Prometheus' quantile_over_time).
//
// Memory: the range is read in time slices sized to about
// `MetricsQueryLimits::slice_samples` samples, aggregating as it goes, so a
// windowed query holds one slice plus one open bucket per group; a query
// without a window keeps the values of its one bucket (quantiles only). A query
// that reads more than `max_samples` fails with SampleLimitExceeded.
//
// All functions are pure apart from reading the store (thread-safe).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/expected.h"
#include "core/labels.h"
#include "core/status.h"
#include "store/series_store.h"

namespace rest {

// The aggregation applied to each bucket (the `agg` parameter).
struct MetricsAgg {
  enum class Kind { kSum, kAvg, kCount, kMin, kMax, kQuantile };
  Kind kind = Kind::kAvg;
  double quantile = 0;  // kQuantile: in (0, 1), e.g. 0.999 for p99.9 or p999
  std::string text;     // as requested, lower-cased ("p99")
};

// "sum|avg|count|min|max", "pNN" or "pNN.N..." with 0 < NN < 100, or the
// all-nines forms "p999" (99.9), "p9999" (99.99). Errors name param "agg".
core::Result<MetricsAgg> ParseMetricsAgg(std::string_view text);

// A time parameter: ISO 8601 date-time, a date YYYY-MM-DD (midnight UTC; with
// `end_of_day`, the next midnight, so a date as `until` includes that day),
// unix seconds or milliseconds (> 1e11 means ms), "now", "-1h" or "now-1h"
// (a duration before now). Errors name `param`.
core::Result<int64_t> ParseQueryTime(std::string_view text, int64_t now_ms, bool end_of_day,
                                     const std::string& param);

struct MetricsQueryLimits {
  int64_t max_buckets = 10'000;       // (until - since) / window, else 400 on `window`
  uint64_t max_samples = 10'000'000;  // raw samples one query may read, else 422
  uint64_t slice_samples = 1 << 16;   // aim of one store read (memory per slice)
  size_t max_group_by = 16;           // tag keys in group_by
};

struct MetricsQuery {
  std::string name;                  // as given (either spelling)
  MetricsAgg agg;
  std::vector<core::Label> tags;     // AND filter, sorted by name, unique names
  std::optional<int64_t> window_ms;  // nullopt: the whole range is one bucket
  std::string window_text;           // as given, empty without a window
  int64_t since_ms = 0;              // inclusive
  int64_t until_ms = 0;              // exclusive
  std::vector<std::string> group_by;  // tag keys, in request order, unique
  std::optional<std::string> project_id;  // the `project_id` parameter, if given
};

// Parses decoded query parameters (core::HttpRequest::QueryParams()). `now_ms`
// is the default `until` and the base of relative times. Every error is a 400
// invalid_request naming the parameter: unknown or repeated parameters, a
// missing name or agg, bad times, since >= until, a window that is not a
// positive duration or that makes more than limits.max_buckets buckets.
core::Result<MetricsQuery> ParseMetricsQuery(
    const std::vector<std::pair<std::string, std::string>>& params, int64_t now_ms,
    const MetricsQueryLimits& limits = {});

struct MetricsPoint {
  int64_t ts_ms = 0;  // bucket start
  double value = 0;
  friend bool operator==(const MetricsPoint&, const MetricsPoint&) = default;
};

struct MetricsSeries {
  core::Labels tags;  // the group_by values (absent tags left out); empty without group_by
  std::vector<MetricsPoint> points;  // time order; empty buckets omitted
};

struct MetricsQueryResult {
  std::string metric;                      // the stored name ("api_latency")
  std::optional<store::MetricType> type;   // nullopt: no such metric in the project
  std::vector<MetricsSeries> series;       // sorted by tags; exactly one without group_by
  uint64_t samples = 0;                    // raw samples read
};

// The query read more raw samples than limits.max_samples (HTTP 422, code
// "execution"): nothing is answered rather than a partial result.
struct SampleLimitExceeded {
  uint64_t limit = 0;
  uint64_t read = 0;  // samples read when the query stopped (> limit)
  std::string Message() const;
};

// Runs `query` over the raw samples of `project`. An unknown metric is not an
// error: the result has no type and no points. The name is looked up as given
// after normalisation ('.', '-', '/' -> '_'); if absent, a name ending in
// "_total" (the exposed name of a counter) finds the counter without it.
core::Expected<MetricsQueryResult, SampleLimitExceeded> RunMetricsQuery(
    const store::SeriesStore& store, std::string_view project, const MetricsQuery& query,
    const MetricsQueryLimits& limits = {});

// The response body: {name, agg, window, since, until, tags, type, points} or,
// with group_by, {..., group_by, series: [{tags, points}]}.
std::string MetricsQueryJson(const MetricsQuery& query, const MetricsQueryResult& result);

// Exact quantile of `values` (reorders them) with linear interpolation as above,
// in O(n) (selection, no full sort). REQUIRES: !values.empty(), 0 <= q <= 1.
double ExactQuantile(std::span<double> values, double q);

}  // namespace rest
