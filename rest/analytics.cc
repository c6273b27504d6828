#include "rest/analytics.h"

#include <algorithm>
#include <limits>
#include <numeric>

#include "core/time_parse.h"
#include "rest/analytics_math.h"
#include "rest/analytics_scan.h"

namespace rest {
namespace {

using json = nlohmann::json;
using store::EventField;
using scan::GroupIndex;
using scan::PairKey;

scan::ResolvedFilter Resolve(const store::Dictionary* dict, const AnalyticsFilter& f) {
  scan::ResolvedFilter r;
  r.start_ms = f.range.start_ms;
  r.end_ms = f.range.end_ms;
  if (dict == nullptr) {
    r.matches_nothing = true;
    return r;
  }
  if (f.entity_type) scan::AddEquals(r, dict, EventField::kEntityType, *f.entity_type);
  if (f.entity_id) scan::AddEquals(r, dict, EventField::kEntityId, *f.entity_id);
  if (f.model) scan::AddEquals(r, dict, EventField::kModel, *f.model);
  if (f.provider) scan::AddEquals(r, dict, EventField::kProvider, *f.provider);
  for (const auto& [k, v] : f.tags) scan::AddTag(r, dict, k, v);
  return r;
}

// Sums of one group.
struct Totals {
  int64_t cost_nano = 0;
  uint64_t events = 0;
  uint64_t input_tokens = 0;
  uint64_t output_tokens = 0;
  uint64_t cache_tokens = 0;  // cache reads + writes
  double latency_sum = 0;
  uint64_t latency_count = 0;

  void Add(const scan::BlockColumns& c, size_t i) {
    cost_nano += c.cost[i];
    ++events;
    input_tokens += c.input[i];
    output_tokens += c.output[i];
    cache_tokens += c.cache_tokens(i);
    if (c.has_latency(i)) {
      latency_sum += c.latency[i];
      ++latency_count;
    }
  }
  void Merge(const Totals& o) {
    cost_nano += o.cost_nano;
    events += o.events;
    input_tokens += o.input_tokens;
    output_tokens += o.output_tokens;
    cache_tokens += o.cache_tokens;
    latency_sum += o.latency_sum;
    latency_count += o.latency_count;
  }
  uint64_t total_tokens() const { return input_tokens + output_tokens + cache_tokens; }
};

json TotalsJson(const Totals& t) {
  json j = {{"total_cost", NanoToUsd(t.cost_nano)},
            {"total_events", t.events},
            {"total_input_tokens", t.input_tokens},
            {"total_output_tokens", t.output_tokens}};
  j["avg_latency_ms"] =
      t.latency_count > 0 ? json(t.latency_sum / static_cast<double>(t.latency_count)) : json();
  return j;
}

// Group totals keyed by a 64-bit key, filled in one scan.
struct Grouped {
  GroupIndex index;
  std::vector<Totals> totals;
  Totals all;

  Totals& At(uint64_t key) {
    uint32_t g = index.Get(key);
    if (g >= totals.size()) totals.resize(g + 1);
    return totals[g];
  }
};

template <typename KeyFn>
Grouped GroupRows(const store::EventStore& store, std::string_view project,
                  const scan::ResolvedFilter& rf, KeyFn&& key_of) {
  Grouped out;
  scan::ForEachRow(store, project, rf, [&](const scan::BlockColumns& c, size_t i) {
    out.At(key_of(c, i)).Add(c, i);
    out.all.Add(c, i);
  });
  return out;
}

std::string_view Str(const store::Dictionary* dict, uint32_t code) {
  return dict != nullptr && code < dict->size() ? dict->Str(code) : std::string_view();
}

// Group indices ordered by cost (descending), ties by `less`.
template <typename Less>
std::vector<uint32_t> ByCostDesc(const Grouped& g, Less&& less) {
  std::vector<uint32_t> order(g.totals.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    if (g.totals[a].cost_nano != g.totals[b].cost_nano) {
      return g.totals[a].cost_nano > g.totals[b].cost_nano;
    }
    return less(a, b);
  });
  return order;
}

json NullableStr(const store::Dictionary* dict, uint32_t code) {
  if (code == store::Dictionary::kEmpty) return json();
  return json(std::string(Str(dict, code)));
}

}  // namespace

