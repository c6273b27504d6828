#include "store/event_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace store {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kT0 = 1'736'899'200'000;  // 2025-01-15T00:00:00Z

Event MakeEvent(std::string id, int64_t ts, std::string model = "gpt-4o") {
  Event e;
  e.id = std::move(id);
  e.ts_ms = ts;
  e.str(EventField::kModel) = std::move(model);
  e.str(EventField::kProvider) = "openai";
  e.str(EventField::kEntityType) = "customer";
  e.str(EventField::kEntityId) = "acme";
  e.input_tokens = 150;
  e.output_tokens = 500;
  e.cost_nano_usd = 6'500'000;
  e.cost_source = CostSource::kReported;
  e.latency_ms = 1200.5f;
  return e;
}

// Owns the tag views of a batch of events.
struct Batch {
  std::vector<EventView> views;
  std::vector<std::vector<std::pair<std::string_view, std::string_view>>> tags;
  explicit Batch(const std::vector<Event>& events) : tags(events.size()) {
    for (size_t i = 0; i < events.size(); ++i) views.push_back(events[i].View(tags[i]));
  }
};

size_t AppendAll(EventStore& store, std::string_view project, const std::vector<Event>& events) {
  Batch b(events);
  return store.Append(project, b.views);
}

std::vector<Event> ScanAll(const EventStore& store, std::string_view project, int64_t from,
                           int64_t to) {
  std::vector<Event> out;
  store.ScanBlocks(project, from, to, [&](const EventBlockView& v) {
    for (size_t i = 0; i < v.size(); ++i) {
      if (v.ts_ms()[i] >= from && v.ts_ms()[i] < to) out.push_back(v.Row(i));
    }
  });
  return out;
}

TEST(EventStoreTest, RoundTripsEveryField) {
  EventStore store;
  Event e = MakeEvent("evt_1", kT0 + 5);
  for (size_t f = 0; f < kEventFieldCount; ++f) {
    e.strings[f] = std::string(EventFieldName(static_cast<EventField>(f))) + "-value";
  }
  e.cache_read_tokens = 7;
  e.cache_write_5m_tokens = 8;
  e.cache_write_1h_tokens = 9;
  e.cost_source = CostSource::kPriceTable;
  e.success = false;
  e.tags = {{"env", "prod"}, {"feature", "chat"}};
  EXPECT_EQ(AppendAll(store, "p1", {e}), 1u);
  auto got = store.GetEvent("p1", "evt_1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, e);
  EXPECT_EQ(got->cache_write_tokens(), 17u);
  EXPECT_FALSE(store.GetEvent("p2", "evt_1").has_value()) << "tenancy: other project";
  EXPECT_FALSE(store.GetEvent("p1", "evt_2").has_value());
}

TEST(EventStoreTest, AbsentOptionalFieldsReadAsZeroAndEmpty) {
  EventStore store;
  Event e;
  e.id = "a";
  e.ts_ms = kT0;
  e.str(EventField::kModel) = "m";
  e.latency_ms.reset();
  AppendAll(store, "p", {e});
  int blocks = 0;
  store.ScanBlocks("p", kT0, kT0 + 1, [&](const EventBlockView& v) {
    ++blocks;
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v.codes(EventField::kTraceId)[0], Dictionary::kEmpty);
    EXPECT_EQ(v.cache_read_tokens()[0], 0u);
    EXPECT_FALSE(v.has_latency(0));
    EXPECT_TRUE(v.success(0));
    EXPECT_TRUE(v.tags(0).empty());
    EXPECT_EQ(v.dict().Str(v.codes(EventField::kModel)[0]), "m");
  });
  EXPECT_EQ(blocks, 1);
  EXPECT_EQ(*store.GetEvent("p", "a"), e);
}

