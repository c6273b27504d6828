#include "rest/idempotent.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

#include "core/clock.h"
#include "tests/rest/rest_test_util.h"

namespace rest {
namespace {

using nlohmann::json;
using test_util::ResponseHeader;

constexpr int64_t kNow = 1'736'937'000'000;

class RunIdempotentTest : public ::testing::Test {
 protected:
  RunIdempotentTest() : clock_(kNow) {}

  // Runs a request whose work counts its runs and answers `status` with a body
  // naming the run.
  core::HttpResponse Run(const std::optional<std::string>& key, const std::string& body,
                         int status = 200, const std::string& project = "acme") {
    core::HttpResponse resp;
    RunIdempotent(cache_, clock_, project, key, body, resp, [&](core::HttpResponse& r) {
      ++runs_;
      r.status = status;
      r.body = R"({"run":)" + std::to_string(runs_) + "}";
    });
    return resp;
  }

  exporter::IdempotencyCache cache_;
  core::FakeClock clock_;
  int runs_ = 0;
};

TEST_F(RunIdempotentTest, WithoutKeyAlwaysRuns) {
  EXPECT_EQ(Run(std::nullopt, "{}").body, R"({"run":1})");
  EXPECT_EQ(Run(std::nullopt, "{}").body, R"({"run":2})");
  EXPECT_EQ(cache_.size(), 0u);
}

TEST_F(RunIdempotentTest, SameKeyAndBodyReplaysFirstResponse) {
  const auto first = Run("k1", R"({"a":1})", 201);
  EXPECT_EQ(first.status, 201);
  EXPECT_EQ(ResponseHeader(first, "Idempotent-Replayed"), nullptr);
  clock_.AdvanceMs(3'600'000);
  const auto second = Run("k1", R"({"a":1})", 201);
  EXPECT_EQ(runs_, 1) << "the work ran once";
  EXPECT_EQ(second.status, 201);
  EXPECT_EQ(second.body, R"({"run":1})");
  EXPECT_EQ(second.content_type, "application/json");
  ASSERT_NE(ResponseHeader(second, "Idempotent-Replayed"), nullptr);
  EXPECT_EQ(*ResponseHeader(second, "Idempotent-Replayed"), "true");
}

TEST_F(RunIdempotentTest, ClientErrorsAreReplayedToo) {
  Run("k", "{}", 400);
  const auto again = Run("k", "{}", 200);
  EXPECT_EQ(runs_, 1);
  EXPECT_EQ(again.status, 400);
}

TEST_F(RunIdempotentTest, DifferentBodyIs422) {
  Run("k1", R"({"a":1})");
  const auto resp = Run("k1", R"({"a":2})");
  EXPECT_EQ(runs_, 1);
  EXPECT_EQ(resp.status, 422);
  const json err = json::parse(resp.body).at("error");
  EXPECT_EQ(err.at("code"), "idempotency_key_reused");
  EXPECT_EQ(err.at("param"), "idempotency_key");
  EXPECT_EQ(ResponseHeader(resp, "Idempotent-Replayed"), nullptr);
}

TEST_F(RunIdempotentTest, SameKeyWhileRunningIs409) {
  core::HttpResponse inner;
  core::HttpResponse outer;
  RunIdempotent(cache_, clock_, "acme", "k", "{}", outer, [&](core::HttpResponse& r) {
    // A retry arrives while the first request is still being processed.
    RunIdempotent(cache_, clock_, "acme", "k", "{}", inner,
                  [&](core::HttpResponse&) { ADD_FAILURE() << "ran twice"; });
    r.status = 200;
    r.body = "{}";
  });
  EXPECT_EQ(outer.status, 200);
  EXPECT_EQ(inner.status, 409);
  const json err = json::parse(inner.body).at("error");
  EXPECT_EQ(err.at("code"), "conflict");
  EXPECT_EQ(err.at("param"), "idempotency_key");
  // Once finished, the retry gets the replay.
  EXPECT_EQ(Run("k", "{}").body, "{}");
  EXPECT_EQ(runs_, 0);
}

TEST_F(RunIdempotentTest, ServerErrorsAreNotCached) {
  EXPECT_EQ(Run("k", "{}", 503).status, 503);
  EXPECT_EQ(cache_.size(), 0u);
  EXPECT_EQ(Run("k", "{}", 500).status, 500);
  const auto ok = Run("k", "{}", 200);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(runs_, 3);
  EXPECT_EQ(ResponseHeader(ok, "Idempotent-Replayed"), nullptr);
  EXPECT_EQ(Run("k", "{}", 200).body, R"({"run":3})");
}

TEST_F(RunIdempotentTest, ExceptionAbandonsTheKey) {
  core::HttpResponse resp;
  EXPECT_THROW(RunIdempotent(cache_, clock_, "acme", "k", "{}", resp,
                             [](core::HttpResponse&) { throw std::runtime_error("boom"); }),
               std::runtime_error);
  EXPECT_EQ(cache_.size(), 0u);
  EXPECT_EQ(Run("k", "{}").status, 200) << "the key is not stuck in flight";
  EXPECT_EQ(runs_, 1);
}

TEST_F(RunIdempotentTest, KeysAreScopedPerProject) {
  Run("k", "{}", 200, "acme");
  const auto other = Run("k", "{}", 200, "globex");
  EXPECT_EQ(runs_, 2);
  EXPECT_EQ(other.body, R"({"run":2})");
  EXPECT_EQ(ResponseHeader(other, "Idempotent-Replayed"), nullptr);
  EXPECT_EQ(Run("k", R"({"x":1})", 200, "initech").status, 200) << "no 422 across projects";
}

TEST_F(RunIdempotentTest, ReplayEndsAfter24Hours) {
  Run("k", "{}");
  clock_.AdvanceMs(24LL * 3'600'000 - 1);
  Run("k", "{}");
  EXPECT_EQ(runs_, 1);
  clock_.AdvanceMs(1);
  Run("k", "{}");
  EXPECT_EQ(runs_, 2);
}

core::HttpRequest WithHeader(std::optional<std::string> value) {
  core::HttpRequest req;
  if (value) req.headers.emplace_back("idempotency-key", *value);
  return req;
}

TEST(ResolveIdempotencyKeyTest, Table) {
  struct Case {
    std::string name;
    std::optional<std::string> header;
    std::optional<std::string> body;
    std::optional<std::string> want;  // when ok
    std::string error_param;          // non-empty: expect a 400 naming it
  };
  const Case cases[] = {
      {"neither", std::nullopt, std::nullopt, std::nullopt, ""},
      {"body only", std::nullopt, "b-1", "b-1", ""},
      {"header only", "h-1", std::nullopt, "h-1", ""},
      {"both equal", "same", "same", "same", ""},
      {"both differ", "h-1", "b-1", std::nullopt, "idempotency_key"},
      {"empty header", "", std::nullopt, std::nullopt, "Idempotency-Key"},
      {"header too long", std::string(256, 'k'), std::nullopt, std::nullopt, "Idempotency-Key"},
      {"header at limit", std::string(255, 'k'), std::nullopt, std::string(255, 'k'), ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto got = ResolveIdempotencyKey(WithHeader(c.header), c.body);
    if (c.error_param.empty()) {
      ASSERT_TRUE(got.has_value()) << got.error().message;
      EXPECT_EQ(*got, c.want);
    } else {
      ASSERT_FALSE(got.has_value());
      EXPECT_EQ(got.error().code, core::ErrorCode::kInvalidRequest);
      EXPECT_EQ(got.error().param, c.error_param);
    }
  }
}

}  // namespace
}  // namespace rest
