// Tests for aggregator/rule_group.h: recording and alerting rule evaluation
// over a MemoryStorage, with injected times (no clock, no sleeps).
#include "aggregator/rule_group.h"

#include <gtest/gtest.h>

#include <atomic>
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


// ---- State across restart (RestoreForState) and reload (CopyState) ----

// A storage with x=1 (and y=1) every minute over [0, 60m].
void FillOnes(promql::MemoryStorage& storage, std::vector<std::string> names = {"x"}) {
  for (int i = 0; i <= 60; ++i) {
    for (const std::string& n : names) {
      ASSERT_TRUE(storage.Append(L({{"__name__", n}}), i * kMin, 1));
    }
  }
}

RuleGroupOptions RestoreOptions() {
  RuleGroupOptions o = Options();
  o.restore_for_state = true;
  return o;
}

ForRestoreOptions Restore(int64_t grace_ms = 2 * kMin, int64_t tolerance_ms = 60 * kMin) {
  ForRestoreOptions o;
  o.grace_period_ms = grace_ms;
  o.outage_tolerance_ms = tolerance_ms;
  return o;
}

RuleGroupSpec OneAlert(std::string_view for_text) {
  return Group("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: x > 0\n"
               "        for: " +
               std::string(for_text) + "\n");
}

// Runs `group` at each minute of [from, to], returning the last active alert.
Alert RunMinutes(RuleGroup& group, promql::MemoryStorage& storage, int from, int to) {
  MemoryStorageSink sink(storage);
  for (int i = from; i <= to; ++i) EXPECT_EQ(group.Eval(i * kMin, storage, sink), 0);
  std::vector<Alert> active = group.ActiveAlerts(0);
  EXPECT_EQ(active.size(), 1u);
  return active.empty() ? Alert{} : active[0];
}

TEST(RuleGroupRestoreTest, FiringAlertKeepsItsActiveAtAndFiresAgainAtOnce) {
  promql::MemoryStorage storage;
  FillOnes(storage);
  RuleGroup before(OneAlert("10m"), Options());
  EXPECT_EQ(RunMinutes(before, storage, 0, 12).state, AlertState::kFiring);
  // Restart at 20m: the first two evaluations write no ALERTS / ALERTS_FOR_STATE.
  RuleGroup after(OneAlert("10m"), RestoreOptions());
  EXPECT_TRUE(after.NeedsRestore());
  Alert a = RunMinutes(after, storage, 20, 21);
  EXPECT_EQ(a.state, AlertState::kPending);
  EXPECT_EQ(a.active_at_ms, 20 * kMin);
  EXPECT_TRUE(Query(storage, "ALERTS", 21 * kMin).empty());
  EXPECT_EQ(after.RestoreForState(21 * kMin, storage, Restore()), 1);
  EXPECT_FALSE(after.NeedsRestore());
  EXPECT_EQ(after.ActiveAlerts(0)[0].active_at_ms, 0);
  a = RunMinutes(after, storage, 22, 22);
  EXPECT_EQ(a.state, AlertState::kFiring);
  EXPECT_EQ(a.active_at_ms, 0);
  promql::Vector for_state = Query(storage, "ALERTS_FOR_STATE", 22 * kMin);
  ASSERT_EQ(for_state.size(), 1u);
  EXPECT_EQ(for_state[0].v, 0);
  EXPECT_EQ(Query(storage, "ALERTS{alertstate=\"firing\"}", 22 * kMin).size(), 1u);
}

TEST(RuleGroupRestoreTest, PendingAlertResumesWithoutCountingTheDowntime) {
  promql::MemoryStorage storage;
  FillOnes(storage);
  RuleGroup before(OneAlert("30m"), Options());
  // Becomes active at 1m (x > 0 from 0m; start evaluating at 1m), down after 5m.
  Alert a = RunMinutes(before, storage, 1, 5);
  EXPECT_EQ(a.active_at_ms, kMin);
  RuleGroup after(OneAlert("30m"), RestoreOptions());
  RunMinutes(after, storage, 8, 9);
  EXPECT_EQ(after.RestoreForState(9 * kMin, storage, Restore()), 1);
  // Pending 4m before the restart, 26m left: activeAt 1m + (9m - 5m) = 5m.
  EXPECT_EQ(after.ActiveAlerts(0)[0].active_at_ms, 5 * kMin);
  EXPECT_EQ(RunMinutes(after, storage, 10, 34).state, AlertState::kPending);
  a = RunMinutes(after, storage, 35, 35);
  EXPECT_EQ(a.state, AlertState::kFiring);
  EXPECT_EQ(a.fired_at_ms, 35 * kMin);
}

