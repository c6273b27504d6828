// Tests for aggregator/promql_test_file.h, and the Prometheus 2.42 conformance
// files: every file loads and every `eval` expression parses.
#include "aggregator/promql_test_file.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "aggregator/promql_parser.h"

namespace promql {
namespace {

std::vector<double> Values(const SeriesLine& s) {
  std::vector<double> out;
  for (const auto& v : s.values) out.push_back(v.omitted ? -999 : v.value);
  return out;
}

TEST(PromqlTestFileTest, SeriesValueNotation) {
  struct {
    const char* input;
    std::vector<double> want;  // -999 marks an omitted step
  } cases[] = {
      {"{} 1 2 3", {1, 2, 3}},
      {"{a=\"b\"} -1 2 3", {-1, 2, 3}},
      {"my_metric 1 2 3", {1, 2, 3}},
      {"my_metric{a=\"b\"} 1 2 3-10x4", {1, 2, 3, -7, -17, -27, -37}},
      {"my_metric{a=\"b\"} 1 2 3-0x4", {1, 2, 3, 3, 3, 3, 3}},
      {"{} 1x0", {1}},
      {"{} 1+1x0", {1}},
      {"{} 1x3", {1, 1, 1, 1}},
      {"{} 0+10x3", {0, 10, 20, 30}},
      {"{} 0+1.5x2", {0, 1.5, 3}},
      {"{} 1 3 _ 5 _x4", {1, 3, -999, 5, -999, -999, -999, -999}},
      {"{} _x0 1", {1}},
      {"{} 1 -1 -3-10x4 7 9 +5", {1, -1, -3, -13, -23, -33, -43, 7, 9, 5}},
      {"{} 1 +1 +4 -6 -2 8", {1, 1, 4, -6, -2, 8}},
      {"{} 1 2 3    ", {1, 2, 3}},
      {"{}\t0+30x2\t4", {0, 30, 60, 4}},
      {"{} 1e3 .5 0755", {1000, 0.5, 493}},
      {"{} 0x2", {0, 0, 0}},  // no hex in series: 0 repeated
      {"{}", {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    auto s = ParseSeriesLine(c.input);
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(Values(*s), c.want);
  }
  auto special = ParseSeriesLine("x Inf -Inf NaN stale");
  ASSERT_TRUE(special);
  ASSERT_EQ(special->values.size(), 4u);
  EXPECT_EQ(special->values[0].value, INFINITY);
  EXPECT_EQ(special->values[1].value, -INFINITY);
  EXPECT_TRUE(std::isnan(special->values[2].value));
  EXPECT_FALSE(IsStaleNaN(special->values[2].value));
  EXPECT_TRUE(special->values[3].stale);
  EXPECT_TRUE(IsStaleNaN(special->values[3].value));
}

TEST(PromqlTestFileTest, SeriesLabels) {
  auto s =
      ParseSeriesLine(R"(http_requests{job="api-server", instance="0", group="production",} 1)");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->labels, core::Labels({{"__name__", "http_requests"},
                                     {"group", "production"},
                                     {"instance", "0"},
                                     {"job", "api-server"}}));
  auto escaped = ParseSeriesLine(R"(my_metric{a="\u70ac = torch", b='x', c=`\n`} 1)");
  ASSERT_TRUE(escaped);
  EXPECT_EQ(*escaped->labels.Get("a"), "\xe7\x82\xac = torch");
  EXPECT_EQ(*escaped->labels.Get("c"), "\\n");
  auto keyword_name = ParseSeriesLine("sum{a=\"b\"} 1");
  ASSERT_TRUE(keyword_name);
  EXPECT_EQ(*keyword_name->labels.Get("__name__"), "sum");
  auto colon = ParseSeriesLine("job:rate5m 1");
  ASSERT_TRUE(colon);
  EXPECT_EQ(*colon->labels.Get("__name__"), "job:rate5m");
}

TEST(PromqlTestFileTest, BadSeriesLines) {
  const char* cases[] = {
      "{} 1+1",
      "my_metric{a=\"b\"} 1 3 _ 5 _a4",
      "my_metric{a=\"b\"} -3-3 -3",
      "my_metric{a=\"b\"} -3 -3-3",
      "my_metric{a=\"b\"} -3 _-2",
      "my_metric{a=\"b\"} -3 3+3x4-4",
      "x 1x",
      "x 1x2.5",
      "x foo",
      "x stalex2",
      "x{a=\"b\",a=\"c\"} 1",
      "x{a} 1",
      "x{a=b} 1",
      "x{a=\"b\"",
      "x {a=\"b\"} 1",
      "1 2",
      "bool 1",
      "x 1x99999999",
      "x{a=~\"b\"} 1",
  };
  for (const char* c : cases) {
    SCOPED_TRACE(c);
    EXPECT_FALSE(ParseSeriesLine(c));
  }
}

TEST(PromqlTestFileTest, ExpansionIsBounded) {
  EXPECT_TRUE(ParseSeriesLine("x 0+1x1999999"));  // 2,000,000 values: the limit
  EXPECT_FALSE(ParseSeriesLine("x 0+1x2000000"));
  EXPECT_FALSE(ParseSeriesLine("x 1x1000000 1x1000000"));
  // The budget is per file, not per line.
  auto t = ParseTestFile("load 1s\n  a 0+1x1200000\n  b 0+1x1200000\n");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message, "line 3: invalid series value \"0+1x1200000\": too many values");
}

TEST(PromqlTestFileTest, Commands) {
  const char* file = R"(# A comment.
load 5m
  http_requests{job="api"} 0+10x2
  other 1 _ stale

clear

eval instant at 50m sum by (job) (http_requests)
  {job="api"} 20
  http_requests{job="x"} NaN

eval_ordered instant at 1h5m topk(1, http_requests)
	http_requests{job="api"}	+Inf

eval instant at 0s 1 + 1
  2

eval_fail instant at 0m  label_replace(x, "a", "", "b", "(")
)";
  auto t = ParseTestFile(file);
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_EQ(t->commands.size(), 6u);

