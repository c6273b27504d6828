#include "rest/metrics_routes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "core/clock.h"
#include "exporter/idempotency.h"
#include "exporter/ingest_service.h"
#include "store/series_store.h"
#include "tests/rest/rest_test_util.h"

namespace rest {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using nlohmann::json;
using test_util::CounterValue;
using test_util::FakeAuthenticator;
using test_util::MakeRequest;
using test_util::ResponseHeader;

constexpr int64_t kNow = 1'736'937'000'000;

// The metrics routes wired to a real IngestService and SeriesStore, driven
// through Router::Handle with a fake clock and no socket.
class MetricsRoutesTest : public ::testing::Test {
 protected:
  explicit MetricsRoutesTest(store::SeriesStoreOptions options = {})
      : clock_(kNow),
        store_(std::move(options)),
        ingest_(store_, exporter::IngestOptions{}, clock_, registry_),
        router_(auth_, clock_, registry_) {
    AddMetricsRoutes(router_, ingest_, idempotency_, clock_);
  }

  core::HttpResponse Post(const std::string& path, const std::string& body,
                          const std::string& key = "good",
                          std::optional<std::string> idempotency_header = std::nullopt) {
    core::HttpRequest req = MakeRequest("POST", path, body);
    if (!key.empty()) req.headers.emplace_back("authorization", "Bearer " + key);
    if (idempotency_header) req.headers.emplace_back("idempotency-key", *idempotency_header);
    core::HttpResponse resp;
    router_.Handle(req, resp);
    return resp;
  }

  static json Body(const core::HttpResponse& resp) { return json::parse(resp.body); }