// ---- /costs ------------------------------------------------------------------------

namespace {

const std::vector<std::string> kTotalsColumns = {"total_cost", "total_events", "total_input_tokens",
                                                 "total_output_tokens", "avg_latency_ms"};

std::vector<std::string> CostsColumns(CostsGroupBy g) {
  std::vector<std::string> head;
  switch (g) {
    case CostsGroupBy::kNone: break;
    case CostsGroupBy::kEntity: head = {"entity_type", "entity_id"}; break;
    case CostsGroupBy::kModel: head = {"model"}; break;
    case CostsGroupBy::kProvider: head = {"provider"}; break;
    case CostsGroupBy::kDay:
    case CostsGroupBy::kWeek:
    case CostsGroupBy::kMonth: head = {"date"}; break;
    case CostsGroupBy::kTag: head = {"tag_key", "tag_value"}; break;
  }
  head.insert(head.end(), kTotalsColumns.begin(), kTotalsColumns.end());
  return head;
}

void AddTotals(RowTable& t, const Totals& x) {
  t.Double(NanoToUsd(x.cost_nano));
  t.Uint(x.events);
  t.Uint(x.input_tokens);
  t.Uint(x.output_tokens);
  if (x.latency_count > 0) {
    t.Double(x.latency_sum / static_cast<double>(x.latency_count));
  } else {
    t.Null();
  }
}

void StrOrNull(RowTable& t, const store::Dictionary* dict, uint32_t code) {
  if (code == store::Dictionary::kEmpty) {
    t.Null();
  } else {
    t.Str(Str(dict, code));
  }
}

}  // namespace

std::string CostsResult::Json() const {
  std::string out = "{\"data\":";
  out += data.Json();
  out += ",\"summary\":";
  out += summary.dump(-1, ' ', false, json::error_handler_t::replace);
  out += '}';
  return out;
}

