// Tests for aggregator/promql_storage.h: MemoryStorage and label ordering.
#include "aggregator/promql_storage.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace promql {
namespace {

core::Labels L(std::vector<core::Label> labels) { return core::Labels(std::move(labels)); }

LabelMatcher M(MatchType type, std::string name, std::string value) {
  auto m = LabelMatcher::Make(type, std::move(name), std::move(value));
  EXPECT_TRUE(m);
  return *m;
}

std::vector<std::string> Names(const std::vector<Series>& series) {
  std::vector<std::string> out;
  for (const Series& s : series) {
    std::string n;
    for (const core::Label& l : s.labels.items()) n += l.name + "=" + l.value + ",";
    out.push_back(n);
  }
  return out;
}

TEST(PromqlStorageTest, CompareLabelsOrdersLikePrometheus) {
  EXPECT_EQ(CompareLabels(L({}), L({})), 0);
  EXPECT_LT(CompareLabels(L({}), L({{"a", "1"}})), 0);
  EXPECT_LT(CompareLabels(L({{"a", "1"}}), L({{"a", "2"}})), 0);
  EXPECT_LT(CompareLabels(L({{"a", "9"}}), L({{"b", "1"}})), 0);
  EXPECT_LT(CompareLabels(L({{"a", "1"}}), L({{"a", "1"}, {"b", "1"}})), 0);
  EXPECT_GT(CompareLabels(L({{"a", "1"}, {"c", "1"}}), L({{"a", "1"}, {"b", "1"}})), 0);
}

TEST(PromqlStorageTest, AppendRejectsOutOfOrderAndConflictingDuplicates) {
  MemoryStorage s;
  const core::Labels x = L({{"__name__", "x"}});
  ASSERT_TRUE(s.Append(x, 1000, 1));
  ASSERT_TRUE(s.Append(x, 2000, 2));
  EXPECT_TRUE(s.Append(x, 2000, 2));  // identical duplicate: ignored
  auto dup = s.Append(x, 2000, 3);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().message, "duplicate sample for timestamp");
  auto old = s.Append(x, 1500, 1);
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().message, "out of order sample");
  // NaN payloads compare by bits: a second identical NaN is a duplicate, not a conflict.
  ASSERT_TRUE(s.Append(x, 3000, std::numeric_limits<double>::quiet_NaN()));
  EXPECT_TRUE(s.Append(x, 3000, std::numeric_limits<double>::quiet_NaN()));
  auto all = s.Select({}, 0, 10'000, 1'000'000);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].samples.size(), 3u);
}

TEST(PromqlStorageTest, SelectMatchesLabelsAndTimeRange) {
  MemoryStorage s;
  const core::Labels a = L({{"__name__", "up"}, {"job", "a"}});
  const core::Labels b = L({{"__name__", "up"}, {"job", "b"}, {"zone", "z1"}});
  const core::Labels c = L({{"__name__", "down"}, {"job", "a"}});
  for (int64_t t = 0; t <= 10'000; t += 1000) {
    ASSERT_TRUE(s.Append(b, t, 1));
    ASSERT_TRUE(s.Append(a, t, 2));
    ASSERT_TRUE(s.Append(c, t, 3));
  }
  EXPECT_EQ(s.NumSeries(), 3u);
  struct Case {
    std::vector<LabelMatcher> matchers;
    int64_t min_ms, max_ms;
    std::vector<std::string> want;
  } cases[] = {
      {{M(MatchType::kEqual, "__name__", "up")},
       0,
       10'000,
       {"__name__=up,job=a,", "__name__=up,job=b,zone=z1,"}},
      // A label a series lacks matches "".
      {{M(MatchType::kEqual, "zone", "")},
       0,
       10'000,
       {"__name__=down,job=a,", "__name__=up,job=a,"}},
      {{M(MatchType::kNotEqual, "zone", "")}, 0, 10'000, {"__name__=up,job=b,zone=z1,"}},
      {{M(MatchType::kRegexMatch, "job", "a|c")},
       0,
       10'000,
       {"__name__=down,job=a,", "__name__=up,job=a,"}},
      {{M(MatchType::kRegexNoMatch, "__name__", "u.*")}, 0, 10'000, {"__name__=down,job=a,"}},
      // Outside every sample: no series at all.
      {{}, 10'001, 20'000, {}},
  };
  for (const Case& c : cases) {
    auto got = s.Select(c.matchers, c.min_ms, c.max_ms, 1'000'000);
    ASSERT_TRUE(got);
    EXPECT_EQ(Names(*got), c.want);
  }
  // Both ends of the range are inclusive.
  const std::vector<LabelMatcher> job_b = {M(MatchType::kEqual, "job", "b")};
  auto window = s.Select(job_b, 2000, 4000, 1'000'000);
  ASSERT_TRUE(window);
  ASSERT_EQ(window->size(), 1u);
  ASSERT_EQ((*window)[0].samples.size(), 3u);
  EXPECT_EQ((*window)[0].samples.front().t_ms, 2000);
  EXPECT_EQ((*window)[0].samples.back().t_ms, 4000);
}

TEST(PromqlStorageTest, SelectStopsCopyingPastTheSampleBound) {
  MemoryStorage s;
  for (int i = 0; i < 10; ++i) {
    const core::Labels l = L({{"__name__", "x"}, {"i", std::to_string(i)}});
    for (int64_t t = 0; t < 100; ++t) ASSERT_TRUE(s.Append(l, t, 1));
  }
  auto got = s.Select({}, 0, 1000, 250);
  ASSERT_TRUE(got);
  size_t total = 0;
  for (const Series& series : *got) total += series.samples.size();
  EXPECT_GT(total, 250u);       // over the bound: the caller can tell
  EXPECT_LT(got->size(), 10u);  // but it stopped early
}

TEST(PromqlStorageTest, LabelNamesAndValues) {
  MemoryStorage s;
  ASSERT_TRUE(s.Append(L({{"__name__", "up"}, {"job", "a"}}), 1000, 1));
  ASSERT_TRUE(s.Append(L({{"__name__", "up"}, {"job", "b"}, {"zone", "z"}}), 1000, 1));
  ASSERT_TRUE(s.Append(L({{"__name__", "old"}, {"job", "c"}}), 0, 1));
  auto names = s.LabelNames({}, 0, 2000);
  ASSERT_TRUE(names);
  EXPECT_EQ(*names, (std::vector<std::string>{"__name__", "job", "zone"}));
  auto recent = s.LabelValues("job", {}, 500, 2000);
  ASSERT_TRUE(recent);
  EXPECT_EQ(*recent, (std::vector<std::string>{"a", "b"}));
  const std::vector<LabelMatcher> job_a = {M(MatchType::kEqual, "job", "a")};
  auto zones = s.LabelValues("zone", job_a, 0, 2000);
  ASSERT_TRUE(zones);
  EXPECT_TRUE(zones->empty());
  s.Clear();
  EXPECT_EQ(s.NumSeries(), 0u);
}

}  // namespace
}  // namespace promql
