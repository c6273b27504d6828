#include "store/series_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace store {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

constexpr int64_t kNow = 1'736'937'000'000;  // 2025-01-15T10:30:00Z

SeriesStoreOptions SmallBlocks(size_t block_capacity) {
  SeriesStoreOptions o;
  o.block_capacity = block_capacity;
  return o;
}

// Appends one point. `labels` must be sorted by name.
core::Result<std::vector<AppendOutcome>> AppendOne(SeriesStore& store, std::string_view project,
                                                   std::string_view name, MetricType type,
                                                   std::vector<LabelView> labels, int64_t ts,
                                                   double value, int64_t now_ms = kNow) {
  const PointView p{name, type, labels, ts, value};
  return store.Append(project, std::span<const PointView>(&p, 1), now_ms);
}

// Appends one point and asserts it was stored.
void MustAppend(SeriesStore& store, std::string_view project, std::string_view name,
                MetricType type, std::vector<LabelView> labels, int64_t ts, double value,
                int64_t now_ms = kNow) {
  auto r = AppendOne(store, project, name, type, std::move(labels), ts, value, now_ms);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_THAT(*r, SizeIs(1));
  ASSERT_FALSE((*r)[0].has_value()) << (*r)[0]->message;
}

// The only series of `name` in `project` (fails the test if there is not exactly one).
SeriesSnapshot OnlySeries(const SeriesStore& store, std::string_view project,
                          std::string_view name) {
  std::vector<SeriesSnapshot> found;
  for (SeriesSnapshot& s : store.Snapshot()) {
    if (s.project == project && s.name == name) found.push_back(std::move(s));
  }
  EXPECT_THAT(found, SizeIs(1)) << project << "/" << name;
  return found.empty() ? SeriesSnapshot{} : found.front();
}

std::vector<SeriesId> SelectEq(const SeriesStore& store, std::string_view project,
                               std::vector<EqualMatcher> matchers) {
  return store.Select(project, matchers);
}

std::vector<int64_t> Timestamps(const std::vector<Sample>& samples) {
  std::vector<int64_t> out;
  for (const Sample& s : samples) out.push_back(s.ts_ms);
  return out;
}

TEST(SeriesStoreTest, CreatesOneSeriesPerLabelSet) {
  SeriesStore store({});
  MustAppend(store, "p1", "cpu", MetricType::kGauge, {{"host", "a"}}, 1000, 1);
  MustAppend(store, "p1", "cpu", MetricType::kGauge, {{"host", "b"}}, 1000, 2);
  MustAppend(store, "p1", "cpu", MetricType::kGauge, {{"host", "a"}}, 2000, 3);
  MustAppend(store, "p1", "cpu", MetricType::kGauge, {}, 2000, 4);
  MustAppend(store, "p1", "cpu", MetricType::kGauge, {{"host", "a"}, {"zone", "eu"}}, 2000, 5);

  const StoreStats stats = store.Stats();
  EXPECT_EQ(stats.series, 4u);
  EXPECT_EQ(stats.samples, 5u);
  EXPECT_EQ(stats.metrics, 1u);
  EXPECT_GT(stats.memory_bytes, 0);

  std::map<std::string, SeriesSnapshot> by_host;
  for (const SeriesSnapshot& s : store.Snapshot()) {
    EXPECT_EQ(s.project, "p1");
    EXPECT_EQ(s.name, "cpu");
    EXPECT_EQ(s.type, MetricType::kGauge);
    std::string key;
    for (const core::Label& l : s.labels.items()) key += l.name + "=" + l.value + ",";
    by_host[key] = s;
  }
  ASSERT_THAT(by_host, SizeIs(4));
  EXPECT_EQ(by_host["host=a,"].last_value, 3);
  EXPECT_EQ(by_host["host=b,"].last_value, 2);
  EXPECT_EQ(by_host[""].last_value, 4);
  EXPECT_EQ(by_host["host=a,zone=eu,"].last_value, 5);
}