CostsResult Costs(const store::EventStore& store, std::string_view project, const CostsQuery& q) {
  const store::Dictionary* dict = store.dict(project);
  scan::ResolvedFilter rf = Resolve(dict, q.filter);
  RowTable data(CostsColumns(q.group_by));
  Totals all;
  auto key_pair = [&](uint64_t k) { return std::pair<uint32_t, uint32_t>(k >> 32, k & 0xffffffffu); };
  switch (q.group_by) {
    case CostsGroupBy::kNone: {
      Grouped g = GroupRows(store, project, rf, [](const scan::BlockColumns&, size_t) {
        return uint64_t{0};
      });
      all = g.all;
      if (all.events > 0) AddTotals(data, all);
      break;
    }
    case CostsGroupBy::kEntity: {
      Grouped g = GroupRows(store, project, rf, [](const scan::BlockColumns& c, size_t i) {
        return PairKey(c.entity_type[i], c.entity_id[i]);
      });
      all = g.all;
      auto order = ByCostDesc(g, [&](uint32_t a, uint32_t b) {
        auto [ta, ia] = key_pair(g.index.key(a));
        auto [tb, ib] = key_pair(g.index.key(b));
        if (ta != tb) return Str(dict, ta) < Str(dict, tb);
        return Str(dict, ia) < Str(dict, ib);
      });
      data.Reserve(order.size());
      for (uint32_t i : order) {
        auto [t, id] = key_pair(g.index.key(i));
        StrOrNull(data, dict, t);
        StrOrNull(data, dict, id);
        AddTotals(data, g.totals[i]);
      }
      break;
    }
    case CostsGroupBy::kModel:
    case CostsGroupBy::kProvider: {
      const bool by_model = q.group_by == CostsGroupBy::kModel;
      Grouped g = GroupRows(store, project, rf, [by_model](const scan::BlockColumns& c, size_t i) {
        return uint64_t{by_model ? c.model[i] : c.provider[i]};
      });
      all = g.all;
      auto order = ByCostDesc(g, [&](uint32_t a, uint32_t b) {
        return Str(dict, g.index.key(a)) < Str(dict, g.index.key(b));
      });
      for (uint32_t i : order) {
        StrOrNull(data, dict, static_cast<uint32_t>(g.index.key(i)));
        AddTotals(data, g.totals[i]);
      }
      break;
    }
    case CostsGroupBy::kDay:
    case CostsGroupBy::kWeek:
    case CostsGroupBy::kMonth: {
      const Interval interval = q.group_by == CostsGroupBy::kDay    ? Interval::kDay
                                : q.group_by == CostsGroupBy::kWeek ? Interval::kWeek
                                                                    : Interval::kMonth;
      Grouped g = GroupRows(store, project, rf, [interval](const scan::BlockColumns& c, size_t i) {
        return static_cast<uint64_t>(FloorToInterval(c.ts[i], interval));
      });
      all = g.all;
      std::vector<uint32_t> order(g.totals.size());
      std::iota(order.begin(), order.end(), 0);
      std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
        return static_cast<int64_t>(g.index.key(a)) < static_cast<int64_t>(g.index.key(b));
      });
      for (uint32_t i : order) {
        data.Str(FormatDate(static_cast<int64_t>(g.index.key(i))));
        AddTotals(data, g.totals[i]);
      }
      break;
    }
    case CostsGroupBy::kTag: {
      std::optional<uint32_t> key_code = dict != nullptr ? dict->Find(q.tag_key) : std::nullopt;
      const uint32_t kc = key_code.value_or(scan::kAnyCode);
      Grouped g = GroupRows(store, project, rf, [kc](const scan::BlockColumns& c, size_t i) {
        return uint64_t{kc == scan::kAnyCode ? store::Dictionary::kEmpty : c.view.tag_value(i, kc)};
      });
      all = g.all;
      auto order = ByCostDesc(g, [&](uint32_t a, uint32_t b) {
        const bool na = g.index.key(a) == 0, nb = g.index.key(b) == 0;
        if (na != nb) return nb;  // the untagged group last among equal costs
        return Str(dict, g.index.key(a)) < Str(dict, g.index.key(b));
      });
      for (uint32_t i : order) {
        data.Str(q.tag_key);
        StrOrNull(data, dict, static_cast<uint32_t>(g.index.key(i)));
        AddTotals(data, g.totals[i]);
      }
      break;
    }
  }
  json summary = {{"total_cost", NanoToUsd(all.cost_nano)},
                  {"total_events", all.events},
                  {"period", q.period}};
  return CostsResult{std::move(data), std::move(summary)};
}

// ---- /costs/timeseries ---------------------------------------------------------------

int64_t CountIntervals(const TimeRange& range, Interval interval, int64_t cap) {
  if (range.start_ms >= range.end_ms) return 0;
  if (interval != Interval::kMonth) {
    const int64_t step = interval == Interval::kHour  ? 3'600'000
                         : interval == Interval::kDay ? kMsPerDay
                                                      : 7 * kMsPerDay;
    const int64_t first = FloorToInterval(range.start_ms, interval);
    return (range.end_ms - first + step - 1) / step;
  }
  int64_t n = 0;
  for (int64_t b = FloorToInterval(range.start_ms, interval); b < range.end_ms && n <= cap;
       b = NextInterval(b, interval)) {
    ++n;
  }
  return n;
}

