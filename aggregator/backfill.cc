#include "aggregator/backfill.h"

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <unordered_set>
#include <utility>

#include "aggregator/promql_value.h"
#include "core/time_parse.h"

namespace rules {

core::Result<BackfillWriteResult> MemoryStorageBackfillWriter::Write(
    std::span<const BackfillPoint> points) {
  BackfillWriteResult result;
  for (size_t i = 0; i < points.size(); ++i) {
    if (auto st = storage_.Append(points[i].labels, points[i].t_ms, points[i].v); !st) {
      if (result.rejected.empty()) result.first_error = st.error().message;
      result.rejected.push_back(i);
    }
  }
  return result;
}

core::Result<std::vector<RuleGroupSpec>> LoadRuleSources(std::span<const RuleSource> sources) {
  std::vector<RuleGroupSpec> groups;
  std::string errors;
  std::string param;
  for (const RuleSource& source : sources) {
    const std::string name = source.name.empty() ? source.param : source.name;
    RuleFileLoad load = source.yaml.empty() && !source.name.empty()
                            ? LoadRuleFile(source.name)
                            : ParseRuleFile(name, source.yaml);
    if (!load.ok()) {
      if (param.empty()) param = source.param;
      for (const RuleFileError& e : load.errors) errors += e.ToString() + "\n";
      continue;
    }
    for (RuleGroupSpec& g : load.groups) groups.push_back(std::move(g));
  }
  if (!errors.empty()) {
    errors.pop_back();
    return core::Fail(core::ErrorCode::kInvalidRequest, errors, param);
  }
  return groups;
}

int64_t AlignUp(int64_t t_ms, int64_t interval_ms) {
  int64_t q = t_ms / interval_ms;
  if (q * interval_ms < t_ms) ++q;
  return q * interval_ms;
}

namespace {

constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();

// `name{labels}` (PromQL's series notation).
std::string SeriesString(const core::Labels& labels) {
  const std::string* name = labels.Get("__name__");
  std::vector<core::Label> rest;
  for (const core::Label& l : labels.items()) {
    if (l.name != "__name__") rest.push_back(l);
  }
  std::string out = promql::LabelsString(core::Labels(std::move(rest)));
  if (name == nullptr) return out;
  return out == "{}" ? *name : *name + out;
}

int64_t AlignDown(int64_t t_ms, int64_t interval_ms) {
  int64_t q = t_ms / interval_ms;
  if (q * interval_ms > t_ms) --q;
  return q * interval_ms;
}

// Rule output waiting to be written, with the group that produced each point
// and the distinct series by metric name (to tell whether a query could read
// them).
class Buffer final : public RuleSink {
 public:
  Buffer(BackfillWriter& writer, size_t batch_points, BackfillReport& report)
      : writer_(writer), batch_points_(std::max<size_t>(1, batch_points)), report_(report) {}

  void set_group(size_t group) { group_ = group; }
  const core::Status& error() const { return error_; }

  core::Status Append(const core::Labels& labels, int64_t t_ms, double v) override {
    if (!error_) return error_;
    if (points_.size() >= batch_points_) Flush();
    if (series_.insert(labels.Hash()).second) {
      const std::string* name = labels.Get("__name__");
      by_name_[name ? *name : std::string()].push_back(labels);
    }
    points_.push_back(BackfillPoint{labels, t_ms, v});
    groups_.push_back(group_);
    return {};
  }

  // True when a series matching all `matchers` is buffered.
  bool MayRead(std::span<const promql::LabelMatcher> matchers) const {
    if (points_.empty()) return false;
    auto matches = [&](const core::Labels& labels) {
      for (const promql::LabelMatcher& m : matchers) {
        const std::string* v = labels.Get(m.name());
        if (!m.Matches(v ? std::string_view(*v) : std::string_view())) return false;
      }
      return true;
    };
    for (const promql::LabelMatcher& m : matchers) {
      if (m.name() == "__name__" && m.type() == promql::MatchType::kEqual) {
        auto it = by_name_.find(m.value());
        if (it == by_name_.end()) return false;
        return std::any_of(it->second.begin(), it->second.end(), matches);
      }
    }
    for (const auto& entry : by_name_) {
      if (std::any_of(entry.second.begin(), entry.second.end(), matches)) return true;
    }
    return false;
  }