// Many series of one metric: the label-hash index grows (rehashes) many times
// and must still find every series (appending again adds samples, no series).
TEST(SeriesStoreTest, FindsEverySeriesAfterTheIndexGrows) {
  SeriesStore store({.max_series_per_metric = 100'000});
  constexpr int kSeries = 20'000;
  std::vector<std::string> values;
  for (int i = 0; i < kSeries; ++i) values.push_back("v" + std::to_string(i));
  for (int round = 0; round < 2; ++round) {
    std::vector<store::PointView> points;
    std::vector<std::array<store::LabelView, 1>> labels(kSeries);
    for (int i = 0; i < kSeries; ++i) {
      labels[i][0] = store::LabelView{"id", values[i]};
      points.push_back({"m", MetricType::kGauge, labels[i], 1000 + round * 1000, double(i)});
    }
    auto r = store.Append("p", points, 1000);
    ASSERT_TRUE(r.has_value());
    for (const auto& o : *r) ASSERT_FALSE(o.has_value()) << o->message;
  }
  EXPECT_EQ(store.Stats().series, static_cast<uint64_t>(kSeries));
  EXPECT_EQ(store.Stats().samples, static_cast<uint64_t>(2 * kSeries));
}

TEST(SeriesStoreTest, ProjectsAreSeparate) {
  SeriesStore store({});
  MustAppend(store, "p1", "cpu", MetricType::kGauge, {{"host", "a"}}, 1000, 1);
  MustAppend(store, "p2", "cpu", MetricType::kGauge, {{"host", "a"}}, 1000, 2);
  EXPECT_EQ(store.Stats().series, 2u);
  EXPECT_EQ(store.Stats().metrics, 2u);
  EXPECT_EQ(OnlySeries(store, "p1", "cpu").last_value, 1);
  EXPECT_EQ(OnlySeries(store, "p2", "cpu").last_value, 2);
  // A project name that is a prefix of another's name+metric does not collide.
  MustAppend(store, "p1c", "pu", MetricType::kCounter, {}, 1000, 1);
  EXPECT_EQ(store.TypeOf("p1", "cpu"), MetricType::kGauge);
  EXPECT_EQ(store.TypeOf("p1c", "pu"), MetricType::kCounter);
  EXPECT_EQ(store.TypeOf("p3", "cpu"), std::nullopt);
}

TEST(SeriesStoreTest, SeriesIdsAreUniqueAndReadable) {
  SeriesStore store({});
  for (int i = 0; i < 50; ++i) {
    const std::string name = "m" + std::to_string(i);
    MustAppend(store, "p", name, MetricType::kGauge, {}, 1000 + i, i);
  }
  std::vector<SeriesId> ids;
  for (const SeriesSnapshot& s : store.Snapshot()) {
    ids.push_back(s.id);
    const auto samples = store.ReadSamples(s.id, 0, kNow);
    ASSERT_THAT(samples, SizeIs(1)) << s.name;
    EXPECT_EQ(samples[0].value, std::stoi(s.name.substr(1)));
  }
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end());
  EXPECT_THAT(ids, SizeIs(50));
}

TEST(SeriesStoreTest, KeepsDuplicateTimestamps) {
  SeriesStore store({});
  MustAppend(store, "p", "latency", MetricType::kDistribution, {}, 1000, 5);
  MustAppend(store, "p", "latency", MetricType::kDistribution, {}, 1000, 7);
  MustAppend(store, "p", "latency", MetricType::kDistribution, {}, 1000, 5);
  const SeriesSnapshot s = OnlySeries(store, "p", "latency");
  EXPECT_THAT(store.ReadSamples(s.id, 0, 2000),
              ElementsAre(Sample{1000, 5}, Sample{1000, 7}, Sample{1000, 5}));
  EXPECT_EQ(s.observations, 3u);
  EXPECT_EQ(store.Stats().samples, 3u);
}

TEST(SeriesStoreTest, OutOfOrderInsertsKeepTimeOrder) {
  SeriesStore store({});
  for (int64_t ts : {50, 10, 30, 20, 40, 10, 60, 0}) {
    MustAppend(store, "p", "g", MetricType::kGauge, {}, ts, static_cast<double>(ts));
  }
  const SeriesSnapshot s = OnlySeries(store, "p", "g");
  EXPECT_THAT(Timestamps(store.ReadSamples(s.id, 0, 100)),
              ElementsAre(0, 10, 10, 20, 30, 40, 50, 60));
}

TEST(SeriesStoreTest, OutOfOrderInsertsAcrossBlocksKeepTimeOrder) {
  SeriesStore store(SmallBlocks(4));
  // Even timestamps in order fill five blocks; odd ones then land inside them,
  // and -1 before the first block.
  for (int64_t ts = 0; ts < 40; ts += 2) {
    MustAppend(store, "p", "g", MetricType::kGauge, {}, ts, static_cast<double>(ts));
  }
  for (int64_t ts = 39; ts >= -1; ts -= 2) {
    MustAppend(store, "p", "g", MetricType::kGauge, {}, ts, static_cast<double>(ts));
  }
  const SeriesSnapshot s = OnlySeries(store, "p", "g");
  std::vector<int64_t> want;
  for (int64_t ts = -1; ts < 40; ++ts) want.push_back(ts);
  const auto samples = store.ReadSamples(s.id, -100, 100);
  EXPECT_THAT(Timestamps(samples), ElementsAreArray(want));
  for (const Sample& x : samples) EXPECT_EQ(x.value, static_cast<double>(x.ts_ms));
  // Sub-ranges straddling block boundaries.
  EXPECT_THAT(Timestamps(store.ReadSamples(s.id, 7, 12)), ElementsAre(7, 8, 9, 10, 11, 12));
  EXPECT_THAT(Timestamps(store.ReadSamples(s.id, -1, -1)), ElementsAre(-1));
  EXPECT_EQ(s.last_ts_ms, 39);
  EXPECT_EQ(s.last_value, 39);
}

TEST(SeriesStoreTest, RandomOrderMatchesSortedInput) {
  SeriesStore store(SmallBlocks(8));
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int64_t> ts_dist(0, 300);
  std::vector<Sample> input;
  std::vector<PointView> batch;
  for (int i = 0; i < 1000; ++i) input.push_back({ts_dist(rng), static_cast<double>(i)});
  // Mix single appends and batches.
  for (size_t i = 0; i < input.size(); ++i) {
    if (i % 3 == 0) {
      MustAppend(store, "p", "d", MetricType::kDistribution, {}, input[i].ts_ms, input[i].value);
    } else {
      batch.push_back({"d", MetricType::kDistribution, {}, input[i].ts_ms, input[i].value});
    }
  }
  auto r = store.Append("p", batch, kNow);
  ASSERT_TRUE(r.has_value());
  const SeriesSnapshot s = OnlySeries(store, "p", "d");
  auto got = store.ReadSamples(s.id, 0, 300);
  ASSERT_THAT(got, SizeIs(input.size()));
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end(),
                             [](const Sample& a, const Sample& b) { return a.ts_ms < b.ts_ms; }));
  auto key = [](const Sample& a, const Sample& b) {
    return std::pair(a.ts_ms, a.value) < std::pair(b.ts_ms, b.value);
  };
  std::sort(got.begin(), got.end(), key);
  std::sort(input.begin(), input.end(), key);
  EXPECT_EQ(got, input);
  // Every range read equals filtering the full read.
  for (int64_t from = 0; from <= 300; from += 37) {
    for (int64_t to = from; to <= 300; to += 53) {
      const auto part = store.ReadSamples(s.id, from, to);
      const auto n = std::count_if(input.begin(), input.end(), [&](const Sample& x) {
        return x.ts_ms >= from && x.ts_ms <= to;
      });
      ASSERT_EQ(part.size(), static_cast<size_t>(n)) << from << ".." << to;
    }
  }
}

