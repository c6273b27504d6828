// Anomaly detection over the event store (API.md section 3, GET
// /v1/analytics/anomalies): per project (entity_type "project", entity_id =
// the project id) and per entity (entity_type, entity_id), each day's and
// hour's cost, request count, error rate and p99 latency against the trailing
// 7-day baseline of the same metric.
//
// Buckets (UTC). Day: the day in progress and the last complete day, each
// against the 7 days before it. Hour (config `hourly`): the hour in progress
// and the last complete hour, each against the 7 x 24 hours before it (one
// baseline over the whole week, not the same hour of each day: fewer, fuller
// samples; daily seasonality shows up in the day buckets). Buckets in progress
// are judged for cost and usage only (their sums can only grow, so a spike
// there is final); error rate and latency wait for the bucket to complete.
//
// Baselines. cost, usage: the mean per bucket over the 7 days (empty buckets
// count as 0). error rate: errors / requests over the 7 days (pooled).
// latency: the mean of the p99s (exact, numpy's interpolation) of the baseline
// buckets that have latencies (an error-rate spike also needs at least 3
// failed requests in the bucket). A bucket is an anomaly of a type when
// actual >= min_ratio x expected and the config's minimums hold (see
// config::AnomaliesConfig). Severity from ratio = actual / expected (error
// rate: expected counts as at least 1% for the ratio).
//
// Cost: one scan of the project's blocks over [day start - 8 d, now) for every
// entity at once (rest/analytics_scan.h), cells only for (entity, bucket) pairs
// that have events, then one pass over the cells. Latencies are kept per cell
// (8 bytes per event with a latency, x4: entity and project, day and hour) for
// exact p99s.
//
// Pure function of the store's contents and `now_ms`: thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "store/event_store.h"

namespace rest {

enum class AnomalyType { kCost, kUsage, kErrorRate, kLatency };
inline constexpr AnomalyType kAnomalyTypes[] = {AnomalyType::kCost, AnomalyType::kUsage,
                                                AnomalyType::kErrorRate, AnomalyType::kLatency};
// "cost_spike" | "usage_spike" | "error_rate_spike" | "latency_spike".
std::string_view AnomalyTypeName(AnomalyType type);

// The entity_type of project-wide anomalies.
inline constexpr std::string_view kProjectEntityType = "project";

// Identifies a series of buckets: (entity, type, granularity).
struct AnomalyKey {
  std::string entity_type;
  std::string entity_id;
  AnomalyType type = AnomalyType::kCost;
  bool hourly = false;
  friend bool operator==(const AnomalyKey&, const AnomalyKey&) = default;
};

// One bucket that is an anomaly.
struct AnomalyFinding {
  AnomalyKey key;
  int64_t period_start_ms = 0;
  double expected = 0;  // USD, requests, error fraction (0..1) or milliseconds
  double actual = 0;
  double ratio = 0;
  std::string severity;     // low | medium | high | critical
  std::string description;  // "Cost increased 340% compared to 7-day average"
};

// An active anomaly to re-check: `period_start_ms` is its bucket.
struct WatchedAnomaly {
  AnomalyKey key;
  int64_t period_start_ms = 0;
};

struct DetectionResult {
  std::vector<AnomalyFinding> anomalies;
  // Parallel to the `watch` argument: the last complete bucket of that key
  // is later than the watched one and is not an anomaly (too little volume
  // to judge counts as not an anomaly).
  std::vector<bool> back_in_range;
  uint64_t events = 0;    // events scanned
  uint64_t entities = 0;  // entities seen (without the project itself)
};

DetectionResult DetectAnomalies(const store::EventStore& store, std::string_view project,
                                int64_t now_ms, const config::AnomaliesConfig& config,
                                std::span<const WatchedAnomaly> watch = {});

// "low" | "medium" | "high" | "critical" for `ratio` under the config's cut-offs.
std::string_view SeverityOf(double ratio, const config::AnomaliesConfig& config);

}  // namespace rest
