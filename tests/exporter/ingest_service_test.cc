#include "exporter/ingest_service.h"

#include "exporter/exposition.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <prometheus/registry.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "core/clock.h"
#include "core/env.h"
#include "core/http.h"
#include "exporter/ingest_record.h"
#include "store/wal.h"
#include "tests/temp_dir.h"

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

// IngestService with a real WAL in a temp directory (DESIGN.md section 4).
class IngestServiceWalTest : public ::testing::Test {
 protected:
  IngestServiceWalTest() : faulty_(posix_), clock_(kNow) {
    store::WalOptions o;
    o.dir = tmp_.Sub("wal");
    o.sync = store::WalSync::kAlways;
    auto wal = store::Wal::Open(faulty_, o);
    EXPECT_TRUE(wal.has_value()) << wal.error().message;
    if (wal.has_value()) wal_ = std::move(*wal);
    IngestOptions options;
    options.wal = wal_.get();
    options.idempotency = &cache_;
    ingest_ = std::make_unique<IngestService>(store_, options, clock_, registry_);
  }

  // Decodes `json` (a batch) and stores it right away: the batch's views live
  // only while its decoder is leased.
  core::Result<StoredResponse> StoreJson(const std::string& project, const std::string& json,
                                         const IdempotencyIntent* intent = nullptr,
                                         StoredResponse response = {200, "ok"}) {
    auto decoder = ingest_->AcquireDecoder();
    std::string body = Padded(json);
    auto batch = decoder->DecodeBatch(body, ingest_->MakeDecodeContext());
    EXPECT_TRUE(batch.has_value()) << batch.error().message;
    if (!batch) return core::Unexpected(batch.error());
    return ingest_->Store(project, *batch, [&](const IngestOutcome&) { return response; }, intent);
  }

  struct Records {
    std::vector<std::string> payloads;
    store::WalReplayStats stats;
  };
  Records ReadWal() {
    Records out;
    auto stats = store::Wal::Replay(posix_, tmp_.Sub("wal"), 0, false,
                                    [&](uint8_t type, std::string_view payload) -> core::Status {
                                      EXPECT_EQ(type, kWalRecordPoints);
                                      out.payloads.emplace_back(payload);
                                      return {};
                                    });
    EXPECT_TRUE(stats.has_value()) << stats.error().message;
    if (stats) out.stats = *stats;
    return out;
  }

  // A fresh store, cache and service rebuilt from the WAL, as on restart.
  struct Restarted {
    prometheus::Registry registry;
    store::SeriesStore store{store::SeriesStoreOptions{}};
    IdempotencyCache cache;
    std::unique_ptr<IngestService> ingest;
    store::WalReplayStats stats;
  };
  std::unique_ptr<Restarted> Restart() {
    auto r = std::make_unique<Restarted>();
    IngestOptions options;
    options.idempotency = &r->cache;
    r->ingest = std::make_unique<IngestService>(r->store, options, clock_, r->registry);
    auto stats = store::Wal::Replay(posix_, tmp_.Sub("wal"), 0, false,
                                    [&](uint8_t type, std::string_view payload) {
                                      return r->ingest->Replay(type, payload);
                                    });
    EXPECT_TRUE(stats.has_value()) << stats.error().message;
    if (stats) r->stats = *stats;
    return r;
  }

  // Series identity and aggregates, in a stable order, for comparing stores.
  using Row = std::tuple<std::string, std::string, std::string, store::MetricType, double, double,
                         int64_t, uint64_t, double, std::vector<uint64_t>, int64_t>;
  static std::vector<Row> Rows(const store::SeriesStore& s) {
    std::vector<Row> rows;
    for (const store::SeriesSnapshot& x : s.Snapshot()) {
      std::string labels;
      for (const auto& l : x.labels.items()) labels += l.name + "=" + l.value + ",";
      rows.emplace_back(x.project, x.name, labels, x.type, x.counter_total, x.last_value,
                        x.last_ts_ms, x.observations, x.observation_sum, x.bucket_counts,
                        x.updated_at_ms);
    }
    std::sort(rows.begin(), rows.end());
    return rows;
  }

  tally_test::TempDir tmp_;
  core::PosixEnv posix_;
  core::FaultInjectionEnv faulty_;
  prometheus::Registry registry_;
  store::SeriesStore store_{store::SeriesStoreOptions{}};
  core::FakeClock clock_;
  IdempotencyCache cache_;
  std::unique_ptr<store::Wal> wal_;
  std::unique_ptr<IngestService> ingest_;
};

