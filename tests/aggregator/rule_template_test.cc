// Tests for aggregator/template.h: the Go text/template subset of alert
// labels and annotations, checked against what Prometheus 2.42 renders
// (expected strings taken from promtool runs of the same templates).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "aggregator/template.h"

namespace rules {
namespace {

TemplateData Data(double value) {
  TemplateData d;
  d.labels = core::Labels(
      std::vector<core::Label>{{"__name__", "up"}, {"job", "api"}, {"instance", "a:9100"}});
  d.external_labels = core::Labels(std::vector<core::Label>{{"cluster", "c1"}});
  d.external_url = "http://tally:8080";
  d.value = value;
  return d;
}

std::string Render(std::string_view text, double value = 1234.5) {
  auto t = Template::Parse("__alert_X", text);
  if (!t) return "PARSE ERROR: " + t.error().message;
  auto out = t->Execute(Data(value));
  if (!out) return "EXEC ERROR: " + out.error().message;
  return *out;
}

TEST(TemplateTest, RendersLikePrometheus) {
  struct Case {
    const char* text;
    double value;
    const char* want;
  };
  const Case cases[] = {
      {"plain text", 1, "plain text"},
      {"{{ $labels.job }} on {{ $labels.instance }}", 1, "api on a:9100"},
      {"{{ .Labels.job }}/{{ $externalLabels.cluster }}/{{ $externalURL }}", 1,
       "api/c1/http://tally:8080"},
      {"[{{ $labels.missing }}]", 1, "[]"},  // missingkey=zero
      {"{{ $value }}", 1234.5, "1234.5"},
      {"{{ .Value }}", 1e6, "1e+06"},
      {"{{ $value }}", 0.1, "0.1"},
      {"{{ $labels }}", 1, "map[__name__:up instance:a:9100 job:api]"},
      {"{{ humanize $value }}", 1234567, "1.235M"},
      {"{{ $value | humanize }}", 0.00012, "120u"},
      {"{{ humanize 0 }}", 0, "0"},
      {"{{ humanize1024 2048 }}", 0, "2ki"},
      {"{{ humanizeDuration 3725.5 }}", 0, "1h 2m 5s"},
      {"{{ humanizeDuration 90 }}", 0, "1m 30s"},
      {"{{ humanizeDuration 0.0123 }}", 0, "12.3ms"},
      {"{{ humanizeDuration 200000 }}", 0, "2d 7h 33m 20s"},
      {"{{ humanizePercentage 0.1234 }}", 0, "12.34%"},
      {"{{ $value | humanizePercentage }}", 0.5, "50%"},
      {"{{ humanizeTimestamp 1435065584.128 }}", 0, "2015-06-23 13:19:44.128 +0000 UTC"},
      {"{{ printf \"%.2f\" $value }}", 3.14159, "3.14"},
      {"{{ $value | printf \"%.1f\" }}", 2, "2.0"},
      {"{{ printf \"%d\" 3 }} {{ printf \"%s-%v\" \"a\" 1.5 }}", 0, "3 a-1.5"},
      {"{{ printf \"%d\" 1.5 }}", 0, "%!d(float64=1.5)"},
      {"{{ printf \"%5.1f|%-4s|\" 2.25 \"ab\" }}", 0, "  2.2|ab  |"},
      {"{{ if gt $value 100.0 }}high{{ else }}low{{ end }}", 250, "high"},
      {"{{ if gt $value 100.0 }}high{{ else if gt $value 10.0 }}mid{{ else }}low{{ end }}", 50,
       "mid"},
      {"{{ if eq $labels.job \"api\" }}yes{{ end }}", 1, "yes"},
      {"{{ if and $labels.job (not $labels.missing) }}ok{{ end }}", 1, "ok"},
      {"{{ with $labels.job }}job={{ . }}{{ end }}", 1, "job=api"},
      {"{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}", 1,
       "__name__=up;instance=a:9100;job=api;"},
      {"{{ $x := toUpper $labels.job }}{{ $x }}", 1, "API"},
      {"a  {{- \" b \" -}}  c", 1, "a b c"},
      {"{{/* a comment */}}x", 1, "x"},
      {"{{ title \"hello world\" }} {{ toLower \"AbC\" }}", 1, "Hello World abc"},
      {"{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}", 1, "a"},
      {"{{ stripPort $labels.instance }}", 1, "a"},
      {"{{ if match \"^a\" $labels.instance }}m{{ end }}", 1, "m"},
      {"{{ len $labels }} {{ index $labels \"job\" }}", 1, "3 api"},
      {"{{ \"}}\" }}", 1, "}}"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(Render(c.text, c.value), c.want);
  }
}

TEST(TemplateTest, ParseErrorsReadLikeGo) {
  struct Case {
    const char* text;
    const char* want;
  };
  const Case cases[] = {
      {"{{ $labels.job ", "template: __alert_X:1: unclosed action"},
      {"{{ $foo }}", "template: __alert_X:1: undefined variable \"$foo\""},
      {"{{ nosuchfunc 1 }}", "template: __alert_X:1: function \"nosuchfunc\" not defined"},
      {"line1\n{{ if true }}x", "template: __alert_X:2: unexpected EOF"},
      {"{{ end }}", "template: __alert_X:1: unexpected {{end}}"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    auto t = Template::Parse("__alert_X", c.text);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().message, c.want);
  }
  // Prometheus' query functions parse (promtool accepts them) but cannot run.
  auto q = Template::Parse("__alert_X", "{{ query \"up\" | first | value }}");
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_FALSE(q->Execute(Data(1)));
}

TEST(TemplateTest, ExecutionErrorsBecomeTheErrorText) {
  const std::string out = Template::Expand("__alert_X", "{{ humanize \"abc\" }}", Data(1));
  EXPECT_EQ(out.rfind("<error expanding template: template: __alert_X:1:", 0), 0u) << out;
  EXPECT_NE(out.find("error calling humanize: strconv.ParseFloat: parsing \"abc\": invalid syntax"),
            std::string::npos)
      << out;
  EXPECT_NE(Render("{{ gt $value 1 }}").find("incompatible types for comparison"),
            std::string::npos);
}

TEST(TemplateTest, HumanizeHelpers) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(Humanize(nan), "NaN");
  EXPECT_EQ(Humanize(-inf), "-Inf");
  EXPECT_EQ(Humanize(999), "999");
  EXPECT_EQ(Humanize(1000), "1k");
  EXPECT_EQ(Humanize(-12345), "-12.35k");
  EXPECT_EQ(Humanize(1e30), "1e+06Y");
  EXPECT_EQ(Humanize1024(1), "1");
  EXPECT_EQ(Humanize1024(1536), "1.5ki");
  EXPECT_EQ(HumanizeDuration(0), "0s");
  EXPECT_EQ(HumanizeDuration(1.5), "1.5s");
  EXPECT_EQ(HumanizeDuration(-61), "-1m 1s");
  EXPECT_EQ(HumanizePercentage(1), "100%");
}

// Random templates built from the syntax's characters and words must parse or
// fail cleanly, and render or fail cleanly (run under ASan in the sanitizer
// build).
TEST(TemplateTest, SurvivesGarbage) {
  const std::vector<std::string> pieces = {"{{",
                                           "}}",
                                           "{{-",
                                           " -}}",
                                           "$",
                                           "$labels",
                                           ".job",
                                           ".",
                                           "|",
                                           "(",
                                           ")",
                                           "\"",
                                           "`",
                                           "'",
                                           " ",
                                           "-",
                                           "1",
                                           "2.5",
                                           "if",
                                           "else",
                                           "end",
                                           "range",
                                           "with",
                                           ":=",
                                           "=",
                                           ",",
                                           "humanize",
                                           "printf",
                                           "\"%d\"",
                                           "\"%.2f\"",
                                           "gt",
                                           "eq",
                                           "and",
                                           "not",
                                           "index",
                                           "len",
                                           "$value",
                                           "/*",
                                           "*/",
                                           "\n",
                                           "x",
                                           "$x",
                                           "reReplaceAll",
                                           "\"(.*)\"",
                                           "title",
                                           "true",
                                           "nil"};
  std::mt19937 rng(42);
  int parsed = 0, rendered = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    const int n = static_cast<int>(rng() % 16);
    for (int k = 0; k < n; ++k) text += pieces[rng() % pieces.size()];
    auto t = Template::Parse("__alert_X", text);
    if (!t) {
      EXPECT_EQ(t.error().message.rfind("template: __alert_X:", 0), 0u) << text;
      continue;
    }
    ++parsed;
    if (t->Execute(Data(1.5))) ++rendered;
  }
  EXPECT_GT(parsed, 1000);
  EXPECT_GT(rendered, 500);
}

}  // namespace
}  // namespace rules
