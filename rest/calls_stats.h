// POST /v1/calls/stats (seed 004, Weave-style call statistics; API.md section 3):
// request parsing and the computation over the event store.
//
// usage_metrics (input_tokens, output_tokens, total_tokens, cost) are grouped by
// (bucket, model); call_metrics (latency_ms, call_count, error_count) by bucket.
// Each metric asks for aggregations (sum, avg, min, max, count) and/or
// percentiles in (0, 100), exact with linear interpolation. Fields are named
// `<metric>_<agg>` and `<metric>_p<N>` (latency_ms_p99, cost_p99.9). Every
// bucket is present, and in usage_buckets every bucket x model pair whose
// model has data anywhere in the range: sum/count/avg are 0 where a bucket is
// empty, min/max/percentiles null. total_tokens counts input, output, cache
// read and cache write tokens; latency aggregates only events that reported a
// latency; call_count is 1 and error_count 1 for a failed call, per event.
//
// Pure functions over an immutable request: thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "rest/analytics_time.h"
#include "store/event_store.h"

namespace rest {

enum class StatsAgg { kSum, kAvg, kMin, kMax, kCount };

struct StatsMetric {
  std::string metric;             // e.g. "latency_ms"
  std::vector<StatsAgg> aggregations;
  std::vector<double> percentiles;
  std::vector<std::string> percentile_names;  // "p99", "p99.9", parallel to percentiles
};

struct CallsStatsRequest {
  std::string project_id;  // empty: the key's project
  int64_t start_ms = 0;    // inclusive
  int64_t end_ms = 0;      // exclusive
  BucketGrid grid;
  TimeZone timezone;
  std::vector<StatsMetric> usage_metrics;
  std::vector<StatsMetric> call_metrics;
  // Filters (empty list = no filter). Strings map to event fields as API.md says.
  std::vector<std::string> op_names, trace_ids, call_ids, parent_ids, thread_ids, turn_ids,
      user_ids, input_refs, output_refs, run_ids;
  bool trace_roots_only = false;
};

// Parses and validates a request body; errors name the JSON path of the field
// (`usage_metrics[0].percentiles[1]`). `now_ms` is the default end.
core::Result<CallsStatsRequest> ParseCallsStatsRequest(std::string_view body, int64_t now_ms);

// {start, end, granularity, timezone, usage_buckets, call_buckets}.
nlohmann::json CallsStats(const store::EventStore& store, std::string_view project,
                          const CallsStatsRequest& request);

}  // namespace rest
