#include "rest/rules_routes.h"

#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "rest/router.h"
#include "rest_test_util.h"

namespace rest {
namespace {

using nlohmann::json;
using test_util::FakeAuthenticator;
using test_util::MakeRequest;

class FakeSource final : public AggregatorStatusSource {
 public:
  std::vector<RuleGroupStatus> RuleGroups() const override { return groups; }
  std::vector<TargetStatus> Targets() const override { return targets; }
  std::vector<RuleGroupStatus> groups;
  std::vector<TargetStatus> targets;
};

TEST(RulesRoutesFormatTest, AlertValueLikeGo) {
  EXPECT_EQ(FormatAlertValue(20), "2e+01");
  EXPECT_EQ(FormatAlertValue(1), "1e+00");
  EXPECT_EQ(FormatAlertValue(0.15), "1.5e-01");
  EXPECT_EQ(FormatAlertValue(123.456), "1.23456e+02");
  EXPECT_EQ(FormatAlertValue(0), "0e+00");
  EXPECT_EQ(FormatAlertValue(-2.5), "-2.5e+00");
  EXPECT_EQ(FormatAlertValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatAlertValue(HUGE_VAL), "+Inf");
  EXPECT_EQ(FormatAlertValue(-HUGE_VAL), "-Inf");
}

TEST(RulesRoutesFormatTest, Rfc3339) {
  EXPECT_EQ(FormatRfc3339Ms(0), "0001-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Ms(1'700'000'000'000), "2023-11-14T22:13:20Z");
  EXPECT_EQ(FormatRfc3339Ms(1'700'000'000'120), "2023-11-14T22:13:20.12Z");
  EXPECT_EQ(FormatRfc3339Ms(1'700'000'000'001), "2023-11-14T22:13:20.001Z");
}

TEST(RulesRoutesFormatTest, PromDuration) {
  EXPECT_EQ(FormatPromDuration(0), "0s");
  EXPECT_EQ(FormatPromDuration(15'000), "15s");
  EXPECT_EQ(FormatPromDuration(90'000), "1m30s");
  EXPECT_EQ(FormatPromDuration(500), "500ms");
  EXPECT_EQ(FormatPromDuration(3'600'000), "1h");
  EXPECT_EQ(FormatPromDuration(86'400'000 + 1), "1d1ms");
}

class RulesRoutesTest : public ::testing::Test {
 protected:
  RulesRoutesTest() : router_(auth_, clock_, registry_) {
    RuleGroupStatus g;
    g.project = "acme";
    g.name = "main";
    g.file = "/r/rules.yml";
    g.interval_ms = 15'000;
    g.last_eval_ms = 1'700'000'000'000;
    g.evaluation_seconds = 0.25;
    RuleStatus rec;
    rec.name = "job:x:sum";
    rec.query = "sum by (job) (x)";
    rec.health = "ok";
    RuleStatus alert;
    alert.alerting = true;
    alert.name = "High";
    alert.query = "x > 1";
    alert.for_ms = 300'000;
    alert.labels = core::Labels(std::vector<core::Label>{{"severity", "page"}});
    alert.health = "err";
    alert.last_error = "boom";
    alert.alerts.push_back(AlertStatus{core::Labels(std::vector<core::Label>{{"alertname", "High"}}), core::Labels(),
                                       "pending", 1'700'000'000'000, 2});
    g.rules = {rec, alert};
    source_.groups.push_back(g);
    RuleGroupStatus other = g;
    other.project = "globex";
    other.name = "theirs";
    source_.groups.push_back(other);
    TargetStatus t;
    t.project = "acme";
    t.job = "node";
    t.labels = core::Labels(std::vector<core::Label>{{"job", "node"}, {"instance", "h:1"}});
    t.scrape_url = "http://h:1/metrics";
    t.health = "down";
    t.last_error = "server returned HTTP status 500";
    t.interval_ms = 15'000;
    t.timeout_ms = 10'000;
    source_.targets.push_back(t);
    t.project = "globex";
    source_.targets.push_back(t);
    AddRulesRoutes(router_, {&source_, [this]() -> core::Status {
                               ++reloads_;
                               if (fail_reload_) {
                                 return core::Fail(core::ErrorCode::kInvalidRequest, "bad: line 3");
                               }
                               return {};
                             }});
  }

  core::HttpResponse Do(const std::string& method, const std::string& path,
                        const std::string& key = "good", const std::string& query = "") {
    core::HttpRequest req = MakeRequest(method, path, "", "");
    req.query_string = query;
    req.headers.emplace_back("authorization", "Bearer " + key);
    core::HttpResponse resp;
    router_.Handle(req, resp);
    return resp;
  }

  FakeAuthenticator auth_;
  core::SystemClock clock_;
  prometheus::Registry registry_;
  Router router_;
  FakeSource source_;
  int reloads_ = 0;
  bool fail_reload_ = false;
};

TEST_F(RulesRoutesTest, RulesShapeAndTenancy) {
  auto resp = Do("GET", "/api/v1/rules");
  ASSERT_EQ(resp.status, 200) << resp.body;
  json body = json::parse(resp.body);
  EXPECT_EQ(body["status"], "success");
  ASSERT_EQ(body["data"]["groups"].size(), 1u);  // only acme's group
  const json& g = body["data"]["groups"][0];
  EXPECT_EQ(g["name"], "main");
  EXPECT_EQ(g["file"], "/r/rules.yml");
  EXPECT_EQ(g["interval"], 15);
  EXPECT_EQ(g["evaluationTime"], 0.25);
  EXPECT_EQ(g["lastEvaluation"], "2023-11-14T22:13:20Z");
  const json& rec = g["rules"][0];
  EXPECT_EQ(rec["type"], "recording");
  EXPECT_EQ(rec["query"], "sum by (job) (x)");
  EXPECT_EQ(rec["health"], "ok");
  EXPECT_FALSE(rec.contains("lastError"));
  EXPECT_FALSE(rec.contains("alerts"));
  EXPECT_EQ(rec["lastEvaluation"], "0001-01-01T00:00:00Z");
  const json& alert = g["rules"][1];
  EXPECT_EQ(alert["type"], "alerting");
  EXPECT_EQ(alert["state"], "pending");
  EXPECT_EQ(alert["duration"], 300);
  EXPECT_EQ(alert["labels"], json({{"severity", "page"}}));
  EXPECT_EQ(alert["health"], "err");
  EXPECT_EQ(alert["lastError"], "boom");
  EXPECT_EQ(alert["alerts"][0]["value"], "2e+00");

  json theirs = json::parse(Do("GET", "/api/v1/rules", "other").body);
  EXPECT_EQ(theirs["data"]["groups"][0]["name"], "theirs");

  json only_records = json::parse(Do("GET", "/api/v1/rules", "good", "type=record").body);
  ASSERT_EQ(only_records["data"]["groups"][0]["rules"].size(), 1u);
  EXPECT_EQ(only_records["data"]["groups"][0]["rules"][0]["type"], "recording");
  auto bad = Do("GET", "/api/v1/rules", "good", "type=both");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("invalid parameter \\\"type\\\""), std::string::npos) << bad.body;
  EXPECT_EQ(Do("GET", "/api/v1/rules", "nobody").status, 401);
}

TEST_F(RulesRoutesTest, AlertsAndTargets) {
  json alerts = json::parse(Do("GET", "/api/v1/alerts").body);
  ASSERT_EQ(alerts["data"]["alerts"].size(), 1u);
  const json& a = alerts["data"]["alerts"][0];
  EXPECT_EQ(a["labels"], json({{"alertname", "High"}}));
  EXPECT_EQ(a["state"], "pending");
  EXPECT_EQ(a["activeAt"], "2023-11-14T22:13:20Z");
  json targets = json::parse(Do("GET", "/api/v1/targets").body);
  ASSERT_EQ(targets["data"]["activeTargets"].size(), 1u);
  const json& t = targets["data"]["activeTargets"][0];
  EXPECT_EQ(t["health"], "down");
  EXPECT_EQ(t["scrapeUrl"], "http://h:1/metrics");
  EXPECT_EQ(t["lastError"], "server returned HTTP status 500");
  EXPECT_EQ(t["scrapeInterval"], "15s");
  EXPECT_EQ(t["labels"], json({{"instance", "h:1"}, {"job", "node"}}));
}

TEST_F(RulesRoutesTest, Reload) {
  auto ok = Do("POST", "/-/reload");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(reloads_, 1);
  fail_reload_ = true;
  auto bad = Do("POST", "/-/reload");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("bad: line 3"), std::string::npos) << bad.body;
  // account:admin only.
  EXPECT_EQ(Do("POST", "/-/reload", "readonly").status, 403);
  EXPECT_EQ(reloads_, 2);
  EXPECT_EQ(Do("GET", "/-/reload").status, 405);
}

}  // namespace
}  // namespace rest
