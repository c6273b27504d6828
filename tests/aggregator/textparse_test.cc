#include "aggregator/textparse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/summary.h>

#include <atomic>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/clock.h"
#include "exporter/exposition.h"
#include "store/series_store.h"

// Counts heap allocations, to check the steady state allocates nothing. Not
// under AddressSanitizer, which owns operator new itself.
#if defined(__SANITIZE_ADDRESS__)
#define TALLY_COUNT_ALLOCATIONS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TALLY_COUNT_ALLOCATIONS 0
#endif
#endif
#ifndef TALLY_COUNT_ALLOCATIONS
#define TALLY_COUNT_ALLOCATIONS 1
#endif
namespace {
std::atomic<long> g_allocations{0};
}  // namespace
#if TALLY_COUNT_ALLOCATIONS
#if defined(__GNUC__) && !defined(__clang__)
// GCC sees the inlined malloc/free pair as a new/delete mismatch.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#endif

namespace textparse {
namespace {

using ::testing::HasSubstr;

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

std::string FormatValue(double v) {
  if (std::isnan(v)) {
    return std::bit_cast<uint64_t>(v) == 0x7ff8000000000001 ? "NaN" : "OtherNaN";
  }
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// The whole parse as one line per entry, or the entries up to "error: <message>".
std::string Dump(std::string_view input, Format format) {
  Parser p(input, format);
  std::string out;
  while (true) {
    auto e = p.Next();
    if (!e) {
      out += "error: " + e.error().message + "\n";
      return out;
    }
    switch (*e) {
      case Entry::kSeries: {
        out += "series " + std::string(p.MetricName()) + "{";
        bool first = true;
        for (const LabelView& l : p.Labels()) {
          if (!first) out += ",";
          first = false;
          out += std::string(l.name) + "=" + Quote(l.value);
        }
        out += "} " + FormatValue(p.Value());
        if (p.HasTimestamp()) out += " @" + std::to_string(p.TimestampMs());
        if (p.HasExemplar()) out += " +exemplar";
        break;
      }
      case Entry::kHelp:
        out += "help " + std::string(p.MetricName()) + " " + Quote(p.Text());
        break;
      case Entry::kType:
        out += "type " + std::string(p.MetricName()) + " " + std::string(MetricTypeName(p.Type()));
        break;
      case Entry::kUnit:
        out += "unit " + std::string(p.MetricName()) + " " + Quote(p.Text());
        break;
      case Entry::kComment:
        out += "comment " + Quote(p.Text());
        break;
      case Entry::kEof:
        return out + "eof\n";
    }
    out += "\n";
  }
}

struct GoodCase {
  const char* name;
  Format format;
  std::string input;
  std::string want;
};

constexpr Format kProm = Format::kPrometheus;
constexpr Format kOm = Format::kOpenMetrics;

TEST(TextParseTest, GoodInputs) {
  const GoodCase cases[] = {
      {"empty", kProm, "", "eof\n"},
      {"one sample", kProm, "foo 1\n", "series foo{} 1\neof\n"},
      {"no final newline", kProm, "foo 1", "series foo{} 1\neof\n"},
      {"labels and timestamp", kProm, "foo{a=\"b\",c=\"d\"} 1.5 1234\n",
       "series foo{a=\"b\",c=\"d\"} 1.5 @1234\neof\n"},
      {"space before the label set", kProm, "foo {a=\"b\"} 1\n", "series foo{a=\"b\"} 1\neof\n"},
      {"indented comment", kProm, "  # hi\nfoo 1\n", "comment \"hi\"\nseries foo{} 1\neof\n"},
      {"empty braces", kProm, "foo{} 3\n", "series foo{} 3\neof\n"},
      {"value right after brace", kProm, "foo{a=\"b\"}1\n", "series foo{a=\"b\"} 1\neof\n"},
      {"spaces and tabs everywhere", kProm, "foo{ a = \"b\" ,\tc=\"d\", }\t 2 \t 5 \n",
       "series foo{a=\"b\",c=\"d\"} 2 @5\neof\n"},
      {"trailing comma", kProm, "foo{a=\"b\",} 1\n", "series foo{a=\"b\"} 1\neof\n"},
      {"colon in name", kProm, "job:rate5m:sum 7\n", "series job:rate5m:sum{} 7\neof\n"},
      {"escapes", kProm, R"(foo{a="x\\y\"z\nw",b="\t"} 1)" "\n",
       "series foo{a=\"x\\\\y\\\"z\\nw\",b=\"\\\\t\"} 1\neof\n"},
      {"utf-8 value", kProm, "foo{a=\"h\xc3\xa9llo \xe2\x98\x83\"} 1\n",
       "series foo{a=\"h\xc3\xa9llo \xe2\x98\x83\"} 1\neof\n"},
      {"special values", kProm,
       "a NaN\nb +Inf\nc -Inf\nd Nan\ne inf\nf -infinity\ng 1e3\nh .5\ni -0\nj +5\nk 1E-3\nl 5.\n",
       "series a{} NaN\nseries b{} +Inf\nseries c{} -Inf\nseries d{} NaN\nseries e{} +Inf\n"
       "series f{} -Inf\nseries g{} 1000\nseries h{} 0.5\nseries i{} -0\nseries j{} 5\n"
       "series k{} 0.001\nseries l{} 5\neof\n"},
      {"help with escapes (0.0.4 keeps \\\")", kProm, R"(# HELP foo a\\b\nc\"d)" "\n",
       "help foo \"a\\\\b\\nc\\\\\\\"d\"\neof\n"},
      {"help without text", kProm, "# HELP foo\n", "help foo \"\"\neof\n"},
      {"types", kProm,
       "# TYPE a counter\n# TYPE b gauge\n#\tTYPE c histogram\n# TYPE d summary\n"
       "# TYPE e untyped\n",
       "type a counter\ntype b gauge\ntype c histogram\ntype d summary\ntype e untyped\neof\n"},
      {"comments", kProm, "# hello world\n#\n# HELPER x\n# HELP\n",
       "comment \"hello world\"\ncomment \"\"\ncomment \"HELPER x\"\ncomment \"HELP\"\neof\n"},
      {"blank lines", kProm, "\n\n  \t\nfoo 1\n\n", "series foo{} 1\neof\n"},
      {"duplicate series are passed on", kProm, "foo 1\nfoo 2\n",
       "series foo{} 1\nseries foo{} 2\neof\n"},
      {"om minimal", kOm, "foo 1\n# EOF\n", "series foo{} 1\neof\n"},
      {"om eof without newline", kOm, "foo 1\n# EOF", "series foo{} 1\neof\n"},
      {"om only eof", kOm, "# EOF\n", "eof\n"},
      {"om float timestamp in seconds", kOm, "foo 1 1.5\nbar 2 -3\n# EOF\n",
       "series foo{} 1 @1500\nseries bar{} 2 @-3000\neof\n"},
      {"om exemplars ignored", kOm,
       "a_bucket{le=\"1\"} 2 # {trace_id=\"x\"} 0.5\n"
       "b_total 3 100 # {} 1 99.5\n# EOF\n",
       "series a_bucket{le=\"1\"} 2 +exemplar\nseries b_total{} 3 @100000 +exemplar\neof\n"},
      {"om help escapes \\\"", kOm, "# HELP foo a\\\"b\\\\\n# EOF\n", "help foo \"a\\\"b\\\\\"\neof\n"},
      {"om unit and types", kOm,
       "# TYPE a gaugehistogram\n# TYPE b info\n# TYPE c stateset\n# TYPE d unknown\n"
       "# UNIT e_seconds seconds\n# UNIT f \n# EOF\n",
       "type a gaugehistogram\ntype b info\ntype c stateset\ntype d unknown\n"
       "unit e_seconds \"seconds\"\nunit f \"\"\neof\n"},
      {"om created and NaN", kOm, "x_created 1.6e9\ny NaN\n# EOF\n",
       "series x_created{} 1.6e+09\nseries y{} NaN\neof\n"},
  };
  for (const GoodCase& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(Dump(c.input, c.format), c.want);
  }
}

struct BadCase {
  const char* name;
  Format format;
  std::string input;
  std::string message;  // a substring of the error message
  int line;
  int column;
};

TEST(TextParseTest, BadInputs) {
  const BadCase cases[] = {
      {"label set not closed", kProm, "foo{a=\"b\"\n", "expected ',' or '}' after label value, got end of line", 1, 10},
      {"unterminated value", kProm, "foo{a=\"b} 1\n", "unterminated label value, got \"\\\"b}\"", 1, 7},
      {"label name starts with digit", kProm, "foo{1a=\"b\"} 1\n", "expected label name or '}', got \"1a=\\\"b\\\"}\"", 1, 5},
      {"missing =", kProm, "foo{a\"b\"} 1\n", "expected '=' after label name", 1, 6},
      {"unquoted value", kProm, "foo{a=b} 1\n", "expected '\"' to start the label value, got \"b}\"", 1, 7},
      {"double comma", kProm, "foo{a=\"b\",,} 1\n", "expected label name", 1, 11},
      {"no value", kProm, "foo\n", "expected a value after the metric, got end of line", 1, 4},
      {"no value after labels", kProm, "foo{a=\"b\"} \n", "expected a value", 1, 12},
      {"word value", kProm, "foo bar\n", "invalid value, got \"bar\"", 1, 5},
      {"hex value", kProm, "foo 0x10\n", "invalid value", 1, 5},
      {"underscore value", kProm, "foo 1_000\n", "invalid value", 1, 5},
      {"hex float exponent", kProm, "foo 1p3\n", "invalid value", 1, 5},
      {"signed nan", kProm, "foo +NaN\n", "invalid value", 1, 5},
      {"nan payload", kProm, "foo nan(1)\n", "invalid value", 1, 5},
      {"out of range", kProm, "foo 1e400\n", "invalid value", 1, 5},
      {"double sign", kProm, "foo +-1\n", "invalid value", 1, 5},
      {"float timestamp in 0.0.4", kProm, "foo 1 1.5\n", "invalid timestamp (integer milliseconds), got \"1.5\"", 1, 7},
      {"timestamp overflow", kProm, "foo 1 99999999999999999999\n", "invalid timestamp", 1, 7},
      {"extra token", kProm, "foo 1 2 3\n", "expected end of line after the timestamp, got \"3\"", 1, 9},
      {"name starts with digit", kProm, "1foo 1\n", "expected metric name, got \"1foo\"", 1, 1},
      {"dash in name", kProm, "foo-bar 1\n", "invalid character in metric name, got \"-bar\"", 1, 4},
      {"duplicate label", kProm, "foo{a=\"1\",a=\"2\"} 1\n", "duplicate label name, got \"a=\\\"2\\\"}\"", 1, 11},
      {"__name__ label", kProm, "foo{__name__=\"x\"} 1\n", "label __name__ in a label set", 1, 5},
      {"invalid utf-8", kProm, "foo{a=\"\xff\"} 1\n", "invalid UTF-8 in label value, got \"\\xff\\\"}\"", 1, 8},
      {"invalid utf-8 after a backslash", kProm, "foo{a=\"\\\xa8\"} 1\n", "invalid UTF-8 in label value", 1, 8},
      {"invalid type", kProm, "# TYPE foo blah\n", "invalid metric type, got \"blah\"", 1, 12},
      {"missing type", kProm, "# TYPE foo\n", "expected a metric type after TYPE", 1, 11},
      {"om type in 0.0.4", kProm, "# TYPE foo gaugehistogram\n", "invalid metric type", 1, 12},
      {"bad help name", kProm, "# HELP 1x y\n", "expected metric name after HELP, got \"1x\"", 1, 8},
      {"bad char in help name", kProm, "# HELP foo{ y\n", "invalid character in metric name", 1, 11},
      {"invalid utf-8 help", kProm, "# HELP foo \xc3\x28\n", "help text is not valid UTF-8", 1, 12},
      {"error on line 3", kProm, "a 1\n\nc{ 3\n", "expected label name or '}', got \"3\"", 3, 4},
      {"leading whitespace", kProm, "  foo 1\n", "leading whitespace, got a space", 1, 1},
      {"plus timestamp", kProm, "foo 1 +5\n", "invalid timestamp", 1, 7},
      {"negative timestamp", kProm, "foo 1 -5\n", "invalid timestamp", 1, 7},
      {"type with trailing blanks", kProm, "# TYPE foo counter  \n", "invalid metric type, got \"counter\"", 1, 12},
      {"om help without text", kOm, "# HELP foo\n# EOF\n", "expected a space and text after the metric name in HELP", 1, 11},
      {"om unit not a suffix", kOm, "# UNIT foo seconds\n# EOF\n", "unit is not a suffix of the metric name, got \"foo\"", 1, 8},
      {"om unit without underscore", kOm, "# UNIT fooseconds seconds\n# EOF\n", "unit is not a suffix", 1, 8},
      {"om trailing comma", kOm, "foo{a=\"b\",} 1\n# EOF\n", "expected label name after ',', got \"}\"", 1, 11},
      {"om missing eof", kOm, "foo 1\n", "data does not end with # EOF", 2, 1},
      {"om empty input", kOm, "", "data does not end with # EOF", 1, 1},
      {"om data after eof", kOm, "# EOF\nfoo 1\n", "unexpected data after # EOF, got \"foo\"", 2, 1},
      {"om newline after eof", kOm, "# EOF\n\n", "unexpected data after # EOF", 2, 1},
      {"om two spaces", kOm, "foo  1\n# EOF\n", "expected a value after the metric, got a space", 1, 5},
      {"om tab separator", kOm, "foo\t1\n# EOF\n", "expected a space after the metric name, got a tab", 1, 4},
      {"om blank line", kOm, "foo 1\n\n# EOF\n", "empty line", 2, 1},
      {"om plain comment", kOm, "# random comment\n# EOF\n", "expected HELP, TYPE, UNIT or EOF after '# ', got \"random\"", 1, 3},
      {"om no space after #", kOm, "#EOF\n", "expected a space after '#'", 1, 2},
      {"om nan timestamp", kOm, "foo 1 NaN\n# EOF\n", "invalid timestamp, got \"NaN\"", 1, 7},
      {"om huge timestamp", kOm, "foo 1 1e300\n# EOF\n", "invalid timestamp", 1, 7},
      {"om bad exemplar value", kOm, "foo 1 # {a=\"b\"} x\n# EOF\n", "invalid exemplar value, got \"x\"", 1, 17},
      {"om exemplar without braces", kOm, "foo 1 #{}\n# EOF\n", "expected ' # {' to start an exemplar", 1, 7},
      {"om exemplar garbage", kOm, "foo 1 # {} 1 2 3\n# EOF\n", "expected end of line after the exemplar", 1, 15},
      {"om junk after timestamp", kOm, "foo 1 2 x\n# EOF\n", "expected an exemplar or end of line after the timestamp, got \"x\"", 1, 9},
      {"om untyped", kOm, "# TYPE foo untyped\n# EOF\n", "invalid metric type", 1, 12},
      {"om no space after labels", kOm, "foo{a=\"b\"}1\n# EOF\n", "expected a space after the label set, got \"1\"", 1, 11},
      {"om spaces in label set", kOm, "foo{ a=\"b\"} 1\n# EOF\n", "expected label name or '}', got a space", 1, 5},
      {"om bad unit", kOm, "# UNIT foo se-conds\n# EOF\n", "invalid character in unit", 1, 14},
      {"om trailing space", kOm, "foo 1 \n# EOF\n", "invalid timestamp, got end of line", 1, 7},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    Parser p(c.input, c.format);
    core::Error error;
    bool failed = false;
    for (int i = 0; i < 100; ++i) {
      auto e = p.Next();
      if (!e) {
        error = e.error();
        failed = true;
        break;
      }
      if (*e == Entry::kEof) break;
    }
    ASSERT_TRUE(failed);
    EXPECT_EQ(error.code, core::ErrorCode::kInvalidRequest);
    EXPECT_THAT(error.message, HasSubstr(c.message));
    EXPECT_EQ(p.error_position().line, c.line);
    EXPECT_EQ(p.error_position().column, c.column);
    const std::string where =
        "line " + std::to_string(c.line) + ", column " + std::to_string(c.column) + ": ";
    EXPECT_TRUE(error.message.starts_with(where)) << error.message;
    // The parser stays failed.
    auto again = p.Next();
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().message, error.message);
  }
}