TEST(RuleGroupRestoreTest, AlmostDueAlertFiresAfterTheGracePeriod) {
  promql::MemoryStorage storage;
  FillOnes(storage);
  RuleGroup before(OneAlert("10m"), Options());
  RunMinutes(before, storage, 0, 9);  // 1m of `for` left at 9m
  RuleGroup after(OneAlert("10m"), RestoreOptions());
  RunMinutes(after, storage, 12, 13);
  EXPECT_EQ(after.RestoreForState(13 * kMin, storage, Restore(2 * kMin)), 1);
  // Fires at 13m + grace 2m: activeAt = 15m - 10m.
  EXPECT_EQ(after.ActiveAlerts(0)[0].active_at_ms, 5 * kMin);
  EXPECT_EQ(RunMinutes(after, storage, 14, 14).state, AlertState::kPending);
  EXPECT_EQ(RunMinutes(after, storage, 15, 15).state, AlertState::kFiring);
}

TEST(RuleGroupRestoreTest, NotRestored) {
  struct Case {
    std::string name;
    std::string for_text;
    ForRestoreOptions options;
    int restart_min;
  };
  const std::vector<Case> cases = {
      // `for` shorter than the grace period: it waits its own `for`.
      {"short for", "1m", Restore(2 * kMin), 7},
      // Down longer than the outage tolerance.
      {"outage", "10m", Restore(2 * kMin, 3 * kMin), 9},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    promql::MemoryStorage storage;
    FillOnes(storage);
    RuleGroup before(OneAlert(c.for_text), Options());
    RunMinutes(before, storage, 0, 5);
    RuleGroup after(OneAlert(c.for_text), RestoreOptions());
    RunMinutes(after, storage, c.restart_min, c.restart_min + 1);
    EXPECT_EQ(after.RestoreForState((c.restart_min + 1) * kMin, storage, c.options), 0);
    EXPECT_FALSE(after.NeedsRestore());
    EXPECT_EQ(after.ActiveAlerts(0)[0].active_at_ms, c.restart_min * kMin);
    // Restored or not, ALERTS is written again.
    RunMinutes(after, storage, c.restart_min + 2, c.restart_min + 2);
    EXPECT_EQ(Query(storage, "ALERTS", (c.restart_min + 2) * kMin).size(), 1u);
  }
}

TEST(RuleGroupRestoreTest, StaleForStateIsNotRestored) {
  promql::MemoryStorage storage;
  for (int i = 0; i <= 20; ++i) {
    ASSERT_TRUE(storage.Append(L({{"__name__", "x"}}), i * kMin, i == 4 ? 0 : 1));
  }
  RuleGroup before(OneAlert("10m"), Options());
  MemoryStorageSink sink(storage);
  for (int i = 0; i <= 4; ++i) before.Eval(i * kMin, storage, sink);  // resolved at 4m: stale
  RuleGroup after(OneAlert("10m"), RestoreOptions());
  RunMinutes(after, storage, 6, 7);
  EXPECT_EQ(after.RestoreForState(7 * kMin, storage, Restore()), 0);
  EXPECT_EQ(after.ActiveAlerts(0)[0].active_at_ms, 6 * kMin);
}

TEST(RuleGroupCopyStateTest, UnchangedRulesKeepStateRemovedSeriesGoStale) {
  promql::MemoryStorage storage;
  FillOnes(storage, {"x", "y"});
  RuleGroup old(Group(R"(groups:
  - name: g
    rules:
      - record: r
        expr: x
        labels: {team: a}
      - alert: A
        expr: x > 0
        for: 1h
      - alert: B
        expr: y > 0
        for: 1h
      - record: gone
        expr: y
)"),
                Options());
  MemoryStorageSink sink(storage);
  old.Eval(0, storage, sink);
  old.Eval(kMin, storage, sink);
  EXPECT_EQ(Query(storage, "gone", kMin).size(), 1u);
  EXPECT_EQ(old.WrittenSeries().size(), 4u + 2u);  // r, gone, ALERTS and ALERTS_FOR_STATE of A, B
  RuleGroup next(Group(R"(groups:
  - name: g
    rules:
      - record: new
        expr: x + 1
      - record: r
        expr: x
        labels: {team: b}
      - alert: A
        expr: x > 0
        for: 1h
      - alert: B
        expr: y > 100
        for: 1h
)"),
                 Options());
  next.CopyState(old);
  // A (same name, labels and expression) keeps its alert and health at once.
  ASSERT_EQ(next.ActiveAlerts(2).size(), 1u);
  EXPECT_EQ(next.ActiveAlerts(2)[0].active_at_ms, 0);
  EXPECT_TRUE(next.health(2).evaluated);
  EXPECT_EQ(next.health(2).last_eval_ms, kMin);
  // B's expression changed: its alerts are copied (like Prometheus), its health is not.
  EXPECT_EQ(next.ActiveAlerts(3).size(), 1u);
  EXPECT_FALSE(next.health(3).evaluated);
  EXPECT_FALSE(next.health(0).evaluated);
  EXPECT_TRUE(old.ActiveAlerts(1).empty());  // moved out
  EXPECT_EQ(next.Eval(2 * kMin, storage, sink), 0);
  ASSERT_EQ(next.ActiveAlerts(2).size(), 1u);
  EXPECT_EQ(next.ActiveAlerts(2)[0].active_at_ms, 0);
  EXPECT_EQ(next.ActiveAlerts(2)[0].state, AlertState::kPending);
  EXPECT_TRUE(next.ActiveAlerts(3).empty());  // y > 100 is false: the pending alert is dropped
  // The removed rule's series and r{team="a"} (labels changed) are stale at 2m.
  EXPECT_TRUE(Query(storage, "gone", 2 * kMin).empty());
  promql::Vector r = Query(storage, "r", 2 * kMin);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(*r[0].labels.Get("team"), "b");
  EXPECT_EQ(Query(storage, "new", 2 * kMin).size(), 1u);
  promql::Vector alerts = Query(storage, "ALERTS", 2 * kMin);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(*alerts[0].labels.Get("alertname"), "A");
  // The marker is what hides it: just before 2m the 1m sample is still returned.
  EXPECT_EQ(Query(storage, "gone", 2 * kMin - 1).size(), 1u);
  EXPECT_TRUE(old.WrittenSeries().empty());
}

