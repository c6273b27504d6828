#include "exporter/ingest_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <prometheus/registry.h>

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/http.h"

namespace exporter {
namespace {

using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr int64_t kNow = 1'736'937'000'000;

// The value of counter `name` with label reason=`reason` (or no labels), or nullopt.
std::optional<double> CounterValue(const prometheus::Registry& registry, const std::string& name,
                                   const std::string& reason = "") {
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name != name) continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      const bool want_unlabelled = reason.empty();
      if (want_unlabelled && m.label.empty()) return m.counter.value;
      for (const auto& l : m.label) {
        if (l.name == "reason" && l.value == reason) return m.counter.value;
      }
    }
  }
  return std::nullopt;
}

std::string Padded(std::string body) {
  body.reserve(body.size() + core::kBodyPadding);
  return body;
}

class IngestServiceTest : public ::testing::Test {
 protected:
  explicit IngestServiceTest(store::SeriesStoreOptions store_options = {})
      : store_(std::move(store_options)),
        clock_(kNow),
        ingest_(store_, IngestOptions{}, clock_, registry_) {}

  DecodedBatch DecodeBatch(const std::string& json) {
    auto decoder = ingest_.AcquireDecoder();
    body_ = Padded(json);  // the batch's tag views point into the decoder
    auto got = decoder->DecodeBatch(body_, ingest_.MakeDecodeContext());
    EXPECT_TRUE(got.has_value()) << got.error().message;
    return got.has_value() ? std::move(*got) : DecodedBatch{};
  }
  DecodedBatch DecodeReport(const std::string& json) {
    auto decoder = ingest_.AcquireDecoder();
    body_ = Padded(json);
    auto got = decoder->DecodeReport(body_, ingest_.MakeDecodeContext());
    EXPECT_TRUE(got.has_value()) << got.error().message;
    return got.has_value() ? std::move(*got) : DecodedBatch{};
  }

  prometheus::Registry registry_;
  store::SeriesStore store_;
  core::FakeClock clock_;
  IngestService ingest_;
  std::string body_;
};

TEST_F(IngestServiceTest, StoresValidPointsUnderTheProject) {
  const DecodedBatch batch = DecodeReport(R"({"name":"api.latency","value":12,"type":"timing"})");
  auto outcome = ingest_.Store("acme", batch);
  ASSERT_TRUE(outcome.has_value()) << outcome.error().message;
  EXPECT_EQ(outcome->accepted, 1u);
  EXPECT_THAT(outcome->errors, IsEmpty());
  EXPECT_EQ(store_.TypeOf("acme", "api_latency"), store::MetricType::kTiming);
  EXPECT_EQ(store_.TypeOf("default", "api_latency"), std::nullopt);
  const auto snap = store_.Snapshot();
  ASSERT_THAT(snap, SizeIs(1));
  EXPECT_EQ(snap[0].observations, 1u);
  EXPECT_EQ(snap[0].updated_at_ms, kNow) << "the store records the clock's time";
  EXPECT_EQ(CounterValue(registry_, "tally_ingest_points_accepted_total"), 1);
}

TEST_F(IngestServiceTest, BatchWithMixedPointsReportsExactIndexes) {
  // A gauge named "temp" exists, so point 3 (a counter "temp") is a store-level error.
  ASSERT_TRUE(ingest_.Store("p", DecodeReport(R"({"name":"temp","value":20})")).has_value());
  const DecodedBatch batch = DecodeBatch(R"({"points":[
      {"name":"a","value":1},
      {"name":"b","value":"x"},
      {"name":"c","value":2,"type":"counter"},
      {"name":"temp","value":1,"type":"counter"},
      {"name":"d","value":3},
      {"name":"","value":3},
      {"name":"temp","value":21}
  ]})");
  auto outcome = ingest_.Store("p", batch);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->accepted, 4u);
  ASSERT_THAT(outcome->errors, SizeIs(3));
  // Sorted by index, decode and store errors interleaved.
  EXPECT_EQ(outcome->errors[0].index, 1u);
  EXPECT_EQ(outcome->errors[0].error.code, core::ErrorCode::kInvalidRequest);
  EXPECT_EQ(outcome->errors[0].error.param, "points[1].value");
  EXPECT_EQ(outcome->errors[1].index, 3u);
  EXPECT_EQ(outcome->errors[1].error.code, core::ErrorCode::kTypeMismatch);
  EXPECT_EQ(outcome->errors[1].error.param, "points[3].type");
  EXPECT_EQ(outcome->errors[2].index, 5u);
  EXPECT_EQ(outcome->errors[2].error.param, "points[5].name");

  const store::StoreStats stats = store_.Stats();
  EXPECT_EQ(stats.samples, 5u);  // 1 before + 4 accepted
  EXPECT_EQ(stats.series, 4u);   // temp, a, c, d
  EXPECT_EQ(CounterValue(registry_, "tally_ingest_points_accepted_total"), 5);
  EXPECT_EQ(CounterValue(registry_, "tally_ingest_points_rejected_total", "invalid_request"), 2);
  EXPECT_EQ(CounterValue(registry_, "tally_ingest_points_rejected_total", "type_mismatch"), 1);
  EXPECT_EQ(CounterValue(registry_, "tally_ingest_points_rejected_total", "cardinality_limit"), 0)
      << "every reason is exported from the start";
}

