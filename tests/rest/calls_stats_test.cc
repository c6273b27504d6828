// POST /v1/calls/stats: request validation (table), and the buckets checked
// against a brute-force recomputation from the generated events, in UTC and
// across DST changes.
#include "rest/calls_stats.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/time_parse.h"
#include "rest/analytics_routes.h"
#include "store/event_store.h"
#include "tests/rest/rest_test_util.h"

namespace rest {
namespace {

using nlohmann::json;
using store::Event;
using store::EventField;

int64_t Iso(const char* text) { return *core::ParseIso8601Ms(text); }

std::vector<Event> MakeEvents(uint64_t seed, int n, int64_t from, int64_t span_ms) {
  std::mt19937_64 rng(seed);
  const char* models[] = {"gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet"};
  std::vector<Event> events;
  for (int i = 0; i < n; ++i) {
    Event e;
    e.id = "call_" + std::to_string(i);
    e.ts_ms = from + static_cast<int64_t>(rng() % static_cast<uint64_t>(span_ms));
    e.str(EventField::kModel) = models[rng() % 3];
    e.str(EventField::kOpName) = rng() % 2 ? "chat" : "embed";
    e.str(EventField::kTraceId) = "trace-" + std::to_string(rng() % 50);
    if (rng() % 3) e.str(EventField::kParentId) = "parent-" + std::to_string(rng() % 10);
    e.str(EventField::kUserId) = "user-" + std::to_string(rng() % 4);
    e.input_tokens = static_cast<uint32_t>(rng() % 1000);
    e.output_tokens = static_cast<uint32_t>(rng() % 500);
    e.cache_write_5m_tokens = static_cast<uint32_t>(rng() % 4 == 0 ? 17 : 0);
    e.cost_nano_usd = static_cast<int64_t>(rng() % 9'000'000);
    if (rng() % 4) e.latency_ms = static_cast<float>(rng() % 3000) / 4.0f;
    e.success = rng() % 7 != 0;
    if (rng() % 2) e.tags.push_back({"run_id", "run-" + std::to_string(rng() % 3)});
    events.push_back(std::move(e));
  }
  return events;
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const double h = p / 100.0 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (h - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

class CallsStatsTest : public ::testing::Test {
 protected:
  void Load(int64_t from, int64_t span) {
    events_ = MakeEvents(5, 4000, from, span);
    std::vector<store::EventView> views;
    std::vector<std::vector<std::pair<std::string_view, std::string_view>>> tags(events_.size());
    for (size_t i = 0; i < events_.size(); ++i) views.push_back(events_[i].View(tags[i]));
    store_.Append("acme", views);
  }

  json Stats(const json& request) {
    auto parsed = ParseCallsStatsRequest(request.dump(), Iso("2025-04-01T00:00:00Z"));
    EXPECT_TRUE(parsed.has_value()) << (parsed ? "" : parsed.error().message);
    if (!parsed) return json();
    return CallsStats(store_, "acme", *parsed);
  }

  store::EventStore store_;
  std::vector<Event> events_;
};

TEST_F(CallsStatsTest, UtcBucketsMatchBruteForce) {
  const int64_t from = Iso("2025-01-10T00:00:00Z");
  Load(from, 2 * 86'400'000LL);
  json req = {{"start", "2025-01-10T00:00:00Z"},
              {"end", "2025-01-12T00:00:00Z"},
              {"granularity", 3600},
              {"usage_metrics",
               {{{"metric", "cost"}, {"aggregations", {"sum", "count", "max"}}, {"percentiles", {50}}},
                {{"metric", "total_tokens"}, {"aggregations", {"sum", "avg", "min"}}}}},
              {"call_metrics",
               {{{"metric", "latency_ms"}, {"aggregations", {"avg", "count", "min"}}, {"percentiles", {50, 99, 99.9}}},
                {{"metric", "call_count"}, {"aggregations", {"sum"}}},
                {{"metric", "error_count"}, {"aggregations", {"sum", "avg"}}}}},
              {"filter", {{"op_names", {"chat"}}}}};
  json out = Stats(req);
  EXPECT_EQ(out["granularity"], 3600);
  EXPECT_EQ(out["start"], "2025-01-10T00:00:00Z");
  EXPECT_EQ(out["timezone"], "UTC");
  ASSERT_EQ(out["call_buckets"].size(), 48u);
  ASSERT_EQ(out["usage_buckets"].size(), 48u * 3);
  for (int b = 0; b < 48; ++b) {
    const int64_t lo = from + b * 3'600'000LL, hi = lo + 3'600'000;
    std::vector<double> lat;
    uint64_t calls = 0, errors = 0;
    std::map<std::string, std::vector<const Event*>> by_model;
    for (const Event& e : events_) {
      if (e.ts_ms < lo || e.ts_ms >= hi || e.str(EventField::kOpName) != "chat") continue;
      ++calls;
      errors += e.success ? 0 : 1;
      if (e.latency_ms) lat.push_back(*e.latency_ms);
      by_model[e.str(EventField::kModel)].push_back(&e);
    }
    const json& cb = out["call_buckets"][b];
    EXPECT_EQ(cb["timestamp"], core::FormatIso8601(lo));
    EXPECT_EQ(cb["call_count_sum"], calls);
    EXPECT_EQ(cb["error_count_sum"], errors);
    EXPECT_EQ(cb["latency_ms_count"], lat.size());
    if (lat.empty()) {
      EXPECT_TRUE(cb["latency_ms_p99"].is_null());
      EXPECT_TRUE(cb["latency_ms_min"].is_null());
      EXPECT_EQ(cb["latency_ms_avg"], 0.0);
    } else {
      EXPECT_DOUBLE_EQ(cb["latency_ms_p50"].get<double>(), Percentile(lat, 50));
      EXPECT_DOUBLE_EQ(cb["latency_ms_p99"].get<double>(), Percentile(lat, 99));
      EXPECT_DOUBLE_EQ(cb["latency_ms_p99.9"].get<double>(), Percentile(lat, 99.9));
      EXPECT_DOUBLE_EQ(cb["latency_ms_min"].get<double>(), *std::min_element(lat.begin(), lat.end()));
    }
    // Usage rows: every model in every bucket, in model order.
    for (int m = 0; m < 3; ++m) {
      const json& ub = out["usage_buckets"][b * 3 + m];
      const std::string model = ub["model"];
      const auto& es = by_model[model];
      int64_t cost = 0;
      uint64_t tokens = 0;
      for (const Event* e : es) {
        cost += e->cost_nano_usd;
        tokens += e->input_tokens + e->output_tokens + e->cache_write_5m_tokens;
      }
      EXPECT_EQ(ub["cost_count"], es.size());
      EXPECT_NEAR(ub["cost_sum"].get<double>(), cost / 1e9, 1e-12);
      EXPECT_EQ(ub["total_tokens_sum"], tokens);
      if (es.empty()) {
        EXPECT_TRUE(ub["cost_max"].is_null());
        EXPECT_TRUE(ub["cost_p50"].is_null());
      }
    }
  }
  EXPECT_LT(out["usage_buckets"][0]["model"].get<std::string>(),
            out["usage_buckets"][1]["model"].get<std::string>());
}

TEST_F(CallsStatsTest, FiltersMapToEventFields) {
  const int64_t from = Iso("2025-01-10T00:00:00Z");
  Load(from, 86'400'000LL);
  auto total_calls = [&](const json& filter) {
    json out = Stats({{"start", "2025-01-10T00:00:00Z"},
                      {"end", "2025-01-11T00:00:00Z"},
                      {"granularity", 86400},
                      {"call_metrics", {{{"metric", "call_count"}, {"aggregations", {"sum"}}}}},
                      {"filter", filter}});
    uint64_t n = 0;
    for (const json& b : out["call_buckets"]) n += b["call_count_sum"].get<uint64_t>();
    return n;
  };
  auto count = [&](auto keep) {
    return static_cast<uint64_t>(std::count_if(events_.begin(), events_.end(), keep));
  };
  EXPECT_EQ(total_calls(json::object()), events_.size());
  EXPECT_EQ(total_calls({{"trace_roots_only", true}}),
            count([](const Event& e) { return e.str(EventField::kParentId).empty(); }));
  EXPECT_EQ(total_calls({{"trace_ids", {"trace-1", "trace-2", "nope"}}}), count([](const Event& e) {
              return e.str(EventField::kTraceId) == "trace-1" || e.str(EventField::kTraceId) == "trace-2";
            }));
  EXPECT_EQ(total_calls({{"wb_user_ids", {"user-3"}}, {"parent_ids", {"parent-4"}}}),
            count([](const Event& e) {
              return e.str(EventField::kUserId) == "user-3" && e.str(EventField::kParentId) == "parent-4";
            }));
  EXPECT_EQ(total_calls({{"wb_run_ids", {"run-1"}}}), count([](const Event& e) {
              return !e.tags.empty() && e.tags[0].second == "run-1";
            }));
  EXPECT_EQ(total_calls({{"call_ids", {"call_7", "call_9", "call_x"}}}), count([](const Event& e) {
              return e.id == "call_7" || e.id == "call_9";
            }));
  EXPECT_EQ(total_calls({{"op_names", {"unknown-op"}}}), 0u);
}

TEST_F(CallsStatsTest, TimezoneAlignsToLocalMidnightAcrossDst) {
  // New York, 2025-03-08..2025-03-10 local: 24 + 23 + 24 hourly buckets.
  const int64_t from = Iso("2025-03-08T05:00:00Z");
  Load(from, 71 * 3'600'000LL);
  json out = Stats({{"start", "2025-03-08T05:00:00Z"},
                    {"end", "2025-03-11T04:00:00Z"},
                    {"granularity", 86400},
                    {"timezone", "America/New_York"},
                    {"call_metrics", {{{"metric", "call_count"}, {"aggregations", {"sum"}}}}}});
  ASSERT_EQ(out["call_buckets"].size(), 3u);
  EXPECT_EQ(out["timezone"], "America/New_York");
  const int64_t bounds[] = {from, Iso("2025-03-09T05:00:00Z"), Iso("2025-03-10T04:00:00Z"),
                            Iso("2025-03-11T04:00:00Z")};
  for (int d = 0; d < 3; ++d) {
    const auto n = std::count_if(events_.begin(), events_.end(), [&](const Event& e) {
      return e.ts_ms >= bounds[d] && e.ts_ms < bounds[d + 1];
    });
    EXPECT_EQ(out["call_buckets"][d]["timestamp"], core::FormatIso8601(bounds[d]));
    EXPECT_EQ(out["call_buckets"][d]["call_count_sum"], n);
  }
  json hourly = Stats({{"start", "2025-03-08T05:00:00Z"},
                       {"end", "2025-03-11T04:00:00Z"},
                       {"granularity", 3600},
                       {"timezone", "America/New_York"},
                       {"call_metrics", {{{"metric", "call_count"}}}}});
  EXPECT_EQ(hourly["call_buckets"].size(), 71u);
}

TEST_F(CallsStatsTest, GranularityDefaultsAndRaise) {
  auto granularity = [&](const char* start, const char* end, std::optional<int> g) {
    json req = {{"start", start}, {"end", end}};
    if (g) req["granularity"] = *g;
    json out = Stats(req);
    EXPECT_LE(out["usage_buckets"].size(), 10'000u);
    return out["granularity"].get<int64_t>();
  };
  EXPECT_EQ(granularity("2025-01-01T00:00:00Z", "2025-01-01T02:00:00Z", std::nullopt), 300);
  EXPECT_EQ(granularity("2025-01-01T00:00:00Z", "2025-01-01T06:00:00Z", std::nullopt), 3600);
  EXPECT_EQ(granularity("2025-01-01T00:00:00Z", "2025-01-03T00:00:00Z", std::nullopt), 21600);
  EXPECT_EQ(granularity("2025-01-01T00:00:00Z", "2025-01-10T00:00:00Z", std::nullopt), 43200);
  EXPECT_EQ(granularity("2025-01-01T00:00:00Z", "2025-03-01T00:00:00Z", std::nullopt), 86400);
  // 10,001 one-minute buckets: raised to 61 s.
  EXPECT_EQ(granularity("2025-01-01T00:00:00Z", "2025-01-07T22:41:00Z", 60), 61);
  EXPECT_EQ(granularity("2025-01-01T00:00:00Z", "2025-01-07T22:40:00Z", 60), 60);
  // end defaults to now (2025-04-01).
  json out = Stats({{"start", "2025-03-31T00:00:00Z"}});
  EXPECT_EQ(out["end"], "2025-04-01T00:00:00Z");
}

TEST(CallsStatsParseTest, BadRequestsNameTheField) {
  struct Case {
    const char* body;
    const char* param;
  };
  const Case cases[] = {
      {R"({"end":"2025-01-02T00:00:00Z"})", "start"},
      {R"({"start":"yesterday"})", "start"},
      {R"({"start":true})", "start"},
      {R"({"start":"2025-01-02T00:00:00Z","end":"2025-01-01T00:00:00Z"})", "start"},
      {R"({"start":"2025-01-01T00:00:00Z","end":"2025-01-01T00:00:00Z"})", "start"},
      {R"({"start":"2025-01-01T00:00:00Z","granularity":"3600"})", "granularity"},
      {R"({"start":"2025-01-01T00:00:00Z","granularity":0})", "granularity"},
      {R"({"start":"2025-01-01T00:00:00Z","granularity":-60})", "granularity"},
      {R"({"start":"2025-01-01T00:00:00Z","granularity":1.5})", "granularity"},
      {R"({"start":"2025-01-01T00:00:00Z","timezone":"Mars/Base"})", "timezone"},
      {R"({"start":"2025-01-01T00:00:00Z","timezone":5})", "timezone"},
      {R"({"start":"2025-01-01T00:00:00Z","usage_metrics":{}})", "usage_metrics"},
      {R"({"start":"2025-01-01T00:00:00Z","usage_metrics":[{"metric":"latency_ms"}]})",
       "usage_metrics[0].metric"},
      {R"({"start":"2025-01-01T00:00:00Z","call_metrics":[{"metric":"call_count"},{"aggregations":["sum"]}]})",
       "call_metrics[1].metric"},
      {R"({"start":"2025-01-01T00:00:00Z","call_metrics":[{"metric":"latency_ms","aggregations":["sum","median"]}]})",
       "call_metrics[0].aggregations[1]"},
      {R"({"start":"2025-01-01T00:00:00Z","call_metrics":[{"metric":"latency_ms","percentiles":[0]}]})",
       "call_metrics[0].percentiles[0]"},
      {R"({"start":"2025-01-01T00:00:00Z","call_metrics":[{"metric":"latency_ms","percentiles":[50,100]}]})",
       "call_metrics[0].percentiles[1]"},
      {R"({"start":"2025-01-01T00:00:00Z","call_metrics":[{"metric":"latency_ms","percentiles":["99"]}]})",
       "call_metrics[0].percentiles[0]"},
      {R"({"start":"2025-01-01T00:00:00Z","call_metrics":[{"metric":"latency_ms","extra":1}]})",
       "call_metrics[0].extra"},
      {R"({"start":"2025-01-01T00:00:00Z","filter":{"op_names":"chat"}})", "filter.op_names"},
      {R"({"start":"2025-01-01T00:00:00Z","filter":{"op_names":[1]}})", "filter.op_names[0]"},
      {R"({"start":"2025-01-01T00:00:00Z","filter":{"trace_roots_only":"yes"}})",
       "filter.trace_roots_only"},
      {R"({"start":"2025-01-01T00:00:00Z","filter":{"colour":["red"]}})", "filter.colour"},
      {R"({"start":"2025-01-01T00:00:00Z","project":"x"})", "project"},
      {R"({"start":"2025-01-01T00:00:00Z","project_id":7})", "project_id"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    auto r = ParseCallsStatsRequest(c.body, Iso("2025-04-01T00:00:00Z"));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidRequest);
    EXPECT_EQ(r.error().param, c.param);
  }
  EXPECT_FALSE(ParseCallsStatsRequest("{not json", 0).has_value());
  EXPECT_FALSE(ParseCallsStatsRequest("[]", 0).has_value());
}

TEST(CallsStatsRouteTest, BothPathsAndProjectTenancy) {
  test_util::FakeAuthenticator auth;
  core::FakeClock clock(Iso("2025-04-01T00:00:00Z"));
  prometheus::Registry registry;
  Router router(auth, clock, registry);
  store::EventStore store;
  AnalyticsOptions options;
  options.store = &store;
  options.clock = &clock;
  AddAnalyticsRoutes(router, options);
  for (const char* path : {"/v1/calls/stats", "/calls/stats"}) {
    core::HttpRequest req = test_util::MakeRequest(
        "POST", path, R"({"start":"2025-03-31T00:00:00Z","call_metrics":[{"metric":"call_count"}]})");
    req.headers.emplace_back("authorization", "Bearer good");
    core::HttpResponse resp;
    router.Handle(req, resp);
    ASSERT_EQ(resp.status, 200) << resp.body;
    json body = json::parse(resp.body);
    EXPECT_EQ(body["granularity"], 21600);  // 24 h up to now: the <= 3 d default
    EXPECT_EQ(body["call_buckets"].size(), 4u);
    EXPECT_EQ(body["call_buckets"][0]["call_count_sum"], 0);
  }
  core::HttpRequest req = test_util::MakeRequest(
      "POST", "/v1/calls/stats", R"({"project_id":"globex","start":"2025-03-31T00:00:00Z"})");
  req.headers.emplace_back("authorization", "Bearer good");
  core::HttpResponse resp;
  router.Handle(req, resp);
  EXPECT_EQ(resp.status, 404);
  EXPECT_EQ(json::parse(resp.body)["error"]["param"], "project_id");
}

}  // namespace
}  // namespace rest
