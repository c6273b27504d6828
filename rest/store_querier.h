// StoreQuerier: the PromQL engine's view (promql::Querier) of one project's
// reported series in the store, shaped the way Prometheus sees them after
// scraping /metrics, but at full resolution (one sample per reported point):
//
//   gauge               name{tags}          the raw levels
//   counter             name_total{tags}    at each report time, the cumulative
//                                           total (the running sum of increments)
//   timing/distribution name_bucket{tags,le} cumulative count per bound and +Inf
//                       name_sum, name_count running sums at each observation
//                       name{tags}          the raw observations (for
//                                           quantile_over_time)
//   scraped/recorded    name{labels}        the samples as taken, staleness
//                                           markers included, no `project` label
//
// Names and labels follow exporter/exposition.h (ExposedName, ExposedLabelName,
// the `project` label when exposition.include_project_label, bucket bounds from
// the store's bucket resolver), so a query sees what a Prometheus scraping
// tally would. Running sums are computed backwards from the series' running
// aggregates (value at t = total - what was reported after t), so the newest
// point equals the /metrics value even after retention dropped old samples.
// Samples sharing a timestamp are one point: counters and histograms add
// them; gauges and raw observations keep the last reported one.
//
// Why rest/ and not aggregator/: the querier needs store/ and exporter/'s naming
// rules, and aggregator/ (PromQL) links only core/; exporter/ and aggregator/ are
// siblings in the module DAG (DESIGN.md section 2), and rest/ is the first module
// that already depends on both.
//
// Tenancy: only series of the project given at construction are visible.
// Thread-safe (the store is; this object is immutable). Samples are copied under
// the store's shard locks via SeriesStore::ReadMetric and computed on outside.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aggregator/promql_storage.h"
#include "store/series_store.h"

namespace rest {

class StoreQuerier final : public promql::Querier {
 public:
  // `store` must outlive this object.
  StoreQuerier(const store::SeriesStore& store, std::string project, bool include_project_label)
      : store_(store), project_(std::move(project)), include_project_(include_project_label) {}

  core::Result<std::vector<promql::Series>> Select(std::span<const promql::LabelMatcher> matchers,
                                                   int64_t min_ms, int64_t max_ms,
                                                   int64_t max_samples) const override;
  core::Result<std::vector<std::string>> LabelNames(std::span<const promql::LabelMatcher> matchers,
                                                    int64_t min_ms, int64_t max_ms) const override;
  core::Result<std::vector<std::string>> LabelValues(std::string_view name,
                                                     std::span<const promql::LabelMatcher> matchers,
                                                     int64_t min_ms, int64_t max_ms) const override;

 private:
  // Select's work. With `labels_only`, each series carries one sample (any in
  // the window) instead of its points: LabelNames and LabelValues need only
  // which series have data, and skip the running-sum computation.
  std::vector<promql::Series> Collect(std::span<const promql::LabelMatcher> matchers,
                                      int64_t min_ms, int64_t max_ms, int64_t max_samples,
                                      bool labels_only) const;

  const store::SeriesStore& store_;
  const std::string project_;
  const bool include_project_;
};

}  // namespace rest
