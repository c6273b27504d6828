// Tests for aggregator/rule_file.h: rule files (validation like promtool check
// rules, every error with its position) and promtool's unit-test file format.
// Every shipped file in rules/ must load.
#include "aggregator/rule_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>

namespace rules {
namespace {

std::vector<std::string> ErrorStrings(const RuleFileLoad& load) {
  std::vector<std::string> out;
  for (const auto& e : load.errors) out.push_back(e.ToString());
  return out;
}

TEST(RuleFileTest, LoadsGroupsAndRules) {
  RuleFileLoad load = ParseRuleFile("r.yml", R"(groups:
  - name: g1
    interval: 30s
    limit: 5
    rules:
      - record: job:foo:sum
        expr: sum by (job) (foo)
        labels:
          team: a
      - alert: FooHigh
        expr: job:foo:sum > 10
        for: 5m
        keep_firing_for: 1m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.job }} is {{ $value | humanize }}"
  - name: g2
    rules: []
)");
  ASSERT_TRUE(load.ok()) << testing::PrintToString(ErrorStrings(load));
  ASSERT_EQ(load.groups.size(), 2u);
  EXPECT_EQ(load.NumRules(), 2u);
  const RuleGroupSpec& g = load.groups[0];
  EXPECT_EQ(g.name, "g1");
  EXPECT_EQ(g.file, "r.yml");
  EXPECT_EQ(g.interval_ms, 30'000);
  EXPECT_EQ(g.limit, 5);
  ASSERT_EQ(g.rules.size(), 2u);
  EXPECT_EQ(g.rules[0].kind, RuleSpec::Kind::kRecord);
  EXPECT_EQ(g.rules[0].name, "job:foo:sum");
  ASSERT_NE(g.rules[0].expr, nullptr);
  EXPECT_EQ(*g.rules[0].labels.Get("team"), "a");
  EXPECT_EQ(g.rules[0].line, 6);
  EXPECT_EQ(g.rules[1].kind, RuleSpec::Kind::kAlert);
  EXPECT_EQ(g.rules[1].for_ms, 300'000);
  EXPECT_EQ(g.rules[1].keep_firing_for_ms, 60'000);
  EXPECT_EQ(*g.rules[1].annotations.Get("summary"), "{{ $labels.job }} is {{ $value | humanize }}");
  EXPECT_EQ(load.groups[1].interval_ms, 0);
  EXPECT_TRUE(ParseRuleFile("empty.yml", "").ok());
  EXPECT_TRUE(ParseRuleFile("empty.yml", "# nothing\n").ok());
}

TEST(RuleFileTest, ReportsEveryErrorWithPosition) {
  RuleFileLoad load = ParseRuleFile("bad.yml", R"(groups:
  - name: g1
    rules:
      - record: job:foo:sum
        expr: sum by (job) (foo
      - record: "bad name"
        expr: foo
      - alert: X
        expr: foo
        annotations:
          s: "{{ $labels.job "
      - record: y
        alert: z
        expr: foo
      - expr: foo
      - record: a
        expr: foo
        for: 5m
        bogus: 1
      - alert: B
        expr: up
        for: 5x
        labels:
          0bad: v
  - name: g1
    rules: []
)");
  EXPECT_EQ(
      ErrorStrings(load),
      (std::vector<std::string>{
          "bad.yml: 5:15: group \"g1\", rule 1, \"job:foo:sum\": could not parse expression: 1:18: "
          "parse error: unclosed left parenthesis",
          "bad.yml: 6:17: group \"g1\", rule 2, \"bad name\": invalid recording rule name: bad "
          "name",
          "bad.yml: 11:11: group \"g1\", rule 3, \"X\": annotation \"s\": template: __alert_X:1: "
          "unclosed "
          "action",
          "bad.yml: 12:17: group \"g1\", rule 4, \"z\": only one of 'record' and 'alert' must be "
          "set",
          "bad.yml: 15:9: group \"g1\", rule 5, \"\": one of 'record' or 'alert' must be set",
          "bad.yml: 19:9: group \"g1\", rule 6, \"a\": field bogus not found in type "
          "rulefmt.RuleNode",
          "bad.yml: 18:14: group \"g1\", rule 6, \"a\": invalid field 'for' in recording rule",
          "bad.yml: 22:14: group \"g1\", rule 7, \"B\": not a valid duration string: \"5x\"",
          "bad.yml: 24:11: group \"g1\", rule 7, \"B\": invalid label name: 0bad",
          "bad.yml: 25:11: groupname: \"g1\" is repeated in the same file",
      }));
  EXPECT_TRUE(load.groups.empty());
}

TEST(RuleFileTest, RejectsMalformedYamlAndShapes) {
  for (const char* text :
       {"groups: [", "groups: {a: 1}", "- 1\n- 2\n", "other: 1\n", "groups:\n  - rules: []\n",
        "groups:\n  - name: g\n    interval: soon\n", "groups:\n  - name: g\n    limit: -1\n",
        "groups:\n  - name: g\n    rules:\n      - record: x\n"}) {
    SCOPED_TRACE(text);
    RuleFileLoad load = ParseRuleFile("f.yml", text);
    ASSERT_FALSE(load.ok());
    EXPECT_GT(load.errors[0].line, 0) << load.errors[0].ToString();
  }
  RuleFileLoad missing = LoadRuleFile("/nonexistent/rules.yml");
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_NE(missing.errors[0].message.find("No such file"), std::string::npos)
      << missing.errors[0].message;
}

// Mutated copies of a valid file load or fail with positioned errors, never crash.
TEST(RuleFileTest, SurvivesMutations) {
  const std::string base = R"(groups:
  - name: g
    interval: 1m
    rules:
      - record: a:b
        expr: sum by (x) (rate(y[5m]))
      - alert: A
        expr: a:b > 1
        for: 5m
        labels: {s: '{{ $labels.x }}'}
        annotations: {d: '{{ $value | humanize }}'}
)";
  const std::string chars = "{}[]:-'\" \n#&*!|>%@`,?";
  std::mt19937 rng(7);
  for (int i = 0; i < 3000; ++i) {
    std::string text = base;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) {
      const size_t pos = rng() % text.size();
      switch (rng() % 3) {
        case 0:
          text[pos] = chars[rng() % chars.size()];
          break;
        case 1:
          text.erase(pos, 1 + rng() % 5);
          break;
        default:
          text.insert(pos, 1, chars[rng() % chars.size()]);
      }
    }
    RuleFileLoad load = ParseRuleFile("m.yml", text);
    for (const auto& e : load.errors) {
      EXPECT_FALSE(e.message.empty()) << text;
      EXPECT_GT(e.line, 0) << e.ToString() << "\n" << text;
    }
  }
}

TEST(RuleFileTest, MetricNames) {
  EXPECT_TRUE(IsValidMetricName("job:foo_bar:rate5m"));
  EXPECT_TRUE(IsValidMetricName("_x"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_FALSE(IsValidMetricName("1x"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
}

// Every shipped rule file loads without errors (so rules/ cannot rot).
TEST(RuleFileTest, ShippedRuleFilesLoad) {
  int files = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(TALLY_SOURCE_DIR) + "/rules")) {
    if (entry.path().extension() != ".yml") continue;
    ++files;
    SCOPED_TRACE(entry.path().string());
    RuleFileLoad load = LoadRuleFile(entry.path().string());
    EXPECT_TRUE(load.ok()) << testing::PrintToString(ErrorStrings(load));
    EXPECT_GT(load.NumRules(), 0u);
  }
  EXPECT_GE(files, 4);
}

TEST(RuleTestFileTest, DecodesUnitTestFiles) {
  auto spec = ParseRuleTestFile(R"(rule_files: [a.yml, "b/*.yml"]
evaluation_interval: 30s
group_eval_order: [x, y]
tests:
  - name: t1
    interval: 1m
    external_labels: {cluster: c1}
    external_url: http://x
    input_series:
      - series: 'up{job="a"}'
        values: '1 0 _ stale'
    promql_expr_test:
      - expr: up
        eval_time: 2m
        exp_samples:
          - labels: 'up{job="a"}'
            value: 1e-3
    alert_rule_test:
      - eval_time: 5m
        alertname: Down
        exp_alerts:
          - exp_labels: {job: a}
            exp_annotations: {summary: s}
)");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->rule_files, (std::vector<std::string>{"a.yml", "b/*.yml"}));
  EXPECT_EQ(spec->evaluation_interval_ms, 30'000);
  EXPECT_EQ(spec->group_eval_order, (std::vector<std::string>{"x", "y"}));
  ASSERT_EQ(spec->tests.size(), 1u);
  const TestGroupSpec& t = spec->tests[0];
  EXPECT_EQ(t.name, "t1");
  EXPECT_EQ(t.interval_ms, 60'000);
  EXPECT_EQ(*t.external_labels.Get("cluster"), "c1");
  EXPECT_EQ(t.external_url, "http://x");
  ASSERT_EQ(t.input_series.size(), 1u);
  EXPECT_EQ(t.input_series[0].values, "1 0 _ stale");
  ASSERT_EQ(t.promql_expr_tests.size(), 1u);
  EXPECT_EQ(t.promql_expr_tests[0].eval_time_ms, 120'000);
  EXPECT_EQ(t.promql_expr_tests[0].exp_samples[0].value, 1e-3);
  ASSERT_EQ(t.alert_rule_tests.size(), 1u);
  EXPECT_EQ(t.alert_rule_tests[0].exp_alerts[0].exp_annotations.at("summary"), "s");
}

TEST(RuleTestFileTest, StrictLikePromtool) {
  auto unknown = ParseRuleTestFile(
      "rule_files: [x.yml]\nbogus: 1\ntests:\n  - input_series: []\n    bogus2: 1\n");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message,
            "yaml: unmarshal errors:\n  line 2: field bogus not found in type main.unitTestFile\n"
            "  line 5: field bogus2 not found in type main.testGroup");
  auto duration = ParseRuleTestFile("evaluation_interval: 5x\n");
  ASSERT_FALSE(duration);
  EXPECT_EQ(duration.error().message, "not a valid duration string: \"5x\"");
  auto value = ParseRuleTestFile(
      "tests:\n  - promql_expr_test:\n      - expr: up\n        exp_samples:\n          - value: "
      "abc\n");
  ASSERT_FALSE(value);
  EXPECT_EQ(value.error().message,
            "yaml: unmarshal errors:\n  line 5: cannot unmarshal !!str `abc` into float64");
}

}  // namespace
}  // namespace rules
