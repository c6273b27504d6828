// Tests for aggregator/promql_parser.h: tables of valid and invalid queries
// whose expected outcomes come from Prometheus 2.42 itself (inputs borrowed from
// Prometheus' promql/parser/parse_test.go plus our own), AST structure checks,
// round trips through Format, and the nesting limit.
#include "aggregator/promql_parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "aggregator/promql_functions.h"
#include "aggregator/promql_printer.h"

namespace promql {
namespace {

struct ValidCase {
  const char* input;
  const char* formatted;  // Prometheus' canonical form (Go's Expr.String())
};

struct InvalidCase {
  const char* input;
  const char* message;  // Prometheus' message, without the "L:C: parse error: " prefix
  int line;
  int column;
};

// Generated from Prometheus 2.42 (promtool / the server's canonical form) by
// tests/aggregator/tools/promql_oracle.py; see that script to regenerate.

const ValidCase kValidCases[] = {
    // Number literals.
    {"1", "1"},
    {"+Inf", "+Inf"},
    {"-Inf", "-Inf"},
    {".5", "0.5"},
    {"5.", "5"},
    {"123.4567", "123.4567"},
    {"5e-3", "0.005"},
    {"5e3", "5000"},
    {"0xc", "12"},
    {"0755", "493"},
    {"+5.5e-3", "0.0055"},
    {"-0755", "-493"},
    {"09", "9"},
    {"1e6", "1e+06"},
    {"1234567", "1.234567e+06"},
    {"123456", "123456"},
    {"0.0001", "0.0001"},
    {"0.00001", "1e-05"},
    {"1.5e-7", "1.5e-07"},
    {"1e100", "1e+100"},
    {"-0", "-0"},
    {"inf", "+Inf"},
    {"NaN", "NaN"},
    {"-nan", "NaN"},
    {"0x7fffffffffffffff", "9.223372036854776e+18"},
    {"1.e3", "1000"},
    // Arithmetic, precedence and associativity.
    {"1 + 1", "1 + 1"},
    {"1 - 1", "1 - 1"},
    {"1 * 1", "1 * 1"},
    {"1 % 1", "1 % 1"},
    {"1 / 1", "1 / 1"},
    {"1 == bool 1", "1 == bool 1"},
    {"1 != bool 1", "1 != bool 1"},
    {"1 > bool 1", "1 > bool 1"},
    {"1 >= bool 1", "1 >= bool 1"},
    {"1 < bool 1", "1 < bool 1"},
    {"1 <= bool 1", "1 <= bool 1"},
    {"-1^2", "-1 ^ 2"},
    {"-1*2", "-1 * 2"},
    {"-1+2", "-1 + 2"},
    {"-1^-2", "-1 ^ -2"},
    {"+1 + -2 * 1", "1 + -2 * 1"},
    {"1 + 2/(3*1)", "1 + 2 / (3 * 1)"},
    {"1 < bool 2 - 1 * 2", "1 < bool 2 - 1 * 2"},
    {"x ^ y ^ z", "x ^ y ^ z"},
    {"(x ^ y) ^ z", "(x ^ y) ^ z"},
    {"x - y - z", "x - y - z"},
    {"x - (y - z)", "x - (y - z)"},
    {"x + y * z ^ w", "x + y * z ^ w"},
    {"-x ^ 2", "-x ^ 2"},
    {"(-x) ^ 2", "(-x) ^ 2"},
    {"x ^ -y ^ z", "x ^ -y ^ z"},
    {"2 ^ -1 * 3", "2 ^ -1 * 3"},
    {"- - x", "--x"},
    {"--1", "1"},
    {"-(-1)", "-(-1)"},
    {"x atan2 y", "x atan2 y"},
    {"1 atan2 2", "1 atan2 2"},
    {"x % 2", "x % 2"},
    {"x == y == z", "x == y == z"},
    {"x > 0 and y < 1 or z", "x > 0 and y < 1 or z"},
    {"foo + bar or bla and blub", "foo + bar or bla and blub"},
    {"foo and bar unless baz or qux", "foo and bar unless baz or qux"},
    {"-some_metric", "-some_metric"},
    {"+some_metric", "+some_metric"},
    {" +some_metric", "+some_metric"},
    {"x\n+\ny", "x + y"},
    {"x #a\n#b\n+ #c\n y", "x + y"},
    // Vector matching.
    {"foo * bar", "foo * bar"},
    {"foo == 1", "foo == 1"},
    {"foo == bool 1", "foo == bool 1"},
    {"2.5 / bar", "2.5 / bar"},
    {"foo and bar", "foo and bar"},
    {"foo or bar", "foo or bar"},
    {"foo unless bar", "foo unless bar"},
    {"bar + on(foo) bla / on(baz, buz) group_right(test) blub",
     "bar + on (foo) bla / on (baz, buz) group_right (test) blub"},
    {"foo * on(test,blub) bar", "foo * on (test, blub) bar"},
    {"foo * on(test,blub) group_left bar", "foo * on (test, blub) group_left () bar"},
    {"foo and on(test,blub) bar", "foo and on (test, blub) bar"},
    {"foo and on() bar", "foo and on () bar"},
    {"foo and ignoring(test,blub) bar", "foo and ignoring (test, blub) bar"},
    {"foo and ignoring() bar", "foo and bar"},
    {"foo / on(test,blub) group_left(bar) bar", "foo / on (test, blub) group_left (bar) bar"},
    {"foo - ignoring(test,blub) group_right(bar,foo) bar",
     "foo - ignoring (test, blub) group_right (bar, foo) bar"},
    {"x > bool on(a) y", "x > bool on (a) y"},
    {"x * on (a, b,) group_right (c,) y", "x * on (a, b) group_right (c) y"},
    {"x * on() group_left y", "x * on () group_left () y"},
    {"x * on(a) group_left (y) z", "x * on (a) group_left (y) z"},
    {"1 * on() 2", "1 * 2"},
    {"x * on() 2", "x * 2"},
    {"x == bool on(a) group_left(b) y", "x == bool on (a) group_left (b) y"},
    {"foo * sum", "foo * sum"},
    {"a + sum", "a + sum"},
    // Selectors.
    {"foo", "foo"},
    {"min", "min"},
    {"sum", "sum"},
    {"by", "by"},
    {"offset", "offset"},
    {"start", "start"},
    {"end", "end"},
    {"start{end=\"foo\"}", "start{end=\"foo\"}"},
    {"foo:bar{a=\"bc\"}", "foo:bar{a=\"bc\"}"},
    {"foo{NaN='bc'}", "foo{NaN=\"bc\"}"},
    {"foo{bar='}'}", "foo{bar=\"}\"}"},
    {"foo{a=\"b\", foo!=\"bar\", test=~\"test\", bar!~\"baz\"}",
     "foo{a=\"b\",bar!~\"baz\",foo!=\"bar\",test=~\"test\"}"},
    {"foo{a=\"b\", foo!=\"bar\", test=~\"test\", bar!~\"baz\",}",
     "foo{a=\"b\",bar!~\"baz\",foo!=\"bar\",test=~\"test\"}"},
    {"{__name__=~\"bar\", __name__!~\"baz\"}", "{__name__!~\"baz\",__name__=~\"bar\"}"},
    {"{__name__=\"bar\", __name__=\"baz\"}", "{__name__=\"bar\",__name__=\"baz\"}"},
    {"x{z=\"1\",a=\"2\"}", "x{a=\"2\",z=\"1\"}"},
    {"x{a!=\"1\",a=\"2\",a=~\"3\",a!~\"4\"}", "x{a!=\"1\",a!~\"4\",a=\"2\",a=~\"3\"}"},
    {"x{offset=\"b\", by=\"c\", sum=\"d\", bool=\"e\", on=\"f\", inf=\"g\", nan=\"h\"}",
     "x{bool=\"e\",by=\"c\",inf=\"g\",nan=\"h\",offset=\"b\",on=\"f\",sum=\"d\"}"},
    {"offset{step=\"1s\"}[5m]", "offset{step=\"1s\"}[5m]"},
    {"x{a=\"\\u00e9\"}", "x{a=\"\303\251\"}"},
    {"x{a=\"\\n\\t\"}", "x{a=\"\\n\\t\"}"},
    {"x{a=`\\n`}", "x{a=\"\\\\n\"}"},
    {"x{a=~\"(?i)abc\"}", "x{a=~\"(?i)abc\"}"},
    {"x{a=~\".+\"}", "x{a=~\".+\"}"},
    {"{a=~\".*\",b=\"c\"}", "{a=~\".*\",b=\"c\"}"},
    {"foo{a='b' # comment\n}", "foo{a=\"b\"}"},
    {"foo offset 5m", "foo offset 5m"},
    {"foo offset -7m", "foo offset -7m"},
    {"foo OFFSET 1h30m", "foo offset 1h30m"},
    {"foo OFFSET 1m30ms", "foo offset 1m30ms"},
    {"foo @ 1603774568", "foo @ 1603774568.000"},
    {"foo @ -100", "foo @ -100.000"},
    {"foo @ .3", "foo @ 0.300"},
    {"foo @ 3.3335", "foo @ 3.334"},
    {"foo @ 3e2", "foo @ 300.000"},
    {"foo @ 0xA", "foo @ 10.000"},
    {"foo @ -3.3e1", "foo @ -33.000"},
    {"foo @ start()", "foo @ start()"},
    {"foo @ end()", "foo @ end()"},
    {"foo offset 5m @ 10", "foo @ 10.000 offset 5m"},
    {"foo @ 10 offset 5m", "foo @ 10.000 offset 5m"},
    {"foo offset 1y", "foo offset 1y"},
    {"foo offset 292y", "foo offset 292y"},
    // Range selectors and subqueries.
    {"test[1000ms]", "test[1s]"},
    {"test[5s]", "test[5s]"},
    {"foo[5m30s]", "foo[5m30s]"},
    {"test[5h] OFFSET 5m", "test[5h] offset 5m"},
    {"test[5w] offset 2w", "test[5w] offset 2w"},
    {"test{a=\"b\"}[5y] OFFSET 3d", "test{a=\"b\"}[5y] offset 3d"},
    {"foo[3ms] @ 2.345", "foo[3ms] @ 2.345"},
    {"foo[4s180ms] @ 2.345", "foo[4s180ms] @ 2.345"},
    {"test[5y] @ start()", "test[5y] @ start()"},
    {"foo[1h30m:90s]", "foo[1h30m:1m30s]"},
    {"foo[365d]", "foo[1y]"},
    {"foo[7d]", "foo[1w]"},
    {"foo[1w1d]", "foo[8d]"},
    {"foo[1d1h1m1s1ms]", "foo[1d1h1m1s1ms]"},
    {"foo[ 5m ]", "foo[5m]"},
    {"foo[5s x 5s]", "foo[5s:5s]"},
    {"foo[5m] # comment", "foo[5m]"},
    {"foo{bar=\"baz\"}[10m:6s]", "foo{bar=\"baz\"}[10m:6s]"},
    {"foo{bar=\"baz\"}[10m5s:1h6ms]", "foo{bar=\"baz\"}[10m5s:1h6ms]"},
    {"foo[10m:]", "foo[10m:]"},
    {"min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:5s])",
     "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:5s])"},
    {"min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] offset 4m)[4m:3s]",
     "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] offset 4m)[4m:3s]"},
    {"min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] @ -160377509)[4m:3s]",
     "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] @ -160377509.000)[4m:3s]"},
    {"some_metric OFFSET 1m [10m:5s]", "some_metric offset 1m[10m:5s]"},
    {"some_metric @ 123 offset 1m [10m:5s]", "some_metric @ 123.000 offset 1m[10m:5s]"},
    {"some_metric[10m:5s] offset 1m @ 123", "some_metric[10m:5s] @ 123.000 offset 1m"},
    {"(foo + bar{nm=\"val\"} @ 1234)[5m:] @ 1603775019",
     "(foo + bar{nm=\"val\"} @ 1234.000)[5m:] @ 1603775019.000"},
    {"foo[10m:6s] @ start()", "foo[10m:6s] @ start()"},
    {"some_metric @ start() [5m]", "some_metric[5m] @ start()"},
    {"foo offset -5m[10m:]", "foo offset -5m[10m:]"},
    {"rate(x[5m])[30m:1m]", "rate(x[5m])[30m:1m]"},
    // Aggregations.
    {"sum by (foo)(some_metric)", "sum by (foo) (some_metric)"},
    {"sum without (foo) (some_metric)", "sum without (foo) (some_metric)"},
    {"sum (some_metric) without (foo)", "sum without (foo) (some_metric)"},
    {"stddev(some_metric)", "stddev(some_metric)"},
    {"stdvar by (foo)(some_metric)", "stdvar by (foo) (some_metric)"},
    {"sum by ()(some_metric)", "sum(some_metric)"},
    {"sum without () (x)", "sum without () (x)"},
    {"sum by (foo,bar,)(some_metric)", "sum by (foo, bar) (some_metric)"},
    {"topk(5, some_metric)", "topk(5, some_metric)"},
    {"count_values(\"value\", some_metric)", "count_values(\"value\", some_metric)"},
    {"sum without(and, by, avg, count, alert, annotations)(some_metric)",
     "sum without (and, by, avg, count, alert, annotations) (some_metric)"},
    {"topk by (a) (5, x)", "topk by (a) (5, x)"},
    {"bottomk(1, x) by (a)", "bottomk by (a) (1, x)"},
    {"quantile(0.5, x)", "quantile(0.5, x)"},
    {"group by (a) (x)", "group by (a) (x)"},
    {"sum by (a, a) (x)", "sum by (a, a) (x)"},
    {"SUM(x) BY (a)", "sum by (a) (x)"},
    {"Sum By (A) (X)", "sum by (A) (X)"},
    {"sum(sum)", "sum(sum)"},
    {"avg(avg)", "avg(avg)"},
    {"count by (count) (count)", "count by (count) (count)"},
    {"sum(by) by (by)", "sum by (by) (by)"},
    {"sum by (bool, on, ignoring, group_left, group_right, atan2, start, end, offset, and, or, "
     "unless) (x)",
     "sum by (bool, on, ignoring, group_left, group_right, atan2, start, end, offset, and, or, "
     "unless) (x)"},
    {"(sum(foo) by (bar))", "(sum by (bar) (foo))"},
    {"sum by (job)(rate(http_requests_total[30m]))",
     "sum by (job) (rate(http_requests_total[30m]))"},
    // Function calls.
    {"time()", "time()"},
    {"floor(some_metric{foo!=\"bar\"})", "floor(some_metric{foo!=\"bar\"})"},
    {"rate(some_metric[5m])", "rate(some_metric[5m])"},
    {"round(some_metric)", "round(some_metric)"},
    {"round(some_metric, 5)", "round(some_metric, 5)"},
    {"day_of_month()", "day_of_month()"},
    {"label_join(x, 'a', ',')", "label_join(x, \"a\", \",\")"},
    {"label_join(x, 'a', ',', 'b', 'c', 'd')", "label_join(x, \"a\", \",\", \"b\", \"c\", \"d\")"},
    {"histogram_quantile(0.9, rate(x_bucket[5m]))", "histogram_quantile(0.9, rate(x_bucket[5m]))"},
    {"histogram_fraction(0, 0.2, x)", "histogram_fraction(0, 0.2, x)"},
    {"holt_winters(x[5m], 0.5, 0.1)", "holt_winters(x[5m], 0.5, 0.1)"},
    {"scalar(x) == bool 1", "scalar(x) == bool 1"},
    {"vector(time())", "vector(time())"},
    {"pi()", "pi()"},
    {"absent(nonexistent{job=\"myjob\"})", "absent(nonexistent{job=\"myjob\"})"},
    // Strings.
    {"\"double-quoted string \\\" with escaped quote\"",
     "\"double-quoted string \\\" with escaped quote\""},
    {"'single-quoted string \\' with escaped quote'",
     "\"single-quoted string ' with escaped quote\""},
    {"`backtick-quoted string`", "\"backtick-quoted string\""},
    {"\"\\a\\b\\f\\n\\r\\t\\v\\\\\\\" - \\xFF\\377\\u1234\\U00010111\\U0001011111\342\230\272\"",
     "\"\\a\\b\\f\\n\\r\\t\\v\\\\\\\" - "
     "\\xff\\xff\341\210\264\360\220\204\221\360\220\204\22111\342\230\272\""},
    {"`\\a\\b\\f\\n\\r\\t\\v\\\\\\\"\\' - \\xFF\342\230\272`",
     "\"\\\\a\\\\b\\\\f\\\\n\\\\r\\\\t\\\\v\\\\\\\\\\\\\\\"\\\\' - \\\\xFF\342\230\272\""},
};

const InvalidCase kInvalidCases[] = {
    // Lexer errors.
    {"1 !~ 1", "unexpected character after '!': '~'", 1, 3},
    {"1 =~ 1", "unexpected character after '=': '~'", 1, 3},
    {".", "unexpected character: '.'", 1, 1},
    {"2.5.", "unexpected character: '.'", 1, 4},
    {"100..4", "unexpected number \".4\"", 1, 5},
    {"0deadbeef", "bad number or duration syntax: \"0de\"", 1, 1},
    {"(1))", "unexpected right parenthesis ')'", 1, 5},
    {"((1)", "unclosed left parenthesis", 1, 5},
    {"(", "unclosed left parenthesis", 1, 2},
    {"{", "unexpected end of input inside braces", 1, 2},
    {"}", "unexpected character: '}'", 1, 1},
    {"some{", "unexpected end of input inside braces", 1, 6},
    {"some}", "unexpected character: '}'", 1, 5},
    {"some_metric{a:b=\"b\"}", "unexpected character inside braces: ':'", 1, 14},
    {"foo{a*\"b\"}", "unexpected character inside braces: '*'", 1, 6},
    {"foo{a>=\"b\"}", "unexpected character inside braces: '>'", 1, 6},
    {"foo{1}", "unexpected character inside braces: '1'", 1, 5},
    {"foo[5mm]", "bad duration syntax: \"5mm\"", 1, 5},
    {"foo[5m1]", "bad duration syntax: \"5m1\"", 1, 5},
    {"foo[5]", "missing unit character in duration", 1, 5},
    {"foo[]", "missing unit character in duration", 1, 5},
    {"foo[-1]", "missing unit character in duration", 1, 5},
    {"foo[\"5m\"]", "missing unit character in duration", 1, 5},
    {"foo[5m5]", "bad duration syntax: \"5m5\"", 1, 5},
    {"foo[5s x 5s x]", "unexpected colon 'x'", 1, 13},
    {"foo{bar=\"baz\"}[", "missing unit character in duration", 1, 16},
    {"foo[5m", "unclosed left bracket", 1, 7},
    {"foo]", "unexpected right bracket ']'", 1, 4},
    {"foo[[5m]]", "missing unit character in duration", 1, 5},
    {"`\\``", "unterminated raw string", 1, 4},
    {"\"\\", "escape sequence not terminated", 1, 1},
    {"\"\\c\"", "unknown escape sequence U+0063 'c'", 1, 1},
    {"\"\\x.\"", "illegal character U+002E '.' in escape sequence", 1, 1},
    {"\"\\uD800\"", "escape sequence is an invalid Unicode code point", 1, 1},
    {"x{a!b}", "unexpected character after '!' inside braces: 'b'", 1, 4},
    {"x{{a=\"b\"}", "unexpected left brace '{'", 1, 3},
    {"\303\251", "unexpected character: '\303\251'", 1, 1},
    {"x ; y", "unexpected character: ';'", 1, 3},
    {"x !", "unexpected character after '!': '\357\277\275'", 1, 3},
    {"x $ y", "unexpected character: '$'", 1, 3},
    // Syntax errors.
    {"", "no expression found in input", 1, 1},
    {"# just a comment\n\n", "no expression found in input", 1, 1},
    {"1+", "unexpected end of input", 1, 3},
    {"1 /", "unexpected end of input", 1, 4},
    {"*1", "unexpected <op:*>", 1, 1},
    {"*test", "unexpected <op:*>", 1, 1},
    {"-=", "unexpected \"=\"", 1, 2},
    {"++-++-+-+-<", "unexpected <op:<>", 1, 11},
    {"e-+=/(0)", "unexpected \"=\"", 1, 4},
    {"a - on(b) ignoring(c) d", "unexpected <ignoring>", 1, 11},
    {"foo + group_left(baz) bar", "unexpected <group_left>", 1, 7},
    {"some_metric{a=b}", "unexpected identifier \"b\" in label matching, expected string", 1, 15},
    {"foo{gibberish}", "unexpected \"}\" in label matching, expected label matching operator", 1,
     14},
    {"foo{__name__= =}", "unexpected \"=\" in label matching, expected string", 1, 15},
    {"foo{,}", "unexpected \",\" in label matching, expected identifier or \"}\"", 1, 5},
    {"foo{__name__ == \"bar\"}", "unexpected \"=\" in label matching, expected string", 1, 15},
    {"foo{__name__=\"bar\" lol}",
     "unexpected identifier \"lol\" in label matching, expected \",\" or \"}\"", 1, 20},
    {"{\"foo\"}",
     "unexpected string \"\\\"foo\\\"\" in label matching, expected identifier or \"}\"", 1, 2},
    {"sum without(==)(some_metric)", "unexpected <op:==> in grouping opts, expected label", 1, 13},
    {"sum without(,)(some_metric)", "unexpected \",\" in grouping opts, expected label", 1, 13},
    {"sum without(foo,,)(some_metric)", "unexpected \",\" in grouping opts, expected label", 1, 17},
    {"sum some_metric by (test)", "unexpected identifier \"some_metric\"", 1, 5},
    {"sum (some_metric) by test", "unexpected identifier \"test\" in grouping opts, expected \"(\"",
     1, 22},
    {"MIN keep_common (some_metric)", "unexpected identifier \"keep_common\"", 1, 5},
    {"sum (some_metric) without (test) by (test)", "unexpected <by>", 1, 34},
    {"sum by (x:y) (z)", "unexpected metric identifier \"x:y\" in grouping opts, expected label", 1,
     9},
    {"sum by (a b) (c)", "unexpected identifier \"b\" in grouping opts, expected \",\" or \")\"", 1,
     11},
    {"sum by (without) (x)", "unexpected <without> in grouping opts, expected label", 1, 9},
    {"sum by (nan) (x)", "unexpected number \"nan\" in grouping opts, expected label", 1, 9},
    {"sum(x) by", "unexpected end of input in grouping opts, expected \"(\"", 1, 10},
    {"sum(1 +)", "unexpected \")\" in aggregation", 1, 8},
    {"sum(*)", "unexpected <op:*> in aggregation", 1, 5},
    {"rate(*)", "unexpected <op:*>", 1, 6},
    {"sum 1", "unexpected number \"1\"", 1, 5},
    {"foo[5m 1]", "unexpected number \"1\" in subquery or range, expected \":\" or \"]\"", 1, 8},
    {"foo[5m:1]", "unexpected number \"1\" in subquery selector, expected duration or \"]\"", 1, 8},
    {"foo[5m:1m 1]", "unexpected number \"1\" in subquery selector, expected \"]\"", 1, 11},
    {"some_metric[5m] OFFSET", "unexpected end of input in offset, expected duration", 1, 23},
    {"foo offset 5", "unexpected number \"5\" in offset, expected duration", 1, 12},
    {"foo offset bar", "unexpected identifier \"bar\" in offset, expected duration", 1, 12},
    {"some_metric[5m] @", "unexpected end of input in @, expected timestamp", 1, 18},
    {"foo @ bar", "unexpected identifier \"bar\" in @, expected timestamp", 1, 7},
    {"foo @ start", "unexpected end of input in @, expected timestamp", 1, 12},
    {"foo @ start(1)", "unexpected number \"1\" in @, expected timestamp", 1, 13},
    {"x * on(a) group_left", "unexpected end of input in grouping opts, expected \"(\"", 1, 21},
    {"topk(some_metric,)", "trailing commas not allowed in function call args", 1, 17},
    {"rate(x[5m],)", "trailing commas not allowed in function call args", 1, 11},
    {"quantile_over_time(1, 5m)", "trailing commas not allowed in function call args", 1, 21},
    {"x offset 1.5m", "not a valid duration string: \"1.5m\"", 1, 10},
    {"5m", "unexpected duration \"5m\"", 1, 1},
    {"foo:bar(x)", "unexpected \"(\"", 1, 8},
    {"x bool > y", "unexpected <bool>", 1, 3},
    {"x > on(a) bool y", "unexpected <bool>", 1, 11},
    // Semantic errors while parsing.
    {"999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999"
     "999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999"
     "999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999"
     "999999999999999999999999999999",
     "error parsing number: strconv.ParseFloat: parsing "
     "\"9999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999"
     "999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999"
     "999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999"
     "99999999999999999999999999999999\": value out of range",
     1, 1},
    {"1e", "error parsing number: strconv.ParseFloat: parsing \"1e\": invalid syntax", 1, 1},
    {"0x", "error parsing number: strconv.ParseFloat: parsing \"0x\": invalid syntax", 1, 1},
    {"foo[0m]", "duration must be greater than 0", 1, 5},
    {"foo offset 0s", "duration must be greater than 0", 1, 12},
    {"foo[5y1hs]", "not a valid duration string: \"5y1hs\"", 1, 5},
    {"foo[5m1h]", "not a valid duration string: \"5m1h\"", 1, 5},
    {"foo offset 293y", "duration out of range", 1, 12},
    {"1 offset 1d",
     "offset modifier must be preceded by an instant vector selector or range vector selector or a "
     "subquery",
     1, 1},
    {"sum(foo) offset 5m",
     "offset modifier must be preceded by an instant vector selector or range vector selector or a "
     "subquery",
     1, 1},
    {"foo offset 1s offset 2s", "offset may not be set multiple times", 1, 1},
    {"foo @ 1 @ 2", "@ <timestamp> may not be set multiple times", 1, 1},
    {"foo @ +Inf", "timestamp out of bounds for @ modifier: +Inf", 1, 1},
    {"foo @ NaN", "timestamp out of bounds for @ modifier: NaN", 1, 1},
    {"foo @ 1e19", "timestamp out of bounds for @ modifier: 10000000000000000000.000000", 1, 1},
    {"rate(some_metric[5m]) @ 1234",
     "@ modifier must be preceded by an instant vector selector or range vector selector or a "
     "subquery",
     1, 1},
    {"some_metric OFFSET 1m[5m]", "no offset modifiers allowed before range", 1, 22},
    {"some_metric @ 1234 [5m]", "no @ modifiers allowed before range", 1, 20},
    {"(foo + bar)[5m]", "ranges only allowed for vector selectors", 1, 12},
    {"rate(food[1m])[1h] offset 1h", "ranges only allowed for vector selectors", 1, 15},
    {"sum () by (test)", "no arguments for aggregate expression provided", 1, 1},
    {"topk(some_metric)",
     "wrong number of arguments for aggregate expression provided, expected 2, got 1", 1, 1},
    {"sum(x, y)", "wrong number of arguments for aggregate expression provided, expected 1, got 2",
     1, 1},
    {"non_existent_function_far_bar()",
     "unknown function with name \"non_existent_function_far_bar\"", 1, 1},
    {"a>b()", "unknown function with name \"b\"", 1, 3},
    {"Rate(x[5m])", "unknown function with name \"Rate\"", 1, 1},
    {"x{a=~\"(\"}", "error parsing regexp: missing closing ): `^(?:()$`", 1, 3},
    {"x{a=~\"a)(b\"}", "error parsing regexp: unexpected ): `a)(b`", 1, 3},
    {"x{a=~\"a**\"}", "error parsing regexp: invalid nested repetition operator: `**`", 1, 3},
    {"x{a=~\"\\\\C\"}", "error parsing regexp: invalid escape sequence: `\\C`", 1, 3},
    {"x{a=~\"a{1001}\"}", "error parsing regexp: invalid repeat count: `{1001}`", 1, 3},
    // Type errors.
    {"1 and 1", "set operator \"and\" not allowed in binary scalar expression", 1, 1},
    {"1 == 1", "comparisons between scalars must use BOOL modifier", 1, 3},
    {"1 or 1", "set operator \"or\" not allowed in binary scalar expression", 1, 1},
    {"1 unless 1", "set operator \"unless\" not allowed in binary scalar expression", 1, 1},
    {"-\"string\"",
     "unary expression only allowed on expressions of type scalar or instant vector, got "
     "\"string\"",
     1, 1},
    {"-test[5m]",
     "unary expression only allowed on expressions of type scalar or instant vector, got \"range "
     "vector\"",
     1, 1},
    {"foo and 1", "set operator \"and\" not allowed in binary scalar expression", 1, 1},
    {"1 unless foo", "set operator \"unless\" not allowed in binary scalar expression", 1, 1},
    {"1 or on(bar) foo", "vector matching only allowed between instant vectors", 1, 1},
    {"foo == on(bar) 10", "vector matching only allowed between instant vectors", 1, 1},
    {"foo and on(bar) group_left(baz) bar", "no grouping allowed for \"and\" operation", 1, 1},
    {"foo unless on(bar) group_right(baz) bar", "no grouping allowed for \"unless\" operation", 1,
     1},
    {"http_requests{group=\"production\"} + on(instance) group_left(job,instance) "
     "cpu_count{type=\"smp\"}",
     "label \"instance\" must not occur in ON and GROUP clause at once", 1, 35},
    {"foo + bool bar", "bool modifier can only be used on comparison operators", 1, 5},
    {"foo and bool 10", "bool modifier can only be used on comparison operators", 1, 5},
    {"x + 'a'", "binary expression must contain only scalar and instant vector types", 1, 5},
    {"x[5m] + 1", "binary expression must contain only scalar and instant vector types", 1, 1},
    {"{}", "vector selector must contain at least one non-empty matcher", 1, 1},
    {"{x=\"\"}", "vector selector must contain at least one non-empty matcher", 1, 1},
    {"{x=~\".*\"}", "vector selector must contain at least one non-empty matcher", 1, 1},
    {"{x!~\".+\"}", "vector selector must contain at least one non-empty matcher", 1, 1},
    {"{x!=\"a\"}", "vector selector must contain at least one non-empty matcher", 1, 1},
    {"foo{__name__=\"bar\"}", "metric name must not be set twice: \"foo\" or \"bar\"", 1, 1},
    {"topk(some_metric, other_metric)",
     "expected type scalar in aggregation parameter, got instant vector", 1, 6},
    {"count_values(5, other_metric)", "expected type string in aggregation parameter, got scalar",
     1, 14},
    {"quantile('a', x)", "expected type scalar in aggregation parameter, got string", 1, 10},
    {"sum(x[5m])", "expected type instant vector in aggregation expression, got range vector", 1,
     5},
    {"floor()", "expected 1 argument(s) in call to \"floor\", got 0", 1, 1},
    {"floor(some_metric, other_metric)", "expected 1 argument(s) in call to \"floor\", got 2", 1,
     1},
    {"floor(1)", "expected type instant vector in call to function \"floor\", got scalar", 1, 7},
    {"hour(some_metric, some_metric, some_metric)",
     "expected at most 1 argument(s) in call to \"hour\", got 3", 1, 1},
    {"time(some_metric)", "expected 0 argument(s) in call to \"time\", got 1", 1, 1},
    {"rate(some_metric)",
     "expected type range vector in call to function \"rate\", got instant vector", 1, 6},
    {"rate(avg)", "expected type range vector in call to function \"rate\", got instant vector", 1,
     6},
    {"label_join(x, 'a')", "expected at least 3 argument(s) in call to \"label_join\", got 2", 1,
     1},
    {"label_join(x, 'a', ',', 'b', 1)",
     "expected type string in call to function \"label_join\", got scalar", 1, 30},
    {"clamp(x, 0)", "expected 3 argument(s) in call to \"clamp\", got 2", 1, 1},
    {"test[5d] OFFSET 10s [10m:5s]",
     "subquery is only allowed on instant vector, got matrix instead", 1, 1},
    {"(foo + bar{nm=\"val\"})[5m:][10m:5s]",
     "subquery is only allowed on instant vector, got matrix instead", 1, 1},
    {"max_over_time(1[30m:])", "subquery is only allowed on instant vector, got scalar instead", 1,
     15},
    {"-'a'",
     "unary expression only allowed on expressions of type scalar or instant vector, got "
     "\"string\"",
     1, 1},
    {"x\n+\n'a'", "binary expression must contain only scalar and instant vector types", 3, 1},
};

ExprPtr MustParse(std::string_view q) {
  auto r = Parse(q);
  if (!r) {
    ADD_FAILURE() << "parse of " << q << " failed: " << r.error().ToString();
    return nullptr;
  }
  return std::move(*r);
}

// Parsing the formatted text gives back the same tree.
void ExpectRoundTrip(const Expr& e) {
  const std::string text = Format(e);
  auto again = Parse(text);
  ASSERT_TRUE(again) << text << ": " << again.error().ToString();
  EXPECT_EQ(DebugString(**again), DebugString(e)) << text;
  EXPECT_EQ(Format(**again), text);
}

TEST(PromqlParserTest, ValidQueriesFormatLikePrometheus) {
  for (const auto& c : kValidCases) {
    SCOPED_TRACE(c.input);
    auto r = Parse(c.input);
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_EQ(Format(**r), c.formatted);
    ExpectRoundTrip(**r);
  }
}

TEST(PromqlParserTest, InvalidQueriesFailLikePrometheus) {
  for (const auto& c : kInvalidCases) {
    SCOPED_TRACE(c.input);
    auto r = Parse(c.input);
    ASSERT_FALSE(r) << Format(**r);
    EXPECT_EQ(r.error().message, c.message);
    EXPECT_EQ(r.error().line, c.line);
    EXPECT_EQ(r.error().column, c.column);
    EXPECT_EQ(r.error().ToString(), std::to_string(c.line) + ":" + std::to_string(c.column) +
                                        ": parse error: " + c.message);
  }
}

// Outcomes recorded from Prometheus 2.42 for ~2,200 queries: the ones above, more
// edge cases, and randomly generated and mutated queries (valid and invalid).
TEST(PromqlParserTest, MatchesRecordedPrometheusCorpus) {
  std::ifstream in(std::string(TALLY_SOURCE_DIR) +
                   "/tests/aggregator/testdata/promql_prometheus_corpus.json");
  ASSERT_TRUE(in.good());
  const auto corpus = nlohmann::json::parse(in);
  ASSERT_GT(corpus.size(), 2000u);
  int valid = 0, invalid = 0;
  for (const auto& c : corpus) {
    const std::string input = c["expr"];
    SCOPED_TRACE(input);
    auto r = Parse(input);
    if (c.contains("formatted")) {
      ++valid;
      ASSERT_TRUE(r) << r.error().ToString();
      std::string want = c["formatted"];
      // Deliberate difference: Go drops group_left/right under an empty
      // ignoring(), which changes the query; we print it.
      if (Format(**r).find(" ignoring () group_") != std::string::npos) continue;
      EXPECT_EQ(Format(**r), want);
      ExpectRoundTrip(**r);
    } else {
      ++invalid;
      ASSERT_FALSE(r) << Format(**r);
      std::string want = c["error"];
      // Prometheus 2.42 names the `@` token `"<Item 57385>" <op:@>` (a bug).
      const std::string bug = "\"<Item 57385>\" ";
      if (auto p = want.find(bug); p != std::string::npos) want.erase(p, bug.size());
      EXPECT_EQ(r.error().ToString(), want);
    }
  }
  EXPECT_GT(valid, 600);
  EXPECT_GT(invalid, 1400);
}

TEST(PromqlParserTest, NumberLiterals) {
  struct {
    const char* input;
    double value;
  } cases[] = {
      {"1", 1},           {"0xc", 12},         {"0755", 493},
      {"-0755", -493},    {"09", 9},           {".5", 0.5},
      {"5.", 5},          {"5e-3", 0.005},     {"+5.5e-3", 0.0055},
      {"1e6", 1e6},       {"-1", -1},          {"- -1", 1},
      {"+Inf", INFINITY}, {"-inf", -INFINITY}, {"0x7fffffffffffffff", 9223372036854775807.0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    auto e = MustParse(c.input);
    ASSERT_NE(e, nullptr);
    ASSERT_EQ(e->kind, ExprKind::kNumberLiteral);
    EXPECT_EQ(As<NumberLiteral>(*e).value, c.value);
    EXPECT_EQ(e->Type(), ValueType::kScalar);
  }
  auto nan = MustParse("NaN");
  EXPECT_TRUE(std::isnan(As<NumberLiteral>(*nan).value));
  auto negzero = MustParse("-0");
  EXPECT_TRUE(std::signbit(As<NumberLiteral>(*negzero).value));
}

TEST(PromqlParserTest, UnaryMinusIsFoldedIntoLiteralsButBindsLooserThanPow) {
  auto a = MustParse("-1^2");
  ASSERT_EQ(a->kind, ExprKind::kUnary);  // -(1^2)
  EXPECT_EQ(As<BinaryExpr>(*As<UnaryExpr>(*a).expr).op, BinaryOp::kPow);
  auto b = MustParse("-1*2");
  ASSERT_EQ(b->kind, ExprKind::kBinary);  // (-1)*2
  EXPECT_EQ(As<NumberLiteral>(*As<BinaryExpr>(*b).lhs).value, -1);
  auto c = MustParse("2 ^ 3 ^ 2");  // right-associative
  const auto& pow = As<BinaryExpr>(*c);
  EXPECT_EQ(pow.lhs->kind, ExprKind::kNumberLiteral);
  EXPECT_EQ(pow.rhs->kind, ExprKind::kBinary);
  auto d = MustParse("1 - 2 - 3");  // left-associative
  EXPECT_EQ(As<BinaryExpr>(*d).lhs->kind, ExprKind::kBinary);
  EXPECT_EQ(As<BinaryExpr>(*d).rhs->kind, ExprKind::kNumberLiteral);
}

TEST(PromqlParserTest, OperatorPrecedence) {
  // or < and/unless < comparisons < +- < */%atan2 < ^.
  auto e = MustParse("a or b and c == d + e * f ^ g");
  const auto& lor = As<BinaryExpr>(*e);
  EXPECT_EQ(lor.op, BinaryOp::kOr);
  const auto& land = As<BinaryExpr>(*lor.rhs);
  EXPECT_EQ(land.op, BinaryOp::kAnd);
  const auto& eq = As<BinaryExpr>(*land.rhs);
  EXPECT_EQ(eq.op, BinaryOp::kEql);
  const auto& add = As<BinaryExpr>(*eq.rhs);
  EXPECT_EQ(add.op, BinaryOp::kAdd);
  const auto& mul = As<BinaryExpr>(*add.rhs);
  EXPECT_EQ(mul.op, BinaryOp::kMul);
  EXPECT_EQ(As<BinaryExpr>(*mul.rhs).op, BinaryOp::kPow);
}

TEST(PromqlParserTest, VectorSelectorFields) {
  auto e = MustParse(R"(foo{a="b", c=~"d.*"} offset -7m @ 3.3335)");
  const auto& vs = As<VectorSelector>(*e);
  EXPECT_EQ(vs.name, "foo");
  ASSERT_EQ(vs.matchers.size(), 3u);
  EXPECT_EQ(vs.matchers[0].ToString(), R"(a="b")");
  EXPECT_EQ(vs.matchers[1].type(), MatchType::kRegexMatch);
  EXPECT_TRUE(vs.matchers[1].Matches("dog"));
  EXPECT_FALSE(vs.matchers[1].Matches("xdog"));  // anchored
  EXPECT_EQ(vs.matchers[2].ToString(), R"(__name__="foo")");
  EXPECT_EQ(vs.offset_ms, -7 * 60 * 1000);
  EXPECT_EQ(vs.at.kind, AtModifier::Kind::kTimestamp);
  EXPECT_EQ(vs.at.timestamp_ms, 3334);  // rounded like Prometheus
  EXPECT_EQ(vs.pos.start, 0);

  auto named_inside = MustParse(R"({__name__="foo"})");
  EXPECT_EQ(As<VectorSelector>(*named_inside).name, "");
  EXPECT_EQ(Format(*named_inside), R"({__name__="foo"})");

  auto at_end = MustParse("foo @ end()");
  EXPECT_EQ(As<VectorSelector>(*at_end).at.kind, AtModifier::Kind::kEnd);
}

TEST(PromqlParserTest, MatrixAndSubqueryFields) {
  auto m = MustParse("rate(foo[5m] offset 1h)");
  const auto& call = As<Call>(*m);
  EXPECT_EQ(call.func, FindFunction("rate"));
  const auto& ms = As<MatrixSelector>(*call.args[0]);
  EXPECT_EQ(ms.range_ms, 5 * 60 * 1000);
  EXPECT_EQ(ms.selector->offset_ms, 3600 * 1000);
  EXPECT_EQ(ms.Type(), ValueType::kMatrix);

  auto s = MustParse("max_over_time(rate(x[1m])[30m:1m] @ start() offset 5m)");
  const auto& sq = As<SubqueryExpr>(*As<Call>(*s).args[0]);
  EXPECT_EQ(sq.range_ms, 30 * 60 * 1000);
  EXPECT_EQ(sq.step_ms, 60 * 1000);
  EXPECT_EQ(sq.offset_ms, 5 * 60 * 1000);
  EXPECT_EQ(sq.at.kind, AtModifier::Kind::kStart);
  EXPECT_EQ(sq.expr->kind, ExprKind::kCall);

  auto nostep = MustParse("x[1h:]");
  EXPECT_EQ(As<SubqueryExpr>(*nostep).step_ms, 0);
}

TEST(PromqlParserTest, BinaryMatchingFields) {
  auto e = MustParse("a / on(x, y) group_left(z) b");
  const auto& b = As<BinaryExpr>(*e);
  ASSERT_TRUE(b.matching.has_value());
  EXPECT_TRUE(b.matching->on);
  EXPECT_EQ(b.matching->card, Cardinality::kManyToOne);
  EXPECT_EQ(b.matching->labels, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(b.matching->include, (std::vector<std::string>{"z"}));

  auto set = MustParse("a and ignoring(x) b");
  EXPECT_EQ(As<BinaryExpr>(*set).matching->card, Cardinality::kManyToMany);
  EXPECT_FALSE(As<BinaryExpr>(*set).matching->on);

  // With a scalar side there is no vector matching.
  auto scalar = MustParse("a > bool 1");
  EXPECT_FALSE(As<BinaryExpr>(*scalar).matching.has_value());
  EXPECT_TRUE(As<BinaryExpr>(*scalar).return_bool);
  EXPECT_EQ(scalar->Type(), ValueType::kVector);
  EXPECT_EQ(MustParse("1 > bool 1")->Type(), ValueType::kScalar);
}

TEST(PromqlParserTest, AggregationFields) {
  auto e = MustParse("topk(3, x) without (a, b)");
  const auto& a = As<AggregateExpr>(*e);
  EXPECT_EQ(a.op, AggregateOp::kTopk);
  EXPECT_TRUE(a.without);
  EXPECT_EQ(a.grouping, (std::vector<std::string>{"a", "b"}));
  ASSERT_NE(a.param, nullptr);
  EXPECT_EQ(As<NumberLiteral>(*a.param).value, 3);
  EXPECT_EQ(a.expr->kind, ExprKind::kVectorSelector);

  auto cv = MustParse(R"(count_values by (x) ("value", y))");
  EXPECT_EQ(As<StringLiteral>(*As<AggregateExpr>(*cv).param).value, "value");
  EXPECT_FALSE(As<AggregateExpr>(*cv).without);
}

TEST(PromqlParserTest, PositionsAreByteOffsets) {
  auto r = Parse("sum(rate(x[5m]))\n  + foo{a=~\"(\"}");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().line, 2);
  EXPECT_EQ(r.error().column, 9);  // at the matcher "a=~..."
  EXPECT_EQ(r.error().start, 25);

  auto e = MustParse("  sum(x) + rate(y[1m])");
  const auto& b = As<BinaryExpr>(*e);
  EXPECT_EQ(b.lhs->pos.start, 2);
  EXPECT_EQ(b.lhs->pos.end, 8);
  EXPECT_EQ(b.rhs->pos.start, 11);
  EXPECT_EQ(b.rhs->pos.end, 22);
}

TEST(PromqlParserTest, InvalidUtf8AndControlBytes) {
  struct {
    std::string input;
    std::string message;
  } cases[] = {
      {"some_metric{a=\"\xff\"}", "invalid UTF-8 rune"},
      {"label_replace(a, `b`, `c\xff`, `d`, `.*`)", "invalid UTF-8 rune"},
      {"\"\xc3\"", "invalid UTF-8 rune"},
      {"foo \xe2\x82", "unexpected character: '\xef\xbf\xbd'"},
      {std::string("x\0y", 3), "unexpected character: '\\x00'"},
      {"x\x01", "unexpected character: '\\x01'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.input);
    auto r = Parse(c.input);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, c.message);
  }
  // Escapes may produce invalid UTF-8; Format writes it back as \x escapes.
  auto e = MustParse(R"(x{a="\xff\x00"})");
  EXPECT_EQ(As<VectorSelector>(*e).matchers[0].value(), std::string("\xff\0", 2));
  EXPECT_EQ(Format(*e), R"(x{a="\xff\x00"})");
  ExpectRoundTrip(*e);
}

TEST(PromqlParserTest, NestingIsBoundedInsteadOfRecursing) {
  auto deep = [](int n, const std::string& open, const std::string& leaf,
                 const std::string& close) {
    std::string s;
    for (int i = 0; i < n; ++i) s += open;
    s += leaf;
    for (int i = 0; i < n; ++i) s += close;
    return s;
  };
  // Just under the limit, every recursive pass (parse, check, print, dump,
  // destructor) still fits on the stack, also with AddressSanitizer.
  const std::string deep_ok[] = {
      deep(kMaxNesting - 2, "(", "x", ")"),
      deep(kMaxNesting - 2, "abs(", "x", ")"),
      deep(kMaxNesting - 2, "sum by (a) (", "x", ")"),
      deep(kMaxNesting - 2, "-", "x", ""),
      deep(kMaxNesting - 2, "x ^ ", "x", ""),
      deep(kMaxNesting - 2, "", "x", " + x"),
      deep(kMaxNesting / 3 - 2, "max_over_time((", "x", ")[5m:])"),  // 3 nodes per level
  };
  for (const auto& q : deep_ok) {
    SCOPED_TRACE(q.substr(0, 20));
    auto r = Parse(q);
    ASSERT_TRUE(r) << r.error().ToString();
    EXPECT_FALSE(Format(**r).empty());
    EXPECT_FALSE(DebugString(**r).empty());
  }
  const std::string too_deep[] = {
      deep(100000, "(", "x", ")"),
      deep(100000, "-", "x", ""),
      deep(100000, "sum(", "x", ")"),
      deep(100000, "", "x", " + x"),  // a left-deep chain: iterative in the parser
      deep(100000, "x ^ ", "x", ""),
      "x" + deep(3000, "", "", "[1m:]"),
  };
  for (const auto& q : too_deep) {
    SCOPED_TRACE(q.substr(0, 20));
    auto r = Parse(q);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("nested too deeply"), std::string::npos) << r.error().message;
  }
}

TEST(PromqlParserTest, RejectsHugeQueries) {
  std::string q(kMaxQueryBytes + 1, ' ');
  q[0] = 'x';
  auto r = Parse(q);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "query is too long (limit 16777216 bytes)");
}

TEST(PromqlParserTest, ParseExprReturnsCoreError) {
  auto ok = ParseExpr("up == 1");
  ASSERT_TRUE(ok);
  auto bad = ParseExpr("up ==");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, core::ErrorCode::kInvalidRequest);
  EXPECT_EQ(bad.error().message, "1:6: parse error: unexpected end of input");
}

TEST(PromqlParserTest, EveryFunctionParsesWithItsSignature) {
  for (const Function& f : AllFunctions()) {
    SCOPED_TRACE(std::string(f.name));
    std::string q = std::string(f.name) + "(";
    for (size_t i = 0; i < f.arg_types.size(); ++i) {
      if (i > 0) q += ", ";
      switch (f.arg_types[i]) {
        case ValueType::kScalar:
          q += "1";
          break;
        case ValueType::kVector:
          q += "v";
          break;
        case ValueType::kMatrix:
          q += "m[5m]";
          break;
        case ValueType::kString:
          q += "\"s\"";
          break;
        case ValueType::kNone:
          break;
      }
    }
    q += ")";
    auto e = MustParse(q);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->Type(), f.return_type);
    EXPECT_EQ(Format(*e), q);
  }
}

}  // namespace
}  // namespace promql