  FakeAuthenticator auth_;
  core::FakeClock clock_;
  prometheus::Registry registry_;
  store::SeriesStore store_;
  exporter::IngestService ingest_;
  exporter::IdempotencyCache idempotency_;
  Router router_;
};

TEST_F(MetricsRoutesTest, ReportStoresUnderTheKeysProject) {
  const auto resp =
      Post("/v1/metrics/report", R"({"name":"api.latency","value":12,"type":"timing","tags":{"route":"/x"}})");
  EXPECT_EQ(resp.status, 200) << resp.body;
  EXPECT_EQ(Body(resp), json::parse(R"({"ok":true})"));
  EXPECT_EQ(store_.TypeOf("acme", "api_latency"), store::MetricType::kTiming);
  const auto snap = store_.Snapshot();
  ASSERT_THAT(snap, SizeIs(1));
  EXPECT_EQ(snap[0].project, "acme");
  EXPECT_EQ(snap[0].observations, 1u);
  EXPECT_EQ(snap[0].last_ts_ms, kNow) << "timestamp defaults to the clock";
  ASSERT_NE(snap[0].labels.Get("route"), nullptr);
  EXPECT_EQ(*snap[0].labels.Get("route"), "/x");
  EXPECT_EQ(CounterValue(registry_, "tally_http_requests_total",
                         {{"route", "metrics.report"}, {"code", "200"}}),
            1);
}

TEST_F(MetricsRoutesTest, ReportValidationErrorIs400WithParam) {
  const auto resp = Post("/v1/metrics/report", R"({"name":"x","value":-1,"type":"counter"})");
  EXPECT_EQ(resp.status, 400) << resp.body;
  const json err = Body(resp).at("error");
  EXPECT_EQ(err.at("code"), "invalid_request");
  EXPECT_EQ(err.at("param"), "value");
  EXPECT_EQ(store_.Stats().samples, 0u);
}

TEST_F(MetricsRoutesTest, MalformedBodyIs400) {
  for (const char* body : {"{", "[]", "", R"({"name":"x","value":1e999})", "{\"name\":\"\xff\"}"}) {
    SCOPED_TRACE(body);
    const auto resp = Post("/v1/metrics/report", body);
    EXPECT_EQ(resp.status, 400);
    EXPECT_EQ(Body(resp).at("error").at("code"), "invalid_request");
    EXPECT_EQ(Post("/v1/metrics/batch", body).status, 400);
  }
  EXPECT_EQ(store_.Stats().samples, 0u);
}

TEST_F(MetricsRoutesTest, ReportTypeMismatchIs409) {
  ASSERT_EQ(Post("/v1/metrics/report", R"({"name":"jobs","value":1,"type":"counter"})").status, 200);
  const auto resp = Post("/v1/metrics/report", R"({"name":"jobs","value":1,"type":"gauge"})");
  EXPECT_EQ(resp.status, 409);
  const json err = Body(resp).at("error");
  EXPECT_EQ(err.at("code"), "type_mismatch");
  EXPECT_EQ(err.at("param"), "type");
  EXPECT_THAT(std::string(err.at("message")), HasSubstr("counter"));
  // Names are normalised before the check: jobs and "jobs" with dots are the same metric.
  EXPECT_EQ(Post("/v1/metrics/report", R"({"name":"a.b","value":1})").status, 200);
  EXPECT_EQ(Post("/v1/metrics/report", R"({"name":"a_b","value":1,"type":"timing"})").status, 409);
  // Another project may use the name with another type.
  EXPECT_EQ(Post("/v1/metrics/report", R"({"name":"jobs","value":1,"type":"gauge"})", "other").status,
            200);
}

TEST_F(MetricsRoutesTest, BatchReportsPartialResults) {
  ASSERT_EQ(Post("/v1/metrics/report", R"({"name":"temp","value":20})").status, 200);
  const auto resp = Post("/v1/metrics/batch", R"({"points":[
      {"name":"ok.one","value":1},
      {"name":"bad","value":"x"},
      {"name":"temp","value":1,"type":"counter"},
      {"name":"ok_two","value":2,"tags":{"__bad":"y"}},
      {"name":"ok_three","value":3,"type":"distribution"}
  ]})");
  ASSERT_EQ(resp.status, 200) << resp.body;
  const json body = Body(resp);
  EXPECT_EQ(body.at("accepted"), 2);
  EXPECT_EQ(body.at("rejected"), 3);
  const json& errors = body.at("errors");
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0], json({{"index", 1},
                             {"code", "invalid_request"},
                             {"message", errors[0].at("message")},
                             {"param", "points[1].value"}}));
  EXPECT_EQ(errors[1].at("index"), 2);
  EXPECT_EQ(errors[1].at("code"), "type_mismatch");
  EXPECT_EQ(errors[1].at("param"), "points[2].type");
  EXPECT_EQ(errors[2].at("index"), 3);
  EXPECT_EQ(errors[2].at("param"), "points[3].tags.__bad");
  EXPECT_EQ(store_.Stats().samples, 3u);  // temp + 2 accepted
  EXPECT_EQ(store_.TypeOf("acme", "ok_one"), store::MetricType::kGauge);
  EXPECT_EQ(store_.TypeOf("acme", "ok_two"), std::nullopt);
}