TEST(EventStoreTest, DedupsByIdPerProject) {
  EventStore store;
  EXPECT_EQ(AppendAll(store, "p", {MakeEvent("x", kT0), MakeEvent("y", kT0)}), 2u);
  // Repeated across batches, and within one batch.
  EXPECT_EQ(AppendAll(store, "p", {MakeEvent("x", kT0 + 1, "other"), MakeEvent("z", kT0),
                                   MakeEvent("z", kT0 + 2)}),
            1u);
  EXPECT_EQ(store.GetEvent("p", "x")->str(EventField::kModel), "gpt-4o") << "first one kept";
  EXPECT_EQ(store.GetEvent("p", "z")->ts_ms, kT0);
  // Same id in another project is another event.
  EXPECT_EQ(AppendAll(store, "q", {MakeEvent("x", kT0)}), 1u);
  EXPECT_EQ(store.Stats().events, 4u);
}

TEST(EventStoreTest, ReserveClaimsIdsUntilCommitOrAbort) {
  EventStore store;
  std::vector<Event> a = {MakeEvent("a1", kT0), MakeEvent("shared", kT0)};
  std::vector<Event> b = {MakeEvent("shared", kT0)};
  Batch ba(a), bb(b);
  auto ra = store.Reserve("p", ba.views);
  ASSERT_TRUE(ra.has_value());
  EXPECT_EQ(ra->fresh, 2u);
  auto rb = store.Reserve("p", bb.views);
  ASSERT_TRUE(rb.has_value());
  EXPECT_THAT(rb->duplicate, ElementsAre(true));
  EXPECT_FALSE(store.GetEvent("p", "a1").has_value()) << "not visible before Commit";
  store.Abort("p", ba.views, *ra);
  auto rb2 = store.Reserve("p", bb.views);
  ASSERT_TRUE(rb2.has_value());
  EXPECT_THAT(rb2->duplicate, ElementsAre(false)) << "abort released the claim";
  store.Commit("p", bb.views, *rb2);
  EXPECT_TRUE(store.GetEvent("p", "shared").has_value());
  EXPECT_FALSE(store.GetEvent("p", "a1").has_value());
}

TEST(EventStoreTest, IdsOfEveryLengthRoundTripAcrossArenaChunks) {
  // Random lengths 1..kMaxIdBytes fill several id arena chunks per block; a
  // repeat of each id (in a later batch, and inside a batch) is a duplicate.
  EventStore store;
  std::mt19937 rng(42);
  std::vector<Event> events;
  for (int i = 0; i < 20'000; ++i) {
    std::string id = std::to_string(i) + "_";
    id.resize(std::max(id.size(), size_t{1} + rng() % EventStore::kMaxIdBytes), 'x');
    events.push_back(MakeEvent(std::move(id), kT0 + i));
  }
  std::vector<Event> repeats;
  for (size_t off = 0; off < events.size(); off += 1000) {
    std::vector<Event> chunk(events.begin() + off, events.begin() + off + 1000);
    chunk.push_back(chunk.front());
    EXPECT_EQ(AppendAll(store, "p", chunk), 1000u);
    repeats.push_back(events[off / 2]);
  }
  EXPECT_EQ(AppendAll(store, "p", repeats), 0u);
  std::vector<std::string> scanned;
  store.ScanBlocks("p", kT0, kT0 + kDay, [&](const EventBlockView& v) {
    for (size_t i = 0; i < v.size(); ++i) scanned.emplace_back(v.id(i));
  });
  ASSERT_EQ(scanned.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) ASSERT_EQ(scanned[i], events[i].id) << i;
  for (size_t i = 0; i < events.size(); i += 101) {
    ASSERT_EQ(store.GetEvent("p", events[i].id), events[i]) << i;
  }
}

TEST(EventStoreTest, IdsLongerThanTheLimitAreNotStored) {
  EventStore store;
  std::vector<Event> events = {MakeEvent(std::string(EventStore::kMaxIdBytes + 1, 'a'), kT0),
                               MakeEvent(std::string(EventStore::kMaxIdBytes, 'a'), kT0)};
  Batch b(events);
  std::vector<bool> dup;
  EXPECT_EQ(store.Append("p", b.views, &dup), 1u);
  EXPECT_THAT(dup, ElementsAre(true, false));
  auto r = store.Reserve("p", b.views);
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(r->duplicate, ElementsAre(true, true));
  store.Commit("p", b.views, *r);
  EXPECT_EQ(store.Stats().events, 1u);
}

