// Exposition of the store on /metrics (API.md section 2), Prometheus text
// format 0.0.4.
//
// StoreExposition renders reported series straight from the store: counters as
// cumulative `<name>_total`, gauges as their latest value, timings and
// distributions as histograms (`_bucket{le}`, `_sum`, `_count`). Every series
// carries a `project` label (a tag named `project` is exposed as
// `exported_project`, as Prometheus does on conflicts; on histograms a tag named
// `le` is exposed as `exported_le`). Self-metrics come from a
// prometheus-cpp Registry and its TextSerializer.
//
// Why not a prometheus::Collectable for the store: building MetricFamily /
// ClientMetric objects for 100k series and serializing them through an ostream
// took ~700 ms here (allocation bound); writing the text directly from the
// store's series takes a fraction of that (see bench/RESULTS.md).
//
// Thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/collectable.h>

#include "config/config.h"
#include "core/clock.h"
#include "store/series_store.h"

namespace exporter {

class StoreExposition {
 public:
  // `store` and `clock` must outlive this object.
  StoreExposition(const store::SeriesStore& store, config::ExpositionConfig config,
                  const core::Clock& clock)
      : store_(store), config_(std::move(config)), clock_(clock) {}

  // Appends every reported series (families sorted by name), then the store's
  // own gauges (tally_store_*).
  void RenderText(std::string& out) const;

 private:
  const store::SeriesStore& store_;
  const config::ExpositionConfig config_;
  const core::Clock& clock_;
  mutable std::atomic<size_t> last_render_bytes_{0};  // sizing hint for the next render
};

// The exposed family name of a reported metric: counters get `_total` once.
std::string ExposedName(std::string_view name, store::MetricType type);

// The `# TYPE` ("counter", "gauge", "histogram") and `# HELP` text of a
// reported metric's family on /metrics.
std::string_view FamilyType(store::MetricType type);
std::string FamilyHelp(std::string_view name, store::MetricType type);

// The exposed name of tag `name` of a series with tags `labels`: a tag named
// `project` (when the project label is added) or, on histograms, `le` gets an
// `exported_` prefix, repeated until the name is free among `labels`.
std::string ExposedLabelName(std::string_view name, const core::Labels& labels,
                             bool include_project, bool histogram);

// Serializes the families of prometheus-cpp collectables (self-metrics).
std::string RenderTextFormat(const std::vector<const prometheus::Collectable*>& collectables);

// The whole /metrics page: the store's series, then the collectables.
std::string RenderMetricsPage(const StoreExposition& store,
                              const std::vector<const prometheus::Collectable*>& collectables);

// Appends a label value escaped for the text format (\\, \", \n).
void AppendEscapedLabelValue(std::string& out, std::string_view value);

// Appends a sample value as Prometheus parses it: shortest round-trip decimal,
// "+Inf", "-Inf", "NaN".
void AppendSampleValue(std::string& out, double value);

// The histogram bounds for `metric_name` from the config (first matching glob,
// else the default buckets).
std::shared_ptr<const std::vector<double>> ResolveBuckets(const config::ExpositionConfig& config,
                                                          std::string_view metric_name);

}  // namespace exporter