json CostsTimeseries(const store::EventStore& store, std::string_view project,
                     const AnalyticsFilter& filter, Interval interval) {
  std::vector<int64_t> starts;
  for (int64_t b = FloorToInterval(filter.range.start_ms, interval); b < filter.range.end_ms;
       b = NextInterval(b, interval)) {
    starts.push_back(b);
  }
  std::vector<Totals> buckets(starts.size());
  const store::Dictionary* dict = store.dict(project);
  scan::ResolvedFilter rf = Resolve(dict, filter);
  const bool fixed = interval != Interval::kMonth;
  const int64_t step = interval == Interval::kHour ? 3'600'000
                       : interval == Interval::kDay ? kMsPerDay
                                                    : 7 * kMsPerDay;
  if (!starts.empty()) {
    scan::ForEachRow(store, project, rf, [&](const scan::BlockColumns& c, size_t i) {
      const int64_t ts = c.ts[i];
      size_t b;
      if (fixed) {
        b = static_cast<size_t>((ts - starts[0]) / step);
      } else {
        b = static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), ts) -
                                starts.begin()) - 1;
      }
      buckets[b].Add(c, i);
    });
  }
  json data = json::array();
  for (size_t b = 0; b < starts.size(); ++b) {
    data.push_back({{"timestamp", core::FormatIso8601(starts[b])},
                    {"cost", NanoToUsd(buckets[b].cost_nano)},
                    {"events", buckets[b].events},
                    {"input_tokens", buckets[b].input_tokens},
                    {"output_tokens", buckets[b].output_tokens}});
  }
  return {{"data", std::move(data)}, {"interval", std::string(IntervalName(interval))}};
}

// ---- /models ----------------------------------------------------------------------------

json Models(const store::EventStore& store, std::string_view project,
            const AnalyticsFilter& filter) {
  const store::Dictionary* dict = store.dict(project);
  scan::ResolvedFilter rf = Resolve(dict, filter);
  GroupIndex index;
  std::vector<Totals> totals;
  std::vector<std::array<uint64_t, 3>> sources;
  scan::ForEachRow(store, project, rf, [&](const scan::BlockColumns& c, size_t i) {
    uint32_t g = index.Get(PairKey(c.model[i], c.provider[i]));
    if (g >= totals.size()) {
      totals.resize(g + 1);
      sources.resize(g + 1);
    }
    totals[g].Add(c, i);
    ++sources[g][static_cast<size_t>(c.cost_source(i))];
  });
  std::vector<uint32_t> order(totals.size());
  std::iota(order.begin(), order.end(), 0);
  auto names = [&](uint32_t g) {
    return std::pair(Str(dict, index.key(g) >> 32), Str(dict, index.key(g) & 0xffffffffu));
  };
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    if (totals[a].cost_nano != totals[b].cost_nano) return totals[a].cost_nano > totals[b].cost_nano;
    return names(a) < names(b);
  });
  std::vector<int64_t> costs;
  for (uint32_t g : order) costs.push_back(std::max<int64_t>(0, totals[g].cost_nano));
  std::vector<double> shares = PercentagesOfTotal(costs);
  static constexpr store::CostSource kSources[] = {
      store::CostSource::kReported, store::CostSource::kPriceTable,
      store::CostSource::kUnknownModel};
  json data = json::array();
  for (size_t k = 0; k < order.size(); ++k) {
    const uint32_t g = order[k];
    auto [m, p] = names(g);
    json by_source = json::object();
    std::string single;
    int kinds = 0;
    for (store::CostSource s : kSources) {
      uint64_t n = sources[g][static_cast<size_t>(s)];
      if (n == 0) continue;
      by_source[std::string(store::CostSourceName(s))] = n;
      single = store::CostSourceName(s);
      ++kinds;
    }
    json row = {{"model", std::string(m)},
                {"provider", p.empty() ? json() : json(std::string(p))},
                {"cost_source", kinds == 1 ? single : std::string("mixed")},
                {"cost_sources", std::move(by_source)}};
    row.update(TotalsJson(totals[g]));
    row["percentage_of_total"] = shares[k];
    data.push_back(std::move(row));
  }
  return {{"data", std::move(data)}};
}

// ---- /entities/top ----------------------------------------------------------------------

