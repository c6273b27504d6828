#include "rest/prometheus_api_routes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <string>

#include "core/clock.h"
#include "store/series_store.h"
#include "tests/rest/rest_test_util.h"

namespace rest {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;
using test_util::FakeAuthenticator;
using test_util::MakeRequest;

// Wall time fixed; monotonic time advances 1 ms per reading, so a zero timeout
// expires at the first check.
class SteppingClock final : public core::Clock {
 public:
  int64_t NowMs() const override { return 10'000; }
  int64_t MonotonicNs() const override { return ticks_.fetch_add(1'000'000); }

 private:
  mutable std::atomic<int64_t> ticks_{0};
};

class PrometheusApiRoutesTest : public ::testing::Test {
 protected:
  PrometheusApiRoutesTest() : store_(store::SeriesStoreOptions{}), router_(auth_, clock_, registry_) {
    PrometheusApiOptions options;
    options.store = &store_;
    options.clock = &clock_;
    options.include_project_label = true;
    options.engine.max_samples = 1000;
    options.version = "9.9.9";
    AddPrometheusApiRoutes(router_, options);
    Add("acme", "temp", store::MetricType::kGauge, "a", 1000, 1);
    Add("acme", "temp", store::MetricType::kGauge, "a", 2000, 3);
    Add("acme", "temp", store::MetricType::kGauge, "b", 2000, 0.5);
    Add("acme", "requests", store::MetricType::kCounter, "a", 1000, 2);
    Add("globex", "secret", store::MetricType::kGauge, "a", 1000, 42);
  }

  void Add(const std::string& project, const std::string& name, store::MetricType type,
           const std::string& host, int64_t ts, double v) {
    const store::LabelView label{"host", host};
    const store::PointView p{name, type, std::span(&label, 1), ts, v};
    ASSERT_TRUE(store_.Append(project, std::span(&p, 1), 1).has_value());
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

  core::HttpResponse PostForm(const std::string& path, const std::string& body) {
    core::HttpRequest req = MakeRequest("POST", path, body, "application/x-www-form-urlencoded");
    req.headers.emplace_back("authorization", "Bearer good");
    core::HttpResponse resp;
    router_.Handle(req, resp);
    return resp;
  }

  static json Data(const core::HttpResponse& resp) {
    EXPECT_EQ(resp.status, 200) << resp.body;
    const json body = json::parse(resp.body);
    EXPECT_EQ(body.at("status"), "success");
    return body.at("data");
  }

  static void ExpectError(const core::HttpResponse& resp, int status, const std::string& type,
                          const std::string& message_part) {
    EXPECT_EQ(resp.status, status) << resp.body;
    const json body = json::parse(resp.body);
    EXPECT_EQ(body.at("status"), "error");
    EXPECT_EQ(body.at("errorType"), type);
    EXPECT_THAT(body.at("error").get<std::string>(), HasSubstr(message_part));
  }

  FakeAuthenticator auth_;
  SteppingClock clock_;
  prometheus::Registry registry_;
  store::SeriesStore store_;
  Router router_;
};

TEST_F(PrometheusApiRoutesTest, InstantVector) {
  const json data = Data(Get("/api/v1/query", "query=temp&time=2.5"));
  EXPECT_EQ(data, json::parse(R"({"resultType":"vector","result":[
    {"metric":{"__name__":"temp","host":"a","project":"acme"},"value":[2.5,"3"]},
    {"metric":{"__name__":"temp","host":"b","project":"acme"},"value":[2.5,"0.5"]}]})"));
  // `time` defaults to now (10 s) and accepts RFC 3339.
  EXPECT_EQ(Data(Get("/api/v1/query", "query=temp"))["result"][0]["value"][0], 10);
  EXPECT_EQ(Data(Get("/api/v1/query", "query=requests_total&time=1970-01-01T00:00:01Z")),
            json::parse(R"({"resultType":"vector","result":[
    {"metric":{"__name__":"requests_total","host":"a","project":"acme"},"value":[1,"2"]}]})"));
}

TEST_F(PrometheusApiRoutesTest, ScalarStringAndSpecialValues) {
  EXPECT_EQ(Data(Get("/api/v1/query", "query=1%2B1&time=3")),
            json::parse(R"({"resultType":"scalar","result":[3,"2"]})"));
  EXPECT_EQ(Data(Get("/api/v1/query", "query=%22hi%22&time=3")),
            json::parse(R"({"resultType":"string","result":[3,"hi"]})"));
  EXPECT_EQ(Data(Get("/api/v1/query", "query=1/0&time=3"))["result"][1], "+Inf");
  EXPECT_EQ(Data(Get("/api/v1/query", "query=-1/0&time=3"))["result"][1], "-Inf");
  EXPECT_EQ(Data(Get("/api/v1/query", "query=0/0&time=3"))["result"][1], "NaN");
  EXPECT_EQ(Data(Get("/api/v1/query", "query=1e21&time=3"))["result"][1], "1000000000000000000000");
  // Millisecond timestamps keep their fraction.
  EXPECT_EQ(Get("/api/v1/query", "query=1&time=1.25").body,
            R"({"status":"success","data":{"resultType":"scalar","result":[1.25,"1"]}})");
}

TEST_F(PrometheusApiRoutesTest, RangeQueryIsAMatrix) {
  const json data = Data(Get("/api/v1/query_range", "query=temp{host=\"a\"}&start=1&end=3&step=1"));
  EXPECT_EQ(data, json::parse(R"({"resultType":"matrix","result":[
    {"metric":{"__name__":"temp","host":"a","project":"acme"},
     "values":[[1,"1"],[2,"3"],[3,"3"]]}]})"));
  // Durations for step.
  EXPECT_EQ(Data(Get("/api/v1/query_range", "query=temp&start=1&end=3&step=1s"))["result"].size(),
            2u);
}

