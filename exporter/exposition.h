// Exposition of the store on /metrics (API.md section 2).
//
// StoreCollectable is a prometheus::Collectable over the SeriesStore: reported
// counters become cumulative `<name>_total`, gauges their latest value,
// timings/distributions histograms (`_bucket{le}`, `_sum`, `_count`). Every
// series carries a `project` label (a tag named `project` is exposed as
// `exported_project`, as Prometheus does on conflicts). It also exposes the
// store's own gauges (tally_store_*).
//
// Thread-safe: Collect() copies a snapshot from the store and builds families
// outside the store's locks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "config/config.h"
#include "core/clock.h"
#include "store/series_store.h"

namespace exporter {

class StoreCollectable : public prometheus::Collectable {
 public:
  StoreCollectable(const store::SeriesStore& store, config::ExpositionConfig config,
                   const core::Clock& clock)
      : store_(store), config_(std::move(config)), clock_(clock) {}

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const store::SeriesStore& store_;
  const config::ExpositionConfig config_;
  const core::Clock& clock_;
};

// The exposed family name of a reported metric: counters get `_total` once.
std::string ExposedName(const std::string& name, store::MetricType type);

// Collects every collectable and serializes the families in the Prometheus
// text format 0.0.4 (families sorted by name so output is stable).
std::string RenderTextFormat(const std::vector<const prometheus::Collectable*>& collectables);

// The histogram bounds for `metric_name` from the config (first matching glob,
// else the default buckets).
std::shared_ptr<const std::vector<double>> ResolveBuckets(const config::ExpositionConfig& config,
                                                          std::string_view metric_name);

}  // namespace exporter