json TopEntities(const store::EventStore& store, std::string_view project,
                 const AnalyticsFilter& filter, int limit, bool descending) {
  const store::Dictionary* dict = store.dict(project);
  scan::ResolvedFilter rf = Resolve(dict, filter);
  GroupIndex index;
  std::vector<int64_t> cost;
  std::vector<uint64_t> events;
  scan::ForEachRow(store, project, rf, [&](const scan::BlockColumns& c, size_t i) {
    if (c.entity_id[i] == store::Dictionary::kEmpty) return;
    uint32_t g = index.Get(PairKey(c.entity_type[i], c.entity_id[i]));
    if (g >= cost.size()) {
      cost.push_back(0);
      events.push_back(0);
    }
    cost[g] += c.cost[i];
    ++events[g];
  });
  const size_t n = cost.size();
  const size_t k = std::min<size_t>(static_cast<size_t>(limit), n);
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  auto better = [&](uint32_t a, uint32_t b) {
    if (cost[a] != cost[b]) return descending ? cost[a] > cost[b] : cost[a] < cost[b];
    const uint64_t ka = index.key(a), kb = index.key(b);
    std::string_view ta = Str(dict, ka >> 32), tb = Str(dict, kb >> 32);
    if (ta != tb) return ta < tb;
    return Str(dict, ka & 0xffffffffu) < Str(dict, kb & 0xffffffffu);
  };
  std::partial_sort(order.begin(), order.begin() + static_cast<ptrdiff_t>(k), order.end(), better);
  json data = json::array();
  int64_t top_cost = 0;
  uint64_t top_events = 0;
  for (size_t r = 0; r < k; ++r) {
    const uint32_t g = order[r];
    data.push_back({{"entity_type", NullableStr(dict, index.key(g) >> 32)},
                    {"entity_id", std::string(Str(dict, index.key(g) & 0xffffffffu))},
                    {"total_cost", NanoToUsd(cost[g])},
                    {"total_events", events[g]},
                    {"rank", r + 1}});
    top_cost += cost[g];
    top_events += events[g];
  }
  int64_t all_cost = std::accumulate(cost.begin(), cost.end(), int64_t{0});
  uint64_t all_events = std::accumulate(events.begin(), events.end(), uint64_t{0});
  return {{"data", std::move(data)},
          {"other",
           {{"entity_count", n - k},
            {"total_cost", NanoToUsd(all_cost - top_cost)},
            {"total_events", all_events - top_events}}},
          {"total_entities", n}};
}

// ---- /sessions ---------------------------------------------------------------------------

