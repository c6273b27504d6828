// Router + RateLimiter + UsageMeter: 429 with honest headers, the separate
// ingest budget, usage counted per account and capability.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "rest/rate_limiter.h"
#include "rest/router.h"
#include "rest/usage_meter.h"
#include "store/control/sqlite_control_plane.h"
#include "tests/temp_dir.h"

namespace rest {
namespace {

constexpr int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

// Every key is project "p1" of account "a1" with 3 requests/minute (ingest: 5).
class LimitedAuthenticator final : public Authenticator {
 public:
  core::Result<RequestContext> Authenticate(const core::HttpRequest& req) const override {
    if (req.Header("authorization") == nullptr) {
      return core::Fail(core::ErrorCode::kUnauthorized, "missing API key");
    }
    RequestContext ctx{"a1", "p1", "k1", {}};
    ctx.rate_limit_rpm = 3;
    ctx.ingest_rate_limit_rpm = 5;
    return ctx;
  }
};

std::string Header(const core::HttpResponse& resp, const std::string& name) {
  for (const auto& [k, v] : resp.headers) {
    if (k == name) return v;
  }
  return "";
}

class RouterLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = control::SqliteControlPlane::Open(dir_.path() + "/tally.db");
    ASSERT_TRUE(db);
    db_ = std::move(*db);
    usage_ = std::make_unique<UsageMeter>(*db_);
    router_ = std::make_unique<Router>(auth_, clock_, registry_,
                                       RouterOptions{&limiter_, usage_.get(), false});
    auto ok = [](const Call&, core::HttpResponse& resp) { resp.body = R"({"ok":true})"; };
    router_->Add(Route{"GET", "/v1/thing", "thing.get", false, false, "", ok});
    Route ingest{"POST", "/v1/ingest", "thing.ingest", false, false, "", ok};
    ingest.ingest = true;
    router_->Add(ingest);
    router_->Add(Route{"GET", "/healthz", "healthz", true, false, "", ok});
  }

  core::HttpResponse Send(const std::string& method, const std::string& path, bool key = true) {
    core::HttpRequest req;
    req.method = method;
    req.path = path;
    req.body = method == "POST" ? "0123456789" : "";
    if (key) req.headers.emplace_back("authorization", "Bearer x");
    core::HttpResponse resp;
    router_->Handle(req, resp);
    return resp;
  }

  tally_test::TempDir dir_;
  core::FakeClock clock_{kT0};
  prometheus::Registry registry_;
  LimitedAuthenticator auth_;
  RateLimiter limiter_;
  std::unique_ptr<control::SqliteControlPlane> db_;
  std::unique_ptr<UsageMeter> usage_;
  std::unique_ptr<Router> router_;
};

TEST_F(RouterLimitsTest, BurstGetsDecreasingRemainingThen429WithRetryAfter) {
  for (int i = 0; i < 3; ++i) {
    core::HttpResponse r = Send("GET", "/v1/thing");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Header(r, "X-RateLimit-Limit"), "3");
    EXPECT_EQ(Header(r, "X-RateLimit-Remaining"), std::to_string(2 - i));
    const int64_t reset = std::stoll(Header(r, "X-RateLimit-Reset"));
    EXPECT_GT(reset, kT0 / 1000);
    EXPECT_LE(reset, kT0 / 1000 + 60);
  }
  core::HttpResponse denied = Send("GET", "/v1/thing");
  EXPECT_EQ(denied.status, 429);
  EXPECT_THAT(denied.body, ::testing::HasSubstr("rate_limited"));
  EXPECT_EQ(Header(denied, "X-RateLimit-Remaining"), "0");
  const int retry = std::stoi(Header(denied, "Retry-After"));
  EXPECT_GE(retry, 1);
  EXPECT_LE(retry, 20);  // one token every 20 s at 3/min
  clock_.AdvanceMs(retry * 1000LL);
  EXPECT_EQ(Send("GET", "/v1/thing").status, 200);
}

TEST_F(RouterLimitsTest, IngestHasItsOwnBudget) {
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Send("GET", "/v1/thing").status, 200);
  ASSERT_EQ(Send("GET", "/v1/thing").status, 429);
  for (int i = 0; i < 5; ++i) {
    core::HttpResponse r = Send("POST", "/v1/ingest");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(Header(r, "X-RateLimit-Limit"), "5");
  }
  EXPECT_EQ(Send("POST", "/v1/ingest").status, 429);
}

TEST_F(RouterLimitsTest, UnauthenticatedAndPublicRequestsAreNotLimitedOrCounted) {
  for (int i = 0; i < 10; ++i) {
    core::HttpResponse r = Send("GET", "/v1/thing", /*key=*/false);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(Header(r, "WWW-Authenticate"), "Bearer realm=\"tally\"");
    EXPECT_EQ(Header(r, "X-RateLimit-Limit"), "");
    EXPECT_EQ(Send("GET", "/healthz", false).status, 200);
  }
  EXPECT_EQ(Send("GET", "/v1/thing").status, 200);  // budget untouched
  auto rows = usage_->Query("a1", 0, kT0 * 2);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].requests, 1);
}

TEST_F(RouterLimitsTest, UsageCountsRequestsAndBytesPerCapabilityAcrossFlushes) {
  for (int i = 0; i < 2; ++i) Send("GET", "/v1/thing");
  Send("POST", "/v1/ingest");
  ASSERT_TRUE(usage_->Flush());
  Send("POST", "/v1/ingest");  // pending, not yet flushed
  auto rows = usage_->Query("a1", 0, kT0 * 2);
  ASSERT_TRUE(rows);
  std::map<std::string, int64_t> requests, ingress, egress;
  for (const auto& r : *rows) {
    EXPECT_EQ(r.project_id, "p1");
    EXPECT_EQ(r.hour_start_ms, kT0);
    requests[r.capability] += r.requests;
    ingress[r.capability] += r.ingress_bytes;
    egress[r.capability] += r.egress_bytes;
  }
  EXPECT_EQ(requests["thing.get"], 2);
  EXPECT_EQ(requests["thing.ingest"], 2);
  EXPECT_GE(ingress["thing.ingest"], 2 * 10);  // at least the bodies
  EXPECT_GE(egress["thing.get"], 2 * 11);
  // Another account sees none of it.
  auto other = usage_->Query("a2", 0, kT0 * 2);
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->empty());
}

}  // namespace
}  // namespace rest
