// RuleGroup: evaluates one rule group (rule_file.h's RuleGroupSpec) at a given
// time, with Prometheus 2.42's semantics (rules/manager.go, recording.go,
// alerting.go):
//
//  * rules run in file order; each rule's output is appended to the sink before
//    the next rule runs, so later rules see earlier rules' samples of the same
//    evaluation (the sink must write to what the Querier reads);
//  * recording rules: every sample of the result, renamed to `record`, with the
//    rule's labels set (an empty value removes the label);
//  * alerting rules: per-alert state pending -> firing after `for`, inactive
//    (resolved) when the expression stops returning it, or `keep_firing_for`
//    after that; labels = result labels without __name__ + rule labels
//    (templates) + alertname; annotations rendered from templates
//    (template.h); `ALERTS{alertstate="pending|firing"}` and
//    `ALERTS_FOR_STATE` samples are written for active alerts;
//  * a series a rule wrote in the previous evaluation and not in this one gets
//    a staleness marker; `limit` caps series (records) or alerts per rule;
//  * a failing rule (query error, duplicate label sets, limit) records its
//    error, writes nothing, and does not stop the group;
//  * restart: a group created with `restore_for_state` writes no ALERTS /
//    ALERTS_FOR_STATE samples until RestoreForState has run (the runner calls
//    it after the second evaluation, like Prometheus), which gives pending and
//    firing alerts back their `activeAt` from the stored ALERTS_FOR_STATE;
//  * reload: CopyState moves alert state, the series written last and health
//    from the old group's matching rules; series of rules that are gone get
//    staleness markers in the next Eval.
//
// RuleGroup owns no threads: a runner calls Eval on the group's interval and
// injects `now`. Not thread-safe: one caller at a time (the runner); the
// state accessors are for that same caller (copy them out for an API).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "aggregator/promql_engine.h"
#include "aggregator/promql_storage.h"
#include "aggregator/rule_file.h"
#include "aggregator/template.h"
#include "core/clock.h"
#include "core/labels.h"
#include "core/status.h"

namespace rules {

// Where rule output goes: recorded samples, ALERTS series and staleness markers.
class RuleSink {
 public:
  virtual ~RuleSink() = default;
  // Appends one sample. Errors (out of order, duplicate timestamp) are counted
  // by the group and otherwise ignored, like Prometheus.
  virtual core::Status Append(const core::Labels& labels, int64_t t_ms, double v) = 0;
};

// A RuleSink over a MemoryStorage (the unit-test runner and tests).
class MemoryStorageSink final : public RuleSink {
 public:
  explicit MemoryStorageSink(promql::MemoryStorage& storage) : storage_(storage) {}
  core::Status Append(const core::Labels& labels, int64_t t_ms, double v) override {
    return storage_.Append(labels, t_ms, v);
  }

 private:
  promql::MemoryStorage& storage_;
};

enum class AlertState { kInactive, kPending, kFiring };
std::string_view AlertStateName(AlertState s);  // "inactive", "pending", "firing"

struct Alert {
  core::Labels labels;  // includes alertname
  core::Labels annotations;
  AlertState state = AlertState::kPending;
  double value = 0;
  int64_t active_at_ms = 0;
  int64_t fired_at_ms = 0;           // 0 until firing
  int64_t resolved_at_ms = 0;        // 0 until resolved
  int64_t keep_firing_since_ms = 0;  // 0 unless kept firing by keep_firing_for
};

// Receives alert state changes (new pending, pending -> firing, resolved) after
// each evaluation. The webhook deliverer implements it; the default does nothing.
class AlertNotifier {
 public:
  virtual ~AlertNotifier() = default;
  virtual void OnAlertChanges(const RuleGroupSpec& group, const RuleSpec& rule,
                              std::span<const Alert> changed) = 0;
};

class NoopAlertNotifier final : public AlertNotifier {
 public:
  void OnAlertChanges(const RuleGroupSpec&, const RuleSpec&, std::span<const Alert>) override {}
};

struct RuleGroupOptions {
  promql::EngineOptions engine;
  core::Labels external_labels;       // for templates ($externalLabels)
  std::string external_url;           // for templates ($externalURL)
  AlertNotifier* notifier = nullptr;  // not owned; nullptr: no notifications
  // Not owned; MonotonicNs times each rule (RuleHealth::eval_seconds). nullptr: 0.
  const core::Clock* clock = nullptr;
  // A group loaded at start-up: alerting rules hold back ALERTS and
  // ALERTS_FOR_STATE until RestoreForState (see there).
  bool restore_for_state = false;
};

// Prometheus' --rules.alert.for-outage-tolerance and --rules.alert.for-grace-period
// (config: rules.for_outage_tolerance, rules.for_grace_period).
struct ForRestoreOptions {
  // ALERTS_FOR_STATE samples older than now - this are not restored.
  int64_t outage_tolerance_ms = 3'600'000;
  // Minimum time between the restore and a restored alert firing; rules whose
  // `for` is shorter are not restored at all (they wait their full `for`).
  int64_t grace_period_ms = 600'000;
};

// Health of one rule after its last evaluation.
struct RuleHealth {
  bool evaluated = false;
  std::string last_error;  // empty when the last evaluation succeeded
  int64_t last_eval_ms = 0;
  int64_t samples_written = 0;  // by the last evaluation (records: series; alerts: ALERTS samples)
  double eval_seconds = 0;      // how long the last evaluation took (options.clock)
};

class RuleGroup {
 public:
  RuleGroup(RuleGroupSpec spec, RuleGroupOptions options);

