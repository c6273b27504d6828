// Tests for aggregator/rule_group.h: recording and alerting rule evaluation
// over a MemoryStorage, with injected times (no clock, no sleeps).
#include "aggregator/rule_group.h"

#include <gtest/gtest.h>

#include <cmath>

#include "aggregator/promql_parser.h"
#include "aggregator/promql_test_file.h"
#include "aggregator/promql_test_runner.h"

namespace rules {
namespace {

constexpr int64_t kMin = 60'000;

core::Labels L(std::vector<core::Label> l) { return core::Labels(std::move(l)); }

RuleGroupSpec Group(std::string_view yaml) {
  RuleFileLoad load = ParseRuleFile("test.yml", yaml);
  EXPECT_TRUE(load.ok()) << (load.errors.empty() ? "" : load.errors[0].ToString());
  EXPECT_EQ(load.groups.size(), 1u);
  return load.groups.empty() ? RuleGroupSpec{} : load.groups[0];
}

RuleGroupOptions Options(AlertNotifier* notifier = nullptr) {
  RuleGroupOptions o;
  o.engine = promql::TestEngineOptions();
  o.notifier = notifier;
  return o;
}

// The instant-query result of `expr` at t.
promql::Vector Query(const promql::MemoryStorage& storage, std::string_view expr, int64_t t) {
  auto parsed = promql::Parse(expr);
  EXPECT_TRUE(parsed);
  promql::Engine engine(promql::TestEngineOptions());
  auto r = engine.InstantQuery(storage, **parsed, t);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  if (!r) return {};
  auto* v = std::get_if<promql::Vector>(&*r);
  return v ? *v : promql::Vector{};
}

TEST(RuleGroupTest, RecordingRulesWriteBackAndChain) {
  promql::MemoryStorage storage;
  ASSERT_TRUE(storage.Append(L({{"__name__", "foo"}, {"job", "a"}, {"i", "1"}}), 0, 2));
  ASSERT_TRUE(storage.Append(L({{"__name__", "foo"}, {"job", "a"}, {"i", "2"}}), 0, 3));
  ASSERT_TRUE(storage.Append(L({{"__name__", "foo"}, {"job", "b"}, {"i", "1"}}), 0, 5));
  RuleGroup group(Group(R"(groups:
  - name: g
    rules:
      - record: job:foo:sum
        expr: sum by (job) (foo)
        labels: {team: x}
      # Sees the output of the rule above from the same evaluation.
      - record: job:foo:double
        expr: job:foo:sum * 2
        labels: {team: ""}
      - record: answer
        expr: "42"
)"),
                  Options());
  MemoryStorageSink sink(storage);
  EXPECT_EQ(group.Eval(kMin, storage, sink), 0);
  promql::Vector sum = Query(storage, "job:foo:sum", kMin);
  ASSERT_EQ(sum.size(), 2u);
  EXPECT_EQ(sum[0].labels, L({{"__name__", "job:foo:sum"}, {"job", "a"}, {"team", "x"}}));
  EXPECT_EQ(sum[0].v, 5);
  EXPECT_EQ(sum[1].v, 5);
  promql::Vector dbl = Query(storage, "job:foo:double", kMin);
  ASSERT_EQ(dbl.size(), 2u);
  // An empty rule label removes the label.
  EXPECT_EQ(dbl[0].labels, L({{"__name__", "job:foo:double"}, {"job", "a"}}));
  EXPECT_EQ(dbl[0].v, 10);
  promql::Vector answer = Query(storage, "answer", kMin);
  ASSERT_EQ(answer.size(), 1u);
  EXPECT_EQ(answer[0].labels, L({{"__name__", "answer"}}));
  EXPECT_EQ(answer[0].v, 42);
  EXPECT_TRUE(group.health(0).last_error.empty());
  EXPECT_EQ(group.health(0).samples_written, 2);
}

TEST(RuleGroupTest, VanishedSeriesGetStalenessMarkers) {
  promql::MemoryStorage storage;
  ASSERT_TRUE(storage.Append(L({{"__name__", "foo"}, {"job", "a"}}), 0, 1));
  ASSERT_TRUE(storage.Append(L({{"__name__", "foo"}, {"job", "b"}}), 0, 1));
  ASSERT_TRUE(storage.Append(L({{"__name__", "foo"}, {"job", "a"}}), kMin, 1));
  ASSERT_TRUE(storage.Append(L({{"__name__", "foo"}, {"job", "b"}}), kMin, promql::StaleNaN()));
  RuleGroup group(Group("groups:\n  - name: g\n    rules:\n      - record: r\n        expr: foo\n"),
                  Options());
  MemoryStorageSink sink(storage);
  group.Eval(0, storage, sink);
  EXPECT_EQ(Query(storage, "r", 0).size(), 2u);
  group.Eval(kMin, storage, sink);
  // r{job="b"} was not produced at 1m: it is stale at once, not for 5 minutes.
  promql::Vector r = Query(storage, "r", kMin + 1000);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(*r[0].labels.Get("job"), "a");
}

class RecordingNotifier final : public AlertNotifier {
 public:
  void OnAlertChanges(const RuleGroupSpec&, const RuleSpec& rule,
                      std::span<const Alert> changed) override {
    for (const Alert& a : changed) {
      events.push_back(rule.name + ":" + *a.labels.Get("i") + ":" +
                       std::string(AlertStateName(a.state)));
    }
  }
  std::vector<std::string> events;
};

TEST(RuleGroupTest, AlertsGoPendingFiringResolved) {
  promql::MemoryStorage storage;
  // i=1 above 10 from 1m to 4m; i=2 above only at 1m.
  const double v1[] = {0, 20, 20, 20, 20, 0, 0, 0};
  const double v2[] = {0, 20, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(storage.Append(L({{"__name__", "x"}, {"i", "1"}}), i * kMin, v1[i]));
    ASSERT_TRUE(storage.Append(L({{"__name__", "x"}, {"i", "2"}}), i * kMin, v2[i]));
  }
  RecordingNotifier notifier;
  RuleGroup group(Group(R"(groups:
  - name: g
    rules:
      - alert: High
        expr: x > 10
        for: 2m
        labels:
          severity: page
          source: 'x{{ $labels.i }}'
        annotations:
          summary: '{{ $labels.i }} at {{ $value }}'
)"),
                  Options(&notifier));
  MemoryStorageSink sink(storage);
  for (int i = 0; i <= 6; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(group.Eval(i * kMin, storage, sink), 0);
    std::vector<Alert> active = group.ActiveAlerts(0);
    if (i == 1) {
      ASSERT_EQ(active.size(), 2u);
      EXPECT_EQ(active[0].state, AlertState::kPending);
      EXPECT_EQ(active[0].labels,
                L({{"alertname", "High"}, {"i", "1"}, {"severity", "page"}, {"source", "x1"}}));
      EXPECT_EQ(active[0].annotations, L({{"summary", "1 at 20"}}));
      EXPECT_EQ(active[0].active_at_ms, kMin);
    }
    if (i == 2) {
      // The pending i=2 alert is dropped at once.
      ASSERT_EQ(active.size(), 1u);
      EXPECT_EQ(active[0].state, AlertState::kPending);
    }
    if (i == 3 || i == 4) {
      ASSERT_EQ(active.size(), 1u);
      EXPECT_EQ(active[0].state, AlertState::kFiring);
      EXPECT_EQ(active[0].fired_at_ms, 3 * kMin);
    }
    if (i >= 5) {
      // Resolved alerts stay listed (inactive) for 15 minutes.
      ASSERT_EQ(active.size(), 1u);
      EXPECT_EQ(active[0].state, AlertState::kInactive);
      EXPECT_EQ(active[0].resolved_at_ms, 5 * kMin);
    }
  }
  EXPECT_EQ(notifier.events,
            (std::vector<std::string>{"High:1:pending", "High:2:pending", "High:2:inactive",
                                      "High:1:firing", "High:1:inactive"}));
  promql::Vector alerts = Query(storage, "ALERTS", 4 * kMin);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].labels, L({{"__name__", "ALERTS"},
                                 {"alertname", "High"},
                                 {"alertstate", "firing"},
                                 {"i", "1"},
                                 {"severity", "page"},
                                 {"source", "x1"}}));
  EXPECT_EQ(Query(storage, "ALERTS{alertstate=\"pending\"}", 2 * kMin).size(), 1u);
  promql::Vector for_state = Query(storage, "ALERTS_FOR_STATE", 4 * kMin);
  ASSERT_EQ(for_state.size(), 1u);
  EXPECT_EQ(for_state[0].v, 60);                            // active since 1m, in seconds
  EXPECT_TRUE(Query(storage, "ALERTS", 5 * kMin).empty());  // staleness marker on resolve
}