TEST(RuleGroupCopyStateTest, DuplicatesMatchInOrderAndRewrittenSeriesStayFresh) {
  promql::MemoryStorage storage;
  for (int i = 0; i <= 5; ++i) {
    ASSERT_TRUE(storage.Append(L({{"__name__", "x"}, {"i", "1"}}), i * kMin, 1));
    ASSERT_TRUE(storage.Append(L({{"__name__", "x"}, {"i", "2"}}), i * kMin, 1));
  }
  RuleGroup old(Group(R"(groups:
  - name: g
    rules:
      - alert: D
        expr: x{i="1"} > 0
        for: 1h
      - alert: D
        expr: x{i="2"} > 0
        for: 1h
      - record: r
        expr: x
)"),
                Options());
  MemoryStorageSink sink(storage);
  old.Eval(0, storage, sink);
  RuleGroup next(Group(R"(groups:
  - name: g
    rules:
      - record: r
        expr: x
        labels: {extra: ""}
      - alert: D
        expr: x{i="1"} > 0
        for: 1h
      - alert: D
        expr: x{i="2"} > 0
        for: 1h
)"),
                 Options());
  next.CopyState(old);
  ASSERT_EQ(next.ActiveAlerts(1).size(), 1u);
  EXPECT_EQ(*next.ActiveAlerts(1)[0].labels.Get("i"), "1");
  ASSERT_EQ(next.ActiveAlerts(2).size(), 1u);
  EXPECT_EQ(*next.ActiveAlerts(2)[0].labels.Get("i"), "2");
  EXPECT_EQ(next.WrittenSeries().size(), 2u + 4u);  // r's two series wait to be marked stale
  next.Eval(kMin, storage, sink);
  // `r` changed its (no-op) labels, so its old series were queued as stale, but
  // the new rule wrote the same series in this evaluation: no marker.
  EXPECT_EQ(Query(storage, "r", kMin).size(), 2u);
  EXPECT_EQ(Query(storage, "r", kMin + 1000).size(), 2u);
  EXPECT_EQ(next.WrittenSeries().size(), 2u + 4u);  // r, ALERTS and ALERTS_FOR_STATE
}

// A clock whose monotonic time advances 1ms per reading.
class TickingClock final : public core::Clock {
 public:
  int64_t NowMs() const override { return 0; }
  int64_t MonotonicNs() const override { return ticks_.fetch_add(1'000'000); }

 private:
  mutable std::atomic<int64_t> ticks_{0};
};

TEST(RuleGroupTest, PerRuleEvaluationTime) {
  promql::MemoryStorage storage;
  FillOnes(storage);
  TickingClock clock;
  RuleGroupOptions o = Options();
  o.clock = &clock;
  RuleGroup group(Group("groups:\n  - name: g\n    rules:\n      - record: r\n        expr: x\n"
                        "      - alert: A\n        expr: x > 0\n"),
                  o);
  MemoryStorageSink sink(storage);
  group.Eval(3 * kMin, storage, sink);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_DOUBLE_EQ(group.health(i).eval_seconds, 0.001);
    EXPECT_EQ(group.health(i).last_eval_ms, 3 * kMin);
  }
  RuleGroup no_clock(Group("groups:\n  - name: g\n    rules:\n      - record: r2\n        expr: x\n"),
                     Options());
  no_clock.Eval(3 * kMin, storage, sink);
  EXPECT_EQ(no_clock.health(0).eval_seconds, 0);
}

}  // namespace
}  // namespace rules
