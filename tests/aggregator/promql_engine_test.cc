// Tests for aggregator/promql_engine.h beyond Prometheus' own test files
// (tests/testdata/promql, run by the promql_conformance ctest): range queries
// (step alignment, lookback over gaps, staleness), @ and offset, result
// shapes, error types and messages, the memory limit and the timeout.
#include "aggregator/promql_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "aggregator/promql_parser.h"
#include "aggregator/promql_test_file.h"
#include "aggregator/promql_text.h"
#include "core/clock.h"

namespace promql {
namespace {

constexpr int64_t kMin = 60'000;

// A canonical text form of a result: vectors sorted unless `ordered`.
std::string Show(const Value& v, bool ordered = false) {
  std::vector<std::string> lines;
  if (const auto* s = std::get_if<Scalar>(&v)) return "scalar " + FormatNumber(s->v);
  if (const auto* str = std::get_if<String>(&v)) return "string " + str->value;
  if (const auto* vec = std::get_if<Vector>(&v)) {
    for (const VectorSample& s : *vec)
      lines.push_back(LabelsString(s.labels) + " " + FormatNumber(s.v));
  } else {
    for (const Series& s : std::get<Matrix>(v)) {
      std::string line = LabelsString(s.labels);
      for (const Sample& p : s.samples) {
        line += " " + FormatNumber(p.v) + "@" + FormatNumber(static_cast<double>(p.t_ms) / 1000);
      }
      lines.push_back(line);
    }
    ordered = true;  // matrices come sorted by labels
  }
  if (!ordered) std::sort(lines.begin(), lines.end());
  std::string out;
  for (const std::string& l : lines) out += (out.empty() ? "" : "\n") + l;
  return out;
}

class EngineTest : public ::testing::Test {
 protected:
  // Loads series lines ("name{labels} values", Prometheus' notation) with
  // samples `interval_ms` apart from time 0.
  void Load(int64_t interval_ms, std::initializer_list<const char*> lines) {
    for (const char* line : lines) {
      auto s = ParseSeriesLine(line);
      ASSERT_TRUE(s) << line << ": " << s.error().message;
      for (size_t i = 0; i < s->values.size(); ++i) {
        if (s->values[i].omitted) continue;
        ASSERT_TRUE(
            storage_.Append(s->labels, static_cast<int64_t>(i) * interval_ms, s->values[i].value));
      }
    }
  }

  QueryResult Instant(std::string_view q, int64_t t_ms) {
    auto e = ParseExpr(q);
    EXPECT_TRUE(e) << q << ": " << e.error().message;
    if (!e) return core::Unexpected(QueryError{QueryErrorType::kBadData, "parse"});
    return engine_.InstantQuery(storage_, **e, t_ms);
  }

  QueryResult Range(std::string_view q, int64_t start, int64_t end, int64_t step) {
    auto e = ParseExpr(q);
    EXPECT_TRUE(e) << q << ": " << e.error().message;
    if (!e) return core::Unexpected(QueryError{QueryErrorType::kBadData, "parse"});
    return engine_.RangeQuery(storage_, **e, start, end, step);
  }

  std::string ShowInstant(std::string_view q, int64_t t_ms) {
    QueryResult r = Instant(q, t_ms);
    if (!r) return "error: " + r.error().message;
    return Show(*r);
  }
  std::string ShowRange(std::string_view q, int64_t start, int64_t end, int64_t step) {
    QueryResult r = Range(q, start, end, step);
    if (!r) return "error: " + r.error().message;
    return Show(*r);
  }