TEST(RuleGroupTest, KeepFiringFor) {
  promql::MemoryStorage storage;
  const double v[] = {1, 1, 0, 0, 0, 0, 0};
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(storage.Append(L({{"__name__", "x"}}), i * kMin, v[i]));
  RuleGroup group(Group("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x > 0\n"
                        "        keep_firing_for: 2m\n"),
                  Options());
  MemoryStorageSink sink(storage);
  std::vector<AlertState> states;
  for (int i = 0; i <= 5; ++i) {
    group.Eval(i * kMin, storage, sink);
    auto active = group.ActiveAlerts(0);
    states.push_back(active.empty() ? AlertState::kInactive : active[0].state);
  }
  // Fires at once (no `for`), keeps firing at 2m and 3m, resolved at 4m.
  EXPECT_EQ(states, (std::vector<AlertState>{AlertState::kFiring, AlertState::kFiring,
                                             AlertState::kFiring, AlertState::kFiring,
                                             AlertState::kInactive, AlertState::kInactive}));
}

TEST(RuleGroupTest, ErrorsAndLimits) {
  promql::MemoryStorage storage;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(storage.Append(L({{"__name__", "x"}, {"i", std::to_string(i)}}), 0, 1));
  }
  RuleGroup group(Group(R"(groups:
  - name: g
    limit: 2
    rules:
      - record: too_many
        expr: x
      - record: collide
        expr: x
        labels: {i: same}
      - alert: TooManyAlerts
        expr: x
      - record: fine
        expr: count(x)
      - record: not_a_vector
        expr: x[5m]
)"),
                  Options());
  MemoryStorageSink sink(storage);
  EXPECT_EQ(group.Eval(0, storage, sink), 4);
  EXPECT_EQ(group.health(0).last_error, "exceeded limit of 2 with 3 series");
  EXPECT_EQ(group.health(1).last_error,
            "vector contains metrics with the same labelset after applying rule labels");
  EXPECT_EQ(group.health(2).last_error, "exceeded limit of 2 with 3 alerts");
  EXPECT_TRUE(group.health(3).last_error.empty());
  // A range vector cannot be recorded (the parser accepts it; evaluation fails).
  EXPECT_EQ(group.health(4).last_error, "rule result is not a vector or scalar");
  EXPECT_TRUE(Query(storage, "too_many", 0).empty());
  EXPECT_EQ(Query(storage, "fine", 0).size(), 1u);
}

}  // namespace
}  // namespace rules