TEST(EventStoreTest, DroppedBlocksFreeTheirIdsAndSlotsForNewBlocks) {
  EventStore store;
  // 20 days x 300 events (blocks of 64, 128, 256 rows per day).
  auto day_events = [](int d) {
    std::vector<Event> out;
    for (int i = 0; i < 300; ++i) {
      out.push_back(MakeEvent("d" + std::to_string(d) + "_" + std::to_string(i),
                              kT0 + d * kDay + i));
    }
    return out;
  };
  for (int d = 0; d < 20; ++d) AppendAll(store, "p", day_events(d));
  const EventStoreStats full = store.Stats();
  EXPECT_EQ(store.DropBefore(kT0 + 10 * kDay), 3000u);
  const EventStoreStats half = store.Stats();
  EXPECT_EQ(half.events, 3000u);
  EXPECT_LT(half.id_bytes, full.id_bytes);
  EXPECT_LT(half.column_bytes, full.column_bytes);
  // New days reuse the freed block slots; every id resolves to its own row.
  for (int d = 20; d < 30; ++d) AppendAll(store, "p", day_events(d));
  for (int d = 0; d < 30; ++d) {
    for (int i = 0; i < 300; i += 37) {
      const std::string id = "d" + std::to_string(d) + "_" + std::to_string(i);
      auto got = store.GetEvent("p", id);
      if (d < 10) {
        EXPECT_FALSE(got.has_value()) << id;
      } else {
        ASSERT_TRUE(got.has_value()) << id;
        EXPECT_EQ(got->ts_ms, kT0 + d * kDay + i) << id;
      }
    }
  }
  // Dropped ids are forgotten: the same id is stored again.
  EXPECT_EQ(AppendAll(store, "p", {MakeEvent("d0_0", kT0 + 25 * kDay)}), 1u);
  EXPECT_EQ(AppendAll(store, "p", {MakeEvent("d15_0", kT0 + 25 * kDay)}), 0u);
}

TEST(EventStoreTest, MemoryCeilingRefusesReserve) {
  EventStore store(EventStoreOptions{.max_memory_bytes = 1});
  AppendAll(store, "p", {MakeEvent("a", kT0)});  // Append ignores the ceiling
  std::vector<Event> b = {MakeEvent("b", kT0)};
  Batch bb(b);
  auto r = store.Reserve("p", bb.views);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, core::ErrorCode::kUnavailable);
}

TEST(EventStoreTest, ScanLimitsBlocksToRangeAndCalleeFiltersRows) {
  EventStore store;
  std::vector<Event> events;
  for (int d = 0; d < 5; ++d) {
    for (int i = 0; i < 10; ++i) {
      events.push_back(MakeEvent("d" + std::to_string(d) + "_" + std::to_string(i),
                                 kT0 + d * kDay + i * 1000));
    }
  }
  AppendAll(store, "p", events);
  EXPECT_EQ(ScanAll(store, "p", kT0, kT0 + 5 * kDay).size(), 50u);
  EXPECT_EQ(ScanAll(store, "p", kT0 + kDay, kT0 + 3 * kDay).size(), 20u);
  EXPECT_EQ(ScanAll(store, "p", kT0 + 2 * kDay + 3000, kT0 + 2 * kDay + 6000).size(), 3u);
  // Blocks are per day: a one-day scan sees only that day's block.
  int blocks = 0;
  store.ScanBlocks("p", kT0 + kDay, kT0 + 2 * kDay, [&](const EventBlockView& v) {
    ++blocks;
    EXPECT_GE(v.min_ts_ms(), kT0 + kDay);
    EXPECT_LT(v.max_ts_ms(), kT0 + 2 * kDay);
  });
  EXPECT_EQ(blocks, 1);
  EXPECT_TRUE(ScanAll(store, "p", kT0 + 10 * kDay, kT0 + 11 * kDay).empty());
  EXPECT_TRUE(ScanAll(store, "nope", 0, kT0 * 2).empty());
  EXPECT_TRUE(ScanAll(store, "p", kT0 + kDay, kT0 + kDay).empty()) << "empty range";
}