TEST(TextParseTest, LongOffendingTextIsCut) {
  const std::string input = "foo " + std::string(100, 'x') + "\n";
  Parser p(input, kProm);
  auto e = p.Next();
  ASSERT_FALSE(e.has_value());
  EXPECT_THAT(e.error().message, HasSubstr("\"" + std::string(40, 'x') + "\"..."));
  EXPECT_LT(e.error().message.size(), 120u);
}

TEST(TextParseTest, FormatFromContentType) {
  EXPECT_EQ(FormatFromContentType("application/openmetrics-text; version=1.0.0; charset=utf-8"), kOm);
  EXPECT_EQ(FormatFromContentType("Application/OpenMetrics-Text"), kOm);
  EXPECT_EQ(FormatFromContentType(" application/openmetrics-text ;version=0.0.1"), kOm);
  EXPECT_EQ(FormatFromContentType("text/plain; version=0.0.4; charset=utf-8"), kProm);
  EXPECT_EQ(FormatFromContentType(""), kProm);
  EXPECT_EQ(FormatFromContentType("application/openmetrics-textx"), kProm);
  EXPECT_EQ(FormatFromContentType("application/json"), kProm);
}

TEST(TextParseTest, SeriesTextIsTheCacheKey) {
  Parser p("a{x=\"1\"} 1\na{x=\"1\"} 2 5\nb 3\n", kProm);
  ASSERT_EQ(*p.Next(), Entry::kSeries);
  EXPECT_EQ(p.Series(), "a{x=\"1\"}");
  ASSERT_EQ(*p.Next(), Entry::kSeries);
  EXPECT_EQ(p.Series(), "a{x=\"1\"}");
  EXPECT_EQ(p.line(), 2);
  ASSERT_EQ(*p.Next(), Entry::kSeries);
  EXPECT_EQ(p.Series(), "b");
  EXPECT_FALSE(p.HasTimestamp());
  EXPECT_EQ(*p.Next(), Entry::kEof);
  EXPECT_EQ(*p.Next(), Entry::kEof);
}

