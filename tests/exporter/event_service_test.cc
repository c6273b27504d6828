#include "exporter/event_service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/env.h"
#include "core/http.h"
#include "exporter/event_record.h"
#include "exporter/snapshot.h"
#include "tests/temp_dir.h"

namespace exporter {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using store::EventField;

constexpr int64_t kNow = 1'736'937'000'000;  // 2025-01-15T10:30:00Z

std::shared_ptr<const PriceTable> Table() {
  config::PriceEntry e;
  e.provider = "openai";
  e.model = "gpt-4o";
  e.valid_from_ms = kNow - 100LL * 86'400'000;
  // USD per 1M tokens, in micro-USD: input 2.5, output 10, cache read 1.25.
  e.prices = config::TokenPrices{2'500'000, 10'000'000, 1'250'000, 3'000'000, 5'000'000};
  e.source = "https://example.com";
  std::vector<config::PriceEntry> entries = {e};
  return std::make_shared<const PriceTable>(std::move(entries));
}

// Runs the ingest path against a WAL in a temp dir.
class EventServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    store_ = std::make_unique<store::EventStore>();
    metrics_ = std::make_unique<LlmMetrics>(std::vector<double>{100, 1000}, false);
    registry_ = std::make_unique<prometheus::Registry>();
    EventIngestOptions options;
    options.retention_ms = 15LL * 86'400'000;
    options.idempotency = &idempotency_;
    service_ = std::make_unique<EventService>(*store_, prices_, *metrics_, options, clock_,
                                              *registry_);
  }

  void OpenWal() {
    store::WalOptions o;
    o.dir = dir_.path() + "/wal";
    auto wal = store::Wal::Open(env_, o);
    ASSERT_TRUE(wal.has_value());
    wal_ = std::move(*wal);
    service_->SetWal(wal_.get());
  }

  EventIngestOutcome Ingest(const std::string& project, const std::string& body) {
    std::string padded = body;
    padded.reserve(padded.size() + core::kBodyPadding);
    auto lease = service_->AcquireDecoder();
    auto decoded = lease->Decode(padded, service_->MakeDecodeContext());
    EXPECT_TRUE(decoded.has_value()) << (decoded ? "" : decoded.error().message);
    if (!decoded) return {};
    auto outcome = service_->Store(project, *decoded);
    EXPECT_TRUE(outcome.has_value());
    return outcome ? *outcome : EventIngestOutcome{};
  }

  // Replays the WAL into a fresh service (a restart).
  void Restart() {
    wal_.reset();
    Open();
    auto replay = store::Wal::Replay(env_, dir_.path() + "/wal", 0, false,
                                     [&](uint8_t type, std::string_view payload) {
                                       return service_->Replay(type, payload);
                                     });
    ASSERT_TRUE(replay.has_value()) << replay.error().message;
  }

  double Series(const std::string& family, const std::string& label, const std::string& value) {
    double sum = 0;
    for (const auto& f : metrics_->Collect()) {
      if (f.name != family) continue;
      for (const auto& m : f.metric) {
        for (const auto& l : m.label) {
          if (l.name == label && l.value == value) {
            sum += f.type == prometheus::MetricType::Histogram
                       ? static_cast<double>(m.histogram.sample_count)
                       : m.counter.value;
          }
        }
      }
    }
    return sum;
  }

  tally_test::TempDir dir_;
  core::PosixEnv env_;
  core::FakeClock clock_{kNow};
  PriceBook prices_{Table()};
  IdempotencyCache idempotency_;
  std::unique_ptr<store::EventStore> store_;
  std::unique_ptr<LlmMetrics> metrics_;
  std::unique_ptr<prometheus::Registry> registry_;
  std::unique_ptr<EventService> service_;
  std::unique_ptr<store::Wal> wal_;
};