TEST(EventStoreTest, NegativeTimestampsLandInTheirDay) {
  EventStore store;
  AppendAll(store, "p", {MakeEvent("neg", -1), MakeEvent("zero", 0)});
  EXPECT_EQ(ScanAll(store, "p", -kDay, 0).size(), 1u);
  EXPECT_EQ(ScanAll(store, "p", 0, kDay).size(), 1u);
  EXPECT_EQ(store.DropBefore(0), 1u);
  EXPECT_FALSE(store.GetEvent("p", "neg").has_value());
}

TEST(EventStoreTest, FiltersCompareCodesAndTagsAreSorted) {
  EventStore store;
  Event a = MakeEvent("a", kT0, "gpt-4o");
  a.tags = {{"env", "prod"}, {"team", "x"}};
  Event b = MakeEvent("b", kT0, "claude");
  b.tags = {{"env", "dev"}};
  Event c = MakeEvent("c", kT0, "gpt-4o");
  AppendAll(store, "p", {a, b, c});
  const Dictionary* dict = store.dict("p");
  ASSERT_NE(dict, nullptr);
  const auto model = dict->Find("gpt-4o");
  const auto env = dict->Find("env");
  const auto prod = dict->Find("prod");
  ASSERT_TRUE(model && env && prod);
  EXPECT_FALSE(dict->Find("never-seen").has_value());
  EXPECT_EQ(dict->Find(""), Dictionary::kEmpty);
  std::vector<std::string> gpt, prod_ids;
  store.ScanBlocks("p", kT0, kT0 + 1, [&](const EventBlockView& v) {
    auto models = v.codes(EventField::kModel);
    for (size_t i = 0; i < v.size(); ++i) {
      if (models[i] == *model) gpt.emplace_back(v.id(i));
      if (v.tag_value(i, *env) == *prod) prod_ids.emplace_back(v.id(i));
    }
  });
  EXPECT_THAT(gpt, ElementsAre("a", "c"));
  EXPECT_THAT(prod_ids, ElementsAre("a"));
  EXPECT_THAT(store.GetEvent("p", "a")->tags, ElementsAre(Pair("env", "prod"), Pair("team", "x")));
}

TEST(EventStoreTest, ManyEventsFillSeveralGrowingBlocks) {
  EventStore store;
  std::vector<Event> events;
  const int n = 30'000;
  for (int i = 0; i < n; ++i) {
    Event e = MakeEvent("e" + std::to_string(i), kT0 + i);
    if (i % 7 == 0) e.tags = {{"k", std::to_string(i % 5)}};
    if (i % 11 == 0) e.str(EventField::kSessionId) = "s" + std::to_string(i % 3);
    events.push_back(std::move(e));
  }
  for (size_t off = 0; off < events.size(); off += 1000) {
    std::vector<Event> chunk(events.begin() + off, events.begin() + off + 1000);
    AppendAll(store, "p", chunk);
  }
  EventStoreStats s = store.Stats();
  EXPECT_EQ(s.events, static_cast<uint64_t>(n));
  EXPECT_GT(s.blocks, 4u);
  auto all = ScanAll(store, "p", kT0, kT0 + n);
  ASSERT_EQ(all.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; i += 997) EXPECT_EQ(all[i], events[i]) << i;
  for (int i = 0; i < n; i += 1009) EXPECT_EQ(*store.GetEvent("p", events[i].id), events[i]);
}

TEST(EventStoreTest, DropBeforeRemovesWholeDaysAndForgetsTheirIds) {
  EventStore store;
  AppendAll(store, "p", {MakeEvent("old", kT0 + 10), MakeEvent("mid", kT0 + kDay + 10),
                         MakeEvent("new", kT0 + 2 * kDay)});
  AppendAll(store, "q", {MakeEvent("old", kT0 + 10)});
  const int64_t before = store.Stats().bytes();
  // A cutoff inside day 1 drops only day 0 (whole partitions).
  EXPECT_EQ(store.DropBefore(kT0 + kDay + 50), 2u);
  EXPECT_FALSE(store.GetEvent("p", "old").has_value());
  EXPECT_TRUE(store.GetEvent("p", "mid").has_value());
  EXPECT_EQ(store.Stats().events, 2u);
  EXPECT_LT(store.Stats().bytes(), before);
  // The id is forgotten: the same id is a new event now.
  EXPECT_EQ(AppendAll(store, "p", {MakeEvent("old", kT0 + 3 * kDay)}), 1u);
}