TEST_F(PrometheusApiRoutesTest, FormPostMatchesGet) {
  EXPECT_EQ(PostForm("/api/v1/query", "query=temp%7Bhost%3D%22a%22%7D&time=2").body,
            Get("/api/v1/query", "query=temp%7Bhost%3D%22a%22%7D&time=2").body);
  EXPECT_EQ(PostForm("/api/v1/query_range", "query=temp&start=1&end=3&step=1").body,
            Get("/api/v1/query_range", "query=temp&start=1&end=3&step=1").body);
  EXPECT_EQ(PostForm("/api/v1/series", "match[]=temp").status, 200);
}

TEST_F(PrometheusApiRoutesTest, BadData) {
  ExpectError(Get("/api/v1/query", "query=sum("), 400, "bad_data", "invalid parameter \"query\": 1:");
  ExpectError(Get("/api/v1/query", "query=1&time=yesterday"), 400, "bad_data",
              "invalid parameter \"time\": cannot parse \"yesterday\" to a valid timestamp");
  ExpectError(Get("/api/v1/query_range", "query=1&start=5&end=1&step=1"), 400, "bad_data",
              "end timestamp must not be before start time");
  ExpectError(Get("/api/v1/query_range", "query=1&start=1&end=5&step=0"), 400, "bad_data",
              "zero or negative query resolution step widths are not accepted");
  ExpectError(Get("/api/v1/query_range", "query=1&start=1&end=5&step=x"), 400, "bad_data",
              "invalid parameter \"step\"");
  ExpectError(Get("/api/v1/query_range", "query=1&start=0&end=11001&step=1"), 400, "bad_data",
              "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
              "query resolution (?step=XX)");
  ExpectError(Get("/api/v1/query_range", "query=temp[5m]&start=0&end=1&step=1"), 400, "bad_data",
              "");
  ExpectError(Get("/api/v1/query", "query=1&timeout=soon"), 400, "bad_data",
              "invalid parameter \"timeout\"");
  ExpectError(Get("/api/v1/series", ""), 400, "bad_data", "no match[] parameter provided");
  ExpectError(Get("/api/v1/series", "match[]=sum(temp)"), 400, "bad_data",
              "invalid parameter \"match[]\"");
  ExpectError(Get("/api/v1/label/1bad/values", ""), 400, "bad_data", "invalid label name");
}