  const auto& load = std::get<LoadCommand>(t->commands[0]);
  EXPECT_EQ(load.line, 2);
  EXPECT_EQ(load.interval_ms, 300000);
  ASSERT_EQ(load.series.size(), 2u);
  EXPECT_EQ(Values(load.series[0]), (std::vector<double>{0, 10, 20}));
  EXPECT_EQ(load.series[1].line, 4);
  EXPECT_TRUE(load.series[1].values[1].omitted);
  EXPECT_TRUE(load.series[1].values[2].stale);

  EXPECT_EQ(std::get<ClearCommand>(t->commands[1]).line, 6);

  const auto& e1 = std::get<EvalCommand>(t->commands[2]);
  EXPECT_EQ(e1.expr, "sum by (job) (http_requests)");
  EXPECT_EQ(e1.line, 8);
  EXPECT_EQ(e1.expr_column, 21);
  EXPECT_EQ(e1.at_ms, 3000000);
  EXPECT_FALSE(e1.fail);
  EXPECT_FALSE(e1.ordered);
  ASSERT_EQ(e1.expected.size(), 2u);
  EXPECT_EQ(e1.expected[0].labels, core::Labels(std::vector<core::Label>{{"job", "api"}}));
  EXPECT_EQ(e1.expected[0].value, 20);
  EXPECT_EQ(e1.expected[1].labels, core::Labels({{"__name__", "http_requests"}, {"job", "x"}}));
  EXPECT_TRUE(std::isnan(e1.expected[1].value));
  EXPECT_EQ(e1.expected[1].line, 10);

  const auto& e2 = std::get<EvalCommand>(t->commands[3]);
  EXPECT_TRUE(e2.ordered);
  EXPECT_EQ(e2.at_ms, 3900000);
  ASSERT_EQ(e2.expected.size(), 1u);
  EXPECT_EQ(e2.expected[0].value, INFINITY);

  const auto& e3 = std::get<EvalCommand>(t->commands[4]);
  ASSERT_TRUE(e3.expected_scalar.has_value());
  EXPECT_EQ(*e3.expected_scalar, 2);
  EXPECT_TRUE(e3.expected.empty());

