#include "aggregator/rule_unit_test.h"

#include <glob.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string_view>
#include <system_error>

#include "aggregator/promql_engine.h"
#include "aggregator/promql_parser.h"
#include "aggregator/promql_storage.h"
#include "aggregator/promql_test_file.h"
#include "aggregator/promql_test_runner.h"
#include "aggregator/promql_text.h"
#include "aggregator/promql_value.h"
#include "aggregator/rule_file.h"
#include "aggregator/rule_group.h"

namespace rules {

namespace {

constexpr int64_t kDefaultEvaluationIntervalMs = 60'000;

bool ReadFile(const std::string& path, std::string* text, std::string* error) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    *error = "open " + path + ": " + std::system_category().message(errno);
    if (!error->empty()) {
      const size_t colon = error->rfind(": ");
      if (colon != std::string::npos && colon + 2 < error->size()) {
        (*error)[colon + 2] =
            static_cast<char>(std::tolower(static_cast<unsigned char>((*error)[colon + 2])));
      }
    }
    return false;
  }
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text->append(buf, n);
  std::fclose(f);
  return true;
}

std::string Dir(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Go's filepath.Join(dir, rel) for the simple cases (and Clean of "./x").
std::string Join(const std::string& dir, const std::string& rel) {
  if (dir == ".") return rel;
  return dir + "/" + rel;
}

struct LabelsLess {
  bool operator()(const core::Labels& a, const core::Labels& b) const {
    return promql::CompareLabels(a, b) < 0;
  }
};

struct LabelsAndAnnotations {
  core::Labels labels;
  core::Labels annotations;
};

bool LaLess(const LabelsAndAnnotations& a, const LabelsAndAnnotations& b) {
  int c = promql::CompareLabels(a.labels, b.labels);
  if (c != 0) return c < 0;
  return promql::CompareLabels(a.annotations, b.annotations) < 0;
}

// promtool's indentLines: every line but the first gets `indent`.
std::string IndentLines(const std::string& lines, const std::string& indent) {
  std::string out;
  size_t start = 0;
  bool first = true;
  while (true) {
    size_t nl = lines.find('\n', start);
    if (!first) out += indent;
    first = false;
    out += lines.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (nl == std::string::npos) break;
    out += '\n';
    start = nl + 1;
  }
  return out;
}

std::string LaString(const std::vector<LabelsAndAnnotations>& la) {
  if (la.empty()) return "[]";
  auto one = [](const LabelsAndAnnotations& x) {
    return "Labels:" + promql::LabelsString(x.labels) +
           "\nAnnotations:" + promql::LabelsString(x.annotations);
  };
  std::string s = "[\n0:" + IndentLines("\n" + one(la[0]), "  ");
  for (size_t i = 1; i < la.size(); ++i) {
    s += ",\n" + std::to_string(i) + ":" + IndentLines("\n" + one(la[i]), "  ");
  }
  return s + "\n]";
}

core::Labels FromMap(const std::map<std::string, std::string>& m) {
  std::vector<core::Label> ls;
  for (const auto& [k, v] : m) ls.push_back({k, v});
  return core::Labels(std::move(ls));
}

struct ParsedSample {
  core::Labels labels;
  double value = 0;
};

std::string SamplesString(const std::vector<ParsedSample>& s) {
  if (s.empty()) return "nil";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0) out += ", ";
    out += promql::LabelsString(s[i].labels) + " " + FormatFloatE(s[i].value);
  }
  return out;
}

struct PendingSample {
  int64_t t_ms;
  size_t series;
  double v;
};