TEST_F(EventServiceTest, PricesEventsWithoutCostAndKeepsReportedCosts) {
  auto out = Ingest("p", R"({"events":[)"
                         R"({"id":"a","model":"gpt-4o","provider":"openai","input_tokens":1000000,"output_tokens":1000},)"
                         R"({"id":"b","model":"gpt-4o","cost_usd":0.5,"input_tokens":1},)"
                         R"({"id":"c","model":"mystery-model","input_tokens":10}]})");
  EXPECT_EQ(out.accepted, 3u);
  auto a = store_->GetEvent("p", "a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->cost_source, store::CostSource::kPriceTable);
  EXPECT_EQ(a->cost_nano_usd, 2'500'000'000 + 10'000'000);  // 2.5 USD + 1000 x 10 USD/1M
  auto b = store_->GetEvent("p", "b");
  EXPECT_EQ(b->cost_source, store::CostSource::kReported);
  EXPECT_EQ(b->cost_nano_usd, 500'000'000);
  auto c = store_->GetEvent("p", "c");
  EXPECT_EQ(c->cost_source, store::CostSource::kUnknownModel);
  EXPECT_EQ(c->cost_nano_usd, 0);
}

TEST_F(EventServiceTest, GeneratesIdsAndDedupsRepeatedIds) {
  auto out = Ingest("p", R"({"events":[{"model":"m"},{"model":1},{"model":"m","id":"x"}]})");
  EXPECT_EQ(out.accepted, 2u);
  ASSERT_EQ(out.ids.size(), 3u);
  EXPECT_THAT(out.ids[0], ::testing::StartsWith("evt_"));
  EXPECT_TRUE(out.ids[1].empty()) << "rejected";
  EXPECT_EQ(out.ids[2], "x");
  EXPECT_TRUE(store_->GetEvent("p", out.ids[0]).has_value());
  auto again = Ingest("p", R"({"events":[{"model":"m","id":"x"},{"model":"m","id":"y"}]})");
  EXPECT_EQ(again.accepted, 1u);
  EXPECT_EQ(again.duplicates, 1u);
  EXPECT_EQ(store_->Stats().events, 3u);
  EXPECT_EQ(Series("tally_llm_requests_total", "model", "m"), 3) << "duplicates not counted";
}

TEST_F(EventServiceTest, WalReplayRestoresEventsMetricsAndIdempotency) {
  OpenWal();
  std::string body = R"({"events":[{"id":"e1","model":"gpt-4o","input_tokens":5,"latency_ms":50},)"
                     R"({"id":"e2","model":"claude","success":false,"tags":{"k":"v"}}]})";
  std::string padded = body;
  padded.reserve(body.size() + core::kBodyPadding);
  {
    auto lease = service_->AcquireDecoder();  // returned before the restart
    auto decoded = lease->Decode(padded, service_->MakeDecodeContext());
    ASSERT_TRUE(decoded.has_value());
    IdempotencyIntent intent{"key1", "hash1"};
    auto stored = service_->Store(
        "p", *decoded,
        [](const EventIngestOutcome& o) { return StoredResponse{200, std::to_string(o.accepted)}; },
        &intent);
    ASSERT_TRUE(stored.has_value());
  }
  const store::Event before = *store_->GetEvent("p", "e2");

  Restart();
  EXPECT_EQ(store_->Stats().events, 2u);
  EXPECT_EQ(*store_->GetEvent("p", "e2"), before);
  EXPECT_EQ(Series("tally_llm_requests_total", "success", "false"), 1);
  EXPECT_EQ(Series("tally_llm_latency_ms", "model", "gpt-4o"), 1);
  auto begin = idempotency_.Begin("p", "key1", "hash1", kNow);
  EXPECT_EQ(begin.outcome, IdempotencyStore::Outcome::kReplay);
  EXPECT_EQ(begin.response.body, "2");
}

TEST_F(EventServiceTest, CheckpointHoldsEveryEventAndReplaysExactlyOnce) {
  OpenWal();
  Ingest("p", R"({"events":[{"id":"a","model":"m","tags":{"x":"1"}},{"id":"b","model":"m"}]})");
  Ingest("q", R"({"id":"c","model":"n","latency_ms":1234.567})");
  auto cp = service_->TakeCheckpoint([&]() -> core::Result<Checkpoint> {
    auto seg = wal_->Rotate();
    if (!seg) return core::Unexpected(seg.error());
    Checkpoint c;
    c.first_wal_segment = *seg;
    return c;
  });
  ASSERT_TRUE(cp.has_value());
  ASSERT_FALSE(cp->event_records.empty());
  auto file = WriteSnapshot(env_, dir_.path() + "/snap", *cp);
  ASSERT_TRUE(file.has_value()) << file.error().message;
  Ingest("p", R"({"id":"d","model":"m"})");  // after the checkpoint: WAL only

  auto loaded = LoadNewestSnapshot(env_, dir_.path() + "/snap");
  ASSERT_TRUE(loaded.has_value() && loaded->has_value());
  wal_.reset();
  Open();
  for (const std::string& rec : (*loaded)->event_records) {
    ASSERT_TRUE(service_->Replay(kWalRecordEvents, rec).has_value());
  }
  auto replay = store::Wal::Replay(env_, dir_.path() + "/wal", (*loaded)->first_wal_segment, false,
                                   [&](uint8_t type, std::string_view payload) {
                                     return service_->Replay(type, payload);
                                   });
  ASSERT_TRUE(replay.has_value());
  EXPECT_EQ(store_->Stats().events, 4u);
  EXPECT_TRUE(store_->GetEvent("p", "d").has_value());
  EXPECT_EQ(store_->GetEvent("q", "c")->latency_ms, 1234.567f);
  EXPECT_EQ(store_->GetEvent("p", "a")->tags.size(), 1u);
  EXPECT_EQ(Series("tally_llm_requests_total", "model", "m"), 3);
}

TEST_F(EventServiceTest, EventRecordRoundTripsAndRejectsGarbage) {
  store::Event e;
  e.id = "id1";
  e.ts_ms = -5;
  e.str(EventField::kModel) = "m";
  e.str(EventField::kUserId) = "u";
  e.input_tokens = 4294967295u;
  e.cache_write_1h_tokens = 7;
  e.cost_nano_usd = 123;
  e.cost_source = store::CostSource::kUnknownModel;
  e.latency_ms = 0.25f;
  e.success = false;
  e.tags = {{"a", "1"}, {"b", ""}};
  std::vector<std::pair<std::string_view, std::string_view>> tags;
  store::EventView v = e.View(tags);
  std::string payload;
  EncodeEventRecord(kNow, "proj", IdempotencyRecord{"k", "h", 200, "{}"}, {&v, 1}, payload);
  auto rec = DecodeEventRecord(payload);
  ASSERT_TRUE(rec.has_value()) << rec.error().message;
  EXPECT_EQ(rec->project, "proj");
  EXPECT_EQ(rec->ingest_ms, kNow);
  ASSERT_TRUE(rec->idempotency.has_value());
  EXPECT_EQ(rec->idempotency->response, "{}");
  ASSERT_EQ(rec->events.size(), 1u);
  store::EventStore s;
  s.Append("x", rec->events);
  EXPECT_EQ(*s.GetEvent("x", "id1"), e);
  // Every truncation fails cleanly.
  for (size_t n = 0; n < payload.size(); ++n) {
    EXPECT_FALSE(DecodeEventRecord(std::string_view(payload).substr(0, n)).has_value()) << n;
  }
  std::string bad = payload;
  bad[0] = 9;
  EXPECT_THAT(DecodeEventRecord(bad).error().message, HasSubstr("version"));
}

TEST_F(EventServiceTest, ConcurrentIngestAndCheckpointsLoseNothing) {
  OpenWal();
  std::atomic<bool> done{false};
  std::vector<std::string> records;
  std::thread checkpointer([&] {
    while (!done.load()) {
      auto cp = service_->TakeCheckpoint([&]() -> core::Result<Checkpoint> {
        auto seg = wal_->Rotate();
        if (!seg) return core::Unexpected(seg.error());
        Checkpoint c;
        c.first_wal_segment = *seg;
        return c;
      });
      ASSERT_TRUE(cp.has_value());
    }
  });
  for (int i = 0; i < 200; ++i) {
    std::string body = "{\"events\":[";
    for (int j = 0; j < 10; ++j) {
      body += (j ? "," : "") + ("{\"model\":\"m\",\"id\":\"e" + std::to_string(i * 10 + j) + "\"}");
    }
    Ingest("p", body + "]}");
  }
  done = true;
  checkpointer.join();
  EXPECT_EQ(store_->Stats().events, 2000u);
  Restart();
  EXPECT_EQ(store_->Stats().events, 2000u);
}

// ---------------------------------------------------------------- reprice

// Table(), plus "new-model" (input 1 USD/1M, output 2 USD/1M) and a gpt-4o
// price cut to input 2 USD/1M, both valid from `from_ms`.
std::shared_ptr<const PriceTable> TableWithNewModel(int64_t from_ms) {
  std::vector<config::PriceEntry> entries = Table()->entries();
  config::PriceEntry cut = entries[0];
  cut.valid_from_ms = from_ms;
  cut.prices.input = 2'000'000;
  entries.push_back(cut);
  config::PriceEntry e;
  e.provider = "acme";
  e.model = "new-model";
  e.valid_from_ms = from_ms;
  e.prices = config::TokenPrices{1'000'000, 2'000'000, 1'000'000, 1'000'000, 1'000'000};
  e.source = "https://example.com";
  entries.push_back(e);
  return std::make_shared<const PriceTable>(std::move(entries));
}

constexpr int64_t kHour = 3'600'000;

// a: gpt-4o priced, b: reported, c/d: new-model unknown (d an hour later), e:
// new-model via provider "other" (unknown), f: outside the range.
class RepriceTest : public EventServiceTest {
 protected:
  void IngestEvents() {
    const std::string ts = std::to_string(kNow - 2 * kHour);
    const std::string ts2 = std::to_string(kNow - kHour);
    const std::string old_ts = std::to_string(kNow - 3 * 86'400'000LL);
    auto out = Ingest("p", R"({"events":[)"
                           R"({"id":"a","model":"gpt-4o","provider":"openai","input_tokens":1000000,"timestamp":)" + ts + "},"
                           R"({"id":"b","model":"new-model","cost_usd":0.5,"input_tokens":7,"timestamp":)" + ts + "},"
                           R"({"id":"c","model":"new-model","provider":"acme","input_tokens":1000,"output_tokens":500,"timestamp":)" + ts + "},"
                           R"({"id":"d","model":"new-model","provider":"acme","input_tokens":3000,"timestamp":)" + ts2 + "},"
                           R"({"id":"e","model":"new-model","provider":"other","output_tokens":1000000,"timestamp":)" + ts2 + "},"
                           R"({"id":"f","model":"new-model","provider":"acme","input_tokens":1,"timestamp":)" + old_ts + "}]}");
    ASSERT_EQ(out.accepted, 6u);
  }
  RepriceRequest Range() const {
    RepriceRequest r;
    r.from_ms = kNow - 86'400'000;
    r.to_ms = kNow + 1;
    return r;
  }
  int64_t Cost(const std::string& id) { return store_->GetEvent("p", id)->cost_nano_usd; }
  store::CostSource Source(const std::string& id) {
    return store_->GetEvent("p", id)->cost_source;
  }
};

TEST_F(RepriceTest, RepricesWithTheCurrentTableAndLeavesReportedCostsAlone) {
  IngestEvents();
  EXPECT_EQ(Cost("a"), 2'500'000'000);
  EXPECT_EQ(Source("c"), store::CostSource::kUnknownModel);
  const double metric_before = Series("tally_llm_cost_usd_total", "model", "new-model");
  prices_.Replace(TableWithNewModel(kNow - 10 * 86'400'000LL));
  auto out = service_->Reprice("p", Range());
  ASSERT_TRUE(out.has_value()) << out.error().message;
  // a: 1M input at 2 USD (was 2.5); c: 1000 x 1 + 500 x 2 USD/1M; d: 3000 x 1;
  // e: "other" falls back to acme's price: 1M output x 2 USD.
  EXPECT_EQ(Cost("a"), 2'000'000'000);
  EXPECT_EQ(Cost("c"), 2'000'000);
  EXPECT_EQ(Cost("d"), 3'000'000);
  EXPECT_EQ(Cost("e"), 2'000'000'000);
  for (const char* id : {"a", "c", "d", "e"}) EXPECT_EQ(Source(id), store::CostSource::kPriceTable);
  EXPECT_EQ(Cost("b"), 500'000'000);
  EXPECT_EQ(Source("b"), store::CostSource::kReported);
  EXPECT_EQ(Source("f"), store::CostSource::kUnknownModel) << "outside the range";
  EXPECT_EQ(out->repriced, 4u);
  EXPECT_EQ(out->unchanged, 0u);
  EXPECT_EQ(out->still_unknown, 0u);
  EXPECT_EQ(out->reported, 1u);
  EXPECT_EQ(out->cost_delta_nano_usd, -500'000'000 + 2'000'000 + 3'000'000 + 2'000'000'000);
  // The counter gets the increases; gpt-4o's decrease is not subtracted.
  EXPECT_DOUBLE_EQ(Series("tally_llm_cost_usd_total", "model", "new-model") - metric_before,
                   (2'000'000 + 3'000'000 + 2'000'000'000) / 1e9);
  EXPECT_DOUBLE_EQ(Series("tally_llm_cost_usd_total", "model", "gpt-4o"), 2.5);
  // Again: nothing left to change.
  auto again = service_->Reprice("p", Range());
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->repriced, 0u);
  EXPECT_EQ(again->unchanged, 4u);
  EXPECT_EQ(again->cost_delta_nano_usd, 0);
}

TEST_F(RepriceTest, PriceOfTheEventsTimeAndModelRemovedFromTheTable) {
  IngestEvents();
  // new-model priced only from an hour ago: c (2 h ago) stays unknown, d is priced.
  prices_.Replace(TableWithNewModel(kNow - kHour));
  auto out = service_->Reprice("p", Range());
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(Source("c"), store::CostSource::kUnknownModel);
  EXPECT_EQ(Cost("d"), 3'000'000);
  EXPECT_EQ(Cost("a"), 2'500'000'000) << "gpt-4o's cut is not valid yet 2 h ago";
  EXPECT_EQ(out->repriced, 2u);       // d, e
  EXPECT_EQ(out->unchanged, 1u);      // a
  EXPECT_EQ(out->still_unknown, 1u);  // c
  // A table without gpt-4o: a becomes unknown_model at cost 0, like at ingest.
  prices_.Replace(std::make_shared<const PriceTable>());
  out = service_->Reprice("p", Range());
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(Source("a"), store::CostSource::kUnknownModel);
  EXPECT_EQ(Cost("a"), 0);
  EXPECT_EQ(out->repriced, 3u);
  EXPECT_EQ(out->still_unknown, 1u);
  EXPECT_EQ(out->cost_delta_nano_usd, -(2'500'000'000 + 3'000'000 + 2'000'000'000));
}

TEST_F(RepriceTest, FiltersByModelProviderAndOnlyUnknown) {
  IngestEvents();
  prices_.Replace(TableWithNewModel(kNow - 10 * 86'400'000LL));
  RepriceRequest r = Range();
  r.provider = "acme";
  auto out = service_->Reprice("p", r);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->repriced, 2u);  // c, d
  EXPECT_EQ(Source("e"), store::CostSource::kUnknownModel);
  r = Range();
  r.only_unknown = true;
  out = service_->Reprice("p", r);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->repriced, 1u);  // e; a is price_table, b reported
  EXPECT_EQ(out->reported, 0u);
  EXPECT_EQ(Cost("a"), 2'500'000'000);
  r = Range();
  r.model = "gpt-4o";
  out = service_->Reprice("p", r);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->repriced, 1u);
  EXPECT_EQ(Cost("a"), 2'000'000'000);
  r.model = "never-seen";
  out = service_->Reprice("p", r);
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->repriced + out->unchanged + out->still_unknown + out->reported, 0u);
  out = service_->Reprice("no-such-project", Range());
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->repriced, 0u);
}

TEST_F(RepriceTest, WalReplayAppliesTheLoggedCostsWhateverTheTableIsThen) {
  OpenWal();
  IngestEvents();
  prices_.Replace(TableWithNewModel(kNow - 10 * 86'400'000LL));
  IdempotencyIntent intent{"rk", "rh"};
  auto stored = service_->Reprice(
      "p", Range(),
      [](const RepriceOutcome& o) { return StoredResponse{200, std::to_string(o.repriced)}; },
      &intent);
  ASSERT_TRUE(stored.has_value()) << stored.error().message;
  std::map<std::string, store::Event> before;
  for (const char* id : {"a", "b", "c", "d", "e", "f"}) before[id] = *store_->GetEvent("p", id);
  // The restart runs with the old table: the record, not the table, decides.
  prices_.Replace(Table());
  Restart();
  for (const auto& [id, e] : before) EXPECT_EQ(*store_->GetEvent("p", id), e) << id;
  auto begin = idempotency_.Begin("p", "rk", "rh", kNow);
  EXPECT_EQ(begin.outcome, IdempotencyStore::Outcome::kReplay);
  EXPECT_EQ(begin.response.body, "4");
  // Replaying the events then the reprice: the counter has the original costs plus the increases.
  EXPECT_DOUBLE_EQ(Series("tally_llm_cost_usd_total", "model", "gpt-4o"), 2.5);
  EXPECT_DOUBLE_EQ(Series("tally_llm_cost_usd_total", "provider", "acme"), 0.005);
}

TEST_F(RepriceTest, CheckpointAfterRepriceHoldsTheNewCosts) {
  OpenWal();
  IngestEvents();
  prices_.Replace(TableWithNewModel(kNow - 10 * 86'400'000LL));
  ASSERT_TRUE(service_->Reprice("p", Range()).has_value());
  auto cp = service_->TakeCheckpoint([&]() -> core::Result<Checkpoint> {
    auto seg = wal_->Rotate();
    if (!seg) return core::Unexpected(seg.error());
    Checkpoint c;
    c.first_wal_segment = *seg;
    return c;
  });
  ASSERT_TRUE(cp.has_value());
  const int64_t c_cost = Cost("c");
  wal_.reset();
  Open();
  for (const std::string& rec : cp->event_records) {
    ASSERT_TRUE(service_->Replay(kWalRecordEvents, rec).has_value());
  }
  EXPECT_EQ(Cost("c"), c_cost);
  EXPECT_EQ(Source("c"), store::CostSource::kPriceTable);
}

TEST_F(EventServiceTest, RepriceRecordRoundTripsAndRejectsGarbage) {
  std::vector<store::EventCostUpdate> updates = {
      {"a", 123, store::CostSource::kPriceTable},
      {"bb", 0, store::CostSource::kUnknownModel},
      {"c", -5, store::CostSource::kReported}};
  std::string payload;
  EncodeRepriceRecord(kNow, "proj", IdempotencyRecord{"k", "h", 200, "{\"repriced\":2}"}, updates,
                      payload);
  auto rec = DecodeRepriceRecord(payload);
  ASSERT_TRUE(rec.has_value()) << rec.error().message;
  EXPECT_EQ(rec->project, "proj");
  EXPECT_EQ(rec->ingest_ms, kNow);
  ASSERT_TRUE(rec->idempotency.has_value());
  EXPECT_EQ(rec->idempotency->response, "{\"repriced\":2}");
  ASSERT_EQ(rec->updates.size(), 3u);
  for (size_t i = 0; i < updates.size(); ++i) {
    EXPECT_EQ(rec->updates[i].id, updates[i].id);
    EXPECT_EQ(rec->updates[i].cost_nano_usd, updates[i].cost_nano_usd);
    EXPECT_EQ(rec->updates[i].cost_source, updates[i].cost_source);
  }
  std::string empty;
  EncodeRepriceRecord(kNow, "proj", std::nullopt, {}, empty);
  auto e = DecodeRepriceRecord(empty);
  ASSERT_TRUE(e.has_value());
  EXPECT_FALSE(e->idempotency.has_value());
  EXPECT_TRUE(e->updates.empty());
  for (size_t n = 0; n < payload.size(); ++n) {
    EXPECT_FALSE(DecodeRepriceRecord(std::string_view(payload).substr(0, n)).has_value()) << n;
  }
  std::string bad = payload;
  bad.back() = 3;  // cost source 3 does not exist
  EXPECT_THAT(DecodeRepriceRecord(bad).error().message, HasSubstr("update"));
  bad = payload + "x";
  EXPECT_THAT(DecodeRepriceRecord(bad).error().message, HasSubstr("trailing"));
  EXPECT_FALSE(service_->Replay(kWalRecordReprice, "garbage").has_value());
  EXPECT_FALSE(service_->Replay(99, payload).has_value());
}

TEST_F(RepriceTest, ConcurrentIngestScansAndReprices) {
  OpenWal();
  IngestEvents();
  std::atomic<bool> done{false};
  std::thread ingest([&] {
    for (int i = 0; i < 200 && !done.load(); ++i) {
      Ingest("p", R"({"model":"new-model","provider":"acme","input_tokens":1000,"id":"x)" +
                      std::to_string(i) + R"("})");
    }
  });
  std::thread reader([&] {
    while (!done.load()) {
      store_->ScanBlocks("p", kNow - 86'400'000, kNow + 1, [&](const store::EventBlockView& v) {
        for (size_t i = 0; i < v.size(); ++i) {
          if (v.cost_source(i) == store::CostSource::kUnknownModel) {
            ASSERT_EQ(v.cost_nano_usd()[i], 0);
          }
        }
      });
    }
  });
  for (int round = 0; round < 10; ++round) {
    prices_.Replace(round % 2 ? Table() : TableWithNewModel(kNow - 10 * 86'400'000LL));
    ASSERT_TRUE(service_->Reprice("p", Range()).has_value());
  }
  done = true;
  ingest.join();
  reader.join();
  ASSERT_TRUE(service_->Reprice("p", Range()).has_value());
  // The last table (Table(), no new-model): every new-model event is unknown again.
  EXPECT_EQ(Source("c"), store::CostSource::kUnknownModel);
  EXPECT_EQ(Cost("c"), 0);
}

}  // namespace
}  // namespace exporter