  void Flush() {
    if (points_.empty() || !error_) return;
    auto written = writer_.Write(points_);
    ++report_.writes;
    if (!written) {
      error_ = core::Fail(written.error().code,
                          "backfill stopped: writing " + std::to_string(points_.size()) +
                              " samples failed (" + std::to_string(report_.samples_written) +
                              " written before): " + written.error().message);
    } else {
      std::vector<int64_t> rejected(report_.groups.size(), 0);
      for (size_t i : written->rejected) {
        if (i < groups_.size()) ++rejected[groups_[i]];
      }
      std::vector<int64_t> total(report_.groups.size(), 0);
      for (size_t g : groups_) ++total[g];
      for (size_t g = 0; g < report_.groups.size(); ++g) {
        BackfillGroupReport& gr = report_.groups[g];
        gr.samples_written += total[g] - rejected[g];
        gr.samples_rejected += rejected[g];
        if (rejected[g] > 0 && gr.first_error.empty()) gr.first_error = written->first_error;
      }
      const auto n_rejected = static_cast<int64_t>(written->rejected.size());
      report_.samples_rejected += n_rejected;
      report_.samples_written += static_cast<int64_t>(points_.size()) - n_rejected;
    }
    points_.clear();
    groups_.clear();
    series_.clear();
    by_name_.clear();
  }

 private:
  BackfillWriter& writer_;
  const size_t batch_points_;
  BackfillReport& report_;
  size_t group_ = 0;
  core::Status error_;
  std::vector<BackfillPoint> points_;
  std::vector<size_t> groups_;  // parallel to points_
  std::unordered_set<uint64_t> series_;  // label hashes of the buffered series
  std::map<std::string, std::vector<core::Labels>> by_name_;
};

// Writes the buffer before a query that could read it.
class FlushingQuerier final : public promql::Querier {
 public:
  FlushingQuerier(const promql::Querier& inner, Buffer& buffer) : inner_(inner), buffer_(buffer) {}
  core::Result<std::vector<promql::Series>> Select(std::span<const promql::LabelMatcher> m,
                                                   int64_t min_ms, int64_t max_ms,
                                                   int64_t max_samples) const override {
    if (buffer_.MayRead(m)) buffer_.Flush();
    return inner_.Select(m, min_ms, max_ms, max_samples);
  }
  core::Result<std::vector<std::string>> LabelNames(std::span<const promql::LabelMatcher> m,
                                                    int64_t min_ms, int64_t max_ms) const override {
    if (buffer_.MayRead(m)) buffer_.Flush();
    return inner_.LabelNames(m, min_ms, max_ms);
  }
  core::Result<std::vector<std::string>> LabelValues(std::string_view name,
                                                     std::span<const promql::LabelMatcher> m,
                                                     int64_t min_ms, int64_t max_ms) const override {
    if (buffer_.MayRead(m)) buffer_.Flush();
    return inner_.LabelValues(name, m, min_ms, max_ms);
  }