TEST_F(IngestServiceWalTest, StoreWritesOneRecordPerBatch) {
  ASSERT_NE(wal_, nullptr);
  auto stored = StoreJson("acme", R"({"points":[
      {"name":"jobs.done","value":2,"type":"counter","tags":{"queue":"high"}},
      {"name":"bad","value":"x"},
      {"name":"temp","value":21.5,"tags":{"room":"lab","empty":""}}
  ]})");
  ASSERT_TRUE(stored.has_value()) << stored.error().message;
  EXPECT_EQ(wal_->Stats().appended_records, 1u);

  const Records recs = ReadWal();
  ASSERT_EQ(recs.payloads.size(), 1u);
  auto rec = DecodeIngestRecord(recs.payloads[0]);
  ASSERT_TRUE(rec.has_value()) << rec.error().message;
  EXPECT_EQ(rec->project, "acme");
  EXPECT_EQ(rec->ingest_ms, kNow);
  EXPECT_FALSE(rec->idempotency.has_value());
  ASSERT_THAT(rec->points, SizeIs(2)) << "only the accepted points are logged";
  EXPECT_EQ(rec->points[0].name, "jobs_done");
  EXPECT_EQ(rec->points[0].type, store::MetricType::kCounter);
  EXPECT_EQ(rec->points[0].value, 2);
  ASSERT_THAT(rec->points[0].labels, SizeIs(1));
  EXPECT_EQ(rec->points[0].labels[0].name, "queue");
  EXPECT_EQ(rec->points[0].labels[0].value, "high");
  EXPECT_EQ(rec->points[1].name, "temp");
  EXPECT_EQ(rec->points[1].ts_ms, kNow);

  // A batch with nothing to store and no key writes no record.
  ASSERT_TRUE(StoreJson("acme", R"({"points":[{"name":"bad","value":"x"}]})").has_value());
  EXPECT_EQ(wal_->Stats().appended_records, 1u);
  EXPECT_EQ(ReadWal().payloads.size(), 1u);
}

TEST_F(IngestServiceWalTest, ReplayReproducesTheStore) {
  ASSERT_NE(wal_, nullptr);
  const std::vector<std::pair<std::string, std::string>> batches = {
      {"acme", R"({"points":[{"name":"req","value":1,"type":"counter","tags":{"code":"200"}},
                             {"name":"req","value":4,"type":"counter","tags":{"code":"500"}}]})"},
      {"acme", R"({"points":[{"name":"req","value":2.5,"type":"counter","tags":{"code":"200"}},
                             {"name":"lat","value":12,"type":"timing"},
                             {"name":"lat","value":250,"type":"timing"}]})"},
      {"other", R"({"points":[{"name":"req","value":7,"type":"counter"},
                              {"name":"size","value":3,"type":"distribution"}]})"},
      // req is a counter: the gauge point is a type mismatch and must not be logged.
      {"acme", R"({"points":[{"name":"req","value":9},{"name":"temp","value":20}]})"},
      {"acme", R"({"points":[{"name":"temp","value":19.5}]})"},
  };
  for (size_t i = 0; i < batches.size(); ++i) {
    SCOPED_TRACE("batch " + std::to_string(i));
    clock_.AdvanceMs(1000);
    ASSERT_TRUE(StoreJson(batches[i].first, batches[i].second).has_value());
  }
  EXPECT_EQ(wal_->Stats().appended_records, batches.size());
  const store::StoreStats before = store_.Stats();
  EXPECT_EQ(before.samples, 9u);
  wal_.reset();  // as on shutdown

  auto restarted = Restart();
  EXPECT_EQ(restarted->stats.records, batches.size());
  const store::StoreStats after = restarted->store.Stats();
  EXPECT_EQ(after.series, before.series);
  EXPECT_EQ(after.samples, before.samples);
  EXPECT_EQ(after.metrics, before.metrics);
  EXPECT_EQ(Rows(restarted->store), Rows(store_)) << "same series, totals and update times";

  // Counter totals, spelled out.
  double acme_200 = -1;
  for (const store::SeriesSnapshot& x : restarted->store.Snapshot()) {
    const std::string* code = x.labels.Get("code");
    if (x.project == "acme" && x.name == "req" && code != nullptr && *code == "200") {
      acme_200 = x.counter_total;
    }
  }
  EXPECT_EQ(acme_200, 3.5);
}

