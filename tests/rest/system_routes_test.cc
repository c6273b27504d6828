#include "rest/system_routes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <string>

#include "core/clock.h"
#include "exporter/exposition.h"
#include "store/series_store.h"
#include "tests/rest/rest_test_util.h"

namespace rest {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;
using test_util::FakeAuthenticator;
using test_util::MakeRequest;

class SystemRoutesTest : public ::testing::Test {
 protected:
  SystemRoutesTest()
      : clock_(1'736'937'000'000),
        store_(store::SeriesStoreOptions{}),
        exposition_(store_, config::ExpositionConfig{}, clock_),
        router_(auth_, clock_, registry_) {
    AddSystemRoutes(router_, SystemRoutesDeps{&exposition_, {&registry_}, &ready_, "1.2.3"});
  }

  core::HttpResponse Get(const std::string& path) {
    core::HttpResponse resp;
    router_.Handle(MakeRequest("GET", path, "", ""), resp);
    return resp;
  }

  FakeAuthenticator auth_;
  core::FakeClock clock_;
  prometheus::Registry registry_;
  store::SeriesStore store_;
  exporter::StoreExposition exposition_;
  std::atomic<bool> ready_{false};
  Router router_;
};

TEST_F(SystemRoutesTest, HealthzIsPublicAndReportsVersion) {
  const auto resp = Get("/healthz");
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(json::parse(resp.body), json::parse(R"({"status":"ok","version":"1.2.3"})"));
  EXPECT_EQ(auth_.calls(), 0);
}

TEST_F(SystemRoutesTest, ReadyzFollowsTheFlag) {
  auto resp = Get("/readyz");
  EXPECT_EQ(resp.status, 503);
  EXPECT_EQ(json::parse(resp.body).at("error").at("code"), "unavailable");
  ready_ = true;
  resp = Get("/readyz");
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(json::parse(resp.body).at("status"), "ready");
}

TEST_F(SystemRoutesTest, MetricsServesStoreAndSelfMetrics) {
  const store::LabelView labels[] = {{"host", "a"}};
  const store::PointView p{"jobs", store::MetricType::kCounter, labels, clock_.NowMs(), 3};
  ASSERT_TRUE(store_.Append("acme", std::span<const store::PointView>(&p, 1), clock_.NowMs()).has_value());
  Get("/healthz");
  const auto resp = Get("/metrics");
  EXPECT_EQ(resp.status, 200);
  EXPECT_EQ(resp.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(resp.body, HasSubstr("jobs_total{"));
  EXPECT_THAT(resp.body, HasSubstr("host=\"a\""));
  EXPECT_THAT(resp.body, HasSubstr("project=\"acme\""));
  EXPECT_THAT(resp.body, HasSubstr("tally_store_series 1\n"));
  EXPECT_THAT(resp.body, HasSubstr("tally_http_requests_total{"));
  EXPECT_EQ(auth_.calls(), 0);
}

}  // namespace
}  // namespace rest
