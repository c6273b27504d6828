#include "aggregator/rule_group.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <set>
#include <utility>

#include "aggregator/promql_test_file.h"

namespace rules {

namespace {

// How long a resolved alert stays in the active set (Prometheus' resolvedRetention).
constexpr int64_t kResolvedRetentionMs = 15 * 60 * 1000;

core::Unexpected<core::Error> Err(std::string message) {
  return core::Fail(core::ErrorCode::kInvalidRequest, std::move(message));
}

// Prometheus' labels.Builder: set (an empty value deletes) over a base set.
class LabelsBuilder {
 public:
  explicit LabelsBuilder(const core::Labels& base) {
    for (const auto& l : base.items()) m_[l.name] = l.value;
  }
  LabelsBuilder& Set(const std::string& name, std::string value) {
    if (value.empty()) {
      m_.erase(name);
    } else {
      m_[name] = std::move(value);
    }
    return *this;
  }
  LabelsBuilder& Del(const std::string& name) {
    m_.erase(name);
    return *this;
  }
  core::Labels Build() const {
    std::vector<core::Label> out;
    out.reserve(m_.size());
    for (const auto& [k, v] : m_) out.push_back({k, v});
    return core::Labels(std::move(out));
  }

 private:
  std::map<std::string, std::string> m_;
};

struct LabelsLess {
  bool operator()(const core::Labels& a, const core::Labels& b) const {
    return promql::CompareLabels(a, b) < 0;
  }
};

bool ContainsSameLabelset(const promql::Vector& v) {
  std::set<core::Labels, LabelsLess> seen;
  for (const auto& s : v) {
    if (!seen.insert(s.labels).second) return true;
  }
  return false;
}

}  // namespace

std::string_view AlertStateName(AlertState s) {
  switch (s) {
    case AlertState::kInactive:
      return "inactive";
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
  }
  return "";
}

RuleGroup::RuleGroup(RuleGroupSpec spec, RuleGroupOptions options)
    : spec_(std::move(spec)), options_(std::move(options)), engine_(options_.engine) {
  rules_.resize(spec_.rules.size());
  for (size_t i = 0; i < spec_.rules.size(); ++i) {
    const RuleSpec& rule = spec_.rules[i];
    if (rule.kind != RuleSpec::Kind::kAlert) continue;
    rules_[i].restored = !options_.restore_for_state;
    const std::string name = "__alert_" + rule.name;
    // Loaded files have valid templates; a bad one renders as an error text.
    for (const auto& l : rule.labels.items())
      rules_[i].label_templates.push_back(Template::Parse(name, l.value));
    for (const auto& a : rule.annotations.items()) {
      rules_[i].annotation_templates.push_back(Template::Parse(name, a.value));
    }
  }
}

core::Result<promql::Vector> RuleGroup::Query(const RuleSpec& rule, int64_t now_ms,
                                              const promql::Querier& querier) const {
  if (rule.expr == nullptr) return Err("rule has no parsed expression");
  promql::QueryResult r = engine_.InstantQuery(querier, *rule.expr, now_ms);
  if (!r) return Err(r.error().message);
  if (auto* v = std::get_if<promql::Vector>(&*r)) return std::move(*v);
  if (auto* s = std::get_if<promql::Scalar>(&*r)) {
    return promql::Vector{promql::VectorSample{core::Labels(), now_ms, s->v}};
  }
  return Err("rule result is not a vector or scalar");
}

core::Result<promql::Vector> RuleGroup::EvalRecording(const RuleSpec& rule, int64_t now_ms,
                                                      const promql::Querier& querier) {
  auto vec = Query(rule, now_ms, querier);
  if (!vec) return vec;
  for (auto& s : *vec) {
    LabelsBuilder b(s.labels);
    b.Set("__name__", rule.name);
    for (const auto& l : rule.labels.items()) b.Set(l.name, l.value);
    s.labels = b.Build();
    s.t_ms = now_ms;
  }
  if (ContainsSameLabelset(*vec)) {
    return Err("vector contains metrics with the same labelset after applying rule labels");
  }
  if (spec_.limit > 0 && static_cast<int64_t>(vec->size()) > spec_.limit) {
    return Err("exceeded limit of " + std::to_string(spec_.limit) + " with " +
               std::to_string(vec->size()) + " series");
  }
  return vec;
}

core::Result<promql::Vector> RuleGroup::EvalAlerting(const RuleSpec& rule, RuleState& state,
                                                     int64_t now_ms, const promql::Querier& querier,
                                                     std::vector<Alert>* changed) {
  auto res = Query(rule, now_ms, querier);
  if (!res) return res;
  std::map<core::Labels, Alert, LabelsLess> alerts;
  for (const auto& s : *res) {
    TemplateData data{s.labels, options_.external_labels, options_.external_url, s.v};
    auto expand = [&](const core::Result<Template>& t) {
      if (!t) return "<error expanding template: " + t.error().message + ">";
      auto out = t->Execute(data);
      return out ? std::move(*out) : "<error expanding template: " + out.error().message + ">";
    };
    LabelsBuilder b(s.labels);
    b.Del("__name__");
    const auto& rule_labels = rule.labels.items();
    for (size_t k = 0; k < rule_labels.size(); ++k)
      b.Set(rule_labels[k].name, expand(state.label_templates[k]));
    b.Set("alertname", rule.name);
    std::vector<core::Label> annotations;
    const auto& rule_annotations = rule.annotations.items();
    for (size_t k = 0; k < rule_annotations.size(); ++k) {
      annotations.push_back({rule_annotations[k].name, expand(state.annotation_templates[k])});
    }
    Alert a;
    a.labels = b.Build();
    a.annotations = core::Labels(std::move(annotations));
    a.state = AlertState::kPending;
    a.value = s.v;
    a.active_at_ms = now_ms;
    core::Labels key = a.labels;
    if (!alerts.emplace(std::move(key), std::move(a)).second) {
      return Err("vector contains metrics with the same labelset after applying alert labels");
    }
  }
  for (auto& [labels, a] : alerts) {
    auto it = state.active.find(labels);
    if (it != state.active.end() && it->second.state != AlertState::kInactive) {
      it->second.value = a.value;
      it->second.annotations = a.annotations;
      continue;
    }
    changed->push_back(a);
    state.active.insert_or_assign(labels, std::move(a));
  }
  promql::Vector vec;
  int64_t active_pending = 0;
  for (auto it = state.active.begin(); it != state.active.end();) {
    Alert& a = it->second;
    if (!alerts.contains(it->first)) {
      bool keep_firing = false;
      if (a.state == AlertState::kFiring && rule.keep_firing_for_ms > 0) {
        if (a.keep_firing_since_ms == 0) a.keep_firing_since_ms = now_ms;
        keep_firing = now_ms - a.keep_firing_since_ms < rule.keep_firing_for_ms;
      }
      const bool drop = a.state == AlertState::kPending ||
                        (a.resolved_at_ms != 0 && now_ms - a.resolved_at_ms > kResolvedRetentionMs);
      if (a.state != AlertState::kInactive && !keep_firing) {
        a.state = AlertState::kInactive;
        a.resolved_at_ms = now_ms;
        changed->push_back(a);
      }
      if (drop) {
        it = state.active.erase(it);
        continue;
      }
      if (!keep_firing) {
        ++it;
        continue;
      }
    } else {
      a.keep_firing_since_ms = 0;
    }
    ++active_pending;
    if (a.state == AlertState::kPending && now_ms - a.active_at_ms >= rule.for_ms) {
      a.state = AlertState::kFiring;
      a.fired_at_ms = now_ms;
      changed->push_back(a);
    }
    // Until restored (start-up), nothing is written: the stored
    // ALERTS_FOR_STATE must still hold the activeAt from before the restart.
    if (!state.restored) {
      ++it;
      continue;
    }
    LabelsBuilder alerts_labels(a.labels);
    alerts_labels.Set("__name__", "ALERTS");
    alerts_labels.Set("alertstate", std::string(AlertStateName(a.state)));
    vec.push_back({alerts_labels.Build(), now_ms, 1});
    LabelsBuilder for_state(a.labels);
    for_state.Set("__name__", "ALERTS_FOR_STATE");
    const int64_t active_s =
        a.active_at_ms >= 0 ? a.active_at_ms / 1000 : -((-a.active_at_ms + 999) / 1000);
    vec.push_back({for_state.Build(), now_ms, static_cast<double>(active_s)});
    ++it;
  }
  if (spec_.limit > 0 && active_pending > spec_.limit) {
    state.active.clear();
    return Err("exceeded limit of " + std::to_string(spec_.limit) + " with " +
               std::to_string(active_pending) + " alerts");
  }
  return vec;
}

int RuleGroup::Eval(int64_t now_ms, const promql::Querier& querier, RuleSink& sink) {
  int failed = 0;
  const core::Clock* clock = options_.clock;
  for (size_t i = 0; i < spec_.rules.size(); ++i) {
    const RuleSpec& rule = spec_.rules[i];
    RuleState& state = rules_[i];
    std::vector<Alert> changed;
    const int64_t start_ns = clock != nullptr ? clock->MonotonicNs() : 0;
    core::Result<promql::Vector> vec = rule.kind == RuleSpec::Kind::kRecord
                                           ? EvalRecording(rule, now_ms, querier)
                                           : EvalAlerting(rule, state, now_ms, querier, &changed);
    state.health.evaluated = true;
    state.health.last_eval_ms = now_ms;
    state.health.eval_seconds =
        clock != nullptr ? static_cast<double>(clock->MonotonicNs() - start_ns) / 1e9 : 0;
    if (!changed.empty() && options_.notifier != nullptr)
      options_.notifier->OnAlertChanges(spec_, rule, changed);
    if (!vec) {
      state.health.last_error = vec.error().message;
      state.health.samples_written = 0;
      ++failed;
      continue;
    }
    state.health.last_error.clear();
    std::vector<core::Labels> written;
    written.reserve(vec->size());
    for (const auto& s : *vec) {
      if (!sink.Append(s.labels, now_ms, s.v)) ++append_errors_;
      written.push_back(s.labels);
    }
    state.health.samples_written = static_cast<int64_t>(vec->size());
    std::sort(written.begin(), written.end(), LabelsLess());
    for (const core::Labels& prev : state.previous_series) {
      if (!std::binary_search(written.begin(), written.end(), prev, LabelsLess())) {
        // Expected to fail when another rule now writes the series; ignored.
        (void)sink.Append(prev, now_ms, promql::StaleNaN());
      }
    }
    state.previous_series = std::move(written);
  }
  if (!stale_series_.empty()) {
    // Series of rules a reload removed: stale unless a rule wrote them now.
    std::vector<core::Labels> now_written;
    for (const RuleState& state : rules_) {
      now_written.insert(now_written.end(), state.previous_series.begin(),
                         state.previous_series.end());
    }
    std::sort(now_written.begin(), now_written.end(), LabelsLess());
    for (const core::Labels& s : stale_series_) {
      if (std::binary_search(now_written.begin(), now_written.end(), s, LabelsLess())) continue;
      (void)sink.Append(s, now_ms, promql::StaleNaN());
    }
    stale_series_.clear();
  }
  return failed;
}

bool RuleGroup::NeedsRestore() const {
  for (const RuleState& state : rules_) {
    if (!state.restored) return true;
  }
  return false;
}

int RuleGroup::RestoreForState(int64_t now_ms, const promql::Querier& querier,
                               const ForRestoreOptions& options) {
  int restored = 0;
  for (size_t i = 0; i < spec_.rules.size(); ++i) {
    const RuleSpec& rule = spec_.rules[i];
    RuleState& state = rules_[i];
    if (state.restored) continue;
    state.restored = true;
    // A `for` shorter than the grace period: restoring could only delay it.
    if (rule.for_ms < options.grace_period_ms || state.active.empty()) continue;
    const promql::LabelMatcher matchers[] = {
        promql::LabelMatcher::Make(promql::MatchType::kEqual, "__name__", "ALERTS_FOR_STATE")
            .value(),
        promql::LabelMatcher::Make(promql::MatchType::kEqual, "alertname", rule.name).value(),
    };
    auto series = querier.Select(matchers, now_ms - options.outage_tolerance_ms, now_ms,
                                 std::numeric_limits<int64_t>::max());
    if (!series) continue;  // nothing to restore from: the alerts wait their full `for`
    std::map<core::Labels, promql::Sample, LabelsLess> last;  // alert labels -> last sample
    for (const promql::Series& s : *series) {
      if (s.samples.empty()) continue;
      LabelsBuilder b(s.labels);
      b.Del("__name__");
      last[b.Build()] = s.samples.back();
    }
    for (auto& [labels, a] : state.active) {
      auto it = last.find(labels);
      if (it == last.end() || promql::IsStaleNaN(it->second.v) || !std::isfinite(it->second.v)) {
        continue;
      }
      // Whole seconds, like ALERTS_FOR_STATE itself.
      const int64_t down_at_ms = it->second.t_ms / 1000 * 1000;
      int64_t active_at_ms = static_cast<int64_t>(it->second.v) * 1000;
      const int64_t remaining_ms = rule.for_ms - (down_at_ms - active_at_ms);
      if (remaining_ms <= 0) {
        // Was firing (or due to): keeps the stored activeAt and fires again.
      } else if (remaining_ms < options.grace_period_ms) {
        active_at_ms = now_ms + options.grace_period_ms - rule.for_ms;
      } else {
        active_at_ms += now_ms - down_at_ms;
      }
      a.active_at_ms = active_at_ms;
      ++restored;
    }
  }
  return restored;
}

void RuleGroup::CopyState(RuleGroup& from) {
  auto key = [](const RuleSpec& r) {
    std::string k = r.kind == RuleSpec::Kind::kAlert ? "alert\x1f" : "record\x1f";
    k += r.name;
    for (const core::Label& l : r.labels.items()) k += '\x1f' + l.name + '\x1e' + l.value;
    return k;
  };
  std::map<std::string, std::vector<size_t>> unmatched;  // key -> indexes in `from`, in order
  for (size_t fi = 0; fi < from.spec_.rules.size(); ++fi) {
    unmatched[key(from.spec_.rules[fi])].push_back(fi);
  }
  std::vector<bool> matched(from.rules_.size(), false);
  for (size_t i = 0; i < spec_.rules.size(); ++i) {
    auto it = unmatched.find(key(spec_.rules[i]));
    if (it == unmatched.end() || it->second.empty()) continue;
    const size_t fi = it->second.front();
    it->second.erase(it->second.begin());
    matched[fi] = true;
    RuleState& to = rules_[i];
    RuleState& old = from.rules_[fi];
    to.previous_series = std::move(old.previous_series);
    to.active = std::move(old.active);
    if (spec_.rules[i].expr_text == from.spec_.rules[fi].expr_text) to.health = old.health;
  }
  stale_series_ = std::move(from.stale_series_);
  for (size_t fi = 0; fi < from.rules_.size(); ++fi) {
    if (matched[fi]) continue;
    std::vector<core::Labels>& prev = from.rules_[fi].previous_series;
    stale_series_.insert(stale_series_.end(), std::make_move_iterator(prev.begin()),
                         std::make_move_iterator(prev.end()));
    prev.clear();
  }
  from.stale_series_.clear();
  for (RuleState& old : from.rules_) {
    old.previous_series.clear();
    old.active.clear();
  }
}

std::vector<core::Labels> RuleGroup::WrittenSeries() const {
  std::vector<core::Labels> out = stale_series_;
  for (const RuleState& state : rules_) {
    out.insert(out.end(), state.previous_series.begin(), state.previous_series.end());
  }
  return out;
}

std::vector<Alert> RuleGroup::ActiveAlerts(size_t rule_index) const {
  std::vector<Alert> out;
  for (const auto& [labels, a] : rules_[rule_index].active) out.push_back(a);
  return out;
}

}  // namespace rules