TEST(TextParseTest, ManyLabelsDuplicateFound) {
  std::string input = "foo{";
  for (int i = 0; i < 40; ++i) input += "l" + std::to_string(i) + "=\"v\",";
  const std::string good = input + "} 1\n";
  EXPECT_EQ(Dump(good, kProm).substr(0, 13), "series foo{l0");
  const std::string bad = input + "l7=\"again\"} 1\n";
  Parser p(bad, kProm);
  auto e = p.Next();
  ASSERT_FALSE(e.has_value());
  EXPECT_THAT(e.error().message, HasSubstr("duplicate label name, got \"l7="));
  EXPECT_EQ(p.error_position().column, static_cast<int>(input.size()) + 1);
}

std::string ReadFixture(const std::string& name) {
  std::ifstream in(std::string(TALLY_SOURCE_DIR) + "/tests/aggregator/testdata/textparse/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Counts {
  int series = 0, help = 0, type = 0, unit = 0, comment = 0, exemplars = 0;
  std::map<std::string, double> values;  // "name{l=v,...}" -> value
};

Counts ParseAll(std::string_view body, Format format) {
  Counts c;
  Parser p(body, format);
  while (true) {
    auto e = p.Next();
    EXPECT_TRUE(e.has_value()) << e.error().message;
    if (!e || *e == Entry::kEof) break;
    switch (*e) {
      case Entry::kSeries: {
        ++c.series;
        c.exemplars += p.HasExemplar();
        std::string key(p.MetricName());
        key += "{";
        for (const LabelView& l : p.Labels()) key += std::string(l.name) + "=" + Quote(l.value) + ",";
        key += "}";
        EXPECT_EQ(c.values.count(key), 0u) << key;
        c.values[key] = p.Value();
        break;
      }
      case Entry::kHelp: ++c.help; break;
      case Entry::kType: ++c.type; break;
      case Entry::kUnit: ++c.unit; break;
      case Entry::kComment: ++c.comment; break;
      case Entry::kEof: break;
    }
  }
  return c;
}

TEST(TextParseTest, NodeExporterBody) {
  const std::string body = ReadFixture("node_exporter.prom");
  ASSERT_GT(body.size(), 5000u);
  const Counts c = ParseAll(body, kProm);
  EXPECT_EQ(c.series, 58);
  EXPECT_EQ(c.help, 23);
  EXPECT_EQ(c.type, 23);
  EXPECT_EQ(c.values.at("node_cpu_seconds_total{cpu=\"1\",mode=\"user\",}"), 4470.33);
  EXPECT_EQ(c.values.at("node_systemd_unit_state{name=\"dev-disk-by\\\\x2duuid-1234.swap\","
                        "state=\"active\",type=\"swap\",}"),
            1);
  EXPECT_EQ(c.values.at("node_time_seconds{}"), 1.7007188234510841e+09);
  EXPECT_EQ(c.values.count(
                "node_uname_info{domainname=\"(none)\",machine=\"x86_64\",nodename=\"host "
                "\\\"one\\\"\",release=\"6.1.0-13-amd64\",sysname=\"Linux\",version=\"#1 SMP "
                "PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)\",}"),
            1u);
  EXPECT_TRUE(std::isinf(c.values.at(
      "prometheus_http_request_duration_seconds_bucket{handler=\"/metrics\",le=\"+Inf\",}")) ==
              false);
}

TEST(TextParseTest, OpenMetricsBody) {
  const std::string body = ReadFixture("openmetrics.txt");
  const Counts c = ParseAll(body, kOm);
  EXPECT_EQ(c.series, 18);
  EXPECT_EQ(c.unit, 2);
  EXPECT_EQ(c.type, 6);
  EXPECT_EQ(c.help, 3);
  EXPECT_EQ(c.exemplars, 2);
  EXPECT_EQ(c.values.at("foo_created{}"), 1520430000.123);
  // The same body is not valid 0.0.4 (exemplars, UNIT are read as junk/comments).
  Parser p(body, kProm);
  bool failed = false;
  while (true) {
    auto e = p.Next();
    if (!e) {
      failed = true;
      break;
    }
    if (*e == Entry::kEof) break;
  }
  EXPECT_TRUE(failed);
}

TEST(TextParseTest, SteadyStateAllocatesNothing) {
  if (!TALLY_COUNT_ALLOCATIONS) GTEST_SKIP() << "operator new is not counted under ASan";
  const std::string body = ReadFixture("node_exporter.prom") + ReadFixture("node_exporter.prom");
  Parser p;
  auto run = [&] {
    p.Reset(body, kProm);
    int n = 0;
    while (true) {
      auto e = p.Next();
      if (!e || *e == Entry::kEof) break;
      if (*e == Entry::kSeries) n += static_cast<int>(p.Labels().size());
    }
    return n;
  };
  const int first = run();
  const long before = g_allocations.load();
  const int second = run();
  const long after = g_allocations.load();
  EXPECT_EQ(first, second);
  EXPECT_GT(second, 100);
  EXPECT_EQ(after - before, 0);
}

// tally's own /metrics page (store series with awkward labels and values, then
// prometheus-cpp self-metrics) parses, and every value comes back exactly.
TEST(TextParseTest, RoundTripsTallyExposition) {
  constexpr int64_t kNow = 1'736'937'000'000;
  core::FakeClock clock(kNow);
  config::ExpositionConfig config;
  store::SeriesStoreOptions options;
  options.bucket_resolver = [config](std::string_view name) {
    return exporter::ResolveBuckets(config, name);
  };
  store::SeriesStore store(options);
  exporter::StoreExposition exposition(store, config, clock);

  struct Point {
    std::string name;
    store::MetricType type;
    std::vector<std::pair<std::string, std::string>> labels;
    double value;
  };
  const std::vector<Point> points = {
      {"temp", store::MetricType::kGauge, {{"room", "a\"b\\c\nd"}}, -3.5},
      {"temp", store::MetricType::kGauge, {{"room", "h\xc3\xa9 \xe2\x98\x83"}}, 1e-300},
      {"temp", store::MetricType::kGauge, {{"room", ""}}, 0.1},
      {"ratio", store::MetricType::kGauge, {}, std::numeric_limits<double>::infinity()},
      {"ratio2", store::MetricType::kGauge, {{"project", "inner"}}, 123456789.123456789},
      {"requests", store::MetricType::kCounter, {{"route", "/a b"}}, 7},
      {"latency", store::MetricType::kTiming, {{"route", "/x"}}, 12},
      {"latency", store::MetricType::kTiming, {{"route", "/x"}}, 700},
  };
  for (const Point& pt : points) {
    std::vector<store::LabelView> labels;
    for (const auto& [k, v] : pt.labels) labels.push_back({k, v});
    const store::PointView p{pt.name, pt.type, labels, kNow, pt.value};
    auto r = store.Append("proj", std::span<const store::PointView>(&p, 1), kNow);
    ASSERT_TRUE(r.has_value());
    ASSERT_FALSE((*r)[0].has_value()) << (*r)[0]->message;
  }
  prometheus::Registry registry;
  prometheus::BuildGauge().Name("self_nan").Help("a NaN gauge").Register(registry).Add({}).Set(
      std::nan(""));
  prometheus::BuildCounter().Name("self_requests_total").Help("help with a \\ backslash")
      .Register(registry).Add({{"code", "200"}}).Increment(3);
  prometheus::BuildHistogram().Name("self_seconds").Help("h").Register(registry)
      .Add({}, prometheus::Histogram::BucketBoundaries{0.1, 1}).Observe(0.5);
  prometheus::BuildSummary().Name("self_summary").Help("s").Register(registry)
      .Add({}, prometheus::Summary::Quantiles{{0.5, 0.05}}).Observe(2);
  const std::string page = exporter::RenderMetricsPage(exposition, {&registry});

  // (prometheus-cpp 1.0.1 writes HELP text unescaped: a newline in a help
  // string would break the page, so self-metrics must not have one.)
  const Counts c = ParseAll(page, kProm);
  EXPECT_EQ(c.help, c.type);
  EXPECT_EQ(c.help, 13);
  EXPECT_EQ(c.values.at("temp{project=\"proj\",room=\"a\\\"b\\\\c\\nd\",}"), -3.5);
  EXPECT_EQ(c.values.at("temp{project=\"proj\",room=\"h\xc3\xa9 \xe2\x98\x83\",}"), 1e-300);
  EXPECT_EQ(c.values.at("temp{project=\"proj\",room=\"\",}"), 0.1);
  EXPECT_EQ(c.values.at("ratio{project=\"proj\",}"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(c.values.at("ratio2{project=\"proj\",exported_project=\"inner\",}"),
            123456789.123456789);
  EXPECT_EQ(c.values.at("requests_total{project=\"proj\",route=\"/a b\",}"), 7);
  EXPECT_EQ(c.values.at("latency_count{project=\"proj\",route=\"/x\",}"), 2);
  EXPECT_EQ(c.values.at("latency_sum{project=\"proj\",route=\"/x\",}"), 712);
  EXPECT_EQ(c.values.at("latency_bucket{project=\"proj\",route=\"/x\",le=\"+Inf\",}"), 2);
  const double nan = c.values.at("self_nan{}");
  EXPECT_EQ(std::bit_cast<uint64_t>(nan), 0x7ff8000000000001u);
  EXPECT_EQ(c.values.at("self_requests_total{code=\"200\",}"), 3);
  EXPECT_EQ(c.values.at("self_seconds_bucket{le=\"1\",}"), 1);
  EXPECT_EQ(c.values.at("self_summary{quantile=\"0.5\",}"), 2);
}

}  // namespace
}  // namespace textparse