// Runs one `tests:` entry; appends its failures to `errs`.
void RunGroup(const TestGroupSpec& tg, int64_t eval_interval_ms,
              const std::map<std::string, int>& order, const std::vector<std::string>& rule_files,
              RuleUnitTestResult* result) {
  std::vector<std::string>& errs = result->errors;
  // Input series, in the `load` block promtool builds (a later line with the
  // same labels replaces an earlier one).
  std::vector<core::Labels> series_labels;
  std::map<core::Labels, size_t, LabelsLess> series_index;
  std::vector<std::vector<promql::SequenceValue>> series_values;
  for (const InputSeriesSpec& in : tg.input_series) {
    auto line = promql::ParseSeriesLine(in.series + " " + in.values);
    if (!line) {
      errs.push_back(line.error().message);
      return;
    }
    auto [it, inserted] = series_index.emplace(line->labels, series_labels.size());
    if (inserted) {
      series_labels.push_back(line->labels);
      series_values.push_back(std::move(line->values));
    } else {
      series_values[it->second] = std::move(line->values);
    }
  }
  std::vector<PendingSample> pending;
  for (size_t s = 0; s < series_values.size(); ++s) {
    for (size_t i = 0; i < series_values[s].size(); ++i) {
      const promql::SequenceValue& v = series_values[s][i];
      if (v.omitted) continue;
      pending.push_back({static_cast<int64_t>(i) * tg.interval_ms, s, v.value});
    }
  }
  std::stable_sort(pending.begin(), pending.end(),
                   [](const PendingSample& a, const PendingSample& b) { return a.t_ms < b.t_ms; });
  size_t next_sample = 0;
  promql::MemoryStorage storage;
  auto load_till = [&](int64_t t_ms) {
    for (; next_sample < pending.size() && pending[next_sample].t_ms <= t_ms; ++next_sample) {
      const PendingSample& p = pending[next_sample];
      // Repeated timestamps (interval 0) keep the first value, like promtool.
      (void)storage.Append(series_labels[p.series], p.t_ms, p.v);
    }
  };

  // Rule groups.
  promql::EngineOptions engine = promql::TestEngineOptions();
  engine.default_subquery_step_ms = eval_interval_ms;
  RuleGroupOptions options;
  options.engine = engine;
  options.external_labels = tg.external_labels;
  options.external_url = tg.external_url;
  std::vector<std::unique_ptr<RuleGroup>> groups;
  std::vector<std::string> load_errors;
  for (const std::string& file : rule_files) {
    RuleFileLoad load = LoadRuleFile(file);
    for (const RuleFileError& e : load.errors) load_errors.push_back(e.ToString());
    if (!load.ok()) continue;
    for (RuleGroupSpec& g : load.groups)
      groups.push_back(std::make_unique<RuleGroup>(std::move(g), options));
  }
  if (!load_errors.empty()) {
    errs.insert(errs.end(), load_errors.begin(), load_errors.end());
    return;
  }
  auto rank = [&](const std::unique_ptr<RuleGroup>& g) {
    auto it = order.find(g->spec().name);
    return it == order.end() ? 0 : it->second;
  };
  std::stable_sort(groups.begin(), groups.end(),
                   [&](const auto& a, const auto& b) { return rank(a) < rank(b); });

  int64_t maxt = 0;
  for (const AlertTestSpec& a : tg.alert_rule_tests) maxt = std::max(maxt, a.eval_time_ms);
  for (const PromqlExprTestSpec& p : tg.promql_expr_tests) maxt = std::max(maxt, p.eval_time_ms);

  std::map<int64_t, std::set<std::string>> alerts_in_test;
  std::map<int64_t, std::vector<const AlertTestSpec*>> alert_tests;
  for (const AlertTestSpec& a : tg.alert_rule_tests) {
    if (a.alertname.empty()) {
      std::string in_group = tg.name.empty() ? "" : " (in TestGroup " + tg.name + ")";
      errs.push_back(
          "an item under alert_rule_test misses required attribute alertname at eval_time " +
          promql::FormatDuration(a.eval_time_ms) + in_group);
      return;
    }
    alerts_in_test[a.eval_time_ms].insert(a.alertname);
    alert_tests[a.eval_time_ms].push_back(&a);
  }
  std::vector<int64_t> alert_eval_times;
  for (const auto& [t, unused] : alert_tests) alert_eval_times.push_back(t);
  size_t curr = 0;

  MemoryStorageSink sink(storage);
  ++result->groups_run;
  for (int64_t ts = 0; ts <= maxt; ts += eval_interval_ms) {
    load_till(ts);
    std::vector<std::string> eval_errs;
    for (auto& g : groups) {
      g->Eval(ts, storage, sink);
      for (size_t r = 0; r < g->spec().rules.size(); ++r) {
        const RuleHealth& h = g->health(r);
        if (!h.last_error.empty()) {
          eval_errs.push_back("    rule: " + g->spec().rules[r].name +
                              ", time: " + GoDurationString(ts) + ", err: " + h.last_error);
        }
      }
    }
    if (!eval_errs.empty()) {
      errs.insert(errs.end(), eval_errs.begin(), eval_errs.end());
      return;
    }
    while (curr < alert_eval_times.size() && ts <= alert_eval_times[curr] &&
           alert_eval_times[curr] < ts + eval_interval_ms) {
      const int64_t t = alert_eval_times[curr];
      const std::set<std::string>& present = alerts_in_test[t];
      std::map<std::string, std::vector<LabelsAndAnnotations>> got;
      for (auto& g : groups) {
        for (size_t r = 0; r < g->spec().rules.size(); ++r) {
          const RuleSpec& rule = g->spec().rules[r];
          if (rule.kind != RuleSpec::Kind::kAlert || !present.contains(rule.name)) continue;
          auto& list = got[rule.name];
          for (const Alert& a : g->ActiveAlerts(r)) {
            if (a.state == AlertState::kFiring) list.push_back({a.labels, a.annotations});
          }
        }
      }
      for (const AlertTestSpec* tc : alert_tests[t]) {
        ++result->checks;
        std::vector<LabelsAndAnnotations> got_alerts = got[tc->alertname];
        std::vector<LabelsAndAnnotations> exp_alerts;
        for (const ExpAlertSpec& e : tc->exp_alerts) {
          std::map<std::string, std::string> labels = e.exp_labels;
          labels["alertname"] = tc->alertname;
          exp_alerts.push_back({FromMap(labels), FromMap(e.exp_annotations)});
        }
        std::sort(got_alerts.begin(), got_alerts.end(), LaLess);
        std::sort(exp_alerts.begin(), exp_alerts.end(), LaLess);
        bool equal = got_alerts.size() == exp_alerts.size();
        for (size_t i = 0; equal && i < got_alerts.size(); ++i) {
          equal = got_alerts[i].labels == exp_alerts[i].labels &&
                  got_alerts[i].annotations == exp_alerts[i].annotations;
        }
        if (!equal) {
          const std::string name = tg.name.empty() ? "" : "    name: " + tg.name + ",\n";
          errs.push_back(name + "    alertname: " + tc->alertname +
                         ", time: " + promql::FormatDuration(tc->eval_time_ms) +
                         ", \n        exp:" + IndentLines(LaString(exp_alerts), "            ") +
                         ", \n        got:" + IndentLines(LaString(got_alerts), "            "));
        }
      }
      ++curr;
    }
    if (eval_interval_ms <= 0) break;
  }

  promql::Engine query_engine(engine);
  for (const PromqlExprTestSpec& tc : tg.promql_expr_tests) {
    ++result->checks;
    const std::string head = "    expr: " + promql::QuoteString(tc.expr) +
                             ", time: " + promql::FormatDuration(tc.eval_time_ms);
    auto expr = promql::Parse(tc.expr);
    if (!expr) {
      errs.push_back(head + ", err: " + expr.error().ToString());
      continue;
    }
    promql::QueryResult r = query_engine.InstantQuery(storage, **expr, tc.eval_time_ms);
    if (!r) {
      errs.push_back(head + ", err: " + r.error().message);
      continue;
    }
    std::vector<ParsedSample> got;
    if (auto* v = std::get_if<promql::Vector>(&*r)) {
      for (const auto& s : *v) got.push_back({s.labels, s.v});
    } else if (auto* s = std::get_if<promql::Scalar>(&*r)) {
      got.push_back({core::Labels(), s->v});
    } else {
      errs.push_back(head + ", err: rule result is not a vector or scalar");
      continue;
    }
    std::vector<ParsedSample> exp;
    bool bad = false;
    for (const ExpSampleSpec& e : tc.exp_samples) {
      auto line = promql::ParseSeriesLine(e.labels);
      if (!line || !line->values.empty()) {
        errs.push_back(
            head + ", err: labels " + promql::QuoteString(e.labels) + ": " +
            (line ? std::string("unexpected values after the label set") : line.error().message));
        bad = true;
        break;
      }
      exp.push_back({line->labels, e.value});
    }
    if (bad) continue;
    auto by_labels = [](const ParsedSample& a, const ParsedSample& b) {
      return promql::CompareLabels(a.labels, b.labels) < 0;
    };
    std::stable_sort(exp.begin(), exp.end(), by_labels);
    std::stable_sort(got.begin(), got.end(), by_labels);
    bool equal = exp.size() == got.size();
    for (size_t i = 0; equal && i < exp.size(); ++i) {
      equal = exp[i].labels == got[i].labels &&
              exp[i].value == got[i].value;  // NaN never equal, like DeepEqual
    }
    if (!equal) {
      errs.push_back(head + ",\n        exp: " + SamplesString(exp) +
                     "\n        got: " + SamplesString(got));
    }
  }
}

}  // namespace

