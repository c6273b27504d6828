#include "exporter/snapshot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "core/env.h"
#include "store/series_store.h"
#include "tests/temp_dir.h"

namespace exporter {
namespace {

store::SeriesState MakeSeries(std::string name, store::MetricType type, int samples) {
  store::SeriesState s;
  s.project = "p";
  s.name = std::move(name);
  s.type = type;
  s.labels = core::Labels({{"host", "a\"b\n"}, {"route", "/x"}});
  s.counter_total = 12.5;
  s.last_value = -3.25;
  s.last_ts_ms = 1'700'000'000'123;
  s.updated_at_ms = 1'700'000'000'999;
  if (type == store::MetricType::kTiming) {
    s.bounds = {1, 2.5, 10};
    s.bucket_counts = {1, 4, 9};
    s.observations = 10;
    s.observation_sum = 77.5;
  }
  for (int i = 0; i < samples; ++i) {
    s.samples.push_back({1'700'000'000'000 + i * 15'000 - (i % 3 == 0 ? 0 : 7), i * 0.5});
  }
  return s;
}

Checkpoint MakeCheckpoint(uint64_t segment) {
  Checkpoint cp;
  cp.first_wal_segment = segment;
  cp.series.push_back(MakeSeries("jobs", store::MetricType::kCounter, 1000));
  cp.series.push_back(MakeSeries("lat", store::MetricType::kTiming, 3));
  cp.series.push_back(MakeSeries("empty", store::MetricType::kGauge, 0));
  cp.idempotency.push_back({"p", "key-1", "hash", {200, R"({"ok":true})"}, 1'700'000'000'000});
  return cp;
}

void ExpectSameSeries(const store::SeriesState& a, const store::SeriesState& b) {
  EXPECT_EQ(a.project, b.project);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.counter_total, b.counter_total);
  EXPECT_EQ(a.last_value, b.last_value);
  EXPECT_EQ(a.last_ts_ms, b.last_ts_ms);
  EXPECT_EQ(a.observations, b.observations);
  EXPECT_EQ(a.observation_sum, b.observation_sum);
  EXPECT_EQ(a.bounds, b.bounds);
  EXPECT_EQ(a.bucket_counts, b.bucket_counts);
  EXPECT_EQ(a.updated_at_ms, b.updated_at_ms);
  EXPECT_EQ(a.samples, b.samples);
}

TEST(SnapshotTest, RoundTripsEveryField) {
  tally_test::TempDir dir;
  core::PosixEnv env;
  const Checkpoint cp = MakeCheckpoint(7);
  auto written = WriteSnapshot(env, dir.path(), cp);
  ASSERT_TRUE(written) << written.error().message;
  EXPECT_EQ(written->series, 3u);
  EXPECT_EQ(written->samples, 1003u);
  EXPECT_TRUE(env.FileExists(dir.Sub("00000007.snap")));
  EXPECT_FALSE(env.FileExists(dir.Sub("00000007.snap.tmp")));

  auto loaded = LoadNewestSnapshot(env, dir.path());
  ASSERT_TRUE(loaded) << loaded.error().message;
  ASSERT_TRUE(loaded->has_value());
  const Checkpoint& got = **loaded;
  EXPECT_EQ(got.first_wal_segment, 7u);
  ASSERT_EQ(got.series.size(), cp.series.size());
  for (size_t i = 0; i < cp.series.size(); ++i) {
    SCOPED_TRACE(cp.series[i].name);
    ExpectSameSeries(got.series[i], cp.series[i]);
  }
  ASSERT_EQ(got.idempotency.size(), 1u);
  EXPECT_EQ(got.idempotency[0].key, "key-1");
  EXPECT_EQ(got.idempotency[0].response.body, R"({"ok":true})");
  EXPECT_EQ(got.idempotency[0].created_ms, 1'700'000'000'000);
}

TEST(SnapshotTest, NoSnapshotIsNotAnError) {
  tally_test::TempDir dir;
  core::PosixEnv env;
  auto loaded = LoadNewestSnapshot(env, dir.Sub("absent"));
  ASSERT_TRUE(loaded);
  EXPECT_FALSE(loaded->has_value());
}

TEST(SnapshotTest, NewerSnapshotReplacesOlderOnes) {
  tally_test::TempDir dir;
  core::PosixEnv env;
  ASSERT_TRUE(WriteSnapshot(env, dir.path(), MakeCheckpoint(3)));
  ASSERT_TRUE(WriteSnapshot(env, dir.path(), MakeCheckpoint(9)));
  EXPECT_FALSE(env.FileExists(dir.Sub("00000003.snap")));
  auto loaded = LoadNewestSnapshot(env, dir.path());
  ASSERT_TRUE(loaded && loaded->has_value());
  EXPECT_EQ((*loaded)->first_wal_segment, 9u);
}

// A crash while writing leaves a .tmp next to the previous snapshot: the
// previous one still loads.
TEST(SnapshotTest, CrashWhileWritingLeavesThePreviousSnapshot) {
  tally_test::TempDir dir;
  core::PosixEnv env;
  ASSERT_TRUE(WriteSnapshot(env, dir.path(), MakeCheckpoint(4)));
  {
    std::ofstream half(dir.Sub("00000008.snap.tmp"), std::ios::binary);
    half << "TLYSNAP1\npartial";
  }
  auto loaded = LoadNewestSnapshot(env, dir.path());
  ASSERT_TRUE(loaded && loaded->has_value());
  EXPECT_EQ((*loaded)->first_wal_segment, 4u);
  // The next successful snapshot cleans the stale temp file up.
  ASSERT_TRUE(WriteSnapshot(env, dir.path(), MakeCheckpoint(10)));
  EXPECT_FALSE(env.FileExists(dir.Sub("00000008.snap.tmp")));
}

// A failed write (disk full) leaves no .snap behind and the old one intact.
TEST(SnapshotTest, DiskFullFailsCleanly) {
  tally_test::TempDir dir;
  core::PosixEnv posix;
  core::FaultInjectionEnv env(posix);
  ASSERT_TRUE(WriteSnapshot(env, dir.path(), MakeCheckpoint(2)));
  env.SetWriteBudget(100);
  auto failed = WriteSnapshot(env, dir.path(), MakeCheckpoint(5));
  ASSERT_FALSE(failed);
  EXPECT_FALSE(env.FileExists(dir.Sub("00000005.snap")));
  env.SetWriteBudget(-1);
  auto loaded = LoadNewestSnapshot(env, dir.path());
  ASSERT_TRUE(loaded && loaded->has_value());
  EXPECT_EQ((*loaded)->first_wal_segment, 2u);
}

// Any damage to the newest snapshot is an error naming the file and offset:
// the WAL before it may be gone, so silently falling back would lose data.
TEST(SnapshotTest, DamageAnywhereIsAClearError) {
  tally_test::TempDir dir;
  core::PosixEnv env;
  ASSERT_TRUE(WriteSnapshot(env, dir.path(), MakeCheckpoint(6)));
  const std::string path = dir.Sub("00000006.snap");
  auto original = env.ReadFile(path);
  ASSERT_TRUE(original);
  // Flip one bit at a spread of offsets, and cut the file at a spread of lengths.
  for (size_t offset = 0; offset < original->size(); offset += 97) {
    SCOPED_TRACE(offset);
    std::string bad = *original;
    bad[offset] = static_cast<char>(bad[offset] ^ 0x10);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
    auto loaded = LoadNewestSnapshot(env, dir.path());
    ASSERT_FALSE(loaded);
    EXPECT_NE(loaded.error().message.find(path), std::string::npos);
  }
  for (size_t len = 0; len < original->size(); len += 131) {
    SCOPED_TRACE(len);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << original->substr(0, len);
    EXPECT_FALSE(LoadNewestSnapshot(env, dir.path()));
  }
}

// ExportState -> snapshot -> ImportSeries reproduces the store.
TEST(SnapshotTest, StoreStateSurvivesExportAndImport) {
  store::SeriesStoreOptions options;
  options.block_capacity = 8;
  store::SeriesStore before(options);
  std::vector<store::LabelView> tags = {{"k", "v"}};
  for (int i = 0; i < 50; ++i) {
    std::vector<store::PointView> points = {
        {"c", store::MetricType::kCounter, tags, 1000 + i, 1.5},
        {"t", store::MetricType::kTiming, {}, 1000 + i, static_cast<double>(i)},
        {"g", store::MetricType::kGauge, tags, 1000 + i, static_cast<double>(-i)}};
    ASSERT_TRUE(before.Append("proj", points, 5000));
  }
  tally_test::TempDir dir;
  core::PosixEnv env;
  Checkpoint cp;
  cp.first_wal_segment = 1;
  cp.series = before.ExportState();
  ASSERT_TRUE(WriteSnapshot(env, dir.path(), cp));
  auto loaded = LoadNewestSnapshot(env, dir.path());
  ASSERT_TRUE(loaded && loaded->has_value());
  store::SeriesStore after(options);
  for (auto& s : (*loaded)->series) ASSERT_TRUE(after.ImportSeries(std::move(s)));
  EXPECT_EQ(after.Stats().series, before.Stats().series);
  EXPECT_EQ(after.Stats().samples, before.Stats().samples);
  auto a = before.ExportState();
  auto b = after.ExportState();
  ASSERT_EQ(a.size(), b.size());
  auto by_name = [](const store::SeriesState& x, const store::SeriesState& y) {
    return x.name < y.name;
  };
  std::sort(a.begin(), a.end(), by_name);
  std::sort(b.begin(), b.end(), by_name);
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(a[i].name);
    ExpectSameSeries(a[i], b[i]);
  }
  // The imported store keeps the type lock and accepts more points.
  std::vector<store::PointView> wrong = {{"c", store::MetricType::kGauge, tags, 2000, 1}};
  auto r = after.Append("proj", wrong, 6000);
  ASSERT_TRUE(r);
  ASSERT_TRUE((*r)[0].has_value());
  EXPECT_EQ((*r)[0]->code, core::ErrorCode::kTypeMismatch);
  // Importing the same series twice is refused.
  EXPECT_FALSE(after.ImportSeries(before.ExportState()[0]));
}

}  // namespace
}  // namespace exporter