json Sessions(const store::EventStore& store, std::string_view project,
              const AnalyticsFilter& filter, int limit) {
  const store::Dictionary* dict = store.dict(project);
  scan::ResolvedFilter rf = Resolve(dict, filter);
  struct Session {
    int64_t first_ms = std::numeric_limits<int64_t>::max();
    int64_t last_ms = std::numeric_limits<int64_t>::min();
    uint32_t entity_type = 0, entity_id = 0;
    int64_t cost_nano = 0;
    uint64_t events = 0;
    uint64_t tokens = 0;
    uint64_t turns = 0;  // distinct turn ids
  };
  GroupIndex index;
  GroupIndex turns;  // (session group, turn code) pairs seen
  std::vector<Session> sessions;
  scan::ForEachRow(store, project, rf, [&](const scan::BlockColumns& c, size_t i) {
    const scan::BlockColumns* cols = &c;
    const uint32_t sid = cols->session[i];
    if (sid == store::Dictionary::kEmpty) return;
    uint32_t g = index.Get(sid);
    if (g >= sessions.size()) sessions.resize(g + 1);
    Session& s = sessions[g];
    const int64_t ts = cols->ts[i];
    if (ts < s.first_ms || (ts == s.first_ms && s.entity_id == 0)) {
      s.entity_type = cols->entity_type[i];
      s.entity_id = cols->entity_id[i];
    }
    s.first_ms = std::min(s.first_ms, ts);
    s.last_ms = std::max(s.last_ms, ts);
    s.cost_nano += c.cost[i];
    ++s.events;
    s.tokens += uint64_t{c.input[i]} + c.output[i] + c.cache_tokens(i);
    const uint32_t turn = cols->turn[i];
    if (turn != store::Dictionary::kEmpty) {
      const size_t before = turns.size();
      turns.Get(PairKey(g, turn));
      if (turns.size() != before) ++s.turns;
    }
  });
  const size_t n = sessions.size();
  int64_t all_cost = 0;
  uint64_t all_turns = 0;
  auto turn_count = [](const Session& s) { return s.turns > 0 ? s.turns : s.events; };
  for (const Session& s : sessions) {
    all_cost += s.cost_nano;
    all_turns += turn_count(s);
  }
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  const size_t k = std::min<size_t>(static_cast<size_t>(limit), n);
  std::partial_sort(order.begin(), order.begin() + static_cast<ptrdiff_t>(k), order.end(),
                    [&](uint32_t a, uint32_t b) {
                      if (sessions[a].first_ms != sessions[b].first_ms) {
                        return sessions[a].first_ms > sessions[b].first_ms;
                      }
                      return Str(dict, static_cast<uint32_t>(index.key(a))) <
                             Str(dict, static_cast<uint32_t>(index.key(b)));
                    });
  json data = json::array();
  for (size_t r = 0; r < k; ++r) {
    const Session& s = sessions[order[r]];
    data.push_back({{"session_id", std::string(Str(dict, static_cast<uint32_t>(index.key(order[r]))))},
                    {"entity_type", NullableStr(dict, s.entity_type)},
                    {"entity_id", NullableStr(dict, s.entity_id)},
                    {"started_at", core::FormatIso8601(s.first_ms)},
                    {"ended_at", core::FormatIso8601(s.last_ms)},
                    {"turn_count", turn_count(s)},
                    {"total_cost", NanoToUsd(s.cost_nano)},
                    {"total_tokens", s.tokens},
                    {"total_events", s.events}});
  }
  const double dn = static_cast<double>(n);
  return {{"data", std::move(data)},
          {"summary",
           {{"total_sessions", n},
            {"avg_turns_per_session", n > 0 ? static_cast<double>(all_turns) / dn : 0.0},
            {"avg_cost_per_session", n > 0 ? NanoToUsd(all_cost) / dn : 0.0},
            {"total_cost", NanoToUsd(all_cost)}}}};
}

// ---- /compare ----------------------------------------------------------------------------

json Compare(const store::EventStore& store, std::string_view project,
             const AnalyticsFilter& period1, const AnalyticsFilter& period2,
             const json& period1_echo, const json& period2_echo) {
  const store::Dictionary* dict = store.dict(project);
  auto total = [&](const AnalyticsFilter& f) {
    Totals t;
    scan::ForEachRow(store, project, Resolve(dict, f),
                     [&](const scan::BlockColumns& c, size_t i) { t.Add(c, i); });
    return t;
  };
  const Totals t1 = total(period1);
  const Totals t2 = total(period2);
  auto period = [](const json& echo, const Totals& t) {
    json j = echo;
    j["total_cost"] = NanoToUsd(t.cost_nano);
    j["total_events"] = t.events;
    j["total_input_tokens"] = t.input_tokens;
    j["total_output_tokens"] = t.output_tokens;
    return j;
  };
  auto nullable = [](std::optional<double> v) { return v ? json(*v) : json(); };
  const int64_t events_change = static_cast<int64_t>(t1.events) - static_cast<int64_t>(t2.events);
  return {{"period1", period(period1_echo, t1)},
          {"period2", period(period2_echo, t2)},
          {"changes",
           {{"cost_change", NanoToUsd(t1.cost_nano - t2.cost_nano)},
            {"cost_change_percent", nullable(ChangePercent(static_cast<double>(t1.cost_nano),
                                                           static_cast<double>(t2.cost_nano)))},
            {"events_change", events_change},
            {"events_change_percent", nullable(ChangePercent(static_cast<double>(t1.events),
                                                             static_cast<double>(t2.events)))}}}};
}

// ---- /v1/entities ------------------------------------------------------------------------