TEST_F(IngestServiceTest, ReportStoreErrorsKeepBareParam) {
  ASSERT_TRUE(ingest_.Store("p", DecodeReport(R"({"name":"temp","value":20})")).has_value());
  auto outcome = ingest_.Store("p", DecodeReport(R"({"name":"temp","value":1,"type":"counter"})"));
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->accepted, 0u);
  ASSERT_THAT(outcome->errors, SizeIs(1));
  EXPECT_EQ(outcome->errors[0].index, 0u);
  EXPECT_EQ(outcome->errors[0].error.code, core::ErrorCode::kTypeMismatch);
  EXPECT_EQ(outcome->errors[0].error.param, "type");
}

TEST_F(IngestServiceTest, DecodeOnlyErrorsStoreNothing) {
  auto outcome = ingest_.Store("p", DecodeReport(R"({"name":"x","value":-1,"type":"counter"})"));
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->accepted, 0u);
  ASSERT_THAT(outcome->errors, SizeIs(1));
  EXPECT_EQ(outcome->errors[0].error.param, "value");
  EXPECT_EQ(store_.Stats().series, 0u);
  EXPECT_EQ(CounterValue(registry_, "tally_ingest_points_rejected_total", "invalid_request"), 1);
}

TEST_F(IngestServiceTest, MakeDecodeContextUsesClockAndOptions) {
  clock_.SetMs(kNow + 5);
  const DecodeContext ctx = ingest_.MakeDecodeContext();
  EXPECT_EQ(ctx.now_ms, kNow + 5);
  EXPECT_EQ(ctx.retention_ms, IngestOptions{}.retention_ms);
  EXPECT_EQ(ctx.limits.max_batch_points, 10'000);
}

TEST_F(IngestServiceTest, DefaultTimestampFollowsTheClock) {
  clock_.AdvanceMs(60'000);
  auto outcome = ingest_.Store("p", DecodeReport(R"({"name":"g","value":1})"));
  ASSERT_TRUE(outcome.has_value());
  const auto snap = store_.Snapshot();
  ASSERT_THAT(snap, SizeIs(1));
  EXPECT_EQ(snap[0].last_ts_ms, kNow + 60'000);
}

TEST_F(IngestServiceTest, DecodersAreReturnedToThePool) {
  PointDecoder* first = nullptr;
  {
    auto lease = ingest_.AcquireDecoder();
    first = &*lease;
  }
  auto again = ingest_.AcquireDecoder();
  EXPECT_EQ(&*again, first);
  auto second = ingest_.AcquireDecoder();  // the pool is empty now: a new one
  EXPECT_NE(&*second, first);
}

TEST_F(IngestServiceTest, CountRejectedRequestCountsAtLeastOne) {
  ingest_.CountRejectedRequest(core::MakeError(core::ErrorCode::kInvalidRequest, "bad"), 0);
  ingest_.CountRejectedRequest(core::MakeError(core::ErrorCode::kInvalidRequest, "bad"), 5);
  EXPECT_EQ(CounterValue(registry_, "tally_ingest_points_rejected_total", "invalid_request"), 6);
}

class IngestServiceCardinalityTest : public IngestServiceTest {
 protected:
  IngestServiceCardinalityTest() : IngestServiceTest(Options()) {}
  static store::SeriesStoreOptions Options() {
    store::SeriesStoreOptions o;
    o.max_series_per_metric = 2;
    return o;
  }
};

TEST_F(IngestServiceCardinalityTest, CardinalityErrorsGetPointPrefix) {
  const DecodedBatch batch = DecodeBatch(R"({"points":[
      {"name":"m","value":1,"tags":{"h":"a"}},
      {"name":"m","value":1,"tags":{"h":"b"}},
      {"name":"m","value":1,"tags":{"h":"c"}},
      {"name":"m","value":1,"tags":{"h":"a"}}
  ]})");
  auto outcome = ingest_.Store("p", batch);
  ASSERT_TRUE(outcome.has_value());
  EXPECT_EQ(outcome->accepted, 3u);
  ASSERT_THAT(outcome->errors, SizeIs(1));
  EXPECT_EQ(outcome->errors[0].index, 2u);
  EXPECT_EQ(outcome->errors[0].error.code, core::ErrorCode::kCardinalityLimit);
  EXPECT_EQ(outcome->errors[0].error.param, "points[2].tags");
  EXPECT_EQ(CounterValue(registry_, "tally_ingest_points_rejected_total", "cardinality_limit"), 1);
}

class IngestServiceFullStoreTest : public IngestServiceTest {
 protected:
  IngestServiceFullStoreTest() : IngestServiceTest(Options()) {}
  static store::SeriesStoreOptions Options() {
    store::SeriesStoreOptions o;
    o.max_memory_bytes = 0;
    return o;
  }
};

TEST_F(IngestServiceFullStoreTest, UnavailableStoreFailsWholeRequest) {
  const DecodedBatch batch = DecodeBatch(R"({"points":[
      {"name":"a","value":1}, {"name":"b","value":"bad"}, {"name":"c","value":1}
  ]})");
  auto outcome = ingest_.Store("p", batch);
  ASSERT_FALSE(outcome.has_value());
  EXPECT_EQ(outcome.error().code, core::ErrorCode::kUnavailable);
  EXPECT_EQ(store_.Stats().samples, 0u);
  EXPECT_EQ(CounterValue(registry_, "tally_ingest_points_accepted_total"), 0);
  EXPECT_EQ(CounterValue(registry_, "tally_ingest_points_rejected_total", "unavailable"), 2);
}

}  // namespace
}  // namespace exporter