TEST(EventStoreTest, ViewsOutliveDroppedBlocks) {
  EventStore store;
  AppendAll(store, "p", {MakeEvent("a", kT0)});
  std::vector<EventBlockView> kept;
  store.ScanBlocks("p", kT0, kT0 + 1, [&](const EventBlockView& v) { kept.push_back(v); });
  store.DropBefore(kT0 + kDay);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].id(0), "a");
  EXPECT_EQ(kept[0].Row(0).str(EventField::kModel), "gpt-4o");
}

TEST(EventStoreTest, ConcurrentIngestAndScansSeeConsistentRows) {
  EventStore store;
  constexpr int kWriters = 2;
  constexpr int kPerWriter = 20'000;
  std::atomic<bool> done{false};
  std::atomic<uint64_t> scans{0};
  std::thread reader([&] {
    uint64_t last = 0;
    while (!done.load()) {
      uint64_t n = 0;
      store.ScanBlocks("p", kT0, kT0 + kDay, [&](const EventBlockView& v) {
        for (size_t i = 0; i < v.size(); ++i) {
          // Every committed row is complete.
          ASSERT_EQ(v.input_tokens()[i], 150u);
          ASSERT_EQ(v.dict().Str(v.codes(EventField::kModel)[i]).substr(0, 1), "m");
          ++n;
        }
      });
      ASSERT_GE(n, last) << "rows never disappear";
      last = n;
      ++scans;
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; i += 100) {
        std::vector<Event> batch;
        for (int j = i; j < i + 100; ++j) {
          batch.push_back(MakeEvent("w" + std::to_string(w) + "_" + std::to_string(j),
                                    kT0 + j, "m" + std::to_string(j % 50)));
        }
        AppendAll(store, "p", batch);
      }
    });
  }
  for (auto& t : writers) t.join();
  done = true;
  reader.join();
  EXPECT_GT(scans.load(), 0u);
  EXPECT_EQ(ScanAll(store, "p", kT0, kT0 + kDay).size(), size_t{kWriters * kPerWriter});
}

