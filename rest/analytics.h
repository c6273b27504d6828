// Cost analytics over the event store (API.md section 3, seeds 002 and 003):
// the computations behind /v1/analytics/{costs, costs/timeseries, models,
// entities/top, sessions, compare} and /v1/entities. Plain functions over
// already validated queries; rest/analytics_routes.h parses requests into
// them and renders JSON or CSV.
//
// Every function scans the columns of the project's blocks in range once and
// groups rows by dictionary codes (never by strings in the loop); strings are
// looked up only for the groups that are output. Money is summed in int64
// nano-USD and converted to USD once per output number.
//
// Thread-safe: the store is only read (EventStore::ScanBlocks takes no lock
// while it calls back).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rest/analytics_table.h"
#include "rest/analytics_time.h"
#include "store/event_store.h"

namespace rest {

// Which events a query covers. Empty optional = no filter on that field; tags
// are ANDed (`k:v,...`).
struct AnalyticsFilter {
  TimeRange range;
  std::optional<std::string> entity_type;
  std::optional<std::string> entity_id;
  std::optional<std::string> model;
  std::optional<std::string> provider;
  std::vector<std::pair<std::string, std::string>> tags;
};

enum class CostsGroupBy { kNone, kEntity, kModel, kProvider, kDay, kWeek, kMonth, kTag };

struct CostsQuery {
  AnalyticsFilter filter;
  CostsGroupBy group_by = CostsGroupBy::kNone;
  std::string tag_key;  // for kTag
  nlohmann::json period;  // echoed as summary.period
};

struct CostsResult {
  RowTable data;           // the group columns, then total_cost, total_events, ...
  nlohmann::json summary;  // {total_cost, total_events, period}
  // {"data":[...],"summary":{...}}
  std::string Json() const;
};

// Groups are in descending cost (then by key) except day/week/month, which are
// ascending by date; only groups with events appear. Rows are rendered without
// a JSON document (group_by=entity may have many thousands).
CostsResult Costs(const store::EventStore& store, std::string_view project, const CostsQuery& q);

// {data: [{timestamp, cost, events, input_tokens, output_tokens}], interval}:
// every bucket from the one holding the start to the one holding end - 1,
// zero-filled. REQUIRES: at most 10,000 buckets (CountIntervals).
nlohmann::json CostsTimeseries(const store::EventStore& store, std::string_view project,
                               const AnalyticsFilter& filter, Interval interval);
// Buckets CostsTimeseries would produce (stops counting above `cap`).
int64_t CountIntervals(const TimeRange& range, Interval interval, int64_t cap);

// {data: [{model, provider, cost_source, cost_sources, total_cost, ...,
// percentage_of_total}]} by (model, provider), descending cost; the
// percentages are rounded to 0.1 and sum to exactly 100 (largest remainder).
nlohmann::json Models(const store::EventStore& store, std::string_view project,
                      const AnalyticsFilter& filter);

// {data: [{entity_type, entity_id, total_cost, total_events, rank}], other:
// {entity_count, total_cost, total_events}}: the `limit` entities with the
// highest (`descending`) or lowest cost; ties by entity_type, entity_id. Only
// events with an entity_id count. Partial sort: O(n log limit).
nlohmann::json TopEntities(const store::EventStore& store, std::string_view project,
                           const AnalyticsFilter& filter, int limit, bool descending);

// {data: [{session_id, entity_type, entity_id, started_at, ended_at, turn_count,
// total_cost, total_tokens}], summary: {total_sessions, avg_turns_per_session,
// avg_cost_per_session}}: sessions newest first (by started_at, then id), at
// most `limit`; the summary covers all sessions in range.
nlohmann::json Sessions(const store::EventStore& store, std::string_view project,
                        const AnalyticsFilter& filter, int limit);

// Totals of two periods and the changes of period 1 relative to period 2.
nlohmann::json Compare(const store::EventStore& store, std::string_view project,
                       const AnalyticsFilter& period1, const AnalyticsFilter& period2,
                       const nlohmann::json& period1_echo, const nlohmann::json& period2_echo);

// GET /v1/entities: every entity with events (all time unless `range` narrows
// it), ordered by entity_type then entity_id, paginated.
nlohmann::json ListEntities(const store::EventStore& store, std::string_view project,
                            const AnalyticsFilter& filter, int limit, int64_t offset);

// GET /v1/entities/{type}/{id}; nullopt when it has no events.
std::optional<nlohmann::json> GetEntity(const store::EventStore& store, std::string_view project,
                                        std::string_view entity_type, std::string_view entity_id);

}  // namespace rest
