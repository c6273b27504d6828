// The analytics routes through Router::Handle over a real EventStore, checked
// against sums recomputed here from the generated events, plus bad-input tables.
#include "rest/analytics_routes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/time_parse.h"
#include "store/event_store.h"
#include "tests/rest/rest_test_util.h"

namespace rest {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;
using store::Event;
using store::EventField;
using test_util::FakeAuthenticator;
using test_util::MakeRequest;

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kT0 = 1'735'689'600'000;  // 2025-01-01T00:00:00Z (a Wednesday)

int64_t Iso(const char* text) { return *core::ParseIso8601Ms(text); }

// Events over January and February 2025 for project "acme", a few for "globex".
std::vector<Event> MakeEvents(uint64_t seed, int n) {
  std::mt19937_64 rng(seed);
  const char* models[] = {"gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "mystery-model"};
  const char* providers[] = {"openai", "openai", "anthropic", ""};
  std::vector<Event> events;
  for (int i = 0; i < n; ++i) {
    Event e;
    e.id = "evt_" + std::to_string(i);
    e.ts_ms = kT0 + static_cast<int64_t>(rng() % static_cast<uint64_t>(59 * kDay));
    const int m = static_cast<int>(rng() % 4);
    e.str(EventField::kModel) = models[m];
    e.str(EventField::kProvider) = providers[m];
    if (rng() % 10 != 0) {
      e.str(EventField::kEntityType) = rng() % 3 ? "customer" : "team";
      e.str(EventField::kEntityId) = "ent-" + std::to_string(rng() % 25);
    }
    if (rng() % 4 != 0) {
      e.str(EventField::kSessionId) = "sess-" + std::to_string(rng() % 40);
      if (rng() % 2) e.str(EventField::kTurnId) = "turn-" + std::to_string(rng() % 5);
    }
    e.input_tokens = static_cast<uint32_t>(rng() % 5000);
    e.output_tokens = static_cast<uint32_t>(rng() % 2000);
    e.cache_read_tokens = static_cast<uint32_t>(rng() % 3 == 0 ? rng() % 100 : 0);
    e.cost_nano_usd = static_cast<int64_t>(rng() % 50'000'000);
    e.cost_source = m == 3 ? store::CostSource::kUnknownModel
                           : (rng() % 2 ? store::CostSource::kReported
                                        : store::CostSource::kPriceTable);
    if (m == 3) e.cost_nano_usd = 0;
    if (rng() % 5) e.latency_ms = static_cast<float>(rng() % 4000) + 0.25f;
    e.success = rng() % 10 != 0;
    if (rng() % 2) e.tags.push_back({"env", rng() % 2 ? "prod" : "dev"});
    if (rng() % 2) e.tags.push_back({"feature", rng() % 2 ? "chat, \"beta\"" : "search"});
    events.push_back(std::move(e));
  }
  return events;
}

void AppendAll(store::EventStore& store, const std::string& project,
               const std::vector<Event>& events) {
  std::vector<store::EventView> views;
  std::vector<std::vector<std::pair<std::string_view, std::string_view>>> tags(events.size());
  for (size_t i = 0; i < events.size(); ++i) views.push_back(events[i].View(tags[i]));
  store.Append(project, views);
}

bool HasTag(const Event& e, const std::string& k, const std::string& v) {
  for (const auto& [tk, tv] : e.tags) {
    if (tk == k && tv == v) return true;
  }
  return false;
}

class AnalyticsRoutesTest : public ::testing::Test {
 protected:
  AnalyticsRoutesTest()
      : clock_(Iso("2025-03-01T00:00:00Z")), router_(auth_, clock_, registry_) {
    AnalyticsOptions options;
    options.store = &store_;
    options.clock = &clock_;
    options.project_in_account = [](const std::string& account, const std::string& project) {
      return account == "acct_1" && project == "acme-staging";
    };
    AddAnalyticsRoutes(router_, options);
    events_ = MakeEvents(42, 3000);
    AppendAll(store_, "acme", events_);
    AppendAll(store_, "globex", MakeEvents(7, 100));
  }

  core::HttpResponse Get(const std::string& path, const std::string& query,
                         const std::string& key = "good") {
    core::HttpRequest req = MakeRequest("GET", path, "", "");
    req.query_string = query;
    req.headers.emplace_back("authorization", "Bearer " + key);
    core::HttpResponse resp;
    router_.Handle(req, resp);
    return resp;
  }

  json GetJson(const std::string& path, const std::string& query) {
    core::HttpResponse resp = Get(path, query);
    EXPECT_EQ(resp.status, 200) << path << "?" << query << ": " << resp.body;
    return json::parse(resp.body);
  }

  // Events of "acme" in [from, to) passing `keep`.
  template <typename Fn>
  std::vector<const Event*> Select(int64_t from, int64_t to, Fn keep) const {
    std::vector<const Event*> out;
    for (const Event& e : events_) {
      if (e.ts_ms >= from && e.ts_ms < to && keep(e)) out.push_back(&e);
    }
    return out;
  }

  static int64_t Cost(const std::vector<const Event*>& es) {
    int64_t c = 0;
    for (const Event* e : es) c += e->cost_nano_usd;
    return c;
  }

  FakeAuthenticator auth_;
  core::FakeClock clock_;
  prometheus::Registry registry_;
  Router router_;
  store::EventStore store_;
  std::vector<Event> events_;
};

TEST_F(AnalyticsRoutesTest, CostsTotalsAndGroupByEntity) {
  json body = GetJson("/v1/analytics/costs",
                      "start_date=2025-01-10&end_date=2025-01-20&group_by=entity&entity_type=customer");
  auto sel = Select(Iso("2025-01-10T00:00:00Z"), Iso("2025-01-21T00:00:00Z"), [](const Event& e) {
    return e.str(EventField::kEntityType) == "customer";
  });
  EXPECT_EQ(body["summary"]["total_events"], sel.size());
  EXPECT_NEAR(body["summary"]["total_cost"].get<double>(), Cost(sel) / 1e9, 1e-9);
  EXPECT_EQ(body["summary"]["period"], json({{"start", "2025-01-10"}, {"end", "2025-01-20"}}));
  std::map<std::string, std::pair<int64_t, uint64_t>> expected;
  for (const Event* e : sel) {
    auto& [cost, n] = expected[e->str(EventField::kEntityId)];
    cost += e->cost_nano_usd;
    ++n;
  }
  ASSERT_EQ(body["data"].size(), expected.size());
  double previous = 1e300;
  for (const json& row : body["data"]) {
    EXPECT_EQ(row["entity_type"], "customer");
    const auto& [cost, n] = expected.at(row["entity_id"].get<std::string>());
    EXPECT_NEAR(row["total_cost"].get<double>(), cost / 1e9, 1e-12);
    EXPECT_EQ(row["total_events"], n);
    EXPECT_LE(row["total_cost"].get<double>(), previous);
    previous = row["total_cost"].get<double>();
  }
}

TEST_F(AnalyticsRoutesTest, CostsGroupByWeekTagAndCsv) {
  json weeks = GetJson("/v1/analytics/costs", "start_date=2025-01-01&end_date=2025-02-28&group_by=week");
  // 2025-01-01 is a Wednesday: the first week starts Monday 2024-12-30.
  EXPECT_EQ(weeks["data"][0]["date"], "2024-12-30");
  uint64_t n = 0;
  for (const json& row : weeks["data"]) n += row["total_events"].get<uint64_t>();
  EXPECT_EQ(n, events_.size());

  json tags = GetJson("/v1/analytics/costs",
                      "start_date=2025-01-01&end_date=2025-02-28&group_by=tags.feature&tags=env:prod");
  auto prod = Select(kT0, kT0 + 60 * kDay, [](const Event& e) { return HasTag(e, "env", "prod"); });
  std::map<std::string, uint64_t> by_feature;
  for (const Event* e : prod) {
    std::string f = "(none)";
    for (const auto& [k, v] : e->tags) {
      if (k == "feature") f = v;
    }
    ++by_feature[f];
  }
  ASSERT_EQ(tags["data"].size(), by_feature.size());
  for (const json& row : tags["data"]) {
    EXPECT_EQ(row["tag_key"], "feature");
    const std::string f = row["tag_value"].is_null() ? "(none)" : row["tag_value"].get<std::string>();
    EXPECT_EQ(row["total_events"], by_feature.at(f)) << f;
  }

  core::HttpResponse csv = Get("/v1/analytics/costs",
                               "start_date=2025-01-01&end_date=2025-02-28&group_by=tags.feature&"
                               "tags=env:prod&format=csv");
  ASSERT_EQ(csv.status, 200);
  EXPECT_THAT(csv.content_type, HasSubstr("text/csv"));
  EXPECT_EQ(csv.body.substr(0, csv.body.find("\r\n")),
            "tag_key,tag_value,total_cost,total_events,total_input_tokens,total_output_tokens,"
            "avg_latency_ms");
  EXPECT_THAT(csv.body, HasSubstr("\"chat, \"\"beta\"\"\""));
}

TEST_F(AnalyticsRoutesTest, TimeseriesIsZeroFilled) {
  json body = GetJson("/v1/analytics/costs/timeseries",
                      "start_date=2024-12-30&end_date=2025-01-02&interval=hour&model=gpt-4o");
  ASSERT_EQ(body["data"].size(), 4u * 24);
  EXPECT_EQ(body["interval"], "hour");
  EXPECT_EQ(body["data"][0]["timestamp"], "2024-12-30T00:00:00Z");
  EXPECT_EQ(body["data"][0]["events"], 0);
  EXPECT_EQ(body["data"][0]["cost"], 0.0);
  for (int h = 0; h < 96; ++h) {
    const int64_t from = Iso("2024-12-30T00:00:00Z") + h * 3'600'000LL;
    auto sel = Select(from, from + 3'600'000, [](const Event& e) {
      return e.str(EventField::kModel) == "gpt-4o";
    });
    ASSERT_EQ(body["data"][h]["events"], sel.size()) << h;
    ASSERT_NEAR(body["data"][h]["cost"].get<double>(), Cost(sel) / 1e9, 1e-12);
  }
  json months = GetJson("/v1/analytics/costs/timeseries",
                        "start_date=2025-01-15&end_date=2025-03-01&interval=month");
  ASSERT_EQ(months["data"].size(), 3u);
  EXPECT_EQ(months["data"][1]["timestamp"], "2025-02-01T00:00:00Z");
}

TEST_F(AnalyticsRoutesTest, ModelsSharesSumTo100AndShowUnknownModels) {
  json body = GetJson("/v1/analytics/models", "start_date=2025-01-01&end_date=2025-03-01");
  double sum = 0;
  bool saw_unknown = false;
  for (const json& row : body["data"]) {
    sum += row["percentage_of_total"].get<double>();
    if (row["model"] == "mystery-model") {
      saw_unknown = true;
      EXPECT_EQ(row["cost_source"], "unknown_model");
      EXPECT_EQ(row["percentage_of_total"], 0.0);
      EXPECT_TRUE(row["provider"].is_null());
    } else {
      EXPECT_EQ(row["cost_source"], "mixed");
    }
  }
  EXPECT_TRUE(saw_unknown);
  EXPECT_NEAR(sum, 100.0, 1e-9);
}

TEST_F(AnalyticsRoutesTest, TopEntitiesRanksAndSumsTheRest) {
  json body = GetJson("/v1/analytics/entities/top", "start_date=2025-01-01&end_date=2025-02-28&limit=5");
  ASSERT_EQ(body["data"].size(), 5u);
  std::map<std::pair<std::string, std::string>, int64_t> cost;
  int64_t all = 0;
  for (const Event& e : events_) {
    if (e.str(EventField::kEntityId).empty()) continue;
    cost[{e.str(EventField::kEntityType), e.str(EventField::kEntityId)}] += e.cost_nano_usd;
    all += e.cost_nano_usd;
  }
  std::vector<int64_t> sorted;
  for (const auto& [k, c] : cost) sorted.push_back(c);
  std::sort(sorted.rbegin(), sorted.rend());
  int64_t top = 0;
  for (int r = 0; r < 5; ++r) {
    EXPECT_EQ(body["data"][r]["rank"], r + 1);
    EXPECT_NEAR(body["data"][r]["total_cost"].get<double>(), sorted[r] / 1e9, 1e-12);
    top += sorted[r];
  }
  EXPECT_EQ(body["other"]["entity_count"], cost.size() - 5);
  EXPECT_NEAR(body["other"]["total_cost"].get<double>(), (all - top) / 1e9, 1e-9);
  json asc = GetJson("/v1/analytics/entities/top", "start_date=2025-01-01&end_date=2025-02-28&order=asc&limit=1");
  EXPECT_NEAR(asc["data"][0]["total_cost"].get<double>(), sorted.back() / 1e9, 1e-12);
}

TEST_F(AnalyticsRoutesTest, SessionsCountDistinctTurns) {
  json body = GetJson("/v1/analytics/sessions", "start_date=2025-01-01&end_date=2025-02-28&limit=1000");
  std::map<std::string, std::vector<const Event*>> sessions;
  for (const Event& e : events_) {
    if (!e.str(EventField::kSessionId).empty()) sessions[e.str(EventField::kSessionId)].push_back(&e);
  }
  ASSERT_EQ(body["data"].size(), sessions.size());
  EXPECT_EQ(body["summary"]["total_sessions"], sessions.size());
  double turns_total = 0;
  for (const json& row : body["data"]) {
    const auto& es = sessions.at(row["session_id"].get<std::string>());
    std::set<std::string> turns;
    int64_t first = INT64_MAX;
    for (const Event* e : es) {
      if (!e->str(EventField::kTurnId).empty()) turns.insert(e->str(EventField::kTurnId));
      first = std::min(first, e->ts_ms);
    }
    const uint64_t expected_turns = turns.empty() ? es.size() : turns.size();
    EXPECT_EQ(row["turn_count"], expected_turns);
    EXPECT_EQ(row["started_at"], core::FormatIso8601(first));
    turns_total += static_cast<double>(expected_turns);
  }
  EXPECT_NEAR(body["summary"]["avg_turns_per_session"].get<double>(),
              turns_total / static_cast<double>(sessions.size()), 1e-9);
  // Newest first.
  EXPECT_GE(body["data"][0]["started_at"].get<std::string>(),
            body["data"][1]["started_at"].get<std::string>());
}

TEST_F(AnalyticsRoutesTest, CompareComputesChanges) {
  json body = GetJson("/v1/analytics/compare",
                      "period1_start=2025-02-01&period1_end=2025-02-14&period2_start=2025-01-01&"
                      "period2_end=2025-01-14&entity_type=customer");
  auto keep = [](const Event& e) { return e.str(EventField::kEntityType) == "customer"; };
  auto p1 = Select(Iso("2025-02-01T00:00:00Z"), Iso("2025-02-15T00:00:00Z"), keep);
  auto p2 = Select(Iso("2025-01-01T00:00:00Z"), Iso("2025-01-15T00:00:00Z"), keep);
  EXPECT_EQ(body["period1"]["total_events"], p1.size());
  EXPECT_EQ(body["period2"]["total_events"], p2.size());
  EXPECT_EQ(body["period1"]["start"], "2025-02-01");
  EXPECT_NEAR(body["changes"]["cost_change"].get<double>(), (Cost(p1) - Cost(p2)) / 1e9, 1e-9);
  const double pct = (double(Cost(p1)) - double(Cost(p2))) / double(Cost(p2)) * 100;
  EXPECT_NEAR(body["changes"]["cost_change_percent"].get<double>(), pct, 0.05 + 1e-9);
  // An empty base period gives null percentages.
  json empty = GetJson("/v1/analytics/compare",
                       "period1_start=2025-02-01&period1_end=2025-02-14&period2_start=2020-01-01&"
                       "period2_end=2020-01-14");
  EXPECT_TRUE(empty["changes"]["cost_change_percent"].is_null());
  EXPECT_TRUE(empty["changes"]["events_change_percent"].is_null());
}

TEST_F(AnalyticsRoutesTest, EntitiesListAndGet) {
  json page = GetJson("/v1/entities", "limit=10&offset=5&type=customer");
  std::set<std::pair<std::string, std::string>> all;
  for (const Event& e : events_) {
    if (e.str(EventField::kEntityType) == "customer") all.insert({"customer", e.str(EventField::kEntityId)});
  }
  EXPECT_EQ(page["pagination"]["total"], all.size());
  EXPECT_EQ(page["pagination"]["offset"], 5);
  EXPECT_EQ(page["pagination"]["has_more"], all.size() > 15);
  auto it = std::next(all.begin(), 5);
  EXPECT_EQ(page["data"][0]["entity_id"], it->second);

  json one = GetJson("/v1/entities/customer/ent-3", "");
  int64_t cost = 0;
  std::map<std::string, int64_t> by_model;
  uint64_t n = 0;
  for (const Event& e : events_) {
    if (e.str(EventField::kEntityType) == "customer" && e.str(EventField::kEntityId) == "ent-3") {
      cost += e.cost_nano_usd;
      by_model[e.str(EventField::kModel)] += e.cost_nano_usd;
      ++n;
    }
  }
  EXPECT_EQ(one["total_events"], n);
  EXPECT_NEAR(one["total_cost"].get<double>(), cost / 1e9, 1e-12);
  ASSERT_EQ(one["cost_by_model"].size(), by_model.size());
  for (const auto& [m, c] : by_model) EXPECT_NEAR(one["cost_by_model"][m].get<double>(), c / 1e9, 1e-12);
  EXPECT_EQ(Get("/v1/entities/customer/nobody", "").status, 404);
}

TEST_F(AnalyticsRoutesTest, TenancyAndProjectId) {
  // "other" is project globex: it sees only its 100 events.
  core::HttpResponse r = Get("/v1/analytics/costs", "start_date=2025-01-01&end_date=2025-03-01", "other");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["summary"]["total_events"], 100);
  // A project_id of another account's project: 404, never its data.
  core::HttpResponse foreign =
      Get("/v1/analytics/costs", "start_date=2025-01-01&end_date=2025-03-01&project_id=globex");
  EXPECT_EQ(foreign.status, 404);
  EXPECT_EQ(json::parse(foreign.body)["error"]["param"], "project_id");
  // A project of the same account (the key has every scope, so account:admin).
  core::HttpResponse staging =
      Get("/v1/analytics/costs", "start_date=2025-01-01&end_date=2025-03-01&project_id=acme-staging");
  ASSERT_EQ(staging.status, 200);
  EXPECT_EQ(json::parse(staging.body)["summary"]["total_events"], 0);
  // A key without analytics:read.
  EXPECT_EQ(Get("/v1/analytics/costs", "start_date=2025-01-01&end_date=2025-03-01", "readonly").status,
            403);
}

TEST_F(AnalyticsRoutesTest, BadInputNamesTheParam) {
  struct Case {
    const char* path;
    const char* query;
    const char* param;
  };
  const Case cases[] = {
      {"/v1/analytics/costs", "end_date=2025-01-02", "start_date"},
      {"/v1/analytics/costs", "start_date=2025-01-02", "end_date"},
      {"/v1/analytics/costs", "start_date=2025-01-03&end_date=2025-01-02", "start_date"},
      {"/v1/analytics/costs", "start_date=yesterday&end_date=2025-01-02", "start_date"},
      {"/v1/analytics/costs", "start_date=2025-01-01&end_date=2025-02-30", "end_date"},
      {"/v1/analytics/costs", "start_date=2025-01-01&end_date=2025-01-02&group_by=customer", "group_by"},
      {"/v1/analytics/costs", "start_date=2025-01-01&end_date=2025-01-02&group_by=tags.", "group_by"},
      {"/v1/analytics/costs", "start_date=2025-01-01&end_date=2025-01-02&tags=env", "tags"},
      {"/v1/analytics/costs", "start_date=2025-01-01&end_date=2025-01-02&tags=:x", "tags"},
      {"/v1/analytics/costs", "start_date=2025-01-01&end_date=2025-01-02&format=xml", "format"},
      {"/v1/analytics/costs", "start_date=2025-01-01&end_date=2025-01-02&entity_type=", "entity_type"},
      {"/v1/analytics/costs/timeseries", "start_date=2025-01-01&end_date=2025-01-02&interval=minute",
       "interval"},
      // 10,001 hourly buckets: 416 days 17 h.
      {"/v1/analytics/costs/timeseries",
       "start_date=2024-01-01T00:00:00Z&end_date=2025-02-20T17:00:01Z&interval=hour", "interval"},
      {"/v1/analytics/entities/top", "start_date=2025-01-01&end_date=2025-01-02&limit=0", "limit"},
      {"/v1/analytics/entities/top", "start_date=2025-01-01&end_date=2025-01-02&limit=101", "limit"},
      {"/v1/analytics/entities/top", "start_date=2025-01-01&end_date=2025-01-02&limit=ten", "limit"},
      {"/v1/analytics/entities/top", "start_date=2025-01-01&end_date=2025-01-02&order=up", "order"},
      {"/v1/analytics/sessions", "start_date=2025-01-01&end_date=2025-01-02&limit=1001", "limit"},
      {"/v1/analytics/compare", "period1_start=2025-01-01&period1_end=2025-01-02&period2_start=2025-01-01",
       "period2_end"},
      {"/v1/entities", "offset=-1", "offset"},
      {"/v1/entities", "limit=5000", "limit"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.path) + "?" + c.query);
    core::HttpResponse r = Get(c.path, c.query);
    EXPECT_EQ(r.status, 400) << r.body;
    json body = json::parse(r.body);
    EXPECT_EQ(body["error"]["code"], "invalid_request");
    EXPECT_EQ(body["error"]["param"], c.param);
  }
  // Exactly 10,000 hourly buckets is fine.
  EXPECT_EQ(Get("/v1/analytics/costs/timeseries",
                "start_date=2024-01-01T00:00:00Z&end_date=2025-02-20T16:00:00Z&interval=hour")
                .status,
            200);
}

}  // namespace
}  // namespace rest