TEST(SeriesStoreTest, TypeMismatchIsReportedPerPoint) {
  SeriesStore store({});
  MustAppend(store, "p", "requests", MetricType::kCounter, {}, 1000, 1);
  const std::vector<PointView> batch = {
      {"requests", MetricType::kCounter, {}, 2000, 2},
      {"requests", MetricType::kGauge, {}, 2000, 5},
      {"requests", MetricType::kCounter, {}, 3000, 3},
  };
  auto r = store.Append("p", batch, kNow);
  ASSERT_TRUE(r.has_value());
  ASSERT_THAT(*r, SizeIs(3));
  EXPECT_FALSE((*r)[0].has_value());
  ASSERT_TRUE((*r)[1].has_value());
  EXPECT_EQ((*r)[1]->code, core::ErrorCode::kTypeMismatch);
  EXPECT_EQ((*r)[1]->param, "type");
  EXPECT_THAT((*r)[1]->message, HasSubstr("requests"));
  EXPECT_THAT((*r)[1]->message, HasSubstr("counter"));
  EXPECT_THAT((*r)[1]->message, HasSubstr("gauge"));
  EXPECT_FALSE((*r)[2].has_value());

  EXPECT_EQ(store.TypeOf("p", "requests"), MetricType::kCounter);
  EXPECT_EQ(store.Stats().samples, 3u);
  EXPECT_EQ(store.Stats().series, 1u);
  EXPECT_EQ(OnlySeries(store, "p", "requests").counter_total, 6);
  // With different labels the metric still keeps its first type.
  auto r2 = AppendOne(store, "p", "requests", MetricType::kTiming, {{"host", "x"}}, 1000, 1);
  ASSERT_TRUE(r2.has_value());
  ASSERT_TRUE((*r2)[0].has_value());
  EXPECT_EQ((*r2)[0]->code, core::ErrorCode::kTypeMismatch);
  EXPECT_EQ(store.Stats().series, 1u);
  // Another project may use the name with another type.
  MustAppend(store, "other", "requests", MetricType::kGauge, {}, 1000, 1);
  EXPECT_EQ(store.TypeOf("other", "requests"), MetricType::kGauge);
}

TEST(SeriesStoreTest, FirstPointOfANewMetricFixesItsTypeWithinABatch) {
  SeriesStore store({});
  const std::vector<PointView> batch = {
      {"new_metric", MetricType::kGauge, {}, 1000, 1},
      {"new_metric", MetricType::kCounter, {}, 1000, 1},
  };
  auto r = store.Append("p", batch, kNow);
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE((*r)[0].has_value());
  ASSERT_TRUE((*r)[1].has_value());
  EXPECT_EQ((*r)[1]->code, core::ErrorCode::kTypeMismatch);
  EXPECT_EQ(store.TypeOf("p", "new_metric"), MetricType::kGauge);
}

TEST(SeriesStoreTest, CardinalityCapPerMetricAndProject) {
  SeriesStoreOptions options;
  options.max_series_per_metric = 3;
  SeriesStore store(options);
  const std::string hosts[] = {"a", "b", "c", "d", "e"};
  std::vector<PointView> batch;
  std::vector<std::vector<LabelView>> labels(5);
  for (int i = 0; i < 5; ++i) {
    labels[i] = {{"host", hosts[i]}};
    batch.push_back({"cpu", MetricType::kGauge, labels[i], 1000, static_cast<double>(i)});
  }
  auto r = store.Append("p1", batch, kNow);
  ASSERT_TRUE(r.has_value());
  ASSERT_THAT(*r, SizeIs(5));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE((*r)[i].has_value()) << i;
  for (int i = 3; i < 5; ++i) {
    ASSERT_TRUE((*r)[i].has_value()) << i;
    EXPECT_EQ((*r)[i]->code, core::ErrorCode::kCardinalityLimit);
    EXPECT_EQ((*r)[i]->param, "tags");
    EXPECT_THAT((*r)[i]->message, HasSubstr("cpu"));
  }
  EXPECT_EQ(store.Stats().series, 3u);
  EXPECT_EQ(store.Stats().samples, 3u);

  // Existing series still take points; a new combination does not.
  MustAppend(store, "p1", "cpu", MetricType::kGauge, {{"host", "a"}}, 2000, 10);
  auto more = AppendOne(store, "p1", "cpu", MetricType::kGauge, {{"host", "z"}}, 2000, 1);
  ASSERT_TRUE(more.has_value());
  ASSERT_TRUE((*more)[0].has_value());
  EXPECT_EQ((*more)[0]->code, core::ErrorCode::kCardinalityLimit);
  // The cap is per metric: another metric of the project has its own.
  for (std::string_view h : {"a", "b", "c"}) {
    MustAppend(store, "p1", "mem", MetricType::kGauge, {{"host", h}}, 1000, 1);
  }
  // And per project: p2's cpu starts from zero.
  auto r2 = store.Append("p2", batch, kNow);
  ASSERT_TRUE(r2.has_value());
  for (int i = 0; i < 3; ++i) EXPECT_FALSE((*r2)[i].has_value()) << i;
  EXPECT_TRUE((*r2)[3].has_value());
  EXPECT_EQ(store.Stats().series, 9u);
  EXPECT_THAT(SelectEq(store, "p1", {{"__name__", "cpu"}}), SizeIs(3));
  EXPECT_THAT(SelectEq(store, "p2", {{"__name__", "cpu"}}), SizeIs(3));
}

TEST(SeriesStoreTest, MemoryCeilingRejectsWholeBatch) {
  SeriesStoreOptions options;
  options.max_memory_bytes = 0;
  SeriesStore store(options);
  const std::vector<PointView> batch = {{"cpu", MetricType::kGauge, {}, 1000, 1},
                                        {"mem", MetricType::kGauge, {}, 1000, 1}};
  auto r = store.Append("p", batch, kNow);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, core::ErrorCode::kUnavailable);
  EXPECT_THAT(r.error().message, HasSubstr("max_memory"));
  const StoreStats stats = store.Stats();
  EXPECT_EQ(stats.series, 0u);
  EXPECT_EQ(stats.samples, 0u);
  EXPECT_EQ(stats.metrics, 0u);
  EXPECT_EQ(stats.memory_bytes, 0);
  EXPECT_EQ(store.TypeOf("p", "cpu"), std::nullopt);
  EXPECT_THAT(store.Snapshot(), IsEmpty());
}