  const auto& e4 = std::get<EvalCommand>(t->commands[5]);
  EXPECT_TRUE(e4.fail);
  EXPECT_EQ(e4.expr, R"(label_replace(x, "a", "", "b", "("))");
}

TEST(PromqlTestFileTest, ReportsEveryBadLine) {
  const char* file = R"(load 5x
  x 1

load 5m
  x 1+
  y 2

eval instant at 5m
eval instant x
  {} 1

bogus command
eval instant at 1m x
  {} 1 2
)";
  auto t = ParseTestFile(file);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message,
            "line 1: invalid step definition \"5x\": not a valid duration string: \"5x\"\n"
            "line 5: invalid series value \"1+\": expected <start>(+|-)<step>x<count>\n"
            "line 8: invalid evaluation command. (eval[_fail|_ordered] instant [at "
            "<offset:duration>] <query>\n"
            "line 12: invalid command \"bogus command\"\n"
            "line 14: expected exactly one value in instant evaluation");
}

// The Prometheus 2.42 PromQL test data (shared/conformance/promql). Counts were
// taken independently by scanning the files line by line.
TEST(PromqlConformanceFilesTest, AllFilesLoadAndEveryEvalExpressionParses) {
  const std::filesystem::path dir = TALLY_PROMQL_CONFORMANCE_DIR;
  if (!std::filesystem::exists(dir / "aggregators.test")) {
    GTEST_SKIP() << "no conformance files in " << dir;
  }
  struct {
    const char* file;
    int loads, clears, evals, eval_fails, eval_ordered, series, expected_lines;
  } files[] = {
      {"aggregators.test", 10, 9, 83, 0, 11, 96, 168},
      {"at_modifier.test", 2, 1, 33, 0, 0, 3, 42},
      {"functions.test", 30, 31, 207, 4, 2, 99, 314},
      {"literals.test", 0, 0, 20, 0, 0, 0, 20},
      {"operators.test", 10, 5, 94, 1, 0, 29, 215},
      {"selectors.test", 7, 4, 31, 0, 0, 22, 96},
      {"subquery.test", 4, 3, 25, 0, 0, 9, 29},
      {"trig_functions.test", 1, 1, 19, 0, 0, 3, 55},
  };
  int total_evals = 0, parsed = 0, fail_parse_errors = 0;
  for (const auto& f : files) {
    SCOPED_TRACE(f.file);
    std::ifstream in(dir / f.file);
    ASSERT_TRUE(in.good());
    std::stringstream content;
    content << in.rdbuf();
    auto t = ParseTestFile(content.str());
    ASSERT_TRUE(t) << t.error().message;
    int loads = 0, clears = 0, evals = 0, fails = 0, ordered = 0, series = 0, expected = 0;
    for (const auto& c : t->commands) {
      if (const auto* load = std::get_if<LoadCommand>(&c)) {
        ++loads;
        series += static_cast<int>(load->series.size());
      } else if (std::holds_alternative<ClearCommand>(c)) {
        ++clears;
      } else {
        const auto& e = std::get<EvalCommand>(c);
        ++evals;
        fails += e.fail;
        ordered += e.ordered;
        expected += static_cast<int>(e.expected.size()) + (e.expected_scalar ? 1 : 0);
        auto parsed_expr = Parse(e.expr);
        if (parsed_expr) {
          ++parsed;
        } else if (e.fail) {
          ++fail_parse_errors;  // allowed: the failure may come from the parser
        } else {
          ADD_FAILURE() << f.file << ":" << e.line << ":" << e.expr_column << ": " << e.expr << ": "
                        << parsed_expr.error().ToString();
        }
      }
    }
    EXPECT_EQ(loads, f.loads);
    EXPECT_EQ(clears, f.clears);
    EXPECT_EQ(evals, f.evals);
    EXPECT_EQ(fails, f.eval_fails);
    EXPECT_EQ(ordered, f.eval_ordered);
    EXPECT_EQ(series, f.series);
    EXPECT_EQ(expected, f.expected_lines);
    total_evals += evals;
  }
  EXPECT_EQ(total_evals, 512);
  // Prometheus 2.42 requires even eval_fail expressions to parse (the failures
  // come from evaluation), so all 512 parse.
  EXPECT_EQ(parsed, 512);
  EXPECT_EQ(fail_parse_errors, 0);
}

}  // namespace
}  // namespace promql