std::string FormatFloatE(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string s(buf, res.ptr);
  for (char& c : s) {
    if (c == 'e') c = 'E';
  }
  return s;
}

std::string GoDurationString(int64_t ms) {
  if (ms == 0) return "0s";
  std::string sign;
  uint64_t u = ms < 0 ? static_cast<uint64_t>(-(ms + 1)) + 1 : static_cast<uint64_t>(ms);
  if (ms < 0) sign = "-";
  if (u < 1000) return sign + std::to_string(u) + "ms";
  const uint64_t h = u / 3'600'000, m = (u / 60'000) % 60, s = (u / 1000) % 60, frac = u % 1000;
  std::string secs = std::to_string(s);
  if (frac != 0) {
    char buf[8];
    std::snprintf(buf, sizeof buf, ".%03u", static_cast<unsigned>(frac));
    std::string f = buf;
    while (f.back() == '0') f.pop_back();
    secs += f;
  }
  std::string out = sign;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  return out + secs + "s";
}

RuleUnitTestResult RunRuleUnitTestFile(const std::string& path) {
  RuleUnitTestResult result;
  std::string text, error;
  if (!ReadFile(path, &text, &error)) {
    result.errors.push_back(error);
    return result;
  }
  auto spec = ParseRuleTestFile(text);
  if (!spec) {
    result.errors.push_back(spec.error().message);
    return result;
  }
  // Rule files: relative to the test file, then globbed.
  std::vector<std::string> files;
  for (const std::string& rf : spec->rule_files) {
    std::string pattern = rf.empty() || rf[0] == '/' ? rf : Join(Dir(path), rf);
    glob_t g{};
    int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
    if (rc == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) files.push_back(g.gl_pathv[i]);
    } else {
      result.warnings.push_back("  WARNING: no file match pattern " + pattern);
    }
    globfree(&g);
  }
  const int64_t eval_interval = spec->evaluation_interval_ms == 0 ? kDefaultEvaluationIntervalMs
                                                                  : spec->evaluation_interval_ms;
  std::map<std::string, int> order;
  for (size_t i = 0; i < spec->group_eval_order.size(); ++i) {
    if (!order.emplace(spec->group_eval_order[i], static_cast<int>(i)).second) {
      result.errors.push_back("group name repeated in evaluation order: " +
                              spec->group_eval_order[i]);
      return result;
    }
  }
  for (const TestGroupSpec& tg : spec->tests) RunGroup(tg, eval_interval, order, files, &result);
  return result;
}

}  // namespace rules
