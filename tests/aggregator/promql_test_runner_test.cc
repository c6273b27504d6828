// Tests for aggregator/promql_test_runner.h: the comparison rules, the SKIPS
// list, and how eval/eval_fail/eval_ordered cases pass and fail. The real
// conformance files run in the promql_conformance ctest.
#include "aggregator/promql_test_runner.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace promql {
namespace {

TEST(PromqlTestRunnerTest, AlmostEqualLikePrometheus) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(AlmostEqual(nan, nan));
  EXPECT_FALSE(AlmostEqual(nan, 1));
  EXPECT_TRUE(AlmostEqual(inf, inf));
  EXPECT_FALSE(AlmostEqual(inf, -inf));
  EXPECT_TRUE(AlmostEqual(1, 1 + 1e-7));
  EXPECT_FALSE(AlmostEqual(1, 1 + 1e-5));
  EXPECT_TRUE(AlmostEqual(3.249615, 3.2496153618543842));
  // Next to zero only (almost) exact zeros match.
  EXPECT_TRUE(AlmostEqual(0, -0.0));
  EXPECT_FALSE(AlmostEqual(0, 1e-300));
}

TEST(PromqlTestRunnerTest, ParsesSkipList) {
  auto list = ParseSkipList(
      "# comment\n\nfunctions.test:12 native histograms\n  other.test:3\tuses \"x\"  \n");
  ASSERT_TRUE(list) << list.error().message;
  ASSERT_EQ(list->entries.size(), 2u);
  EXPECT_EQ((list->entries.at({"functions.test", 12})), "native histograms");
  EXPECT_EQ((list->entries.at({"other.test", 3})), "uses \"x\"");
  for (const char* bad : {"functions.test 12 reason", "functions.test:12", "f:x reason", ":3 r"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ParseSkipList(bad));
  }
  auto err = ParseSkipList("ok.test:1 fine\nbad\n");
  ASSERT_FALSE(err);
  EXPECT_EQ(err.error().message, "line 2: expected `file:line reason`");
}

constexpr const char* kFile = R"(load 1m
  x{a="1"} 0+1x10
  x{a="2"} 0+2x10

eval instant at 5m x
  x{a="1"} 5
  x{a="2"} 10

eval instant at 5m x
  x{a="1"} 5

eval instant at 5m x{a="1"} * 2
  {a="1"} 10.000000001

eval_ordered instant at 5m sort_desc(x)
  x{a="2"} 10
  x{a="1"} 5

eval_ordered instant at 5m sort(x)
  x{a="2"} 10
  x{a="1"} 5

eval_fail instant at 5m x + on() x

eval_fail instant at 5m sum(x)

eval instant at 5m scalar(x{a="2"})
  10

eval instant at 5m nonexistent

eval instant at 5m x
  x{a="1"} 5
  x{a="2"} 11
)";

TEST(PromqlTestRunnerTest, CountsPassesFailuresAndSkips) {
  SkipList skips;
  skips.entries[{"t.test", 32}] = "out of scope";
  TestFileResult r = RunTestFile("t.test", kFile, skips, TestRunOptions{});
  EXPECT_EQ(r.passed, 6);
  EXPECT_EQ(r.failed, 3);
  EXPECT_EQ(r.skipped, 1);
  ASSERT_EQ(r.reports.size(), 4u);
  EXPECT_EQ(r.reports[0].line, 9);
  EXPECT_EQ(r.reports[0].message,
            "query \"x\" at 300s: unexpected metric {__name__=\"x\", a=\"2\"} in result");
  EXPECT_EQ(r.reports[1].line, 19);
  EXPECT_EQ(r.reports[1].message,
            "query \"sort(x)\" at 300s: expected metric {__name__=\"x\", a=\"1\"} with 5 at "
            "position 2 but was at 1");
  EXPECT_EQ(r.reports[2].line, 25);
  EXPECT_EQ(r.reports[2].message,
            "expected error evaluating query \"sum(x)\" at 300s but got none");
  EXPECT_EQ(r.reports[3].line, 32);
  EXPECT_TRUE(r.reports[3].skipped);
  EXPECT_EQ(r.reports[3].message, "out of scope");
}