namespace {

struct EntityTotals {
  int64_t first_ms = std::numeric_limits<int64_t>::max();
  int64_t last_ms = std::numeric_limits<int64_t>::min();
  Totals totals;
};

json EntityJson(const store::Dictionary* dict, uint64_t key, const EntityTotals& e) {
  return {{"entity_type", NullableStr(dict, key >> 32)},
          {"entity_id", std::string(Str(dict, key & 0xffffffffu))},
          {"first_seen", core::FormatIso8601(e.first_ms)},
          {"last_seen", core::FormatIso8601(e.last_ms)},
          {"total_cost", NanoToUsd(e.totals.cost_nano)},
          {"total_events", e.totals.events}};
}

}  // namespace

json ListEntities(const store::EventStore& store, std::string_view project,
                  const AnalyticsFilter& filter, int limit, int64_t offset) {
  const store::Dictionary* dict = store.dict(project);
  scan::ResolvedFilter rf = Resolve(dict, filter);
  GroupIndex index;
  std::vector<EntityTotals> entities;
  scan::ForEachRow(store, project, rf, [&](const scan::BlockColumns& c, size_t i) {
    const scan::BlockColumns* cols = &c;
    if (cols->entity_id[i] == store::Dictionary::kEmpty) return;
    uint32_t g = index.Get(PairKey(cols->entity_type[i], cols->entity_id[i]));
    if (g >= entities.size()) entities.resize(g + 1);
    EntityTotals& e = entities[g];
    e.first_ms = std::min(e.first_ms, cols->ts[i]);
    e.last_ms = std::max(e.last_ms, cols->ts[i]);
    e.totals.Add(c, i);
  });
  std::vector<uint32_t> order(entities.size());
  std::iota(order.begin(), order.end(), 0);
  auto names = [&](uint32_t g) {
    return std::pair(Str(dict, index.key(g) >> 32), Str(dict, index.key(g) & 0xffffffffu));
  };
  const size_t total = order.size();
  const size_t begin = std::min<size_t>(static_cast<size_t>(offset), total);
  const size_t end = std::min<size_t>(begin + static_cast<size_t>(limit), total);
  std::partial_sort(order.begin(), order.begin() + static_cast<ptrdiff_t>(end), order.end(),
                    [&](uint32_t a, uint32_t b) { return names(a) < names(b); });
  json data = json::array();
  for (size_t r = begin; r < end; ++r) {
    data.push_back(EntityJson(dict, index.key(order[r]), entities[order[r]]));
  }
  return {{"data", std::move(data)},
          {"pagination",
           {{"total", total}, {"limit", limit}, {"offset", offset}, {"has_more", end < total}}}};
}

std::optional<json> GetEntity(const store::EventStore& store, std::string_view project,
                              std::string_view entity_type, std::string_view entity_id) {
  const store::Dictionary* dict = store.dict(project);
  AnalyticsFilter f;
  f.range = {std::numeric_limits<int64_t>::min() / 2, std::numeric_limits<int64_t>::max() / 2};
  f.entity_type = std::string(entity_type);
  f.entity_id = std::string(entity_id);
  scan::ResolvedFilter rf = Resolve(dict, f);
  EntityTotals e;
  GroupIndex models;
  std::vector<int64_t> model_cost;
  scan::ForEachRow(store, project, rf, [&](const scan::BlockColumns& c, size_t i) {
    const int64_t ts = c.ts[i];
    e.first_ms = std::min(e.first_ms, ts);
    e.last_ms = std::max(e.last_ms, ts);
    e.totals.Add(c, i);
    uint32_t g = models.Get(c.model[i]);
    if (g >= model_cost.size()) model_cost.push_back(0);
    model_cost[g] += c.cost[i];
  });
  if (e.totals.events == 0) return std::nullopt;
  json j = EntityJson(dict, 0, e);
  j["entity_type"] = std::string(entity_type);
  j["entity_id"] = std::string(entity_id);
  j["total_input_tokens"] = e.totals.input_tokens;
  j["total_output_tokens"] = e.totals.output_tokens;
  json by_model = json::object();
  for (uint32_t g = 0; g < model_cost.size(); ++g) {
    by_model[std::string(Str(dict, static_cast<uint32_t>(models.key(g))))] =
        NanoToUsd(model_cost[g]);
  }
  j["cost_by_model"] = std::move(by_model);
  return j;
}

}  // namespace rest