TEST_F(PrometheusApiRoutesTest, ExecutionAndTimeout) {
  ExpectError(Get("/api/v1/query", "query=temp%20*%20on()%20temp&time=2"), 422, "execution",
              "many-to-many matching not allowed");
  // 11,000 points pass the resolution check (the limit is inclusive) and then
  // exceed this engine's max_samples of 1,000.
  ExpectError(Get("/api/v1/query_range", "query=1&start=0&end=11000&step=1"), 422, "execution",
              "query processing would load too many samples into memory");
  ExpectError(Get("/api/v1/query", "query=temp&time=2&timeout=0s"), 503, "timeout", "timed out");
}

TEST_F(PrometheusApiRoutesTest, AuthErrorsKeepTallyShape) {
  core::HttpRequest req = MakeRequest("GET", "/api/v1/query", "", "");
  req.query_string = "query=1";
  core::HttpResponse resp;
  router_.Handle(req, resp);
  EXPECT_EQ(resp.status, 401);
  EXPECT_TRUE(json::parse(resp.body).contains("error"));
}

TEST_F(PrometheusApiRoutesTest, TenancyFollowsTheKey) {
  EXPECT_EQ(Data(Get("/api/v1/query", "query=secret&time=2"))["result"].size(), 0u);
  EXPECT_EQ(Data(Get("/api/v1/query", "query=secret&time=2", "other"))["result"].size(), 1u);
  EXPECT_EQ(Data(Get("/api/v1/label/__name__/values", "", "other")), json::parse(R"(["secret"])"));
}

TEST_F(PrometheusApiRoutesTest, SeriesLabelsAndValues) {
  EXPECT_EQ(Data(Get("/api/v1/series", "match[]=temp&match[]=requests_total&match[]=temp")),
            json::parse(R"([
      {"__name__":"requests_total","host":"a","project":"acme"},
      {"__name__":"temp","host":"a","project":"acme"},
      {"__name__":"temp","host":"b","project":"acme"}])"));
  EXPECT_EQ(Data(Get("/api/v1/series", "match[]=temp&start=1.5&end=1.9")), json::array());
  EXPECT_EQ(Data(Get("/api/v1/labels", "")), json::parse(R"(["__name__","host","project"])"));
  EXPECT_EQ(Data(Get("/api/v1/label/__name__/values", "")),
            json::parse(R"(["requests_total","temp"])"));
  EXPECT_EQ(Data(Get("/api/v1/label/host/values", "match[]=requests_total")),
            json::parse(R"(["a"])"));
  EXPECT_EQ(Data(Get("/api/v1/label/nope/values", "")), json::array());
}

TEST_F(PrometheusApiRoutesTest, MetadataAndBuildInfo) {
  const json meta = Data(Get("/api/v1/metadata", ""));
  EXPECT_EQ(meta.at("requests_total").at(0).at("type"), "counter");
  EXPECT_EQ(meta.at("temp").at(0).at("type"), "gauge");
  EXPECT_FALSE(meta.contains("secret"));
  EXPECT_EQ(Data(Get("/api/v1/metadata", "limit=1")).size(), 1u);
  EXPECT_EQ(Data(Get("/api/v1/metadata", "metric=temp")).size(), 1u);
  const json info = Data(Get("/api/v1/status/buildinfo", ""));
  EXPECT_EQ(info.at("version"), "2.42.0");
  EXPECT_EQ(info.at("revision"), "tally-9.9.9");
}

TEST(ParseFormUrlEncodedTest, DecodesPairs) {
  EXPECT_EQ(ParseFormUrlEncoded("a=1&match%5B%5D=x%7By%7D&match[]=z+w&&flag"),
            (std::vector<std::pair<std::string, std::string>>{
                {"a", "1"}, {"match[]", "x{y}"}, {"match[]", "z w"}, {"flag", ""}}));
}

}  // namespace
}  // namespace rest