TEST_F(MetricsRoutesTest, BatchWholeRequestErrors) {
  auto resp = Post("/v1/metrics/batch", R"({"points":[]})");
  EXPECT_EQ(resp.status, 400);
  EXPECT_EQ(Body(resp).at("error").at("param"), "points");
  std::string big = R"({"points":[)";
  for (int i = 0; i <= 10'000; ++i) big += std::string(i ? "," : "") + R"({"name":"x","value":1})";
  big += "]}";
  resp = Post("/v1/metrics/batch", big);
  EXPECT_EQ(resp.status, 400);
  EXPECT_EQ(Body(resp).at("error").at("param"), "points");
  EXPECT_EQ(store_.Stats().samples, 0u);
}

TEST_F(MetricsRoutesTest, IdempotentBatchReplayStoresNothingTwice) {
  const std::string body =
      R"({"idempotency_key":"batch-1","points":[{"name":"c","value":2,"type":"counter"},{"name":"x","value":"bad"}]})";
  const auto first = Post("/v1/metrics/batch", body);
  ASSERT_EQ(first.status, 200);
  const store::StoreStats after_first = store_.Stats();
  EXPECT_EQ(after_first.samples, 1u);

  clock_.AdvanceMs(60'000);
  const auto second = Post("/v1/metrics/batch", body);
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.body, first.body);
  ASSERT_NE(ResponseHeader(second, "Idempotent-Replayed"), nullptr);
  EXPECT_EQ(*ResponseHeader(second, "Idempotent-Replayed"), "true");
  EXPECT_EQ(store_.Stats().samples, after_first.samples);
  EXPECT_EQ(store_.Snapshot()[0].counter_total, 2);

  // Same key, another body: 422 and still nothing written.
  const auto reused = Post(
      "/v1/metrics/batch",
      R"({"idempotency_key":"batch-1","points":[{"name":"c","value":5,"type":"counter"}]})");
  EXPECT_EQ(reused.status, 422);
  EXPECT_EQ(Body(reused).at("error").at("code"), "idempotency_key_reused");
  EXPECT_EQ(store_.Stats().samples, after_first.samples);

  // Another project with the same key is independent.
  EXPECT_EQ(Post("/v1/metrics/batch", body, "other").status, 200);
  EXPECT_EQ(store_.Stats().samples, 2u);
}

TEST_F(MetricsRoutesTest, IdempotencyKeyHeaderOnReport) {
  const std::string body = R"({"name":"c","value":1,"type":"counter"})";
  EXPECT_EQ(Post("/v1/metrics/report", body, "good", "hdr-1").status, 200);
  const auto again = Post("/v1/metrics/report", body, "good", "hdr-1");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, R"({"ok":true})");
  EXPECT_NE(ResponseHeader(again, "Idempotent-Replayed"), nullptr);
  EXPECT_EQ(store_.Stats().samples, 1u);
  // Without a key the same body is a new observation.
  EXPECT_EQ(Post("/v1/metrics/report", body).status, 200);
  EXPECT_EQ(store_.Stats().samples, 2u);
}

TEST_F(MetricsRoutesTest, HeaderAndBodyKeysMustAgree) {
  const auto resp = Post("/v1/metrics/report",
                         R"({"name":"c","value":1,"idempotency_key":"body-key"})", "good",
                         "header-key");
  EXPECT_EQ(resp.status, 400);
  EXPECT_EQ(Body(resp).at("error").at("param"), "idempotency_key");
  EXPECT_EQ(store_.Stats().samples, 0u);
  EXPECT_EQ(idempotency_.size(), 0u);
  EXPECT_EQ(Post("/v1/metrics/report", R"({"name":"c","value":1,"idempotency_key":"k"})", "good", "k")
                .status,
            200);
}

TEST_F(MetricsRoutesTest, ReportErrorsAreReplayedToo) {
  const std::string body = R"({"name":"c","value":-1,"type":"counter","idempotency_key":"k"})";
  EXPECT_EQ(Post("/v1/metrics/report", body).status, 400);
  const auto again = Post("/v1/metrics/report", body);
  EXPECT_EQ(again.status, 400);
  EXPECT_NE(ResponseHeader(again, "Idempotent-Replayed"), nullptr);
}

