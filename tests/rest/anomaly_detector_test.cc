// The anomaly detector over a real EventStore with synthetic events (each type,
// thresholds, severity, buckets in progress, hourly buckets), the service over
// a real SQLite control plane (no duplicates, resolution, dismissed stays
// dismissed, one notification per new anomaly), and the routes through
// Router::Handle. Expected values are recomputed here from the events.
#include "rest/anomaly_detector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/time_parse.h"
#include "rest/analytics_math.h"
#include "rest/analytics_routes.h"
#include "rest/anomaly_service.h"
#include "store/control/sqlite_control_plane.h"
#include "store/event_store.h"
#include "tests/rest/rest_test_util.h"
#include "tests/temp_dir.h"

namespace rest {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;
using store::Event;
using store::EventField;

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kHour = 3'600'000;

int64_t Iso(const char* text) { return *core::ParseIso8601Ms(text); }

// "now" of most tests: 2025-03-10T12:30Z. The last complete day is 03-09, its
// baseline 03-02..03-08; the day in progress is 03-10.
const int64_t kNow = Iso("2025-03-10T12:30:00Z");
const int64_t kToday = Iso("2025-03-10T00:00:00Z");
const int64_t kYesterday = kToday - kDay;

struct Spec {
  std::string entity_id;  // "" = no entity
  int64_t day_start;
  int count;
  int64_t cost_nano;  // per event
  int failures = 0;   // the first `failures` events fail
  float latency = 100;
  int first_hour = 0;  // events spread over hours first_hour..first_hour+hours-1
  int hours = 24;
};

class Events {
 public:
  void Add(const Spec& s) {
    for (int i = 0; i < s.count; ++i) {
      Event e;
      e.id = "evt_" + std::to_string(events_.size());
      e.ts_ms = s.day_start + (s.first_hour + i % s.hours) * kHour + (i / s.hours) * 1000;
      e.str(EventField::kModel) = "gpt-4o";
      if (!s.entity_id.empty()) {
        e.str(EventField::kEntityType) = "customer";
        e.str(EventField::kEntityId) = s.entity_id;
      }
      e.cost_nano_usd = s.cost_nano;
      e.success = i >= s.failures;
      e.latency_ms = s.latency;
      events_.push_back(std::move(e));
    }
  }
  // `count` events a day of `cost_nano` each for every day in [from, to).
  void Steady(const std::string& entity, int64_t from, int64_t to, int count, int64_t cost_nano,
              int failures = 0) {
    for (int64_t d = from; d < to; d += kDay) Add({entity, d, count, cost_nano, failures});
  }
  void Store(store::EventStore& store, const std::string& project) const {
    std::vector<store::EventView> views;
    std::vector<std::vector<std::pair<std::string_view, std::string_view>>> tags(events_.size());
    for (size_t i = 0; i < events_.size(); ++i) views.push_back(events_[i].View(tags[i]));
    store.Append(project, views);
  }
  // Brute force: cost in USD of `entity` ("" = all) in [from, to).
  double CostUsd(const std::string& entity, int64_t from, int64_t to) const {
    int64_t sum = 0;
    for (const Event& e : events_) {
      if (e.ts_ms >= from && e.ts_ms < to && (entity.empty() || e.str(EventField::kEntityId) == entity)) {
        sum += e.cost_nano_usd;
      }
    }
    return static_cast<double>(sum) / 1e9;
  }
  double Count(const std::string& entity, int64_t from, int64_t to, bool errors_only = false) const {
    double n = 0;
    for (const Event& e : events_) {
      if (e.ts_ms >= from && e.ts_ms < to && (entity.empty() || e.str(EventField::kEntityId) == entity) &&
          (!errors_only || !e.success)) {
        ++n;
      }
    }
    return n;
  }
  std::vector<double> Latencies(const std::string& entity, int64_t from, int64_t to) const {
    std::vector<double> out;
    for (const Event& e : events_) {
      if (e.ts_ms >= from && e.ts_ms < to && e.str(EventField::kEntityId) == entity) {
        out.push_back(*e.latency_ms);
      }
    }
    return out;
  }

