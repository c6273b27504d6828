// LlmMetrics: the event-derived series on /metrics (API.md section 2):
//   tally_llm_requests_total, tally_llm_tokens_total{direction=input|output|
//   cache_read|cache_write}, tally_llm_cost_usd_total and the histogram
//   tally_llm_latency_ms, labelled by project, model, provider, entity_type,
//   success (and entity_id when the config allows it).
// Running aggregates updated once per stored batch (ingest and WAL/snapshot
// replay), never rescanned: they count the events held by this process since
// start, i.e. every event still in the store after a restart (events dropped
// by retention before a restart are not counted again).
//
// Thread-safe: one mutex around the aggregates; Collect copies under it.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <prometheus/collectable.h>

#include "store/event_store.h"

namespace exporter {

class LlmMetrics final : public prometheus::Collectable {
 public:
  // `latency_bounds`: finite, strictly increasing upper bounds (ms).
  LlmMetrics(std::vector<double> latency_bounds, bool entity_id_label);

  // Adds the events of one batch; events with skip[i] (duplicates) are left out.
  // REQUIRES: skip is empty or has events.size() entries.
  void Observe(std::string_view project, std::span<const store::EventView> events,
               const std::vector<bool>& skip);

  // Adds the cost increases of repriced events (POST /v1/events/reprice) to
  // tally_llm_cost_usd_total. Decreases are not subtracted: a Prometheus
  // counter never goes down (docs/pricing.md, "Re-pricing").
  void AddRepricedCost(std::string_view project, std::span<const store::EventCostChange> changes);

  std::vector<prometheus::MetricFamily> Collect() const override;

  size_t series() const;

 private:
  struct Agg {
    std::vector<std::string> labels;  // label values in kLabelNames order
    uint64_t requests = 0;
    uint64_t tokens[4] = {};  // input, output, cache_read, cache_write
    int64_t cost_nano_usd = 0;
    std::vector<uint64_t> buckets;  // non-cumulative, bounds + 1 (+Inf)
    double latency_sum = 0;
    uint64_t latency_count = 0;
  };

  // The aggregate of `e`'s labels (created when new). REQUIRES: mu_ held.
  Agg& AggFor(std::string_view project, const store::EventView& e, std::string& key);

  const std::vector<double> bounds_;
  const bool entity_id_label_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Agg> aggs_;  // guarded by mu_; key = joined label values
};

}  // namespace exporter
