#include "rest/calls_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <unordered_set>

#include "core/time_parse.h"
#include "rest/analytics_math.h"
#include "rest/analytics_scan.h"

namespace rest {
namespace {

using core::ErrorCode;
using json = nlohmann::json;
using store::EventField;

core::Unexpected<core::Error> Invalid(std::string message, std::string param) {
  return core::Fail(ErrorCode::kInvalidRequest, std::move(message), std::move(param));
}

// Metrics and how a row yields their value.
enum class MetricKind {
  kInputTokens,
  kOutputTokens,
  kTotalTokens,
  kCost,
  kLatency,
  kCallCount,
  kErrorCount
};

struct MetricInfo {
  const char* name;
  MetricKind kind;
  bool usage;
};

constexpr MetricInfo kMetrics[] = {
    {"input_tokens", MetricKind::kInputTokens, true},
    {"output_tokens", MetricKind::kOutputTokens, true},
    {"total_tokens", MetricKind::kTotalTokens, true},
    {"cost", MetricKind::kCost, true},
    {"latency_ms", MetricKind::kLatency, false},
    {"call_count", MetricKind::kCallCount, false},
    {"error_count", MetricKind::kErrorCount, false},
};

const MetricInfo* FindMetric(std::string_view name, bool usage) {
  for (const MetricInfo& m : kMetrics) {
    if (m.usage == usage && name == m.name) return &m;
  }
  return nullptr;
}

std::string_view AggName(StatsAgg a) {
  switch (a) {
    case StatsAgg::kSum: return "sum";
    case StatsAgg::kAvg: return "avg";
    case StatsAgg::kMin: return "min";
    case StatsAgg::kMax: return "max";
    case StatsAgg::kCount: return "count";
  }
  return "sum";
}

std::string PercentileName(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "p%.10g", p);
  return buf;
}

core::Result<std::vector<std::string>> StringList(const json& v, const std::string& param) {
  if (!v.is_array()) return Invalid(param + " must be an array of strings", param);
  if (v.size() > 10'000) return Invalid(param + " has more than 10000 items", param);
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string p = param + "[" + std::to_string(i) + "]";
    if (!v[i].is_string()) return Invalid(p + " must be a string", p);
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

core::Result<std::vector<StatsMetric>> ParseMetrics(const json& doc, const std::string& name,
                                                    bool usage) {
  std::vector<StatsMetric> out;
  auto it = doc.find(name);
  if (it == doc.end() || it->is_null()) return out;
  if (!it->is_array()) return Invalid(name + " must be an array of {metric, aggregations, percentiles}", name);
  if (it->size() > 32) return Invalid(name + " has more than 32 items", name);
  for (size_t i = 0; i < it->size(); ++i) {
    const json& m = (*it)[i];
    const std::string base = name + "[" + std::to_string(i) + "]";
    if (!m.is_object()) return Invalid(base + " must be an object", base);
    for (const auto& [key, value] : m.items()) {
      if (key != "metric" && key != "aggregations" && key != "percentiles") {
        return Invalid("unknown field " + base + "." + key, base + "." + key);
      }
    }
    StatsMetric metric;
    auto mit = m.find("metric");
    if (mit == m.end() || !mit->is_string()) {
      return Invalid(base + ".metric is required (a string)", base + ".metric");
    }
    metric.metric = mit->get<std::string>();
    if (FindMetric(metric.metric, usage) == nullptr) {
      return Invalid(base + ".metric must be one of " +
                         std::string(usage ? "input_tokens, output_tokens, total_tokens, cost"
                                           : "latency_ms, call_count, error_count") +
                         " (got '" + metric.metric.substr(0, 64) + "')",
                     base + ".metric");
    }
    if (auto a = m.find("aggregations"); a != m.end() && !a->is_null()) {
      const std::string p = base + ".aggregations";
      if (!a->is_array()) return Invalid(p + " must be an array", p);
      for (size_t k = 0; k < a->size(); ++k) {
        const std::string pk = p + "[" + std::to_string(k) + "]";
        const json& v = (*a)[k];
        std::string s = v.is_string() ? v.get<std::string>() : "";
        if (s == "sum") metric.aggregations.push_back(StatsAgg::kSum);
        else if (s == "avg") metric.aggregations.push_back(StatsAgg::kAvg);
        else if (s == "min") metric.aggregations.push_back(StatsAgg::kMin);
        else if (s == "max") metric.aggregations.push_back(StatsAgg::kMax);
        else if (s == "count") metric.aggregations.push_back(StatsAgg::kCount);
        else return Invalid(pk + " must be one of sum, avg, min, max, count", pk);
      }
    } else if (m.find("percentiles") == m.end()) {
      metric.aggregations.push_back(StatsAgg::kSum);
    }
    if (auto ps = m.find("percentiles"); ps != m.end() && !ps->is_null()) {
      const std::string p = base + ".percentiles";
      if (!ps->is_array()) return Invalid(p + " must be an array of numbers", p);
      if (ps->size() > 20) return Invalid(p + " has more than 20 items", p);
      for (size_t k = 0; k < ps->size(); ++k) {
        const std::string pk = p + "[" + std::to_string(k) + "]";
        const json& v = (*ps)[k];
        if (!v.is_number()) return Invalid(pk + " must be a number in (0, 100)", pk);
        const double d = v.get<double>();
        if (!std::isfinite(d) || d <= 0 || d >= 100) {
          return Invalid(pk + " must be a number in (0, 100), exclusive", pk);
        }
        metric.percentiles.push_back(d);
        metric.percentile_names.push_back(PercentileName(d));
      }
    }
    out.push_back(std::move(metric));
  }
  return out;
}

core::Result<int64_t> ParseInstant(const json& v, int64_t now_ms, const std::string& param) {
  if (v.is_string()) {
    auto ms = core::ParseTimeParamMs(v.get<std::string>(), now_ms);
    if (!ms) return Invalid(param + ": " + ms.error().message, param);
    return *ms;
  }
  if (v.is_number()) {
    auto ms = core::UnixNumberToMs(v.get<double>());
    if (!ms) return Invalid(param + ": " + ms.error().message, param);
    return *ms;
  }
  return Invalid(param + " must be an ISO 8601 string or unix seconds/milliseconds", param);
}

// Accumulator of one metric in one group.
struct Acc {
  int64_t isum = 0;   // tokens, nano-USD, counts
  double dsum = 0;    // latency
  uint64_t count = 0;
  int64_t imin = std::numeric_limits<int64_t>::max();  // integral metrics and nano-USD
  int64_t imax = std::numeric_limits<int64_t>::min();
  double min = std::numeric_limits<double>::infinity();  // latency
  double max = -std::numeric_limits<double>::infinity();
  std::vector<double> values;  // only when percentiles are asked for
};

// The metrics of one group, in the order of `metrics`.
struct Plan {
  std::vector<MetricKind> kinds;  // one per distinct metric requested
  std::vector<bool> keep_values;
  size_t Find(MetricKind k) const {
    return static_cast<size_t>(std::find(kinds.begin(), kinds.end(), k) - kinds.begin());
  }
};

Plan MakePlan(const std::vector<StatsMetric>& metrics, bool usage) {
  Plan plan;
  for (const StatsMetric& m : metrics) {
    MetricKind k = FindMetric(m.metric, usage)->kind;
    size_t idx = plan.Find(k);
    if (idx == plan.kinds.size()) {
      plan.kinds.push_back(k);
      plan.keep_values.push_back(false);
    }
    if (!m.percentiles.empty()) plan.keep_values[idx] = true;
  }
  return plan;
}

// Adds row i of v to the accumulators `accs` (one per plan kind).
inline void AddRow(const Plan& plan, Acc* accs, const scan::BlockColumns& c, size_t i) {
  for (size_t m = 0; m < plan.kinds.size(); ++m) {
    Acc& a = accs[m];
    int64_t iv = 0;
    switch (plan.kinds[m]) {
      case MetricKind::kInputTokens: iv = c.input[i]; break;
      case MetricKind::kOutputTokens: iv = c.output[i]; break;
      case MetricKind::kTotalTokens:
        iv = static_cast<int64_t>(uint64_t{c.input[i]} + c.output[i] + c.cache_tokens(i));
        break;
      case MetricKind::kCost: iv = c.cost[i]; break;
      case MetricKind::kLatency: {
        if (!c.has_latency(i)) continue;
        const double dv = c.latency[i];
        a.dsum += dv;
        ++a.count;
        a.min = std::min(a.min, dv);
        a.max = std::max(a.max, dv);
        if (plan.keep_values[m]) a.values.push_back(dv);
        continue;
      }
      case MetricKind::kCallCount: iv = 1; break;
      case MetricKind::kErrorCount: iv = c.success(i) ? 0 : 1; break;
    }
    a.isum += iv;
    ++a.count;
    a.imin = std::min(a.imin, iv);
    a.imax = std::max(a.imax, iv);
    if (plan.keep_values[m]) {
      a.values.push_back(plan.kinds[m] == MetricKind::kCost ? NanoToUsd(iv)
                                                             : static_cast<double>(iv));
    }
  }
}

// min or max of an accumulator as JSON (USD for cost).
json Extreme(MetricKind k, const Acc& a, bool is_min) {
  if (a.count == 0) return json();
  if (k == MetricKind::kLatency) return json(is_min ? a.min : a.max);
  const int64_t v = is_min ? a.imin : a.imax;
  if (k == MetricKind::kCost) return json(NanoToUsd(v));
  return json(v);
}

// Writes the requested fields of one group into `out`.
void Render(const std::vector<StatsMetric>& metrics, const Plan& plan, Acc* accs, json& out) {
  for (const StatsMetric& m : metrics) {
    const MetricInfo* info = FindMetric(m.metric, true);
    if (info == nullptr) info = FindMetric(m.metric, false);
    const MetricKind k = info->kind;
    Acc& a = accs[plan.Find(k)];
    for (StatsAgg agg : m.aggregations) {
      const std::string field = m.metric + "_" + std::string(AggName(agg));
      switch (agg) {
        case StatsAgg::kSum:
          if (k == MetricKind::kCost) out[field] = NanoToUsd(a.isum);
          else if (k == MetricKind::kLatency) out[field] = a.dsum;
          else out[field] = a.isum;
          break;
        case StatsAgg::kCount: out[field] = a.count; break;
        case StatsAgg::kAvg: {
          double avg = 0;
          if (a.count > 0) {
            avg = k == MetricKind::kCost    ? NanoToUsd(a.isum) / static_cast<double>(a.count)
                  : k == MetricKind::kLatency ? a.dsum / static_cast<double>(a.count)
                                              : static_cast<double>(a.isum) /
                                                    static_cast<double>(a.count);
          }
          out[field] = avg;
          break;
        }
        case StatsAgg::kMin: out[field] = Extreme(k, a, true); break;
        case StatsAgg::kMax: out[field] = Extreme(k, a, false); break;
      }
    }
    if (!m.percentiles.empty()) {
      std::vector<double> ps;
      if (a.count > 0) ps = ExactPercentiles(a.values, m.percentiles);
      for (size_t p = 0; p < m.percentiles.size(); ++p) {
        out[m.metric + "_" + m.percentile_names[p]] = a.count > 0 ? json(ps[p]) : json();
      }
    }
  }
}

// Sorted codes of `strings` in the dictionary (unknown strings dropped); sets
// `none` when the list is non-empty but no string is known.
std::vector<uint32_t> Codes(const store::Dictionary* dict, const std::vector<std::string>& strings,
                            bool& none) {
  std::vector<uint32_t> codes;
  for (const std::string& s : strings) {
    if (auto c = dict->Find(s)) codes.push_back(*c);
  }
  std::sort(codes.begin(), codes.end());
  codes.erase(std::unique(codes.begin(), codes.end()), codes.end());
  if (!strings.empty() && codes.empty()) none = true;
  return codes;
}

bool Contains(const std::vector<uint32_t>& sorted, uint32_t code) {
  return sorted.size() < 8 ? std::find(sorted.begin(), sorted.end(), code) != sorted.end()
                           : std::binary_search(sorted.begin(), sorted.end(), code);
}

}  // namespace

core::Result<CallsStatsRequest> ParseCallsStatsRequest(std::string_view body, int64_t now_ms) {
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded()) return Invalid("request body is not valid JSON", "");
  if (!doc.is_object()) return Invalid("request body must be a JSON object", "");
  static const char* kFields[] = {"project_id", "start",       "end",    "granularity",
                                  "usage_metrics", "call_metrics", "filter", "timezone",
                                  "idempotency_key"};
  for (const auto& [key, value] : doc.items()) {
    if (std::find_if(std::begin(kFields), std::end(kFields),
                     [&k = key](const char* f) { return k == f; }) == std::end(kFields)) {
      return Invalid("unknown field '" + key.substr(0, 64) + "'", key.substr(0, 64));
    }
  }
  CallsStatsRequest r;
  if (auto it = doc.find("project_id"); it != doc.end() && !it->is_null()) {
    if (!it->is_string()) return Invalid("project_id must be a string", "project_id");
    r.project_id = it->get<std::string>();
  }
  auto st = doc.find("start");
  if (st == doc.end() || st->is_null()) {
    return Invalid("start is required (ISO 8601, e.g. 2025-01-15T00:00:00Z)", "start");
  }
  auto start = ParseInstant(*st, now_ms, "start");
  if (!start) return core::Unexpected(start.error());
  r.start_ms = *start;
  r.end_ms = now_ms;
  if (auto it = doc.find("end"); it != doc.end() && !it->is_null()) {
    auto end = ParseInstant(*it, now_ms, "end");
    if (!end) return core::Unexpected(end.error());
    r.end_ms = *end;
  }
  if (r.start_ms >= r.end_ms) return Invalid("start must be before end", "start");
  std::optional<int64_t> granularity;
  if (auto it = doc.find("granularity"); it != doc.end() && !it->is_null()) {
    if (!it->is_number_integer() && !(it->is_number_float() && std::isfinite(it->get<double>()) &&
                                      it->get<double>() == std::floor(it->get<double>()))) {
      return Invalid("granularity must be a whole number of seconds", "granularity");
    }
    const double g = it->get<double>();
    if (g < 1 || g > 10.0 * 365 * 86400) {
      return Invalid("granularity must be between 1 and 315360000 seconds", "granularity");
    }
    granularity = static_cast<int64_t>(g);
  }
  if (auto it = doc.find("timezone"); it != doc.end() && !it->is_null()) {
    if (!it->is_string()) return Invalid("timezone must be an IANA name string", "timezone");
    auto tz = TimeZone::Find(it->get<std::string>(), "timezone");
    if (!tz) return core::Unexpected(tz.error());
    r.timezone = *tz;
  }
  auto usage = ParseMetrics(doc, "usage_metrics", true);
  if (!usage) return core::Unexpected(usage.error());
  r.usage_metrics = std::move(*usage);
  auto calls = ParseMetrics(doc, "call_metrics", false);
  if (!calls) return core::Unexpected(calls.error());
  r.call_metrics = std::move(*calls);
  if (auto it = doc.find("filter"); it != doc.end() && !it->is_null()) {
    if (!it->is_object()) return Invalid("filter must be an object", "filter");
    const std::pair<const char*, std::vector<std::string>*> lists[] = {
        {"op_names", &r.op_names},       {"trace_ids", &r.trace_ids},
        {"call_ids", &r.call_ids},       {"parent_ids", &r.parent_ids},
        {"thread_ids", &r.thread_ids},   {"turn_ids", &r.turn_ids},
        {"wb_user_ids", &r.user_ids},    {"input_refs", &r.input_refs},
        {"output_refs", &r.output_refs}, {"wb_run_ids", &r.run_ids}};
    for (const auto& [key, value] : it->items()) {
      const std::string param = "filter." + key.substr(0, 64);
      if (key == "trace_roots_only") {
        if (value.is_null()) continue;
        if (!value.is_boolean()) return Invalid(param + " must be true or false", param);
        r.trace_roots_only = value.get<bool>();
        continue;
      }
      auto list = std::find_if(std::begin(lists), std::end(lists),
                               [&k = key](const auto& l) { return k == l.first; });
      if (list == std::end(lists)) return Invalid("unknown filter '" + key.substr(0, 64) + "'", param);
      if (value.is_null()) continue;
      auto strings = StringList(value, param);
      if (!strings) return core::Unexpected(strings.error());
      *list->second = std::move(*strings);
    }
  }
  r.grid = BucketGrid::Make(r.start_ms, r.end_ms, granularity, r.timezone);
  return r;
}

json CallsStats(const store::EventStore& store, std::string_view project,
                const CallsStatsRequest& r) {
  const BucketGrid& grid = r.grid;
  const size_t nb = grid.size();
  const Plan usage_plan = MakePlan(r.usage_metrics, true);
  const Plan call_plan = MakePlan(r.call_metrics, false);
  const size_t nu = usage_plan.kinds.size();
  const size_t nc = call_plan.kinds.size();

  // Filters as codes.
  const store::Dictionary* dict = store.dict(project);
  scan::ResolvedFilter base;
  base.start_ms = r.start_ms;
  base.end_ms = r.end_ms;
  base.matches_nothing = dict == nullptr;
  struct SetFilter {
    EventField field;
    std::vector<uint32_t> codes;
  };
  struct TagFilter {
    uint32_t key;
    std::vector<uint32_t> codes;
  };
  std::vector<SetFilter> sets;
  std::vector<TagFilter> tag_sets;
  std::unordered_set<std::string_view> call_ids(r.call_ids.begin(), r.call_ids.end());
  if (dict != nullptr) {
    const std::pair<EventField, const std::vector<std::string>*> fields[] = {
        {EventField::kOpName, &r.op_names},     {EventField::kTraceId, &r.trace_ids},
        {EventField::kParentId, &r.parent_ids}, {EventField::kThreadId, &r.thread_ids},
        {EventField::kTurnId, &r.turn_ids},     {EventField::kUserId, &r.user_ids}};
    for (const auto& [field, strings] : fields) {
      if (strings->empty()) continue;
      sets.push_back({field, Codes(dict, *strings, base.matches_nothing)});
    }
    const std::pair<const char*, const std::vector<std::string>*> tags[] = {
        {"input_ref", &r.input_refs}, {"output_ref", &r.output_refs}, {"run_id", &r.run_ids}};
    for (const auto& [key, strings] : tags) {
      if (strings->empty()) continue;
      std::optional<uint32_t> k = dict->Find(key);
      if (!k) {
        base.matches_nothing = true;
        continue;
      }
      tag_sets.push_back({*k, Codes(dict, *strings, base.matches_nothing)});
    }
  }

  // usage[model group][bucket * nu + metric], call[bucket * nc + metric]
  scan::GroupIndex models;
  std::vector<std::vector<Acc>> usage;
  std::vector<Acc> call(nb * nc);
  const store::EventBlockView* current = nullptr;
  std::vector<std::span<const uint32_t>> set_cols(sets.size());
  scan::ForEachRow(store, project, base, [&](const scan::BlockColumns& c, size_t i) {
    if (current != &c.view) {
      current = &c.view;
      for (size_t s = 0; s < sets.size(); ++s) set_cols[s] = c.view.codes(sets[s].field);
    }
    for (size_t s = 0; s < sets.size(); ++s) {
      if (!Contains(sets[s].codes, set_cols[s][i])) return;
    }
    if (r.trace_roots_only && c.parent[i] != store::Dictionary::kEmpty) return;
    for (const TagFilter& t : tag_sets) {
      if (!Contains(t.codes, c.view.tag_value(i, t.key))) return;
    }
    if (!call_ids.empty() && !call_ids.contains(c.view.id(i))) return;
    const int b = grid.Index(c.ts[i]);
    if (b < 0) return;
    if (nu > 0) {
      uint32_t m = models.Get(c.model[i]);
      if (m >= usage.size()) usage.emplace_back(nb * nu);
      AddRow(usage_plan, &usage[m][static_cast<size_t>(b) * nu], c, i);
    }
    if (nc > 0) AddRow(call_plan, &call[static_cast<size_t>(b) * nc], c, i);
  });

  // Models in name order.
  std::vector<std::pair<std::string, uint32_t>> model_order;
  for (uint32_t m = 0; m < models.size(); ++m) {
    const uint32_t code = static_cast<uint32_t>(models.key(m));
    model_order.emplace_back(std::string(dict != nullptr ? dict->Str(code) : ""), m);
  }
  std::sort(model_order.begin(), model_order.end());

  std::vector<std::string> stamps(nb);
  for (size_t b = 0; b < nb; ++b) stamps[b] = core::FormatIso8601(grid.starts()[b]);
  json usage_buckets = json::array();
  if (nu > 0) {
    for (size_t b = 0; b < nb; ++b) {
      for (const auto& [name, m] : model_order) {
        json row = {{"timestamp", stamps[b]}, {"model", name}};
        Render(r.usage_metrics, usage_plan, &usage[m][b * nu], row);
        usage_buckets.push_back(std::move(row));
      }
    }
  }
  json call_buckets = json::array();
  if (nc > 0) {
    for (size_t b = 0; b < nb; ++b) {
      json row = {{"timestamp", stamps[b]}};
      Render(r.call_metrics, call_plan, &call[b * nc], row);
      call_buckets.push_back(std::move(row));
    }
  }
  return {{"start", core::FormatIso8601(r.start_ms)},
          {"end", core::FormatIso8601(r.end_ms)},
          {"granularity", grid.granularity_s()},
          {"timezone", r.timezone.name()},
          {"usage_buckets", std::move(usage_buckets)},
          {"call_buckets", std::move(call_buckets)}};
}

}  // namespace rest