// Measures memory per event for a typical event (model, provider, entity,
// tokens, cost, latency, one tag in three) and prints it for bench/RESULTS.md.
TEST(EventStoreTest, MemoryPerEventIsBounded) {
  EventStore store;
  const int n = 200'000;
  std::vector<Event> batch;
  for (int i = 0; i < n; ++i) {
    Event e = MakeEvent("evt_" + std::to_string(1'000'000'000 + i), kT0 + i * 100,
                        "model-" + std::to_string(i % 20));
    e.str(EventField::kEntityId) = "cust-" + std::to_string(i % 1000);
    if (i % 3 == 0) e.tags = {{"feature", "chat"}};
    batch.push_back(std::move(e));
    if (batch.size() == 1000) {
      AppendAll(store, "p", batch);
      batch.clear();
    }
  }
  const EventStoreStats s = store.Stats();
  ASSERT_EQ(s.events, static_cast<uint64_t>(n));
  const double cols = static_cast<double>(s.column_bytes) / n;
  const double ids = static_cast<double>(s.id_bytes) / n;
  std::printf("event store: %.1f column bytes/event, %.1f id bytes/event, %.1f dictionary bytes/event\n",
              cols, ids, static_cast<double>(s.dictionary_bytes) / n);
  EXPECT_LE(cols, 64.0);
  // 14-character ids: 4 (offset) + 15 (length and bytes) + the id index (8
  // bytes per slot, 3/8..3/4 full: 10.7..21.3 bytes per id; 200k ids are just
  // past a doubling, the worst case) + the unused end of the last arena chunk.
  EXPECT_LE(ids, 44.0);
}

// ---------------------------------------------------------------- UpdateCosts (reprice)

std::vector<EventCostUpdate> Updates(
    const std::vector<std::tuple<std::string_view, int64_t, CostSource>>& items) {
  std::vector<EventCostUpdate> out;
  for (const auto& [id, cost, source] : items) out.push_back({id, cost, source});
  return out;
}

TEST(EventStoreTest, UpdateCostsChangesCostAndSourceAndReportsTheOldOnes) {
  EventStore store;
  Event a = MakeEvent("a", kT0);
  Event b = MakeEvent("b", kT0 + 1, "new-model");
  b.cost_nano_usd = 0;
  b.cost_source = CostSource::kUnknownModel;
  b.tags = {{"env", "prod"}};
  Event c = MakeEvent("c", kT0 + kDay);
  c.cost_source = CostSource::kPriceTable;
  AppendAll(store, "p", {a, b, c});
  auto updates = Updates({{"b", 1'234'567, CostSource::kPriceTable},
                          {"missing", 5, CostSource::kPriceTable},
                          {"c", c.cost_nano_usd, CostSource::kPriceTable},  // unchanged
                          {"c", 0, CostSource::kUnknownModel}});
  std::vector<EventCostChange> changes = store.UpdateCosts("p", updates);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].update, 0u);
  EXPECT_EQ(changes[0].old_cost_nano_usd, 0);
  EXPECT_EQ(changes[0].old_cost_source, CostSource::kUnknownModel);
  EXPECT_EQ(changes[0].event.id, "b");
  EXPECT_EQ(changes[0].event.ts_ms, kT0 + 1);
  EXPECT_EQ(changes[0].event.str(EventField::kModel), "new-model");
  EXPECT_EQ(changes[0].event.str(EventField::kEntityId), "acme");
  EXPECT_EQ(changes[0].event.input_tokens, 150u);
  EXPECT_EQ(changes[0].event.cost_nano_usd, 1'234'567);
  EXPECT_EQ(changes[0].event.cost_source, CostSource::kPriceTable);
  EXPECT_EQ(changes[1].update, 3u);
  EXPECT_EQ(changes[1].old_cost_nano_usd, c.cost_nano_usd);
  EXPECT_EQ(changes[1].old_cost_source, CostSource::kPriceTable);

  Event want_b = b;
  want_b.cost_nano_usd = 1'234'567;
  want_b.cost_source = CostSource::kPriceTable;
  Event want_c = c;
  want_c.cost_nano_usd = 0;
  want_c.cost_source = CostSource::kUnknownModel;
  EXPECT_EQ(store.GetEvent("p", "a"), a);
  EXPECT_EQ(store.GetEvent("p", "b"), want_b);
  EXPECT_EQ(store.GetEvent("p", "c"), want_c);
  EXPECT_EQ(ScanAll(store, "p", kT0, kT0 + 2 * kDay), (std::vector<Event>{a, want_b, want_c}));
  // Another project, or nothing to change: no-ops.
  EXPECT_TRUE(store.UpdateCosts("other", updates).empty());
  EXPECT_TRUE(store.UpdateCosts("p", std::span(updates).first(2)).empty());
}

TEST(EventStoreTest, UpdateCostsTwiceInOneCallKeepsTheLast) {
  EventStore store;
  AppendAll(store, "p", {MakeEvent("a", kT0)});
  auto changes = store.UpdateCosts("p", Updates({{"a", 7, CostSource::kPriceTable},
                                                 {"a", 9, CostSource::kPriceTable}}));
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[1].old_cost_nano_usd, 7);
  EXPECT_EQ(store.GetEvent("p", "a")->cost_nano_usd, 9);
}