TEST(SeriesStoreTest, MemoryCeilingReachedAfterFirstWrites) {
  SeriesStoreOptions options;
  options.max_memory_bytes = 1;  // the first append brings usage above it
  SeriesStore store(options);
  MustAppend(store, "p", "cpu", MetricType::kGauge, {}, 1000, 1);
  const StoreStats before = store.Stats();
  ASSERT_GE(before.memory_bytes, options.max_memory_bytes);

  auto r = AppendOne(store, "p", "cpu", MetricType::kGauge, {}, 2000, 2);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, core::ErrorCode::kUnavailable);
  const StoreStats after = store.Stats();
  EXPECT_EQ(after.series, before.series);
  EXPECT_EQ(after.samples, before.samples);
  EXPECT_EQ(after.memory_bytes, before.memory_bytes);
  const SeriesSnapshot s = OnlySeries(store, "p", "cpu");
  EXPECT_EQ(s.last_value, 1);
  EXPECT_THAT(store.ReadSamples(s.id, 0, kNow), ElementsAre(Sample{1000, 1}));
}

TEST(SeriesStoreTest, CounterTotalsSumIncrementsInAnyOrder) {
  SeriesStore store(SmallBlocks(2));
  MustAppend(store, "p", "requests", MetricType::kCounter, {}, 3000, 1);
  MustAppend(store, "p", "requests", MetricType::kCounter, {}, 1000, 2.5);
  MustAppend(store, "p", "requests", MetricType::kCounter, {}, 2000, 0);
  MustAppend(store, "p", "requests", MetricType::kCounter, {}, 2000, 4);
  const SeriesSnapshot s = OnlySeries(store, "p", "requests");
  EXPECT_EQ(s.type, MetricType::kCounter);
  EXPECT_DOUBLE_EQ(s.counter_total, 7.5);
  EXPECT_EQ(s.observations, 0u);
  EXPECT_TRUE(s.bucket_counts.empty());
  EXPECT_EQ(s.bounds, nullptr);
}

TEST(SeriesStoreTest, GaugeKeepsValueAtLatestTimestamp) {
  SeriesStore store({});
  MustAppend(store, "p", "temp", MetricType::kGauge, {}, 1000, 1);
  MustAppend(store, "p", "temp", MetricType::kGauge, {}, 3000, 3);
  MustAppend(store, "p", "temp", MetricType::kGauge, {}, 2000, 2);  // late arrival
  SeriesSnapshot s = OnlySeries(store, "p", "temp");
  EXPECT_EQ(s.last_value, 3);
  EXPECT_EQ(s.last_ts_ms, 3000);
  // The same timestamp again: the later report wins.
  MustAppend(store, "p", "temp", MetricType::kGauge, {}, 3000, -4);
  s = OnlySeries(store, "p", "temp");
  EXPECT_EQ(s.last_value, -4);
  MustAppend(store, "p", "temp", MetricType::kGauge, {}, 5000, 5);
  s = OnlySeries(store, "p", "temp");
  EXPECT_EQ(s.last_value, 5);
  EXPECT_EQ(s.last_ts_ms, 5000);
  EXPECT_EQ(s.counter_total, 0);
}

TEST(SeriesStoreTest, HistogramBucketsAreCumulativeAndLeInclusive) {
  SeriesStoreOptions options;
  std::vector<std::string> resolved;
  options.bucket_resolver = [&resolved](std::string_view name) -> Buckets {
    resolved.emplace_back(name);
    return std::make_shared<const std::vector<double>>(std::vector<double>{1, 5, 10});
  };
  SeriesStore store(options);
  for (double v : {0.5, 1.0, 5.0, 7.0, 10.0, 11.0, 0.0}) {
    MustAppend(store, "p", "api_latency", MetricType::kTiming, {}, 1000, v);
  }
  MustAppend(store, "p", "api_latency", MetricType::kTiming, {{"route", "x"}}, 1000, 2);
  SeriesSnapshot plain;
  for (const SeriesSnapshot& x : store.Snapshot()) {
    if (x.labels.empty()) plain = x;
  }
  ASSERT_NE(plain.bounds, nullptr);
  EXPECT_THAT(*plain.bounds, ElementsAre(1, 5, 10));
  // le=1: 0.5, 1, 0; le=5: + 5; le=10: + 7, 10; 11 only in +Inf (observations).
  EXPECT_THAT(plain.bucket_counts, ElementsAre(3u, 4u, 6u));
  EXPECT_EQ(plain.observations, 7u);
  EXPECT_DOUBLE_EQ(plain.observation_sum, 34.5);
  // Resolved once per metric, with the stored name.
  EXPECT_THAT(resolved, ElementsAre("api_latency"));
}

TEST(SeriesStoreTest, HistogramUsesDefaultBucketsWithoutResolver) {
  SeriesStoreOptions with_null;
  with_null.bucket_resolver = [](std::string_view) -> Buckets { return nullptr; };
  for (SeriesStoreOptions options : {SeriesStoreOptions{}, with_null}) {
    SeriesStore store(options);
    MustAppend(store, "p", "size", MetricType::kDistribution, {}, 1000, 10000);
    MustAppend(store, "p", "size", MetricType::kDistribution, {}, 1000, 10001);
    MustAppend(store, "p", "size", MetricType::kDistribution, {}, 1000, -3);
    const SeriesSnapshot s = OnlySeries(store, "p", "size");
    ASSERT_NE(s.bounds, nullptr);
    ASSERT_THAT(*s.bounds, SizeIs(13));
    EXPECT_EQ(s.bounds->front(), 1);
    EXPECT_EQ(s.bounds->back(), 10000);
    ASSERT_THAT(s.bucket_counts, SizeIs(13));
    EXPECT_EQ(s.bucket_counts.front(), 1u);  // -3
    EXPECT_EQ(s.bucket_counts.back(), 2u);   // -3 and 10000 (le inclusive)
    EXPECT_EQ(s.observations, 3u);
  }
}