 private:
  std::vector<Event> events_;
};

const AnomalyFinding* Find(const DetectionResult& r, const std::string& entity_type,
                           const std::string& entity_id, AnomalyType type, bool hourly,
                           int64_t period_start) {
  for (const AnomalyFinding& f : r.anomalies) {
    if (f.key.entity_type == entity_type && f.key.entity_id == entity_id && f.key.type == type &&
        f.key.hourly == hourly && f.period_start_ms == period_start) {
      return &f;
    }
  }
  return nullptr;
}

std::string Dump(const DetectionResult& r) {
  std::string out;
  for (const AnomalyFinding& f : r.anomalies) {
    out += f.key.entity_type + "/" + f.key.entity_id + " " + std::string(AnomalyTypeName(f.key.type)) +
           (f.key.hourly ? " hour " : " day ") + core::FormatIso8601(f.period_start_ms) + " " +
           f.description + "\n";
  }
  return out;
}

config::AnomaliesConfig DailyOnly() {
  config::AnomaliesConfig c;
  c.hourly = false;
  return c;
}

// Three steady customers ($0.10 x 30 a day = $3/day each); `spiky` gets
// `factor` x the cost per event on 03-09.
Events ThreeCustomers(const std::string& spiky, int64_t factor) {
  Events ev;
  for (const char* c : {"acme", "globex", "initech"}) {
    ev.Steady(c, kYesterday - 7 * kDay, kYesterday, 30, 100'000'000);
    ev.Add({c, kYesterday, 30, c == spiky ? 100'000'000 * factor : 100'000'000});
  }
  return ev;
}

TEST(AnomalyDetectorTest, CostSpikePerEntityAndProject) {
  Events ev = ThreeCustomers("acme", 5);
  store::EventStore store;
  ev.Store(store, "p1");
  DetectionResult r = DetectAnomalies(store, "p1", kNow, DailyOnly());
  EXPECT_EQ(r.events, 30u * 8 * 3);
  EXPECT_EQ(r.entities, 3u);
  ASSERT_EQ(r.anomalies.size(), 2u) << Dump(r);
  const AnomalyFinding* acme = Find(r, "customer", "acme", AnomalyType::kCost, false, kYesterday);
  ASSERT_NE(acme, nullptr) << Dump(r);
  const double expected = ev.CostUsd("acme", kYesterday - 7 * kDay, kYesterday) / 7;
  const double actual = ev.CostUsd("acme", kYesterday, kToday);
  EXPECT_NEAR(acme->expected, expected, 1e-9);
  EXPECT_NEAR(acme->actual, actual, 1e-9);
  EXPECT_NEAR(acme->ratio, 5.0, 1e-9);
  EXPECT_EQ(acme->severity, "high");
  EXPECT_EQ(acme->description, "Cost increased 400% compared to 7-day average");
  // The project's totals: 7 x $3 instead of 3 x $3 a day: ratio 2.33 -> low.
  const AnomalyFinding* project = Find(r, "project", "p1", AnomalyType::kCost, false, kYesterday);
  ASSERT_NE(project, nullptr) << Dump(r);
  EXPECT_NEAR(project->expected, ev.CostUsd("", kYesterday - 7 * kDay, kYesterday) / 7, 1e-9);
  EXPECT_NEAR(project->actual, ev.CostUsd("", kYesterday, kToday), 1e-9);
  EXPECT_EQ(project->severity, "low");
  EXPECT_EQ(project->description, "Cost increased 133% compared to 7-day average");
  // Request counts did not change: no usage spike anywhere.
  for (const AnomalyFinding& f : r.anomalies) EXPECT_EQ(f.key.type, AnomalyType::kCost);
}

TEST(AnomalyDetectorTest, UsageSpikeWithoutCostBecauseTheCostBaselineIsTiny) {
  Events ev;
  ev.Steady("acme", kYesterday - 7 * kDay, kYesterday, 40, 1'000'000);  // $0.04 a day
  ev.Add({"acme", kYesterday, 130, 1'000'000});
  store::EventStore store;
  ev.Store(store, "p1");
  DetectionResult r = DetectAnomalies(store, "p1", kNow, DailyOnly());
  const AnomalyFinding* f = Find(r, "customer", "acme", AnomalyType::kUsage, false, kYesterday);
  ASSERT_NE(f, nullptr) << Dump(r);
  EXPECT_DOUBLE_EQ(f->expected, 40);
  EXPECT_DOUBLE_EQ(f->actual, 130);
  EXPECT_EQ(f->severity, "medium");  // 3.25
  EXPECT_EQ(f->description, "Request count increased 225% compared to 7-day average");
  EXPECT_EQ(Find(r, "customer", "acme", AnomalyType::kCost, false, kYesterday), nullptr)
      << "a $0.04/day baseline is below min_expected_cost_usd";
  // With the minimum lowered, the cost spike shows too.
  config::AnomaliesConfig low = DailyOnly();
  low.min_expected_cost_usd = 0.01;
  EXPECT_NE(Find(DetectAnomalies(store, "p1", kNow, low), "customer", "acme", AnomalyType::kCost,
                 false, kYesterday),
            nullptr);
}

TEST(AnomalyDetectorTest, ErrorRateSpike) {
  Events ev;
  ev.Steady("acme", kYesterday - 7 * kDay, kYesterday, 40, 100'000'000, /*failures=*/1);
  ev.Add({"acme", kYesterday, 40, 100'000'000, /*failures=*/20});
  store::EventStore store;
  ev.Store(store, "p1");
  DetectionResult r = DetectAnomalies(store, "p1", kNow, DailyOnly());
  const AnomalyFinding* f = Find(r, "customer", "acme", AnomalyType::kErrorRate, false, kYesterday);
  ASSERT_NE(f, nullptr) << Dump(r);
  const double base = ev.Count("acme", kYesterday - 7 * kDay, kYesterday, true) /
                      ev.Count("acme", kYesterday - 7 * kDay, kYesterday);
  EXPECT_DOUBLE_EQ(f->expected, base);
  EXPECT_DOUBLE_EQ(f->actual, 0.5);
  EXPECT_NEAR(f->ratio, 20.0, 1e-9);
  EXPECT_EQ(f->severity, "critical");
  EXPECT_EQ(f->description,
            "Error rate increased 1900% compared to 7-day average (50.0% vs 2.5%)");
  EXPECT_EQ(r.anomalies.size(), 2u) << Dump(r);  // acme and the project (same events)

  // Volume minimum: with 100 requests per bucket required, nothing is judged.
  config::AnomaliesConfig strict = DailyOnly();
  strict.min_bucket_requests = 100;
  EXPECT_TRUE(DetectAnomalies(store, "p1", kNow, strict).anomalies.empty());
  // An error rate under min_error_rate is never a spike.
  config::AnomaliesConfig high_floor = DailyOnly();
  high_floor.min_error_rate = 0.6;
  EXPECT_TRUE(DetectAnomalies(store, "p1", kNow, high_floor).anomalies.empty());
}

TEST(AnomalyDetectorTest, LatencySpikeUsesExactP99s) {
  Events ev;
  for (int64_t d = kYesterday - 7 * kDay; d < kYesterday; d += kDay) {
    ev.Add({"acme", d, 39, 1000, 0, 100});
    ev.Add({"acme", d, 1, 1000, 0, 400});  // p99 of the day: 100 + 0.61 * 300
  }
  ev.Add({"acme", kYesterday, 40, 1000, 0, 900});
  store::EventStore store;
  ev.Store(store, "p1");
  DetectionResult r = DetectAnomalies(store, "p1", kNow, DailyOnly());
  const AnomalyFinding* f = Find(r, "customer", "acme", AnomalyType::kLatency, false, kYesterday);
  ASSERT_NE(f, nullptr) << Dump(r);
  std::vector<double> day = ev.Latencies("acme", kYesterday - kDay, kYesterday);
  const double p99 = ExactPercentile(day, 99);
  EXPECT_NEAR(f->expected, p99, 1e-9);
  EXPECT_NEAR(p99, 100 + 0.61 * 300, 1e-9);
  EXPECT_DOUBLE_EQ(f->actual, 900);
  EXPECT_EQ(f->severity, "medium");  // 900 / 283 = 3.18
  EXPECT_THAT(f->description, HasSubstr("p99 latency increased 218%"));
  // A higher min_ratio keeps it quiet.
  config::AnomaliesConfig c = DailyOnly();
  c.latency_min_ratio = 3.5;
  EXPECT_EQ(Find(DetectAnomalies(store, "p1", kNow, c), "customer", "acme", AnomalyType::kLatency,
                 false, kYesterday),
            nullptr);
}

TEST(AnomalyDetectorTest, RatioBelowThresholdAndTinyEntitiesStayQuiet) {
  Events ev;
  ev.Steady("big", kYesterday - 7 * kDay, kYesterday, 50, 100'000'000);
  ev.Add({"big", kYesterday, 95, 100'000'000});  // x1.9
  ev.Steady("tiny", kYesterday - 7 * kDay, kYesterday, 2, 10'000'000);  // 2 requests, $0.02 a day
  ev.Add({"tiny", kYesterday, 40, 100'000'000});                    // x20 requests, x200 cost
  store::EventStore store;
  ev.Store(store, "p1");
  DetectionResult r = DetectAnomalies(store, "p1", kNow, DailyOnly());
  for (const AnomalyFinding& f : r.anomalies) {
    EXPECT_EQ(f.key.entity_type, "project") << Dump(r);  // 2.6x for the project's totals
  }
  config::AnomaliesConfig c = DailyOnly();
  c.cost_min_ratio = 1.8;
  c.usage_min_ratio = 1.8;
  DetectionResult r2 = DetectAnomalies(store, "p1", kNow, c);
  EXPECT_NE(Find(r2, "customer", "big", AnomalyType::kCost, false, kYesterday), nullptr);
  EXPECT_NE(Find(r2, "customer", "big", AnomalyType::kUsage, false, kYesterday), nullptr);
  EXPECT_EQ(Find(r2, "customer", "tiny", AnomalyType::kUsage, false, kYesterday), nullptr);
}

TEST(AnomalyDetectorTest, DayInProgressJudgesCostAndUsageOnly) {
  Events ev;
  ev.Steady("acme", kToday - 7 * kDay, kToday, 30, 100'000'000, 1);
  // Today until 12:00: already 3x a whole day's cost, every call failing.
  ev.Add({"acme", kToday, 90, 100'000'000, 90, 5000, 0, 12});
  store::EventStore store;
  ev.Store(store, "p1");
  DetectionResult r = DetectAnomalies(store, "p1", kNow, DailyOnly());
  const AnomalyFinding* f = Find(r, "customer", "acme", AnomalyType::kCost, false, kToday);
  ASSERT_NE(f, nullptr) << Dump(r);
  EXPECT_NEAR(f->expected, 3.0, 1e-9);
  EXPECT_NEAR(f->actual, 9.0, 1e-9);
  EXPECT_NE(Find(r, "customer", "acme", AnomalyType::kUsage, false, kToday), nullptr);
  EXPECT_EQ(Find(r, "customer", "acme", AnomalyType::kErrorRate, false, kToday), nullptr);
  EXPECT_EQ(Find(r, "customer", "acme", AnomalyType::kLatency, false, kToday), nullptr);
}

TEST(AnomalyDetectorTest, HourlyBucketsAgainstTheTrailingWeekOfHours) {
  Events ev;
  // One $1 call every hour for the last 8 days until 10:00 today, then 11 at 11:00.
  for (int64_t h = kToday - 8 * kDay; h < kToday + 11 * kHour; h += kHour) {
    ev.Add({"acme", h, 1, 1'000'000'000, 0, 100, 0, 1});
  }
  ev.Add({"acme", kToday + 11 * kHour, 11, 1'000'000'000, 0, 100, 0, 1});
  store::EventStore store;
  ev.Store(store, "p1");
  config::AnomaliesConfig c;
  DetectionResult r = DetectAnomalies(store, "p1", kNow, c);
  const int64_t hour = kToday + 11 * kHour;
  const AnomalyFinding* f = Find(r, "customer", "acme", AnomalyType::kCost, true, hour);
  ASSERT_NE(f, nullptr) << Dump(r);
  EXPECT_NEAR(f->expected, ev.CostUsd("acme", hour - 168 * kHour, hour) / 168, 1e-9);
  EXPECT_NEAR(f->actual, ev.CostUsd("acme", hour, hour + kHour), 1e-9);
  EXPECT_NEAR(f->actual, 11, 1e-9);
  EXPECT_EQ(f->severity, "critical");
  EXPECT_EQ(f->description, "Cost increased 1000% compared to 7-day hourly average");
  EXPECT_NE(Find(r, "customer", "acme", AnomalyType::kUsage, true, hour), nullptr);
  // Not an anomaly per day: today so far is 22 calls against 24 a day.
  EXPECT_EQ(Find(r, "customer", "acme", AnomalyType::kCost, false, kToday), nullptr);
  // Hourly off: no hour buckets at all.
  for (const AnomalyFinding& x : DetectAnomalies(store, "p1", kNow, DailyOnly()).anomalies) {
    EXPECT_FALSE(x.key.hourly);
  }
}

TEST(AnomalyDetectorTest, BackInRangeOnlyForALaterQuietCompleteBucket) {
  Events ev = ThreeCustomers("acme", 5);
  ev.Add({"acme", kToday, 30, 100'000'000});  // today: normal again
  store::EventStore store;
  ev.Store(store, "p1");
  const WatchedAnomaly watch[] = {
      {{"customer", "acme", AnomalyType::kCost, false}, kYesterday},
      {{"customer", "acme", AnomalyType::kCost, false}, kYesterday - kDay},
      {{"customer", "gone", AnomalyType::kUsage, false}, kYesterday - 3 * kDay},
      {{"customer", "gone", AnomalyType::kUsage, true}, kNow - kHour / 2 - kHour},  // 11:00 today
  };
  DetectionResult r = DetectAnomalies(store, "p1", kNow, DailyOnly(), watch);
  ASSERT_EQ(r.back_in_range.size(), 4u);
  EXPECT_FALSE(r.back_in_range[0]) << "03-09 is the last complete day: not later";
  EXPECT_FALSE(r.back_in_range[1]) << "03-09 is still a cost spike";
  EXPECT_TRUE(r.back_in_range[2]) << "no events at all: back to zero";
  EXPECT_FALSE(r.back_in_range[3]) << "11:00 is the last complete hour: not later";
  // A day later (03-10 complete and normal) acme's spike is over.
  DetectionResult next = DetectAnomalies(store, "p1", kNow + kDay, DailyOnly(), watch);
  EXPECT_TRUE(next.back_in_range[0]);
  EXPECT_TRUE(next.back_in_range[1]);
}

// --- the service over SQLite

class RecordingNotifier final : public AnomalyNotifier {
 public:
  void OnAnomalyDetected(const control::Anomaly& a) override { seen.push_back(a); }
  std::vector<control::Anomaly> seen;
};

class AnomalyServiceTest : public ::testing::Test {
 protected:
  AnomalyServiceTest() {
    auto cp = control::SqliteControlPlane::Open(dir_.Sub("tally.db"));
    EXPECT_TRUE(cp);
    control_ = std::move(*cp);
    service_ = std::make_unique<AnomalyService>(store_, *control_, DailyOnly(), &notifier_);
  }
  tally_test::TempDir dir_;
  store::EventStore store_;
  std::unique_ptr<control::SqliteControlPlane> control_;
  RecordingNotifier notifier_;
  std::unique_ptr<AnomalyService> service_;
};

TEST_F(AnomalyServiceTest, StoresOnceNotifiesOnceResolvesAndKeepsDismissed) {
  Events ev = ThreeCustomers("acme", 5);
  ev.Store(store_, "p1");
  auto first = service_->DetectProject("p1", kNow);
  ASSERT_TRUE(first) << first.error().message;
  ASSERT_EQ(first->detected.size(), 2u);
  EXPECT_EQ(notifier_.seen.size(), 2u);
  for (const control::Anomaly& a : first->detected) {
    EXPECT_EQ(a.status, "active");
    EXPECT_EQ(a.detected_at_ms, kNow);
    EXPECT_EQ(a.id.rfind("anomaly_", 0), 0u);
  }
  // Again, and again later the same day: nothing new, no notification.
  for (int64_t t : {kNow, kNow + 2 * kHour}) {
    auto again = service_->DetectProject("p1", t);
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->detected.empty());
    EXPECT_EQ(again->updated.size(), 2u);
  }
  EXPECT_EQ(notifier_.seen.size(), 2u);
  EXPECT_EQ(control_->ListAnomalies("p1", {})->size(), 2u);

  // Dismiss the project-wide one; resolve acme's by a normal 03-10.
  std::string project_id, acme_id;
  for (const control::Anomaly& a : first->detected) {
    (a.entity_type == "project" ? project_id : acme_id) = a.id;
  }
  auto dismissed = service_->Dismiss("p1", project_id, kNow + 3 * kHour);
  ASSERT_TRUE(dismissed);
  EXPECT_EQ(dismissed->status, "dismissed");
  EXPECT_EQ(service_->Dismiss("p2", acme_id, kNow).error().code, core::ErrorCode::kNotFound);

  Events today;
  for (const char* c : {"acme", "globex", "initech"}) today.Add({c, kToday, 30, 100'000'000});
  today.Store(store_, "p1");
  auto later = service_->DetectProject("p1", kNow + kDay);
  ASSERT_TRUE(later);
  EXPECT_TRUE(later->detected.empty());
  EXPECT_EQ(later->resolved, std::vector<std::string>{acme_id});
  auto list = control_->ListAnomalies("p1", {});
  ASSERT_EQ(list->size(), 2u);
  for (const control::Anomaly& a : *list) {
    if (a.id == acme_id) {
      EXPECT_EQ(a.status, "resolved");
      EXPECT_EQ(a.resolved_at_ms, kNow + kDay);
    } else {
      EXPECT_EQ(a.status, "dismissed");
      EXPECT_FALSE(a.resolved_at_ms);
    }
  }
  // The resolved bucket is not detected again either.
  auto replay = service_->DetectProject("p1", kNow);
  ASSERT_TRUE(replay);
  EXPECT_TRUE(replay->detected.empty());
  EXPECT_EQ(notifier_.seen.size(), 2u);
}

// --- routes

class AnomalyRoutesTest : public AnomalyServiceTest {
 protected:
  AnomalyRoutesTest() : clock_(kNow), router_(auth_, clock_, registry_) {
    AnalyticsOptions options;
    options.store = &store_;
    options.clock = &clock_;
    options.anomalies = service_.get();
    AddAnalyticsRoutes(router_, options);
    ThreeCustomers("acme", 5).Store(store_, "acme");  // the "good" key's project
  }
  core::HttpResponse Call(const std::string& method, const std::string& path,
                          const std::string& query, const std::string& body = "",
                          const std::string& key = "good") {
    core::HttpRequest req = test_util::MakeRequest(method, path, body, body.empty() ? "" : "application/json");
    req.query_string = query;
    req.headers.emplace_back("authorization", "Bearer " + key);
    core::HttpResponse resp;
    router_.Handle(req, resp);
    return resp;
  }
  test_util::FakeAuthenticator auth_;
  core::FakeClock clock_;
  prometheus::Registry registry_;
  Router router_;
};

TEST_F(AnomalyRoutesTest, DetectListDismissAndBadInput) {
  EXPECT_EQ(Call("POST", "/v1/analytics/anomalies/detect", "", "", "readonly").status, 403);
  core::HttpResponse d = Call("POST", "/v1/analytics/anomalies/detect", "");
  ASSERT_EQ(d.status, 200) << d.body;
  json found = json::parse(d.body);
  ASSERT_EQ(found["detected"].size(), 2u) << d.body;
  EXPECT_EQ(found["events_scanned"], 720);

  core::HttpResponse list =
      Call("GET", "/v1/analytics/anomalies", "start_date=2025-03-09&end_date=2025-03-09&entity_type=customer");
  ASSERT_EQ(list.status, 200) << list.body;
  json data = json::parse(list.body)["data"];
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0]["entity_id"], "acme");
  EXPECT_EQ(data[0]["type"], "cost_spike");
  EXPECT_EQ(data[0]["severity"], "high");
  EXPECT_EQ(data[0]["status"], "active");
  EXPECT_EQ(data[0]["detected_at"], "2025-03-10T12:30:00Z");
  EXPECT_EQ(data[0]["period_start"], "2025-03-09T00:00:00Z");
  EXPECT_NEAR(data[0]["expected_value"].get<double>(), 3.0, 1e-9);
  EXPECT_NEAR(data[0]["actual_value"].get<double>(), 15.0, 1e-9);
  const std::string id = data[0]["id"];
  // The range is of buckets: 03-10 alone has none.
  EXPECT_EQ(json::parse(Call("GET", "/v1/analytics/anomalies",
                             "start_date=2025-03-10&end_date=2025-03-10").body)["data"].size(),
            0u);
  core::HttpResponse csv = Call("GET", "/v1/analytics/anomalies",
                                "start_date=2025-03-01&end_date=2025-03-10&format=csv");
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.body.rfind("id,detected_at,entity_type,entity_id,type,severity,", 0), 0u) << csv.body;
  EXPECT_EQ(std::count(csv.body.begin(), csv.body.end(), '\n'), 3);

  // Another project's key cannot see or dismiss it.
  EXPECT_EQ(Call("PATCH", "/v1/analytics/anomalies/" + id, "", R"({"status":"dismissed"})", "other").status,
            404);
  struct Bad {
    const char* body;
    const char* param;
  } bad[] = {{R"({"status":"resolved"})", "status"}, {R"({"status":"active"})", "status"},
             {R"({"status":7})", "status"},          {R"({})", "status"},
             {R"({"state":"dismissed"})", "state"}};
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.body);
    core::HttpResponse r = Call("PATCH", "/v1/analytics/anomalies/" + id, "", b.body);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(json::parse(r.body)["error"]["param"], b.param) << r.body;
  }
  core::HttpResponse ok = Call("PATCH", "/v1/analytics/anomalies/" + id, "", R"({"status":"dismissed"})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(json::parse(ok.body)["status"], "dismissed");
  EXPECT_EQ(json::parse(ok.body)["dismissed_at"], "2025-03-10T12:30:00Z");
  EXPECT_EQ(Call("PATCH", "/v1/analytics/anomalies/anomaly_0000", "", R"({"status":"dismissed"})").status,
            404);
  EXPECT_EQ(json::parse(Call("GET", "/v1/analytics/anomalies",
                             "start_date=2025-03-01&end_date=2025-03-10&status=dismissed").body)["data"]
                .size(),
            1u);

  struct BadQuery {
    const char* query;
    const char* param;
  } queries[] = {
      {"end_date=2025-03-10", "start_date"},
      {"start_date=2025-03-10", "end_date"},
      {"start_date=2025-03-11&end_date=2025-03-10", "start_date"},
      {"start_date=yesterday&end_date=2025-03-10", "start_date"},
      {"start_date=2025-03-01&end_date=2025-03-10&status=open", "status"},
      {"start_date=2025-03-01&end_date=2025-03-10&status=", "status"},
      {"start_date=2025-03-01&end_date=2025-03-10&entity_type=", "entity_type"},
      {"start_date=2025-03-01&end_date=2025-03-10&tags=a:b", "tags"},
      {"start_date=2025-03-01&end_date=2025-03-10&format=xml", "format"},
      {"start_date=2025-03-01&end_date=2025-03-10&limit=0", "limit"},
      {"start_date=2025-03-01&end_date=2025-03-10&project_id=secret", "project_id"},
  };
  for (const BadQuery& q : queries) {
    SCOPED_TRACE(q.query);
    core::HttpResponse r = Call("GET", "/v1/analytics/anomalies", q.query);
    EXPECT_GE(r.status, 400) << r.body;
    EXPECT_LT(r.status, 500) << r.body;
    EXPECT_EQ(json::parse(r.body)["error"]["param"], q.param) << r.body;
  }
}

}  // namespace
}  // namespace rest