  const RuleGroupSpec& spec() const { return spec_; }

  // Evaluates every rule at now_ms, reading through `querier` and writing to
  // `sink`. Returns the number of rules that failed (see health()).
  int Eval(int64_t now_ms, const promql::Querier& querier, RuleSink& sink);

  // Prometheus' Group.RestoreForState, at the evaluation time now_ms: for each
  // alerting rule not restored yet whose `for` >= options.grace_period_ms, each
  // active alert whose ALERTS_FOR_STATE series has a (non-stale) last sample at
  // downAt within [now - outage_tolerance, now] (value: activeAt in seconds)
  // gets activeAt back, so that it fires:
  //  * at once (next Eval) if it had already been pending for `for` at downAt:
  //    activeAt is the stored one, unchanged;
  //  * at now + grace_period if less than grace_period of `for` was left;
  //  * otherwise after the rest of its `for`: activeAt = stored + (now - downAt)
  //    (the downtime does not count as pending).
  // Then every alerting rule is restored (writes ALERTS again). Returns the
  // number of alerts restored.
  int RestoreForState(int64_t now_ms, const promql::Querier& querier,
                      const ForRestoreOptions& options);
  // True while some alerting rule waits for RestoreForState.
  bool NeedsRestore() const;

  // Reload (Prometheus' Group.CopyState): rules are matched with `from`'s by
  // kind, name and labels (duplicates in order); a matched rule takes the
  // alerts (pending/firing with their activeAt), the series written last (for
  // staleness) and, when the expression is unchanged, the health. Series last
  // written by `from`'s unmatched rules get staleness markers at the next Eval
  // (unless a rule writes them again in that Eval). `from` is left empty.
  void CopyState(RuleGroup& from);
  // The series the group's last evaluations wrote (and those still waiting for
  // a staleness marker): what a removed group marks stale.
  std::vector<core::Labels> WrittenSeries() const;

  const RuleHealth& health(size_t rule_index) const { return rules_[rule_index].health; }
  // Active (pending, firing, or recently resolved) alerts of an alerting rule,
  // ordered by labels.
  std::vector<Alert> ActiveAlerts(size_t rule_index) const;
  // Sink errors (out of order / duplicate samples) so far.
  int64_t append_errors() const { return append_errors_; }

 private:
  struct LabelsLess {
    bool operator()(const core::Labels& a, const core::Labels& b) const {
      return promql::CompareLabels(a, b) < 0;
    }
  };
  struct RuleState {
    RuleHealth health;
    std::vector<core::Labels> previous_series;            // series written last time, sorted
    std::map<core::Labels, Alert, LabelsLess> active;     // alerting rules, by labels
    std::vector<core::Result<Template>> label_templates;  // alerting rules: per label, in order
    std::vector<core::Result<Template>> annotation_templates;  // alerting rules: per annotation
    bool restored = true;  // alerting rules: false until RestoreForState (restore_for_state)
  };

  // Runs the rule's query; the result as an instant vector.
  core::Result<promql::Vector> Query(const RuleSpec& rule, int64_t now_ms,
                                     const promql::Querier& querier) const;
  core::Result<promql::Vector> EvalRecording(const RuleSpec& rule, int64_t now_ms,
                                             const promql::Querier& querier);
  core::Result<promql::Vector> EvalAlerting(const RuleSpec& rule, RuleState& state, int64_t now_ms,
                                            const promql::Querier& querier,
                                            std::vector<Alert>* changed);

  RuleGroupSpec spec_;
  RuleGroupOptions options_;
  promql::Engine engine_;
  std::vector<RuleState> rules_;
  std::vector<core::Labels> stale_series_;  // of removed rules: marked stale by the next Eval
  int64_t append_errors_ = 0;
};

}  // namespace rules