TEST(SeriesStoreTest, SelectWithEqualityMatchers) {
  SeriesStore store({});
  MustAppend(store, "p1", "cpu", MetricType::kGauge, {{"host", "a"}, {"zone", "eu"}}, 1000, 1);
  MustAppend(store, "p1", "cpu", MetricType::kGauge, {{"host", "b"}, {"zone", "eu"}}, 1000, 2);
  MustAppend(store, "p1", "mem", MetricType::kGauge, {{"host", "a"}}, 1000, 3);
  MustAppend(store, "p2", "cpu", MetricType::kGauge, {{"host", "a"}}, 1000, 4);

  std::map<SeriesId, double> value_of;
  for (const SeriesSnapshot& s : store.Snapshot()) value_of[s.id] = s.last_value;
  auto values = [&](const std::vector<SeriesId>& ids) {
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
    std::vector<double> out;
    for (SeriesId id : ids) out.push_back(value_of.at(id));
    std::sort(out.begin(), out.end());
    return out;
  };

  EXPECT_THAT(values(SelectEq(store, "p1", {{"__name__", "cpu"}})), ElementsAre(1, 2));
  EXPECT_THAT(values(SelectEq(store, "p1", {{"__name__", "cpu"}, {"host", "a"}})),
              ElementsAre(1));
  EXPECT_THAT(values(SelectEq(store, "p1", {{"host", "a"}})), ElementsAre(1, 3));
  EXPECT_THAT(values(SelectEq(store, "p1", {{"zone", "eu"}, {"host", "b"}})), ElementsAre(2));
  EXPECT_THAT(values(SelectEq(store, "p1", {})), ElementsAre(1, 2, 3));
  EXPECT_THAT(values(SelectEq(store, "p2", {})), ElementsAre(4));
  EXPECT_THAT(values(SelectEq(store, "p2", {{"__name__", "cpu"}})), ElementsAre(4));
  EXPECT_THAT(SelectEq(store, "p1", {{"zone", "us"}}), IsEmpty());
  EXPECT_THAT(SelectEq(store, "p1", {{"__name__", "disk"}}), IsEmpty());
  EXPECT_THAT(SelectEq(store, "p1", {{"__name__", "mem"}, {"zone", "eu"}}), IsEmpty());
  EXPECT_THAT(SelectEq(store, "p1", {{"nolabel", "a"}, {"host", "a"}}), IsEmpty());
  EXPECT_THAT(SelectEq(store, "p3", {}), IsEmpty());
  EXPECT_THAT(SelectEq(store, "p3", {{"__name__", "cpu"}}), IsEmpty());
}

TEST(SeriesStoreTest, SelectFindsManySeriesAcrossShards) {
  SeriesStore store({});
  std::deque<std::string> owned;
  for (int m = 0; m < 40; ++m) {
    for (int h = 0; h < 5; ++h) {
      const std::string& name = owned.emplace_back("metric_" + std::to_string(m));
      const std::string& host = owned.emplace_back("h" + std::to_string(h));
      MustAppend(store, "p", name, MetricType::kGauge, {{"host", host}}, 1000, m * 10 + h);
    }
  }
  EXPECT_THAT(SelectEq(store, "p", {{"host", "h3"}}), SizeIs(40));
  EXPECT_THAT(SelectEq(store, "p", {{"__name__", "metric_7"}}), SizeIs(5));
  const auto one = SelectEq(store, "p", {{"__name__", "metric_7"}, {"host", "h3"}});
  ASSERT_THAT(one, SizeIs(1));
  EXPECT_THAT(store.ReadSamples(one[0], 0, kNow), ElementsAre(Sample{1000, 73}));
  EXPECT_THAT(SelectEq(store, "p", {}), SizeIs(200));
}

TEST(SeriesStoreTest, ReadSamplesRangesAreInclusive) {
  SeriesStore store(SmallBlocks(3));
  for (int64_t ts = 10; ts <= 100; ts += 10) {
    MustAppend(store, "p", "g", MetricType::kGauge, {}, ts, static_cast<double>(ts) / 10);
  }
  const SeriesId id = OnlySeries(store, "p", "g").id;
  EXPECT_THAT(Timestamps(store.ReadSamples(id, 30, 50)), ElementsAre(30, 40, 50));
  EXPECT_THAT(Timestamps(store.ReadSamples(id, 31, 49)), ElementsAre(40));
  EXPECT_THAT(Timestamps(store.ReadSamples(id, 100, 100)), ElementsAre(100));
  EXPECT_THAT(Timestamps(store.ReadSamples(id, 0, 10)), ElementsAre(10));
  EXPECT_THAT(store.ReadSamples(id, 0, 9), IsEmpty());
  EXPECT_THAT(store.ReadSamples(id, 101, 1000), IsEmpty());
  EXPECT_THAT(store.ReadSamples(id, 50, 40), IsEmpty());
  EXPECT_THAT(store.ReadSamples(id, 0, 1000), SizeIs(10));
  EXPECT_THAT(store.ReadSamples(id, 60, 60), ElementsAre(Sample{60, 6}));
  // Unknown ids read nothing.
  EXPECT_THAT(store.ReadSamples(id + (SeriesId{1} << 20), 0, 1000), IsEmpty());
}