TEST(PromqlTestRunnerTest, AtModifierVariantsLikePrometheus) {
  using Variants = std::vector<std::pair<std::string, int64_t>>;
  auto v = AtModifierVariants("sum(rate(x[5m])) / y offset 1m", 180'000);
  ASSERT_TRUE(v);
  const std::string text = "sum(rate(x[5m] @ 180.000)) / y @ 180.000 offset 1m";
  EXPECT_EQ(
      *v, (Variants{
              {text, -1'800'000}, {text, 0}, {text, 36'000}, {text, 180'000}, {text, 1'800'000}}));
  // At time 0: -1s, 0 and 1s.
  v = AtModifierVariants("x", 0);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, (Variants{{"x @ 0.000", -1000}, {"x @ 0.000", 0}, {"x @ 0.000", 1000}}));
  // Existing @ stays; nothing inside a subquery changes.
  v = AtModifierVariants("x @ 5 + max_over_time(rate(y[1m])[5m:1m])", 60'000);
  ASSERT_TRUE(v);
  ASSERT_EQ(v->size(), 5u);
  EXPECT_EQ((*v)[0].first, "x @ 5.000 + max_over_time(rate(y[1m])[5m:1m] @ 60.000)");
  // Time-dependent functions: no variants, unless only inside a subquery.
  for (const char* q : {"timestamp(x)", "time()", "predict_linear(x[5m], 60)", "hour(x)"}) {
    SCOPED_TRACE(q);
    v = AtModifierVariants(q, 60'000);
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_TRUE(v->empty());
  }
  v = AtModifierVariants("max_over_time(vector(time())[5m:1m])", 60'000);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->size(), 5u);
  EXPECT_FALSE(AtModifierVariants("x +", 0));
}

TEST(PromqlTestRunnerTest, RunsVariantsAndRangeMode) {
  // Each case passes only if the instant query, the range query's middle step
  // and the five `@` variants all give the expectation.
  const char* file = R"(load 1m
  y 0+1x10

eval instant at 3m y
  y 3

eval instant at 3m rate(y[2m])
  {} 0.016666666666666666

eval instant at 3m timestamp(y)
  {} 180
)";
  TestFileResult r = RunTestFile("b.test", file, SkipList{}, TestRunOptions{});
  EXPECT_EQ(r.passed, 3);
  EXPECT_EQ(r.failed, 0) << (r.reports.empty() ? "" : r.reports[0].message);
}

TEST(PromqlTestRunnerTest, UnusedSkipEntriesAndBadFilesFail) {
  SkipList skips;
  skips.entries[{"t.test", 2}] = "not an eval line";
  skips.entries[{"other.test", 5}] = "another file";
  TestFileResult r = RunTestFile("t.test", kFile, skips, TestRunOptions{});
  EXPECT_EQ(r.failed, 5);  // 4 failing evals and the unused entry
  EXPECT_EQ(r.reports[0].line, 2);
  EXPECT_EQ(r.reports[0].message, "SKIPS entry does not name an eval line: not an eval line");

  TestFileResult bad = RunTestFile("bad.test", "load 1m\n  x foo\n", SkipList{}, TestRunOptions{});
  EXPECT_EQ(bad.failed, 1);
  EXPECT_EQ(bad.passed, 0);
  ASSERT_EQ(bad.reports.size(), 1u);
  EXPECT_EQ(bad.reports[0].line, 0);

  // A load that conflicts with earlier data fails at the series line.
  TestFileResult conflict =
      RunTestFile("c.test", "load 1m\n  x 1 2\n\nload 1m\n  x 5\n\neval instant at 1m x\n  x 2\n",
                  SkipList{}, TestRunOptions{});
  EXPECT_EQ(conflict.failed, 1);
  EXPECT_EQ(conflict.passed, 1);
  EXPECT_EQ(conflict.reports[0].line, 5);
}

TEST(PromqlTestRunnerTest, LaterSeriesLineInABlockReplacesEarlierOne) {
  const char* file = R"(load 1m
  x 1 2 3
  x 7

eval instant at 2m x
  x 7
)";
  TestFileResult r = RunTestFile("r.test", file, SkipList{}, TestRunOptions{});
  EXPECT_EQ(r.passed, 1) << (r.reports.empty() ? "" : r.reports[0].message);
}

}  // namespace
}  // namespace promql
