// Tests for aggregator/promql_printer.h beyond the parser tables: the canonical
// form of each node type and DebugString.
#include "aggregator/promql_printer.h"

#include <gtest/gtest.h>

#include "aggregator/promql_parser.h"

namespace promql {
namespace {

std::string Canonical(std::string_view q) {
  auto r = Parse(q);
  EXPECT_TRUE(r) << q << ": " << (r ? "" : r.error().ToString());
  return r ? Format(**r) : "";
}

TEST(PromqlPrinterTest, CanonicalForms) {
  struct {
    const char* input;
    const char* want;
  } cases[] = {
      {"SUM(x) BY (a,b)", "sum by (a, b) (x)"},
      {"sum by () (x)", "sum(x)"},
      {"sum without () (x)", "sum without () (x)"},
      {"topk(3,x)", "topk(3, x)"},
      {"x{b='2',a=\"1\"}", "x{a=\"1\",b=\"2\"}"},
      {"{__name__=\"x\",a=\"1\"}", "{__name__=\"x\",a=\"1\"}"},
      {"x offset 1h30m @ 100", "x @ 100.000 offset 1h30m"},
      {"x[5m] offset -1m", "x[5m] offset -1m"},
      {"x[90s:30s]", "x[1m30s:30s]"},
      {"x[5m:]", "x[5m:]"},
      {"a+on(x)group_left(y)b", "a + on (x) group_left (y) b"},
      {"a and on() b", "a and on () b"},
      {"a > bool b", "a > bool b"},
      {"a   atan2   b", "a atan2 b"},
      {"'x'", "\"x\""},
      {"`a\"b`", "\"a\\\"b\""},
      {"-(1)", "-(1)"},
      {"+x", "+x"},
      {"1e6 + 0x10", "1e+06 + 16"},
      {"label_join(x,'a',',','b')", "label_join(x, \"a\", \",\", \"b\")"},
      // Deliberate difference from Go, which prints "a * b" and so loses the grouping.
      {"a * ignoring() group_left b", "a * ignoring () group_left () b"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    EXPECT_EQ(Canonical(c.input), c.want);
  }
}

TEST(PromqlPrinterTest, DebugStringShowsStructure) {
  auto r = Parse("sum by (a) (rate(x{b=\"c\"}[5m] offset 1m)) > bool 0.5");
  ASSERT_TRUE(r);
  EXPECT_EQ(DebugString(**r),
            "(binary > bool (aggregate sum by(a) (call rate (matrix range=300000 "
            "(vector name=\"x\" {__name__=\"x\",b=\"c\"} offset=60000)))) (number 0.5))");
  // Matcher order does not matter for DebugString.
  auto a = Parse("x{a=\"1\",b=\"2\"}");
  auto b = Parse("x{b=\"2\",a=\"1\"}");
  EXPECT_EQ(DebugString(**a), DebugString(**b));
}

}  // namespace
}  // namespace promql
