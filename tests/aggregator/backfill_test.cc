// Tests for aggregator/backfill.h: the backfill loop gives, at every step,
// what RuleGroup::Eval driven live at the same times writes; bad input and
// overlaps with existing output are refused before anything is written.
#include "aggregator/backfill.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "aggregator/promql_test_file.h"
#include "aggregator/promql_test_runner.h"

namespace rules {
namespace {

constexpr int64_t kMin = 60'000;

core::Labels L(std::vector<core::Label> l) { return core::Labels(std::move(l)); }

std::vector<RuleGroupSpec> Groups(std::string_view yaml) {
  RuleFileLoad load = ParseRuleFile("test.yml", yaml);
  EXPECT_TRUE(load.ok()) << (load.errors.empty() ? "" : load.errors[0].ToString());
  return load.groups;
}

constexpr std::string_view kRules = R"(groups:
  - name: rates
    interval: 1m
    rules:
      - record: job:req:rate5m
        expr: sum by (job) (rate(req_total[5m]))
      # Reads the rule above in the same evaluation.
      - record: job:req:rate5m_x2
        expr: job:req:rate5m * 2
      - record: job:latency:p90_5m
        expr: quantile_over_time(0.9, latency[5m])
      - alert: HighRate
        expr: job:req:rate5m > 1.5
        for: 3m
        labels: {severity: page}
        annotations: {summary: 'rate {{ $value }}'}
  # Reads the first group's output (evaluated after it at shared times).
  - name: slow
    interval: 2m
    rules:
      - record: job:req:rate5m:max4m
        expr: max_over_time(job:req:rate5m[4m])
)";

// Raw data: counters whose rate changes over time (so the alert goes pending,
// firing and resolved) and raw latency observations, at irregular times.
void FillRaw(promql::MemoryStorage& s, int64_t from, int64_t to) {
  double a = 0, b = 0;
  int i = 0;
  for (int64_t t = from; t <= to; t += 7'000 + (i % 5) * 1'000, ++i) {
    const bool burst = (t / (20 * kMin)) % 2 == 1;
    a += burst ? 20 : 3;
    b += 1 + (i % 3);
    ASSERT_TRUE(s.Append(L({{"__name__", "req_total"}, {"job", "api"}, {"i", "1"}}), t, a));
    ASSERT_TRUE(s.Append(L({{"__name__", "req_total"}, {"job", "web"}, {"i", "1"}}), t, b));
    // A series that disappears half way (staleness markers on its output).
    if (t < from + 40 * kMin) {
      ASSERT_TRUE(s.Append(L({{"__name__", "req_total"}, {"job", "batch"}, {"i", "1"}}), t, i));
    }
    ASSERT_TRUE(s.Append(L({{"__name__", "latency"}, {"job", "api"}}), t, 10 + (i * 37) % 90));
  }
}

RuleGroupOptions Options() {
  RuleGroupOptions o;
  o.engine = promql::TestEngineOptions();
  return o;
}

// Every series of `metric` over all time, in a comparable form.
std::vector<promql::Series> All(const promql::Querier& q, std::string_view metric) {
  auto m = promql::LabelMatcher::Make(promql::MatchType::kEqual, "__name__", std::string(metric));
  std::vector<promql::LabelMatcher> ms{*m};
  auto r = q.Select(ms, INT64_MIN / 2, INT64_MAX / 2, INT64_MAX);
  EXPECT_TRUE(r);
  return r ? *r : std::vector<promql::Series>{};
}

bool SameBits(double x, double y) { return std::memcmp(&x, &y, sizeof x) == 0; }

void ExpectSameSeries(const promql::Querier& got, const promql::Querier& want,
                      std::string_view metric, size_t min_series) {
  SCOPED_TRACE(std::string(metric));
  std::vector<promql::Series> g = All(got, metric), w = All(want, metric);
  ASSERT_GE(w.size(), min_series);
  ASSERT_EQ(g.size(), w.size());
  for (size_t i = 0; i < g.size(); ++i) {
    EXPECT_EQ(g[i].labels, w[i].labels);
    ASSERT_EQ(g[i].samples.size(), w[i].samples.size()) << promql::LabelsString(w[i].labels);
    for (size_t j = 0; j < g[i].samples.size(); ++j) {
      EXPECT_EQ(g[i].samples[j].t_ms, w[i].samples[j].t_ms);
      EXPECT_TRUE(SameBits(g[i].samples[j].v, w[i].samples[j].v))
          << promql::LabelsString(w[i].labels) << " at " << w[i].samples[j].t_ms << ": "
          << g[i].samples[j].v << " vs " << w[i].samples[j].v;
    }
  }
}

// Counts notifications: a backfill must send none.
class CountingNotifier final : public AlertNotifier {
 public:
  void OnAlertChanges(const RuleGroupSpec&, const RuleSpec&, std::span<const Alert> c) override {
    calls += static_cast<int>(c.size());
  }
  int calls = 0;
};

class RecordingWriter final : public BackfillWriter {
 public:
  explicit RecordingWriter(promql::MemoryStorage& s) : inner(s) {}
  core::Result<BackfillWriteResult> Write(std::span<const BackfillPoint> points) override {
    ++writes;
    if (fail_at > 0 && writes == fail_at) {
      return core::Fail(core::ErrorCode::kUnavailable, "disk full");
    }
    return inner.Write(points);
  }
  MemoryStorageBackfillWriter inner;
  int writes = 0;
  int fail_at = 0;
};

TEST(BackfillTest, EqualsTheLiveEvaluationAtEveryStep) {
  const int64_t t0 = 1'700'000'000'000;  // not a multiple of 2m: steps are aligned
  const int64_t from = t0 - 10 * kMin, start = t0 + 17'000, end = t0 + 95 * kMin + 5'000;
  const std::vector<RuleGroupSpec> groups = Groups(kRules);
  ASSERT_EQ(groups.size(), 2u);

  // Live: the groups driven at their aligned times, in file order at shared times.
  promql::MemoryStorage live;
  FillRaw(live, from, end + 10 * kMin);
  {
    CountingNotifier notifier;
    RuleGroupOptions o = Options();
    o.notifier = &notifier;
    RuleGroup rates(groups[0], o), slow(groups[1], o);
    MemoryStorageSink sink(live);
    int64_t evals = 0;
    for (int64_t t = AlignUp(start, kMin); t <= end; t += kMin) {
      EXPECT_EQ(rates.Eval(t, live, sink), 0);
      if (t % (2 * kMin) == 0) {
        EXPECT_EQ(slow.Eval(t, live, sink), 0);
      }
      ++evals;
    }
    EXPECT_EQ(evals, 95);
    EXPECT_GT(notifier.calls, 0);  // the data does make the alert change state
  }

  promql::MemoryStorage stored;
  FillRaw(stored, from, end + 10 * kMin);
  RecordingWriter writer(stored);
  CountingNotifier notifier;
  BackfillOptions options;
  options.start_ms = start;
  options.end_ms = end;
  options.default_interval_ms = 5 * kMin;  // both groups set their own
  options.batch_points = 7;  // many writes, some in the middle of an evaluation
  options.group_options = Options();
  options.group_options.notifier = &notifier;
  auto report = RunBackfill(groups, options, stored, writer);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(notifier.calls, 0);

  ExpectSameSeries(stored, live, "job:req:rate5m", 3);
  ExpectSameSeries(stored, live, "job:req:rate5m_x2", 3);
  ExpectSameSeries(stored, live, "job:latency:p90_5m", 1);
  ExpectSameSeries(stored, live, "job:req:rate5m:max4m", 3);
  ExpectSameSeries(stored, live, "ALERTS", 1);
  ExpectSameSeries(stored, live, "ALERTS_FOR_STATE", 1);
  // Firing and pending both occur in the history.
  bool pending = false, firing = false;
  for (const promql::Series& s : All(stored, "ALERTS")) {
    const std::string* state = s.labels.Get("alertstate");
    ASSERT_NE(state, nullptr);
    pending |= *state == "pending";
    firing |= *state == "firing";
  }
  EXPECT_TRUE(pending);
  EXPECT_TRUE(firing);

  ASSERT_EQ(report->groups.size(), 2u);
  EXPECT_EQ(report->steps, 95);
  EXPECT_EQ(report->groups[0].steps, 95);
  EXPECT_EQ(report->groups[0].first_step_ms, AlignUp(start, kMin));
  EXPECT_EQ(report->groups[1].steps, 48);
  EXPECT_EQ(report->groups[1].interval_ms, 2 * kMin);
  EXPECT_EQ(report->evaluations, 95 * 4 + 48);
  // What the report says was written is what the store holds.
  int64_t held = 0;
  for (std::string_view m : {"job:req:rate5m", "job:req:rate5m_x2", "job:latency:p90_5m",
                             "job:req:rate5m:max4m", "ALERTS", "ALERTS_FOR_STATE"}) {
    for (const promql::Series& s : All(stored, m)) held += static_cast<int64_t>(s.samples.size());
  }
  EXPECT_EQ(report->samples_written, held);
  EXPECT_EQ(report->groups[0].samples_written + report->groups[1].samples_written, held);
  EXPECT_EQ(report->samples_rejected, 0);
  EXPECT_GT(report->writes, held / 7);
  EXPECT_EQ(report->writes, writer.writes);
}

TEST(BackfillTest, WritesOnlyWhenAQueryCouldReadTheBuffer) {
  // Recording rules over raw data only: no query reads the output, so the
  // output goes out in full batches.
  promql::MemoryStorage stored;
  FillRaw(stored, 0, 60 * kMin);
  RecordingWriter writer(stored);
  BackfillOptions options;
  options.start_ms = 10 * kMin;
  options.end_ms = 60 * kMin;
  options.group_options = Options();
  const std::vector<RuleGroupSpec> groups = Groups(R"(groups:
  - name: rates
    rules:
      - record: job:req:rate5m
        expr: sum by (job) (rate(req_total[5m]))
  - name: other
    rules:
      - record: never
        expr: vector(1)
)");
  options.group_names = {"rates"};
  auto report = RunBackfill(groups, options, stored, writer);
  ASSERT_TRUE(report) << report.error().message;
  ASSERT_EQ(report->groups.size(), 1u);
  EXPECT_EQ(report->groups[0].steps, 51);
  EXPECT_EQ(report->writes, 1);
  EXPECT_EQ(writer.writes, 1);
  EXPECT_EQ(All(stored, "never").size(), 0u);
  EXPECT_GT(report->samples_written, 51 * 2);
}

TEST(BackfillTest, RefusesBadInput) {
  const std::vector<RuleGroupSpec> groups = Groups(kRules);
  promql::MemoryStorage stored;
  MemoryStorageBackfillWriter writer(stored);
  BackfillOptions options;
  options.group_options = Options();
  options.start_ms = 10 * kMin;
  options.end_ms = 5 * kMin;
  auto r = RunBackfill(groups, options, stored, writer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidRequest);
  EXPECT_EQ(r.error().param, "end");
  EXPECT_NE(r.error().message.find("before start"), std::string::npos) << r.error().message;

  options.end_ms = 20 * kMin;
  options.group_names = {"rates", "nope", "nada"};
  r = RunBackfill(groups, options, stored, writer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().param, "group");
  EXPECT_NE(r.error().message.find(R"("nope", "nada")"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find(R"(groups: "rates", "slow")"), std::string::npos);

  options.group_names.clear();
  r = RunBackfill({}, options, stored, writer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().param, "rules");

  // 1m group: 4 rules; 2m group: 1 rule. 30 days = 43,200 + 21,600 steps.
  options.start_ms = 0;
  options.end_ms = 30LL * 86'400'000 - 1;
  options.max_evaluations = 43'200 * 4 + 21'600 - 1;
  r = RunBackfill(groups, options, stored, writer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kPayloadTooLarge);
  EXPECT_EQ(r.error().param, "end");
  EXPECT_NE(r.error().message.find("194400 rule evaluations"), std::string::npos)
      << r.error().message;
  options.max_evaluations = 43'200 * 4 + 21'600;
  auto plan = PlanBackfill(groups, options);
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->evaluations, 194'400);
  EXPECT_EQ(plan->steps, 43'200);
  // A range so long that steps x rules overflows int64 is refused, not wrapped.
  options.start_ms = INT64_MIN / 2;
  options.end_ms = INT64_MAX / 2;
  options.default_interval_ms = 1;
  r = RunBackfill(Groups("groups: [{name: g, rules: [{record: a, expr: '1'}, {record: b, expr: '2'}]}]"),
                  options, stored, writer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kPayloadTooLarge);
  EXPECT_EQ(stored.NumSeries(), 0u);  // nothing written by any refused call
}

TEST(BackfillTest, LoadRuleSourcesReportsEveryErrorWithItsSource) {
  const std::string path = ::testing::TempDir() + "/backfill_good.yml";
  std::ofstream(path) << "groups:\n  - name: f\n    rules:\n      - record: x\n        expr: up\n";
  std::vector<RuleSource> sources = {
      {"files[0]", path, ""},
      {"rules[0]", "", "groups:\n  - name: i\n    rules:\n      - record: y\n        expr: up\n"},
  };
  auto ok = LoadRuleSources(sources);
  ASSERT_TRUE(ok) << ok.error().message;
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ((*ok)[0].name, "f");
  EXPECT_EQ((*ok)[0].file, path);
  EXPECT_EQ((*ok)[1].file, "rules[0]");

  sources.push_back({"rules[1]", "", "groups:\n  - name: b\n    rules:\n      - record: 'bad name'\n"
                                     "        expr: sum(\n"});
  sources.push_back({"files[1]", "/nonexistent/rules.yml", ""});
  auto bad = LoadRuleSources(sources);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, core::ErrorCode::kInvalidRequest);
  EXPECT_EQ(bad.error().param, "rules[1]");
  const std::string& m = bad.error().message;
  EXPECT_NE(m.find("rules[1]: 4:"), std::string::npos) << m;  // file: line:column
  EXPECT_NE(m.find("invalid recording rule name"), std::string::npos) << m;
  EXPECT_NE(m.find("/nonexistent/rules.yml"), std::string::npos) << m;

  auto yaml = LoadRuleSources(std::vector<RuleSource>{{"rules[0]", "", "groups: [unclosed"}});
  ASSERT_FALSE(yaml);
  EXPECT_EQ(yaml.error().param, "rules[0]");
}

TEST(BackfillTest, RefusesToOverlapExistingOutputAndNamesTheFirstTimestamp) {
  const std::vector<RuleGroupSpec> groups = Groups(kRules);
  promql::MemoryStorage stored;
  FillRaw(stored, 0, 120 * kMin);
  // The live evaluator already wrote the recording rule from minute 50 on.
  ASSERT_TRUE(stored.Append(L({{"__name__", "job:req:rate5m:max4m"}, {"job", "api"}}), 50 * kMin, 1));
  ASSERT_TRUE(stored.Append(L({{"__name__", "job:req:rate5m:max4m"}, {"job", "api"}}), 52 * kMin, 1));
  RecordingWriter writer(stored);
  BackfillOptions options;
  options.group_options = Options();
  options.start_ms = 10 * kMin;
  options.end_ms = 100 * kMin;
  auto r = RunBackfill(groups, options, stored, writer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kConflict);
  EXPECT_EQ(r.error().param, "end");
  const std::string& m = r.error().message;
  EXPECT_NE(m.find("1970-01-01T00:50:00Z"), std::string::npos) << m;
  EXPECT_NE(m.find(R"(job:req:rate5m:max4m{job="api"})"), std::string::npos) << m;
  EXPECT_NE(m.find(R"(group "slow")"), std::string::npos) << m;
  EXPECT_EQ(writer.writes, 0);

  // Up to just before it: accepted.
  options.end_ms = 50 * kMin - 1;
  auto ok = RunBackfill(groups, options, stored, writer);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_GT(ok->samples_written, 0);

  // The same range again overlaps the first backfill (alerts included).
  options.group_names = {"rates"};
  r = RunBackfill(groups, options, stored, writer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kConflict);
  EXPECT_NE(r.error().message.find("1970-01-01T00:10:00Z"), std::string::npos)
      << r.error().message;
}

TEST(BackfillTest, AWriterErrorStopsTheRun) {
  const std::vector<RuleGroupSpec> groups = Groups(kRules);
  promql::MemoryStorage stored;
  FillRaw(stored, 0, 60 * kMin);
  RecordingWriter writer(stored);
  writer.fail_at = 3;
  BackfillOptions options;
  options.group_options = Options();
  options.start_ms = 0;
  options.end_ms = 60 * kMin;
  options.batch_points = 5;
  auto r = RunBackfill(groups, options, stored, writer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kUnavailable);
  EXPECT_NE(r.error().message.find("written before"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("disk full"), std::string::npos);
  EXPECT_EQ(writer.writes, 3);
}

}  // namespace
}  // namespace rules