TEST_F(MetricsRoutesTest, SharedRulesApply) {
  // Authentication, method, media type and size come from the router.
  EXPECT_EQ(Post("/v1/metrics/report", R"({"name":"c","value":1})", "").status, 401);
  EXPECT_EQ(Post("/v1/metrics/report", R"({"name":"c","value":1})", "readonly").status, 403);

  core::HttpResponse resp;
  core::HttpRequest get = MakeRequest("GET", "/v1/metrics/report");
  get.headers.emplace_back("authorization", "Bearer good");
  router_.Handle(get, resp);
  EXPECT_EQ(resp.status, 405);
  ASSERT_NE(ResponseHeader(resp, "Allow"), nullptr);
  EXPECT_EQ(*ResponseHeader(resp, "Allow"), "POST");

  core::HttpRequest form = MakeRequest("POST", "/v1/metrics/batch", "name=c&value=1",
                                       "application/x-www-form-urlencoded");
  form.headers.emplace_back("authorization", "Bearer good");
  resp = {};
  router_.Handle(form, resp);
  EXPECT_EQ(resp.status, 415);

  core::HttpRequest utf8 = MakeRequest("POST", "/v1/metrics/report", R"({"name":"c","value":1})",
                                       "application/json; charset=utf-8");
  utf8.headers.emplace_back("authorization", "Bearer good");
  resp = {};
  router_.Handle(utf8, resp);
  EXPECT_EQ(resp.status, 200);

  core::HttpRequest big = MakeRequest("POST", "/v1/metrics/batch", "");
  big.headers.emplace_back("authorization", "Bearer good");
  big.body_too_large = true;
  resp = {};
  router_.Handle(big, resp);
  EXPECT_EQ(resp.status, 413);
  EXPECT_EQ(store_.Stats().samples, 1u);
}

TEST_F(MetricsRoutesTest, TimestampsAreCheckedAgainstTheClock) {
  clock_.SetMs(kNow);
  EXPECT_EQ(Post("/v1/metrics/report", R"({"name":"g","value":1,"timestamp":"2025-01-15T10:39:00Z"})")
                .status,
            200);
  const auto future =
      Post("/v1/metrics/report", R"({"name":"g","value":1,"timestamp":"2025-01-15T10:41:00Z"})");
  EXPECT_EQ(future.status, 400);
  EXPECT_EQ(Body(future).at("error").at("param"), "timestamp");
  // Ten minutes later the same timestamp is fine.
  clock_.AdvanceMs(600'000);
  EXPECT_EQ(Post("/v1/metrics/report", R"({"name":"g","value":1,"timestamp":"2025-01-15T10:41:00Z"})")
                .status,
            200);
}

class MetricsRoutesCardinalityTest : public MetricsRoutesTest {
 protected:
  MetricsRoutesCardinalityTest() : MetricsRoutesTest(Options()) {}
  static store::SeriesStoreOptions Options() {
    store::SeriesStoreOptions o;
    o.max_series_per_metric = 1;
    return o;
  }
};

TEST_F(MetricsRoutesCardinalityTest, CardinalityLimitIs400) {
  EXPECT_EQ(Post("/v1/metrics/report", R"({"name":"m","value":1,"tags":{"h":"a"}})").status, 200);
  const auto resp = Post("/v1/metrics/report", R"({"name":"m","value":1,"tags":{"h":"b"}})");
  EXPECT_EQ(resp.status, 400);
  EXPECT_EQ(Body(resp).at("error").at("code"), "cardinality_limit");
  EXPECT_EQ(Body(resp).at("error").at("param"), "tags");
}

class MetricsRoutesFullStoreTest : public MetricsRoutesTest {
 protected:
  MetricsRoutesFullStoreTest() : MetricsRoutesTest(Options()) {}
  static store::SeriesStoreOptions Options() {
    store::SeriesStoreOptions o;
    o.max_memory_bytes = 0;
    return o;
  }
};

TEST_F(MetricsRoutesFullStoreTest, MemoryCeilingIs503AndNotCached) {
  const std::string body = R"({"idempotency_key":"k","points":[{"name":"a","value":1}]})";
  const auto resp = Post("/v1/metrics/batch", body);
  EXPECT_EQ(resp.status, 503);
  EXPECT_EQ(Body(resp).at("error").at("code"), "unavailable");
  EXPECT_EQ(idempotency_.size(), 0u) << "a retry with the same key must run again";
  const auto retry = Post("/v1/metrics/batch", body);
  EXPECT_EQ(retry.status, 503);
  EXPECT_EQ(ResponseHeader(retry, "Idempotent-Replayed"), nullptr);
  EXPECT_EQ(store_.Stats().samples, 0u);
}

}  // namespace
}  // namespace rest