TEST(SeriesStoreTest, DropBeforeDropsWholeBlocksOnly) {
  SeriesStore store(SmallBlocks(4));
  for (int64_t ts = 0; ts < 10; ++ts) {
    MustAppend(store, "p", "c", MetricType::kCounter, {}, ts * 1000, 1);
  }
  // Blocks: [0..3], [4..7], [8, 9] (seconds).
  const SeriesId id = OnlySeries(store, "p", "c").id;
  const StoreStats before = store.Stats();

  // 5000 lies inside the second block: only the first goes.
  EXPECT_EQ(store.DropBefore(5000), 4u);
  EXPECT_THAT(Timestamps(store.ReadSamples(id, 0, kNow)),
              ElementsAre(4000, 5000, 6000, 7000, 8000, 9000));
  StoreStats stats = store.Stats();
  EXPECT_EQ(stats.samples, 6u);
  EXPECT_EQ(stats.series, 1u);
  EXPECT_LT(stats.memory_bytes, before.memory_bytes);
  // Aggregates survive retention: the counter is still cumulative.
  EXPECT_EQ(OnlySeries(store, "p", "c").counter_total, 10);

  // A cutoff equal to a block's newest sample keeps that block.
  EXPECT_EQ(store.DropBefore(7000), 0u);
  EXPECT_EQ(store.DropBefore(7001), 4u);
  EXPECT_EQ(store.DropBefore(100'000), 2u);
  EXPECT_THAT(store.ReadSamples(id, 0, kNow), IsEmpty());
  stats = store.Stats();
  EXPECT_EQ(stats.samples, 0u);
  EXPECT_EQ(stats.series, 1u);
  const SeriesSnapshot s = OnlySeries(store, "p", "c");
  EXPECT_EQ(s.counter_total, 10);
  EXPECT_EQ(s.last_ts_ms, 9000);

  // The series takes new samples after everything was dropped, even older ones.
  MustAppend(store, "p", "c", MetricType::kCounter, {}, 500, 2);
  EXPECT_THAT(store.ReadSamples(id, 0, kNow), ElementsAre(Sample{500, 2}));
  EXPECT_EQ(OnlySeries(store, "p", "c").counter_total, 12);
}

TEST(SeriesStoreTest, DropBeforeNeverDropsSamplesAtOrAfterCutoff) {
  SeriesStore store(SmallBlocks(5));
  std::mt19937 rng(7);
  std::uniform_int_distribution<int64_t> ts_dist(0, 1000);
  std::vector<int64_t> all;
  for (int i = 0; i < 400; ++i) {
    const int64_t ts = ts_dist(rng);
    all.push_back(ts);
    MustAppend(store, "p", "g", MetricType::kGauge, {}, ts, 1);
  }
  const SeriesId id = OnlySeries(store, "p", "g").id;
  uint64_t remaining = all.size();
  for (int64_t cutoff : {100, 250, 600, 900, 1001}) {
    const uint64_t dropped = store.DropBefore(cutoff);
    remaining -= dropped;
    const auto samples = store.ReadSamples(id, 0, 1000);
    ASSERT_EQ(samples.size(), remaining) << cutoff;
    EXPECT_EQ(store.Stats().samples, remaining);
    const auto kept_after =
        std::count_if(samples.begin(), samples.end(), [&](const Sample& s) { return s.ts_ms >= cutoff; });
    const auto want_after =
        std::count_if(all.begin(), all.end(), [&](int64_t ts) { return ts >= cutoff; });
    EXPECT_EQ(kept_after, want_after) << "cutoff " << cutoff;
    EXPECT_TRUE(std::is_sorted(samples.begin(), samples.end(),
                               [](const Sample& a, const Sample& b) { return a.ts_ms < b.ts_ms; }));
  }
  EXPECT_EQ(remaining, 0u);
}

TEST(SeriesStoreTest, MemoryReturnsToBaselineWhenBlocksAreDropped) {
  SeriesStore store(SmallBlocks(4));
  MustAppend(store, "p", "g", MetricType::kGauge, {}, 0, 0);
  store.DropBefore(1);
  const int64_t baseline = store.Stats().memory_bytes;  // series, no blocks
  ASSERT_GT(baseline, 0);

  // Fill blocks, then insert out of order into the full ones so they grow.
  for (int64_t ts = 10; ts <= 80; ts += 10) {
    MustAppend(store, "p", "g", MetricType::kGauge, {}, ts, 1);
  }
  for (int64_t ts = 15; ts <= 75; ts += 10) {
    MustAppend(store, "p", "g", MetricType::kGauge, {}, ts, 1);
  }
  EXPECT_GT(store.Stats().memory_bytes, baseline);
  EXPECT_EQ(store.DropBefore(1000), 15u);
  EXPECT_EQ(store.Stats().samples, 0u);
  EXPECT_EQ(store.Stats().memory_bytes, baseline);
}

TEST(SeriesStoreTest, StatsCountSeriesSamplesMetricsAndMemory) {
  SeriesStore store({});
  EXPECT_EQ(store.Stats().series, 0u);
  EXPECT_EQ(store.Stats().memory_bytes, 0);
  MustAppend(store, "p", "a", MetricType::kGauge, {}, 1, 1);
  const int64_t m1 = store.Stats().memory_bytes;
  MustAppend(store, "p", "a", MetricType::kGauge, {{"k", std::string(100, 'v')}}, 1, 1);
  const int64_t m2 = store.Stats().memory_bytes;
  EXPECT_GT(m2, m1 + 100) << "label bytes are accounted";
  MustAppend(store, "p", "b", MetricType::kCounter, {}, 1, 1);
  MustAppend(store, "q", "a", MetricType::kCounter, {}, 1, 1);
  MustAppend(store, "q", "a", MetricType::kCounter, {}, 2, 1);
  const StoreStats s = store.Stats();
  EXPECT_EQ(s.series, 4u);
  EXPECT_EQ(s.samples, 5u);
  EXPECT_EQ(s.metrics, 3u);
  EXPECT_EQ(store.Snapshot().size(), 4u);
}

TEST(SeriesStoreTest, SnapshotRecordsUpdateTime) {
  SeriesStore store({});
  MustAppend(store, "p", "g", MetricType::kGauge, {}, 1000, 1, /*now_ms=*/5000);
  EXPECT_EQ(OnlySeries(store, "p", "g").updated_at_ms, 5000);
  MustAppend(store, "p", "g", MetricType::kGauge, {}, 500, 1, /*now_ms=*/9000);
  EXPECT_EQ(OnlySeries(store, "p", "g").updated_at_ms, 9000);
}

TEST(SeriesStoreTest, VisitSeriesGroupsSeriesByMetric) {
  SeriesStoreOptions options;
  options.bucket_resolver = [](std::string_view) -> Buckets {
    return std::make_shared<const std::vector<double>>(std::vector<double>{1, 10});
  };
  SeriesStore store(options);
  MustAppend(store, "p1", "cpu", MetricType::kGauge, {{"host", "a"}}, 1000, 1);
  MustAppend(store, "p1", "cpu", MetricType::kGauge, {{"host", "b"}}, 1000, 2);
  MustAppend(store, "p2", "cpu", MetricType::kCounter, {}, 1000, 3);
  MustAppend(store, "p2", "cpu", MetricType::kCounter, {}, 2000, 4);
  MustAppend(store, "p1", "lat", MetricType::kTiming, {}, 1000, 5, /*now_ms=*/77);

  struct Seen {
    MetricType type;
    std::vector<double> bounds;
    std::vector<std::string> series;  // "labels=value"
  };
  std::map<std::string, Seen> seen;  // "project/name"
  std::string current;
  store.VisitSeries(
      [&](const MetricView& m) {
        current = std::string(m.project) + "/" + std::string(m.name);
        EXPECT_EQ(seen.count(current), 0u) << "metric visited twice: " << current;
        Seen& s = seen[current];
        s.type = m.type;
        if (m.bounds != nullptr) s.bounds = *m.bounds;
      },
      [&](const SeriesView& v) {
        std::string key;
        for (const core::Label& l : v.labels.items()) key += l.name + "=" + l.value + ",";
        switch (seen[current].type) {
          case MetricType::kCounter: key += std::to_string(v.counter_total); break;
          case MetricType::kGauge: key += std::to_string(v.last_value); break;
          default:
            key += std::to_string(v.observations) + "/" + std::to_string(v.bucket_counts[1]) + "@" +
                   std::to_string(v.updated_at_ms);
        }
        seen[current].series.push_back(key);
      });
  ASSERT_THAT(seen, SizeIs(3));
  EXPECT_EQ(seen["p1/cpu"].type, MetricType::kGauge);
  EXPECT_TRUE(seen["p1/cpu"].bounds.empty());
  EXPECT_THAT(seen["p1/cpu"].series, ElementsAre("host=a,1.000000", "host=b,2.000000"));
  EXPECT_EQ(seen["p2/cpu"].type, MetricType::kCounter);
  EXPECT_THAT(seen["p2/cpu"].series, ElementsAre("7.000000"));
  EXPECT_EQ(seen["p1/lat"].type, MetricType::kTiming);
  EXPECT_THAT(seen["p1/lat"].bounds, ElementsAre(1, 10));
  EXPECT_THAT(seen["p1/lat"].series, ElementsAre("1/1@77"));
}

TEST(SeriesStoreTest, EmptyBatchStoresNothing) {
  SeriesStore store({});
  auto r = store.Append("p", {}, kNow);
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(*r, IsEmpty());
  EXPECT_EQ(store.Stats().series, 0u);
}

TEST(SeriesStoreTest, ConcurrentWritersAndReadersKeepExactCounts) {
  SeriesStoreOptions options;
  options.block_capacity = 16;
  SeriesStore store(options);
  constexpr int kWriters = 4;
  constexpr int kBatches = 200;
  constexpr int kMetrics = 6;
  // Each batch adds 1 to every shared counter, and one sample to the writer's own
  // gauge; writers use overlapping metrics and label sets.
  const std::string metric_names[kMetrics] = {"m0", "m1", "m2", "m3", "m4", "m5"};
  const std::string hosts[2] = {"a", "b"};
  const std::string writers[kWriters] = {"w0", "w1", "w2", "w3"};
  std::atomic<int> running{kWriters};
  std::atomic<uint64_t> reads{0};

  auto write_batches = [&](int w) {
    for (int b = 0; b < kBatches; ++b) {
      std::vector<std::vector<LabelView>> labels;
      labels.reserve(kMetrics * 2 + 1);
      std::vector<PointView> batch;
      for (int m = 0; m < kMetrics; ++m) {
        for (const std::string& h : hosts) {
          labels.push_back({{"host", h}});
          // Timestamps interleave across writers, so some land out of order.
          batch.push_back({metric_names[m], MetricType::kCounter, labels.back(),
                           int64_t{b} * 10 + (kWriters - w), 1});
        }
      }
      labels.push_back({{"writer", writers[w]}});
      batch.push_back({"level", MetricType::kGauge, labels.back(), b, static_cast<double>(b)});
      auto r = store.Append(w % 2 == 0 ? "even" : "odd", batch, kNow + b);
      ASSERT_TRUE(r.has_value());
      for (const AppendOutcome& o : *r) ASSERT_FALSE(o.has_value()) << o->message;
    }
  };
  auto writer = [&](int w) {
    write_batches(w);  // may return early on a failed assertion
    running.fetch_sub(1);
  };
  auto reader = [&] {
    const std::vector<EqualMatcher> by_name = {{"__name__", "m3"}};
    while (running.load() > 0) {
      for (const SeriesSnapshot& s : store.Snapshot()) {
        ASSERT_LE(s.counter_total, static_cast<double>(kBatches * kWriters / 2));
      }
      for (const char* project : {"even", "odd"}) {
        for (SeriesId id : store.Select(project, by_name)) {
          const auto samples = store.ReadSamples(id, 0, kNow);
          ASSERT_TRUE(std::is_sorted(samples.begin(), samples.end(),
                                     [](const Sample& a, const Sample& b) { return a.ts_ms < b.ts_ms; }));
        }
      }
      const StoreStats st = store.Stats();
      ASSERT_LE(st.samples, uint64_t{kWriters} * kBatches * (kMetrics * 2 + 1));
      reads.fetch_add(1);
    }
  };

  std::vector<std::thread> threads;
  threads.emplace_back(reader);
  for (int w = 0; w < kWriters; ++w) threads.emplace_back(writer, w);
  for (std::thread& t : threads) t.join();

  EXPECT_GT(reads.load(), 0u);
  const StoreStats stats = store.Stats();
  // Per project: 6 metrics x 2 hosts + one gauge per writer (2 writers each).
  EXPECT_EQ(stats.series, 2u * (kMetrics * 2 + 2));
  EXPECT_EQ(stats.samples, uint64_t{kWriters} * kBatches * (kMetrics * 2 + 1));
  EXPECT_EQ(stats.metrics, 2u * (kMetrics + 1));
  for (const SeriesSnapshot& s : store.Snapshot()) {
    SCOPED_TRACE(s.project + "/" + s.name);
    if (s.type == MetricType::kCounter) {
      EXPECT_EQ(s.counter_total, 2.0 * kBatches);  // two writers per project
      const auto samples = store.ReadSamples(s.id, 0, kNow);
      EXPECT_EQ(samples.size(), 2u * kBatches);
      EXPECT_TRUE(std::is_sorted(samples.begin(), samples.end(),
                                 [](const Sample& a, const Sample& b) { return a.ts_ms < b.ts_ms; }));
    } else {
      EXPECT_EQ(s.last_value, kBatches - 1);
      EXPECT_EQ(s.last_ts_ms, kBatches - 1);
    }
  }
}


// Late samples (a request that stamped "now" before a later one reached the
// lock) land in a full last block: the block's tail is split off, growing
// blocks stay valid, and every sample comes back in time order. Random late
// offsets over many rounds catch iterator invalidation on block growth.
TEST(SeriesStoreTest, LateSamplesIntoGrowingAndFullBlocksStayOrdered) {
  SeriesStoreOptions options;
  options.block_capacity = 16;
  SeriesStore st(options);
  std::mt19937 rng(7);
  std::vector<int64_t> expected;
  int64_t now = 1'000'000;
  for (int i = 0; i < 2000; ++i) {
    now += 1;
    const int64_t ts = now - static_cast<int64_t>(rng() % 5);  // up to 4 ms late
    expected.push_back(ts);
    std::vector<PointView> p = {{"late", MetricType::kGauge, {}, ts, static_cast<double>(i)}};
    auto r = st.Append("p", p, now);
    ASSERT_TRUE(r);
    ASSERT_FALSE((*r)[0].has_value());
  }
  auto ids = st.Select("p", std::vector<EqualMatcher>{{"__name__", "late"}});
  ASSERT_EQ(ids.size(), 1u);
  auto samples = st.ReadSamples(ids[0], 0, now);
  ASSERT_EQ(samples.size(), expected.size());
  std::sort(expected.begin(), expected.end());
  for (size_t i = 0; i < samples.size(); ++i) {
    ASSERT_EQ(samples[i].ts_ms, expected[i]) << i;
  }
  EXPECT_EQ(st.Stats().samples, expected.size());
}

// ReadMetric's window cut must equal a filter over every sample, across block
// boundaries and shared timestamps, and the index must narrow by tag.
TEST(SeriesStoreTest, ReadMetricWindowAndIndexMatchAFullScan) {
  SeriesStore store(SmallBlocks(4));
  std::mt19937 rng(3);
  std::map<std::string, std::vector<int64_t>> stamps;  // host -> timestamps
  for (int i = 0; i < 400; ++i) {
    const std::string host = "h" + std::to_string(rng() % 5);
    const int64_t ts = 1000 + static_cast<int64_t>(rng() % 200) * 10;
    MustAppend(store, "p1", "cpu", MetricType::kGauge, {{"host", host}}, ts, 1);
    stamps[host].push_back(ts);
  }
  for (auto& [host, ts] : stamps) std::sort(ts.begin(), ts.end());
  for (int round = 0; round < 200; ++round) {
    const int64_t from = 900 + static_cast<int64_t>(rng() % 220) * 10;
    const int64_t to = from + static_cast<int64_t>(rng() % 60) * 10;
    const std::string host = "h" + std::to_string(rng() % 6);  // h5 does not exist
    IndexedMatcher by_host;
    by_host.name = "host";
    by_host.equals = host;
    IndexedMatcher by_regex;
    by_regex.name = "host";
    by_regex.matches = [&](std::string_view v) { return v == host; };
    for (const IndexedMatcher& m : {by_host, by_regex}) {
      auto reads = store.ReadMetric("p1", "cpu", from, to, std::span(&m, 1), {});
      std::vector<int64_t> want;
      for (int64_t ts : stamps[host]) {
        if (ts >= from && ts <= to) want.push_back(ts);
      }
      if (stamps[host].empty()) {
        EXPECT_THAT(reads, IsEmpty());
        continue;
      }
      ASSERT_THAT(reads, SizeIs(1));
      EXPECT_EQ(*reads[0].labels.Get("host"), host);
      std::vector<int64_t> got;
      for (const Sample& s : reads[0].samples) got.push_back(s.ts_ms);
      EXPECT_EQ(got, want) << host << " [" << from << ", " << to << "]";
      auto first = store.ReadMetric("p1", "cpu", from, to, std::span(&m, 1), {}, true);
      ASSERT_THAT(first, SizeIs(1));
      EXPECT_EQ(first[0].samples.size(), want.empty() ? 0u : 1u);
    }
  }
  IndexedMatcher missing;
  missing.name = "zone";
  missing.equals = "a";
  EXPECT_THAT(store.ReadMetric("p1", "cpu", 0, 1 << 30, std::span(&missing, 1), {}), IsEmpty());
}

}  // namespace
}  // namespace store