TEST_F(IngestServiceWalTest, IdempotencyKeyIsRestoredFromTheWal) {
  ASSERT_NE(wal_, nullptr);
  const IdempotencyIntent with_points{"key-1", "hash-1"};
  const IdempotencyIntent without_points{"key-2", "hash-2"};
  ASSERT_TRUE(StoreJson("acme", R"({"points":[{"name":"c","value":1,"type":"counter"}]})",
                        &with_points, {201, R"({"accepted":1})"})
                  .has_value());
  // Nothing accepted, but the answer must still be replayed for a retry.
  ASSERT_TRUE(StoreJson("acme", R"({"points":[{"name":"c","value":"x"}]})", &without_points,
                        {400, R"({"error":"invalid_request"})"})
                  .has_value());
  EXPECT_EQ(wal_->Stats().appended_records, 2u);
  wal_.reset();

  auto restarted = Restart();
  EXPECT_EQ(restarted->cache.size(), 2u);
  struct Case {
    const char* key;
    const char* hash;
    IdempotencyCache::Outcome outcome;
    int status;
    const char* body;
  };
  const Case cases[] = {
      {"key-1", "hash-1", IdempotencyCache::Outcome::kReplay, 201, R"({"accepted":1})"},
      {"key-2", "hash-2", IdempotencyCache::Outcome::kReplay, 400, R"({"error":"invalid_request"})"},
      {"key-1", "other-body", IdempotencyCache::Outcome::kReused, 0, ""},
      {"key-3", "hash-3", IdempotencyCache::Outcome::kNew, 0, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.key) + " " + c.hash);
    const auto got = restarted->cache.Begin("acme", c.key, c.hash, kNow + 60'000);
    EXPECT_EQ(got.outcome, c.outcome);
    if (c.outcome == IdempotencyCache::Outcome::kReplay) {
      EXPECT_EQ(got.response.status, c.status);
      EXPECT_EQ(got.response.body, c.body);
    }
  }
  EXPECT_EQ(restarted->cache.Begin("other", "key-1", "hash-1", kNow + 60'000).outcome,
            IdempotencyCache::Outcome::kNew)
      << "keys stay scoped per project";
  EXPECT_EQ(restarted->store.Stats().samples, 1u);
}

TEST_F(IngestServiceWalTest, RestoredKeysKeepTheirOriginalAge) {
  ASSERT_NE(wal_, nullptr);
  const IdempotencyIntent intent{"key", "hash"};
  ASSERT_TRUE(StoreJson("acme", R"({"points":[{"name":"g","value":1}]})", &intent).has_value());
  wal_.reset();
  auto restarted = Restart();
  const int64_t day = 24LL * 3'600'000;
  EXPECT_EQ(restarted->cache.Begin("acme", "key", "hash", kNow + day - 1).outcome,
            IdempotencyCache::Outcome::kReplay);
  EXPECT_EQ(restarted->cache.Begin("acme", "key", "hash", kNow + day + 1).outcome,
            IdempotencyCache::Outcome::kNew)
      << "the 24 h window counts from the first answer, not from the restart";
}

TEST_F(IngestServiceWalTest, WalFailureStoresNothing) {
  ASSERT_NE(wal_, nullptr);
  ASSERT_TRUE(StoreJson("acme", R"({"points":[{"name":"c","value":1,"type":"counter"}]})")
                  .has_value());
  const store::StoreStats before = store_.Stats();

  faulty_.SetWriteBudget(0);  // the disk is full
  const std::string batch = R"({"points":[{"name":"c","value":5,"type":"counter"},
                                          {"name":"new_metric","value":1}]})";
  auto failed = StoreJson("acme", batch);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, core::ErrorCode::kUnavailable);
  EXPECT_THAT(failed.error().message, ::testing::HasSubstr("nothing was stored"));
  EXPECT_EQ(store_.Stats().samples, before.samples) << "no sample of the failed batch";
  EXPECT_EQ(CounterValue(registry_, "tally_ingest_points_accepted_total"), 1);
  EXPECT_EQ(CounterValue(registry_, "tally_ingest_points_rejected_total", "unavailable"), 2);
  for (const auto& row : Rows(store_)) {
    if (std::get<1>(row) == "c") {
      EXPECT_EQ(std::get<4>(row), 1) << "counter total unchanged";
    }
  }

  // The new series the failed batch reserved is neither on /metrics nor in a
  // snapshot: it never received a sample.
  {
    core::FakeClock render_clock(kNow);
    StoreExposition exposition(store_, config::ExpositionConfig{}, render_clock);
    std::string page;
    exposition.RenderText(page);
    EXPECT_EQ(page.find("new_metric"), std::string::npos) << page;
    for (const auto& state : store_.ExportState()) EXPECT_NE(state.name, "new_metric");
  }

  faulty_.SetFailSyncs(true);  // space returns, but fdatasync fails
  faulty_.SetWriteBudget(-1);
  ASSERT_FALSE(StoreJson("acme", batch).has_value());
  EXPECT_EQ(store_.Stats().samples, before.samples);

  faulty_.SetFailSyncs(false);  // the disk recovers: the retry is stored once
  ASSERT_TRUE(StoreJson("acme", batch).has_value());
  EXPECT_EQ(store_.Stats().samples, before.samples + 2);
  wal_.reset();

  auto restarted = Restart();
  EXPECT_EQ(restarted->stats.records, 2u) << "the failed attempts left nothing in the log";
  EXPECT_EQ(restarted->stats.truncated_bytes, 0u);
  EXPECT_EQ(restarted->store.Stats().samples, before.samples + 2);
  double total = -1;
  for (const store::SeriesSnapshot& x : restarted->store.Snapshot()) {
    if (x.name == "c") total = x.counter_total;
  }
  EXPECT_EQ(total, 6);
}

}  // namespace
}  // namespace exporter