  MemoryStorage storage_;
  Engine engine_;
};

TEST_F(EngineTest, RangeQueryStepsAlignToStartNotToData) {
  Load(kMin, {"x 0+1x10"});
  // Steps at 30s, 90s, ...: each sees the latest sample at or before it.
  EXPECT_EQ(ShowRange("x", 30'000, 330'000, kMin),
            "{__name__=\"x\"} 0@30 1@90 2@150 3@210 4@270 5@330");
  // A step exactly on a sample sees that sample.
  EXPECT_EQ(ShowRange("x", 0, 3 * kMin, kMin), "{__name__=\"x\"} 0@0 1@60 2@120 3@180");
  // end is included only when it falls on a step.
  EXPECT_EQ(ShowRange("x", 0, 150'000, kMin), "{__name__=\"x\"} 0@0 1@60 2@120");
  // Before the first sample there is nothing.
  EXPECT_EQ(ShowRange("x", -2 * kMin, 0, kMin), "{__name__=\"x\"} 0@0");
}

TEST_F(EngineTest, LookbackSpansGapsUpToFiveMinutes) {
  Load(kMin, {"y 1 2 _x8 3"});  // samples at 0, 1m and 10m
  EXPECT_EQ(ShowRange("y", 0, 10 * kMin, kMin),
            "{__name__=\"y\"} 1@0 2@60 2@120 2@180 2@240 2@300 2@360 3@600");
  // The boundary: a sample exactly 5m old still counts, one millisecond more does not.
  EXPECT_EQ(ShowInstant("y", 6 * kMin), "{__name__=\"y\"} 2");
  EXPECT_EQ(ShowInstant("y", 6 * kMin + 1), "");
  // A shorter lookback.
  EngineOptions o;
  o.lookback_ms = 2 * kMin;
  engine_ = Engine(o);
  EXPECT_EQ(ShowRange("y", 0, 4 * kMin, kMin), "{__name__=\"y\"} 1@0 2@60 2@120 2@180");
}

TEST_F(EngineTest, StalenessMarkersEndASeriesAtOnce) {
  Load(kMin, {"z{a=\"1\"} 1 stale 3 4 stale", "z{a=\"2\"} 5x5"});
  EXPECT_EQ(ShowRange("z", 0, 6 * kMin, kMin),
            "{__name__=\"z\", a=\"1\"} 1@0 3@120 4@180\n"
            "{__name__=\"z\", a=\"2\"} 5@0 5@60 5@120 5@180 5@240 5@300 5@360");
  // Range selectors skip the markers; they never reach a result.
  EXPECT_EQ(ShowInstant("count_over_time(z{a=\"1\"}[10m])", 10 * kMin), "{a=\"1\"} 3");
  EXPECT_EQ(ShowInstant("z{a=\"1\"}[5m]", 4 * kMin), "{__name__=\"z\", a=\"1\"} 1@0 3@120 4@180");
  EXPECT_EQ(ShowInstant("last_over_time(z{a=\"1\"}[1m])", 5 * kMin), "");
}

TEST_F(EngineTest, RangeQueriesOfFunctionsAndAggregations) {
  Load(kMin, {"c{job=\"a\"} 0+60x10", "c{job=\"b\"} 0+120x10"});
  EXPECT_EQ(ShowRange("rate(c[2m])", 2 * kMin, 4 * kMin, kMin),
            "{job=\"a\"} 1@120 1@180 1@240\n{job=\"b\"} 2@120 2@180 2@240");
  EXPECT_EQ(ShowRange("sum(rate(c[2m]))", 2 * kMin, 4 * kMin, kMin), "{} 3@120 3@180 3@240");
  // A scalar expression gives one series without labels.
  EXPECT_EQ(ShowRange("time() * 2", 0, 2 * kMin, kMin), "{} 0@0 120@60 240@120");
  EXPECT_EQ(ShowRange("scalar(c{job=\"a\"})", 0, kMin, kMin), "{} 0@0 60@60");
  // Series are returned sorted by labels whatever the evaluation order.
  EXPECT_EQ(ShowRange("c{job=\"b\"} or c{job=\"a\"}", 0, 0, kMin),
            "{__name__=\"c\", job=\"a\"} 0@0\n{__name__=\"c\", job=\"b\"} 0@0");
  // A series that appears only at some steps.
  EXPECT_EQ(ShowRange("c > 300", 2 * kMin, 4 * kMin, kMin),
            "{__name__=\"c\", job=\"b\"} 360@180 480@240");
  // Subqueries in range mode line up with absolute multiples of their step.
  EXPECT_EQ(ShowRange("sum_over_time(c{job=\"a\"}[2m:1m])", 2 * kMin, 3 * kMin, 30'000),
            "{job=\"a\"} 180@120 180@150 360@180");
}

TEST_F(EngineTest, OffsetAndAtModifiers) {
  Load(kMin, {"x 0+1x100"});
  EXPECT_EQ(ShowInstant("x offset 10m", 30 * kMin), "{__name__=\"x\"} 20");
  EXPECT_EQ(ShowInstant("x offset -10m", 30 * kMin), "{__name__=\"x\"} 40");
  EXPECT_EQ(ShowInstant("x @ 600", 30 * kMin), "{__name__=\"x\"} 10");
  EXPECT_EQ(ShowInstant("x @ 600 offset 2m", 30 * kMin), "{__name__=\"x\"} 8");
  EXPECT_EQ(ShowInstant("x @ 600.5", 0), "{__name__=\"x\"} 10");
  // @ fixes the time at every step of a range query.
  EXPECT_EQ(ShowRange("x @ 600", 0, 2 * kMin, kMin), "{__name__=\"x\"} 10@0 10@60 10@120");
  EXPECT_EQ(ShowRange("x @ start()", 5 * kMin, 7 * kMin, kMin),
            "{__name__=\"x\"} 5@300 5@360 5@420");
  EXPECT_EQ(ShowRange("x @ end()", 5 * kMin, 7 * kMin, kMin), "{__name__=\"x\"} 7@300 7@360 7@420");
  EXPECT_EQ(ShowRange("rate(x[5m] @ end())", 5 * kMin, 6 * kMin, kMin),
            "{} 0.016666666666666666@300 0.016666666666666666@360");
  // The sample's own time, not the step's, for timestamp() of a selector.
  EXPECT_EQ(ShowRange("timestamp(x @ 90)", 0, kMin, kMin), "{} 60@0 60@60");
  EXPECT_EQ(ShowInstant("timestamp(x offset 90s)", 10 * kMin), "{} 480");
  // A subquery with @ ignores the evaluation time.
  EXPECT_EQ(ShowRange("sum_over_time(x[3m:1m] @ 600)", 0, kMin, kMin), "{} 34@0 34@60");
}

TEST_F(EngineTest, ResultShapes) {
  Load(kMin, {"x{a=\"1\"} 1 2 3"});
  EXPECT_EQ(ShowInstant("1 + 2", 0), "scalar 3");
  EXPECT_EQ(ShowInstant("\"text\"", 0), "string text");
  EXPECT_EQ(ShowInstant("(\"text\")", 0), "string text");
  EXPECT_EQ(ShowInstant("x[2m]", 2 * kMin), "{__name__=\"x\", a=\"1\"} 1@0 2@60 3@120");
  EXPECT_EQ(ShowInstant("x[1m:30s]", 2 * kMin), "{__name__=\"x\", a=\"1\"} 2@60 2@90 3@120");
  auto vec = Instant("x", 90'000);
  ASSERT_TRUE(vec);
  const Vector& v = std::get<Vector>(*vec);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].t_ms, 90'000);  // the evaluation time, not the sample's
  EXPECT_EQ(TypeOf(*vec), ValueType::kVector);
}

TEST_F(EngineTest, RangeQueryRejectsBadRequests) {
  Load(kMin, {"x 1"});
  struct {
    const char* query;
    int64_t step;
    int64_t end;
    std::string message;
  } cases[] = {
      {"x[5m]", kMin, kMin,
       "invalid expression type \"range vector\" for range query, must be Scalar or instant "
       "Vector"},
      {"\"s\"", kMin, kMin,
       "invalid expression type \"string\" for range query, must be Scalar or instant Vector"},
      {"x", 0, kMin,
       "zero or negative query resolution step widths are not accepted. Try a positive integer"},
      {"x", kMin, -1, "end timestamp must not be before start time"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.query);
    QueryResult r = Range(c.query, 0, c.end, c.step);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().type, QueryErrorType::kBadData);
    EXPECT_EQ(r.error().message, c.message);
    EXPECT_EQ(ApiErrorType(r.error().type), "bad_data");
  }
}

// Messages as Prometheus 2.42 words them (checked against its promtool).
TEST_F(EngineTest, ExecutionErrorsCarryPrometheusMessages) {
  Load(kMin, {"c{job=\"a\", i=\"0\"} 1x10", "c{job=\"a\", i=\"1\"} 2x10", "one{job=\"a\"} 1x10",
              "one{job=\"b\"} 1x10", "d{job=\"a\"} 3x10"});
  struct {
    const char* query;
    std::string message;
  } cases[] = {
      {"c + on (job) c",
       "found duplicate series for the match group {job=\"a\"} on the right hand-side of the "
       "operation: [{__name__=\"c\", i=\"1\", job=\"a\"}, {__name__=\"c\", i=\"0\", job=\"a\"}];"
       "many-to-many matching not allowed: matching labels must be unique on one side"},
      {"c * on (job) group_right one",
       "found duplicate series for the match group {job=\"a\"} on the left hand-side of the "
       "operation: [{__name__=\"c\", i=\"1\", job=\"a\"}, {__name__=\"c\", i=\"0\", job=\"a\"}];"
       "many-to-many matching not allowed: matching labels must be unique on one side"},
      {"c + on (job) one",
       "multiple matches for labels: many-to-one matching must be explicit "
       "(group_left/group_right)"},
      {"c - on (job) group_left (i) one",
       "multiple matches for labels: grouping labels must ensure unique matches"},
      {"-{job=\"a\"}", "vector cannot contain metrics with the same labelset"},
      {"rate({job=\"a\"}[5m])", "vector cannot contain metrics with the same labelset"},
      {"label_replace(c, \"i\", \"\", \"\", \"\")",
       "vector cannot contain metrics with the same labelset"},
      {"label_replace(c, \"1x\", \"a\", \"job\", \".*\")",
       "invalid destination label name in label_replace(): 1x"},
      {"label_replace(c, \"x\", \"a\", \"job\", \"[\")",
       "invalid regular expression in label_replace(): ["},
      {"label_join(c, \"x\", \"-\", \"1a\")", "invalid source label name in label_join(): 1a"},
      {"label_join(c, \"x-\", \"-\", \"a\")", "invalid destination label name in label_join(): x-"},
      {"holt_winters(c[10m], 1, 0.5)",
       "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000"},
      {"holt_winters(c[10m], 0.5, 0)", "invalid trend factor. Expected: 0 < tf < 1, got: 0.000000"},
      {"topk(1e300, c)", "Scalar value 1e+300 overflows int64"},
      {"count_values(\"1a\", c)", "invalid label name \"1a\""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.query);
    QueryResult r = Instant(c.query, 5 * kMin);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().type, QueryErrorType::kExecution);
    EXPECT_EQ(r.error().message, c.message);
  }
}

TEST_F(EngineTest, OperatorsAndMatching) {
  Load(kMin, {"a{job=\"x\", i=\"0\"} 10", "a{job=\"x\", i=\"1\"} 20", "b{job=\"x\"} 4",
              "b{job=\"y\"} 5", "n NaN"});
  struct {
    const char* query;
    std::string want;
  } cases[] = {
      {"a / on (job) group_left b", "{i=\"0\", job=\"x\"} 2.5\n{i=\"1\", job=\"x\"} 5"},
      {"b * on (job) group_right a", "{i=\"0\", job=\"x\"} 40\n{i=\"1\", job=\"x\"} 80"},
      // Comparisons keep the left sample (and its name) unless `bool`.
      {"a > on (job) group_left b",
       "{__name__=\"a\", i=\"0\", job=\"x\"} 10\n"
       "{__name__=\"a\", i=\"1\", job=\"x\"} 20"},
      {"a > bool 15", "{i=\"0\", job=\"x\"} 0\n{i=\"1\", job=\"x\"} 1"},
      {"15 < a", "{__name__=\"a\", i=\"1\", job=\"x\"} 20"},
      {"a atan2 a",
       "{__name__=\"a\", i=\"0\", job=\"x\"} 0.7853981633974483\n"
       "{__name__=\"a\", i=\"1\", job=\"x\"} 0.7853981633974483"},
      {"a unless on (job) b", ""},
      {"b unless on (job) a", "{__name__=\"b\", job=\"y\"} 5"},
      {"a and on (job) b{job=\"y\"}", ""},
      {"b or on (job) a", "{__name__=\"b\", job=\"x\"} 4\n{__name__=\"b\", job=\"y\"} 5"},
      {"n == n", ""},
      {"n != bool n", "{} 1"},
      {"-a", "{i=\"0\", job=\"x\"} -10\n{i=\"1\", job=\"x\"} -20"},
      {"+a", "{__name__=\"a\", i=\"0\", job=\"x\"} 10\n{__name__=\"a\", i=\"1\", job=\"x\"} 20"},
      {"2 ^ 3 ^ 2", "scalar 512"},
      {"-2 ^ 2", "scalar -4"},
      {"5 % -3", "scalar 2"},
      {"1 == bool 1", "scalar 1"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.query);
    EXPECT_EQ(ShowInstant(c.query, 0), c.want);
  }
}

TEST_F(EngineTest, Aggregations) {
  Load(kMin, {"v{job=\"a\", i=\"0\"} 1", "v{job=\"a\", i=\"1\"} 3", "v{job=\"b\", i=\"0\"} NaN",
              "v{job=\"b\", i=\"1\"} 1e20", "v{job=\"b\", i=\"2\"} 2"});
  struct {
    const char* query;
    std::string want;
    bool ordered = false;
  } cases[] = {
      {"sum by (job) (v)", "{job=\"a\"} 4\n{job=\"b\"} NaN"},
      {"max by (job) (v)", "{job=\"a\"} 3\n{job=\"b\"} 1e+20"},
      {"min(v)", "{} 1"},
      {"count without (i) (v)", "{job=\"a\"} 2\n{job=\"b\"} 3"},
      {"group by (job) (v)", "{job=\"a\"} 1\n{job=\"b\"} 1"},
      {"stddev by (job) (v)", "{job=\"a\"} 1\n{job=\"b\"} NaN"},
      {"stdvar(v{job=\"a\"})", "{} 1"},
      {"avg by (job) (v{i!=\"0\"})", "{job=\"a\"} 3\n{job=\"b\"} 5e+19"},
      {"quantile(0.5, v{job=\"a\"})", "{} 2"},
      {"quantile(-0.5, v)", "{} -Inf"},
      {"count_values(\"value\", v)",
       "{value=\"1\"} 1\n{value=\"100000000000000000000\"} 1\n{value=\"2\"} 1\n{value=\"3\"} 1\n"
       "{value=\"NaN\"} 1"},
      {"count_values without (i) (\"job\", v{job=\"a\"})", "{job=\"1\"} 1\n{job=\"3\"} 1"},
      {"topk(2, v)",
       "{__name__=\"v\", i=\"1\", job=\"b\"} 1e+20\n"
       "{__name__=\"v\", i=\"1\", job=\"a\"} 3",
       true},
      {"bottomk(2, v{job=\"b\"})",
       "{__name__=\"v\", i=\"2\", job=\"b\"} 2\n{__name__=\"v\", i=\"1\", job=\"b\"} 1e+20", true},
      {"topk(0, v)", ""},
      {"sum by (__name__) (v)", "{__name__=\"v\"} NaN"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.query);
    QueryResult r = Instant(c.query, 0);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(Show(*r, c.ordered), c.want);
  }
}

TEST_F(EngineTest, Functions) {
  Load(5 * kMin,
       {"h_bucket{job=\"a\", le=\"0.1\"} 0+1x10", "h_bucket{job=\"a\", le=\"0.5\"} 0+5x10",
        "h_bucket{job=\"a\", le=\"+Inf\"} 0+10x10", "h_bucket{job=\"n\", le=\"-1\"} 0+1x10",
        "h_bucket{job=\"n\", le=\"+Inf\"} 0+2x10", "h_bucket{job=\"x\", le=\"1\"} 0+1x10",
        "g{job=\"a\"} -1.5 2.5 -0.25", "t{src=\"a-1\", dst=\"x\"} 1x2"});
  const int64_t t = 10 * kMin;
  struct {
    const char* query;
    std::string want;
  } cases[] = {
      {"histogram_quantile(0.5, h_bucket)", "{job=\"a\"} 0.5\n{job=\"n\"} -1\n{job=\"x\"} NaN"},
      {"histogram_quantile(0.25, rate(h_bucket{job=\"a\"}[10m]))", "{job=\"a\"} 0.25"},
      {"histogram_quantile(0.99, h_bucket{job=\"a\"})", "{job=\"a\"} 0.5"},
      {"histogram_quantile(NaN, h_bucket{job=\"a\"})", "{job=\"a\"} NaN"},
      {"round(g, 0.5)", "{job=\"a\"} 0"},
      {"round(g)", "{job=\"a\"} 0"},
      {"clamp(g, -0.1, 0.1)", "{job=\"a\"} -0.1"},
      {"clamp_min(g, NaN)", "{job=\"a\"} NaN"},
      {"sgn(g)", "{job=\"a\"} -1"},
      {"label_replace(t, \"dst\", \"$2:${1}\", \"src\", \"(?P<k>[a-z]+)-(\\\\d+)\")",
       "{__name__=\"t\", dst=\"1:a\", src=\"a-1\"} 1"},
      {"label_replace(t, \"dst\", \"$k$$\", \"src\", \"(?P<k>[a-z]+)-(\\\\d+)\")",
       "{__name__=\"t\", dst=\"a$\", src=\"a-1\"} 1"},
      {"label_replace(t, \"dst\", \"$1x\", \"src\", \"(.*)\")", "{__name__=\"t\", src=\"a-1\"} 1"},
      {"label_join(t, \"new\", \"/\", \"dst\", \"missing\", \"src\")",
       "{__name__=\"t\", dst=\"x\", new=\"x//a-1\", src=\"a-1\"} 1"},
      {"absent(nothing{a=\"1\", b=~\"2\", c=\"3\", c=\"4\"})", "{a=\"1\"} 1"},
      {"absent_over_time(nothing{a=\"1\"}[1m])", "{a=\"1\"} 1"},
      {"absent(t)", ""},
      {"day_of_week(vector(-1))", "{} 3"},
      {"days_in_month(vector(951782400))", "{} 29"},
      {"vector(pi())", "{} 3.141592653589793"},
      {"histogram_count(h_bucket)", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.query);
    EXPECT_EQ(ShowInstant(c.query, t), c.want);
  }
}

TEST_F(EngineTest, MemoryLimitFailsTheQueryNotTheProcess) {
  Load(1000, {"x{a=\"1\"} 0+1x999", "x{a=\"2\"} 0+1x999"});
  EngineOptions o;
  o.max_samples = 700;
  engine_ = Engine(o);
  const char* over[] = {
      "count_over_time(x[10m])",   // 2000 raw samples in the window
      "sum_over_time(x[10m:1s])",  // a subquery with 1200 points
      "x",                         // fine as an instant query ...
  };
  for (const char* q : {over[0], over[1]}) {
    SCOPED_TRACE(q);
    QueryResult r = Instant(q, 1000 * 1000);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().type, QueryErrorType::kTooManySamples);
    EXPECT_EQ(r.error().message,
              "query processing would load too many samples into memory in query execution");
    EXPECT_EQ(ApiErrorType(r.error().type), "execution");
    EXPECT_EQ(ToError(r.error()).code, core::ErrorCode::kPayloadTooLarge);
  }
  EXPECT_TRUE(Instant(over[2], 1000 * 1000));
  // ... but not over 1000 steps, whose points do not fit.
  QueryResult range = Range("x", 0, 999'000, 1000);
  ASSERT_FALSE(range);
  EXPECT_EQ(range.error().type, QueryErrorType::kTooManySamples);
  // The engine stays usable, and a bigger limit lets the same queries through.
  o.max_samples = 10'000;
  engine_ = Engine(o);
  EXPECT_EQ(ShowInstant("count_over_time(x[10m])", 1000 * 1000), "{a=\"1\"} 600\n{a=\"2\"} 600");
  EXPECT_TRUE(Range("x", 0, 999'000, 1000));
}

TEST_F(EngineTest, ExtremeTimesAndStepCountsFailCleanly) {
  Load(kMin, {"x 1x10"});
  // `@` near the ends of the int64 millisecond range: nothing there, no overflow.
  for (const char* q :
       {"x @ 9223372036854775", "x @ -9223372036854775", "x @ 1e17",
        "rate(x[5m] @ -9223372036854775)", "sum_over_time(x[1m:1m] @ 9223372036854775)",
        "sum_over_time(x[1m:1m] offset -1w @ 9223372036854775)"}) {
    SCOPED_TRACE(q);
    EXPECT_EQ(ShowInstant(q, 0), "");
  }
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  QueryResult end = Range("vector(1)", kMax - 2000, kMax, 1000);
  ASSERT_TRUE(end);
  const Matrix& m = std::get<Matrix>(*end);
  ASSERT_EQ(m.size(), 1u);
  ASSERT_EQ(m[0].samples.size(), 3u);
  EXPECT_EQ(m[0].samples.back().t_ms, kMax);
  // A subquery with billions of steps runs into the sample limit instead of
  // allocating them.
  QueryResult r = Instant("sum_over_time(vector(1)[100000d:1s])", 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().type, QueryErrorType::kTooManySamples);
}

// A Querier whose every Select takes a minute on a fake clock.
class SlowQuerier : public Querier {
 public:
  SlowQuerier(const Querier& inner, core::FakeClock* clock) : inner_(inner), clock_(clock) {}
  core::Result<std::vector<Series>> Select(std::span<const LabelMatcher> m, int64_t min_ms,
                                           int64_t max_ms, int64_t max_samples) const override {
    clock_->AdvanceMs(kMin);
    return inner_.Select(m, min_ms, max_ms, max_samples);
  }
  core::Result<std::vector<std::string>> LabelNames(std::span<const LabelMatcher> m, int64_t a,
                                                    int64_t b) const override {
    return inner_.LabelNames(m, a, b);
  }
  core::Result<std::vector<std::string>> LabelValues(std::string_view n,
                                                     std::span<const LabelMatcher> m, int64_t a,
                                                     int64_t b) const override {
    return inner_.LabelValues(n, m, a, b);
  }

 private:
  const Querier& inner_;
  core::FakeClock* clock_;
};

TEST_F(EngineTest, TimeoutFailsTheQuery) {
  Load(kMin, {"x 1x10", "y 2x10"});
  core::FakeClock clock(0);
  SlowQuerier slow(storage_, &clock);
  EngineOptions o;
  o.clock = &clock;
  o.timeout = std::chrono::seconds(90);
  const Engine engine(o);
  auto one = ParseExpr("x");
  ASSERT_TRUE(one);
  EXPECT_TRUE(engine.InstantQuery(slow, **one, 0));  // one minute: within the timeout
  auto three = ParseExpr("x + y + x");
  ASSERT_TRUE(three);
  QueryResult r = engine.InstantQuery(slow, **three, 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().type, QueryErrorType::kTimeout);
  EXPECT_EQ(r.error().message, "query timed out in expression evaluation");
  EXPECT_EQ(ApiErrorType(r.error().type), "timeout");
}

class FailingQuerier : public Querier {
 public:
  core::Result<std::vector<Series>> Select(std::span<const LabelMatcher>, int64_t, int64_t,
                                           int64_t) const override {
    return core::Fail(core::ErrorCode::kUnavailable, "disk on fire");
  }
  core::Result<std::vector<std::string>> LabelNames(std::span<const LabelMatcher>, int64_t,
                                                    int64_t) const override {
    return std::vector<std::string>{};
  }
  core::Result<std::vector<std::string>> LabelValues(std::string_view,
                                                     std::span<const LabelMatcher>, int64_t,
                                                     int64_t) const override {
    return std::vector<std::string>{};
  }
};

TEST_F(EngineTest, StorageErrorsAreInternal) {
  FailingQuerier failing;
  auto e = ParseExpr("sum(rate(x[5m]))");
  ASSERT_TRUE(e);
  QueryResult r = engine_.InstantQuery(failing, **e, 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().type, QueryErrorType::kInternal);
  EXPECT_EQ(r.error().message, "disk on fire");
  EXPECT_EQ(ToError(r.error()).code, core::ErrorCode::kInternal);
  // Without selectors the storage is never asked.
  auto lit = ParseExpr("1 + 1");
  ASSERT_TRUE(lit);
  EXPECT_TRUE(engine_.InstantQuery(failing, **lit, 0));
}

}  // namespace
}  // namespace promql