 private:
  const promql::Querier& inner_;
  Buffer& buffer_;
};

std::vector<promql::LabelMatcher> OutputMatchers(std::string_view metric,
                                                 const std::string* alertname) {
  std::vector<promql::LabelMatcher> out;
  out.push_back(*promql::LabelMatcher::Make(promql::MatchType::kEqual, "__name__",
                                             std::string(metric)));
  if (alertname != nullptr) {
    out.push_back(*promql::LabelMatcher::Make(promql::MatchType::kEqual, "alertname", *alertname));
  }
  return out;
}

struct Conflict {
  int64_t t_ms = std::numeric_limits<int64_t>::max();
  std::string series;
  std::string rule;
  std::string group;
};

}  // namespace

core::Result<BackfillReport> PlanBackfill(std::span<const RuleGroupSpec> groups,
                                          const BackfillOptions& options) {
  if (options.end_ms < options.start_ms) {
    return core::Fail(core::ErrorCode::kInvalidRequest,
                      "end (" + core::FormatIso8601(options.end_ms) + ") is before start (" +
                          core::FormatIso8601(options.start_ms) + ")",
                      "end");
  }
  if (options.default_interval_ms <= 0) {
    return core::Fail(core::ErrorCode::kInvalidRequest, "the evaluation interval must be positive",
                      "interval");
  }
  if (groups.empty()) {
    return core::Fail(core::ErrorCode::kInvalidRequest, "no rule groups to backfill", "rules");
  }
  std::string unknown;
  for (const std::string& name : options.group_names) {
    const bool found = std::any_of(groups.begin(), groups.end(),
                                   [&name](const RuleGroupSpec& g) { return g.name == name; });
    if (!found) unknown += (unknown.empty() ? "\"" : ", \"") + name + "\"";
  }
  if (!unknown.empty()) {
    std::string known;
    for (const RuleGroupSpec& g : groups) known += (known.empty() ? "\"" : ", \"") + g.name + "\"";
    return core::Fail(core::ErrorCode::kInvalidRequest,
                      "no rule group named " + unknown + " (groups: " + known + ")", "group");
  }
  BackfillReport report;
  std::vector<int64_t> times;
  for (const RuleGroupSpec& g : groups) {
    if (!options.group_names.empty() &&
        std::find(options.group_names.begin(), options.group_names.end(), g.name) ==
            options.group_names.end()) {
      continue;
    }
    BackfillGroupReport gr;
    gr.file = g.file;
    gr.name = g.name;
    gr.interval_ms = g.interval_ms > 0 ? g.interval_ms : options.default_interval_ms;
    gr.rules = g.rules.size();
    const int64_t first = AlignUp(options.start_ms, gr.interval_ms);
    const int64_t last = AlignDown(options.end_ms, gr.interval_ms);
    if (first <= last && gr.rules > 0) {  // a group without rules has nothing to do
      gr.first_step_ms = first;
      gr.last_step_ms = last;
      // In uint64: last - first may exceed int64 (the count saturates).
      const uint64_t span = static_cast<uint64_t>(last) - static_cast<uint64_t>(first);
      const uint64_t steps = span / static_cast<uint64_t>(gr.interval_ms);
      gr.steps = steps >= static_cast<uint64_t>(kMaxInt64) ? kMaxInt64 : static_cast<int64_t>(steps) + 1;
    }
    // Saturating: a huge range must not overflow before the limit check.
    const int64_t limit = options.max_evaluations;
    const int64_t per_group =
        gr.rules == 0 ? 0
        : gr.steps > limit / static_cast<int64_t>(gr.rules) ? limit + 1
                                                             : gr.steps * static_cast<int64_t>(gr.rules);
    report.evaluations = std::min(limit + 1, report.evaluations + per_group);
    report.groups.push_back(std::move(gr));
  }
  if (report.evaluations > options.max_evaluations) {
    // Exact for the message, saturating at the int64 range.
    int64_t evaluations = 0;
    for (const BackfillGroupReport& gr : report.groups) {
      const auto rules = static_cast<int64_t>(gr.rules);
      if (rules > 0 && gr.steps > (kMaxInt64 - evaluations) / rules) {
        evaluations = kMaxInt64;
        break;
      }
      evaluations += gr.steps * rules;
    }
    return core::Fail(core::ErrorCode::kPayloadTooLarge,
                      "the range needs " +
                          (evaluations == kMaxInt64 ? "more than " + std::to_string(kMaxInt64 - 1)
                                                    : std::to_string(evaluations)) +
                          " rule evaluations (steps x rules), more than the limit of " +
                          std::to_string(options.max_evaluations) +
                          "; backfill a shorter range (several calls) or fewer groups",
                      "end");
  }
  // Distinct evaluation times over the groups (at most max_evaluations of them).
  for (const BackfillGroupReport& gr : report.groups) {
    for (int64_t t = gr.first_step_ms; gr.steps > 0 && t <= gr.last_step_ms; t += gr.interval_ms) {
      times.push_back(t);
    }
  }
  std::sort(times.begin(), times.end());
  report.steps = std::unique(times.begin(), times.end()) - times.begin();
  return report;
}

core::Result<BackfillReport> RunBackfill(std::span<const RuleGroupSpec> groups,
                                         const BackfillOptions& options,
                                         const promql::Querier& querier, BackfillWriter& writer) {
  auto planned = PlanBackfill(groups, options);
  if (!planned) return planned;
  BackfillReport report = std::move(*planned);

  // The selected specs, parallel to report.groups.
  std::vector<const RuleGroupSpec*> specs;
  for (const RuleGroupSpec& g : groups) {
    if (options.group_names.empty() ||
        std::find(options.group_names.begin(), options.group_names.end(), g.name) !=
            options.group_names.end()) {
      specs.push_back(&g);
    }
  }

  // Refuse before writing anything when an output metric already has samples
  // in the range of its group.
  Conflict conflict;
  for (size_t i = 0; i < specs.size(); ++i) {
    const BackfillGroupReport& gr = report.groups[i];
    if (gr.steps == 0) continue;
    for (const RuleSpec& rule : specs[i]->rules) {
      std::vector<std::vector<promql::LabelMatcher>> outputs;
      if (rule.kind == RuleSpec::Kind::kRecord) {
        outputs.push_back(OutputMatchers(rule.name, nullptr));
      } else {
        outputs.push_back(OutputMatchers("ALERTS", &rule.name));
        outputs.push_back(OutputMatchers("ALERTS_FOR_STATE", &rule.name));
      }
      for (const auto& matchers : outputs) {
        auto found = querier.Select(matchers, gr.first_step_ms, gr.last_step_ms,
                                    std::numeric_limits<int64_t>::max());
        if (!found) {
          return core::Fail(found.error().code,
                            "checking existing output of rule \"" + rule.name +
                                "\": " + found.error().message);
        }
        for (const promql::Series& s : *found) {
          if (!s.samples.empty() && s.samples.front().t_ms < conflict.t_ms) {
            conflict = Conflict{s.samples.front().t_ms, SeriesString(s.labels), rule.name,
                                specs[i]->name};
          }
        }
      }
    }
  }
  if (!conflict.series.empty()) {
    return core::Fail(
        core::ErrorCode::kConflict,
        "rule \"" + conflict.rule + "\" of group \"" + conflict.group +
            "\": the store already has samples of " + conflict.series + " in the range, the first at " +
            core::FormatIso8601(conflict.t_ms) + " (" + std::to_string(conflict.t_ms / 1000) +
            "); backfilling over them would duplicate the series: pick an end before " +
            core::FormatIso8601(conflict.t_ms),
        "end");
  }

  RuleGroupOptions group_options = options.group_options;
  group_options.notifier = nullptr;
  std::vector<std::unique_ptr<RuleGroup>> evaluators;
  std::vector<int64_t> next;
  for (size_t i = 0; i < specs.size(); ++i) {
    evaluators.push_back(std::make_unique<RuleGroup>(*specs[i], group_options));
    next.push_back(report.groups[i].steps > 0 ? report.groups[i].first_step_ms
                                              : std::numeric_limits<int64_t>::max());
  }
  Buffer buffer(writer, options.batch_points, report);
  FlushingQuerier reading(querier, buffer);
  while (true) {
    const int64_t t = *std::min_element(next.begin(), next.end());
    if (t == std::numeric_limits<int64_t>::max()) break;
    for (size_t i = 0; i < specs.size(); ++i) {
      if (next[i] != t) continue;
      BackfillGroupReport& gr = report.groups[i];
      buffer.set_group(i);
      const int failed = evaluators[i]->Eval(t, reading, buffer);
      if (!buffer.error()) return core::Unexpected(buffer.error().error());
      gr.rule_failures += failed;
      if (failed > 0 && gr.first_error.empty()) {
        for (size_t r = 0; r < specs[i]->rules.size(); ++r) {
          const std::string& e = evaluators[i]->health(r).last_error;
          if (!e.empty()) {
            gr.first_error = "at " + core::FormatIso8601(t) + ", rule \"" +
                             specs[i]->rules[r].name + "\": " + e;
            break;
          }
        }
      }
      next[i] = t + gr.interval_ms > gr.last_step_ms ? std::numeric_limits<int64_t>::max()
                                                      : t + gr.interval_ms;
    }
  }
  buffer.Flush();
  if (!buffer.error()) return core::Unexpected(buffer.error().error());
  return report;
}

}  // namespace rules