TEST(EventStoreTest, UpdateCostsIsCopyOnWriteForOlderViews) {
  EventStore store;
  std::vector<Event> events;
  for (int i = 0; i < 100; ++i) events.push_back(MakeEvent("e" + std::to_string(i), kT0 + i));
  AppendAll(store, "p", events);
  std::vector<EventBlockView> before;
  store.ScanBlocks("p", kT0, kT0 + kDay, [&](const EventBlockView& v) { before.push_back(v); });
  const int64_t bytes_before = store.Stats().column_bytes;
  auto changes = store.UpdateCosts("p", Updates({{"e5", 42, CostSource::kPriceTable},
                                                 {"e99", 43, CostSource::kPriceTable}}));
  ASSERT_EQ(changes.size(), 2u);
  // The old views still read the old values; new scans read the new ones.
  int64_t old_total = 0;
  for (const auto& v : before) {
    for (size_t i = 0; i < v.size(); ++i) {
      old_total += v.cost_nano_usd()[i];
      EXPECT_EQ(v.cost_source(i), CostSource::kReported);
    }
  }
  EXPECT_EQ(old_total, 100 * 6'500'000);
  int64_t new_total = 0;
  store.ScanBlocks("p", kT0, kT0 + kDay, [&](const EventBlockView& v) {
    for (size_t i = 0; i < v.size(); ++i) new_total += v.cost_nano_usd()[i];
  });
  EXPECT_EQ(new_total, 98 * 6'500'000 + 42 + 43);
  // The copies are counted (the old arrays stay until the block is dropped).
  EXPECT_GT(store.Stats().column_bytes, bytes_before);
  // Rows appended after the swap land in the new arrays.
  AppendAll(store, "p", {MakeEvent("late", kT0 + 500)});
  EXPECT_EQ(store.GetEvent("p", "late")->cost_nano_usd, 6'500'000);
  EXPECT_EQ(store.GetEvent("p", "e5")->cost_nano_usd, 42);
  EXPECT_EQ(store.DropBefore(kT0 + kDay), 101u);
  EXPECT_EQ(store.Stats().column_bytes, 0);
}

// Scans, ingest and repricing at once: every row a scan sees has a consistent
// (cost, cost_source) pair: one of the two states the repricer toggles between.
TEST(EventStoreTest, ConcurrentScansSeeWholeCostUpdates) {
  EventStore store;
  constexpr int kEvents = 4'000;
  std::vector<Event> events;
  for (int i = 0; i < kEvents; ++i) {
    Event e = MakeEvent("r" + std::to_string(i), kT0 + i);
    e.cost_nano_usd = 0;
    e.cost_source = CostSource::kUnknownModel;
    events.push_back(std::move(e));
  }
  AppendAll(store, "p", events);
  std::atomic<bool> done{false};
  std::atomic<uint64_t> priced_seen{0};
  std::thread reader([&] {
    while (!done.load()) {
      store.ScanBlocks("p", kT0, kT0 + kDay, [&](const EventBlockView& v) {
        for (size_t i = 0; i < v.size(); ++i) {
          const std::string_view id = v.id(i);
          if (id[0] != 'r') continue;  // the writer's rows
          const int64_t priced = 1000 + std::stoll(std::string(id.substr(1)));
          if (v.cost_source(i) == CostSource::kPriceTable) {
            ASSERT_EQ(v.cost_nano_usd()[i], priced) << id;
            ++priced_seen;
          } else {
            ASSERT_EQ(v.cost_source(i), CostSource::kUnknownModel) << id;
            ASSERT_EQ(v.cost_nano_usd()[i], 0) << id;
          }
        }
      });
    }
  });
  std::thread writer([&] {
    for (int i = 0; i < 3'000; i += 10) {
      std::vector<Event> batch;
      for (int j = i; j < i + 10; ++j) batch.push_back(MakeEvent("w" + std::to_string(j), kT0 + j));
      AppendAll(store, "p", batch);
    }
  });
  std::vector<std::string> ids;
  for (int i = 0; i < kEvents; ++i) ids.push_back("r" + std::to_string(i));
  for (int round = 0; round < 20; ++round) {
    std::vector<EventCostUpdate> updates;
    for (int i = round % 2; i < kEvents; i += 2) {
      const bool price = (round / 2) % 2 == 0;
      updates.push_back({ids[i], price ? 1000 + i : 0,
                         price ? CostSource::kPriceTable : CostSource::kUnknownModel});
    }
    store.UpdateCosts("p", updates);
  }
  writer.join();
  done = true;
  reader.join();
  // 20 rounds: each half of the rows was priced, unpriced, ... and ends unpriced.
  EXPECT_EQ(store.GetEvent("p", "r0")->cost_source, CostSource::kUnknownModel);
  EXPECT_EQ(ScanAll(store, "p", kT0, kT0 + kDay).size(), size_t{kEvents + 3'000});
}

}  // namespace
}  // namespace store
