#include "rest/anomaly_detector.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "rest/analytics_math.h"
#include "rest/analytics_scan.h"
#include "rest/analytics_time.h"

namespace rest {
namespace {

constexpr int64_t kHourMs = 3'600'000;
constexpr int kDayBuckets = 9;     // 0..6: baseline of 7; 7: last complete day; 8: today
constexpr int kHourBuckets = 170;  // 168: last complete hour; 169: the hour in progress
constexpr int kHourOffset = 16;    // cell bucket numbers: days 0..8, hours 16..185
constexpr int kBucketBits = 9;
constexpr uint64_t kProjectKey = UINT64_MAX;
// Error rates below this count as this for the ratio (and severity).
constexpr double kErrorRateRatioFloor = 0.01;
// An error-rate spike needs this many failed requests in the bucket: one or
// two errors in a small bucket are noise, not a spike (measured: 20k entities
// of ~10 requests a day gave 36 one-error "spikes" without it).
constexpr uint64_t kMinErrors = 3;

// Sums of one (group, bucket).
struct Cell {
  int64_t cost_nano = 0;
  uint64_t events = 0;
  uint64_t errors = 0;
  uint64_t latencies = 0;
  double p99 = 0;  // meaningful when latencies > 0
};

// Evaluation of one bucket for one type.
struct Verdict {
  bool judged = false;  // enough volume to judge
  bool anomaly = false;
  double expected = 0;
  double actual = 0;
  double ratio = 0;
};

std::string Percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", fraction * 100);
  return buf;
}

std::string Describe(AnomalyType type, bool hourly, const Verdict& v) {
  std::string_view what;
  switch (type) {
    case AnomalyType::kCost: what = "Cost"; break;
    case AnomalyType::kUsage: what = "Request count"; break;
    case AnomalyType::kErrorRate: what = "Error rate"; break;
    case AnomalyType::kLatency: what = "p99 latency"; break;
  }
  const std::string_view baseline = hourly ? "7-day hourly average" : "7-day average";
  std::string out(what);
  if (v.expected > 0) {
    const long long pct = std::llround((v.actual / v.expected - 1) * 100);
    out += " increased " + std::to_string(pct) + "% compared to " + std::string(baseline);
  } else {
    out += " rose to " + Percent(v.actual) + " from 0.0% (" + std::string(baseline) + ")";
  }
  if (type == AnomalyType::kErrorRate && v.expected > 0) {
    out += " (" + Percent(v.actual) + " vs " + Percent(v.expected) + ")";
  }
  return out;
}

// The dense buckets of one group during evaluation (touched entries are reset
// after each group, so a group costs what it has, not 179 buckets).
struct Series {
  Cell day[kDayBuckets];
  Cell hour[kHourBuckets];
  std::vector<Cell*> touched;

  Cell& At(int bucket) { return bucket < kHourOffset ? day[bucket] : hour[bucket - kHourOffset]; }
  void Reset() {
    for (Cell* c : touched) *c = Cell{};
    touched.clear();
  }
};

// Judges bucket `b` of `cells` (baseline: the `n` buckets before it).
// `scale` turns per-day minimums into per-bucket ones.
Verdict Judge(AnomalyType type, const Cell* cells, int b, int n, double scale,
              const config::AnomaliesConfig& cfg) {
  Verdict v;
  const Cell& x = cells[b];
  switch (type) {
    case AnomalyType::kCost:
    case AnomalyType::kUsage: {
      const bool cost = type == AnomalyType::kCost;
      double sum = 0;
      for (int i = b - n; i < b; ++i) {
        sum += cost ? static_cast<double>(cells[i].cost_nano) : static_cast<double>(cells[i].events);
      }
      v.expected = cost ? sum / n / 1e9 : sum / n;
      v.actual = cost ? NanoToUsd(x.cost_nano) : static_cast<double>(x.events);
      const double min_expected =
          (cost ? cfg.min_expected_cost_usd : cfg.min_expected_requests) * scale;
      v.judged = v.expected > 0 && v.expected >= min_expected;
      if (!v.judged) return v;
      v.ratio = v.actual / v.expected;
      v.anomaly = v.ratio >= (cost ? cfg.cost_min_ratio : cfg.usage_min_ratio);
      return v;
    }
    case AnomalyType::kErrorRate: {
      uint64_t events = 0, errors = 0;
      for (int i = b - n; i < b; ++i) {
        events += cells[i].events;
        errors += cells[i].errors;
      }
      const uint64_t min = static_cast<uint64_t>(cfg.min_bucket_requests);
      v.judged = x.events >= min && events >= min && x.errors >= kMinErrors;
      if (!v.judged) return v;
      v.expected = static_cast<double>(errors) / static_cast<double>(events);
      v.actual = static_cast<double>(x.errors) / static_cast<double>(x.events);
      v.ratio = v.actual / std::max(v.expected, kErrorRateRatioFloor);
      v.anomaly = v.actual >= cfg.min_error_rate && v.actual > v.expected &&
                  v.actual >= cfg.error_rate_min_ratio * v.expected &&
                  v.ratio >= cfg.error_rate_min_ratio;
      return v;
    }
    case AnomalyType::kLatency: {
      uint64_t count = 0;
      int buckets = 0;
      double sum = 0;
      for (int i = b - n; i < b; ++i) {
        if (cells[i].latencies == 0) continue;
        count += cells[i].latencies;
        sum += cells[i].p99;
        ++buckets;
      }
      const uint64_t min = static_cast<uint64_t>(cfg.min_bucket_requests);
      v.judged = x.latencies >= min && count >= min && buckets > 0;
      if (!v.judged) return v;
      v.expected = sum / buckets;
      v.actual = x.p99;
      v.judged = v.expected > 0;
      if (!v.judged) return v;
      v.ratio = v.actual / v.expected;
      v.anomaly = v.ratio >= cfg.latency_min_ratio;
      return v;
    }
  }
  return v;
}

std::string EntityKey(std::string_view type, std::string_view id) {
  std::string k(type);
  k += '\0';
  k += id;
  return k;
}

}  // namespace

std::string_view AnomalyTypeName(AnomalyType type) {
  switch (type) {
    case AnomalyType::kCost: return "cost_spike";
    case AnomalyType::kUsage: return "usage_spike";
    case AnomalyType::kErrorRate: return "error_rate_spike";
    case AnomalyType::kLatency: return "latency_spike";
  }
  return "";
}

std::string_view SeverityOf(double ratio, const config::AnomaliesConfig& config) {
  if (ratio >= config.severity_critical) return "critical";
  if (ratio >= config.severity_high) return "high";
  if (ratio >= config.severity_medium) return "medium";
  return "low";
}

DetectionResult DetectAnomalies(const store::EventStore& store, std::string_view project,
                                int64_t now_ms, const config::AnomaliesConfig& cfg,
                                std::span<const WatchedAnomaly> watch) {
  const int64_t today = FloorToInterval(now_ms, Interval::kDay);
  const int64_t day0 = today - 8 * kMsPerDay;
  const int64_t this_hour = FloorToInterval(now_ms, Interval::kHour);
  const int64_t hour0 = this_hour - 169 * kHourMs;
  const int64_t last_day_start = day0 + 7 * kMsPerDay;
  const int64_t last_hour_start = hour0 + 168 * kHourMs;

  DetectionResult out;
  out.back_in_range.assign(watch.size(), false);
  const store::Dictionary* dict = store.dict(project);

  // --- one scan. The project's buckets are dense arrays; entities' are cells
  // per (group, bucket) pair that has events. Group 0 is the project.
  scan::GroupIndex groups;
  groups.Get(kProjectKey);
  scan::GroupIndex cell_index;
  std::vector<Cell> cells;
  std::vector<std::pair<uint32_t, float>> latencies;  // entities: (cell, latency)
  constexpr int kBucketSlots = kHourOffset + kHourBuckets;
  std::vector<Cell> project_cells(kBucketSlots);
  std::vector<std::vector<double>> project_latencies(kBucketSlots);
  if (dict != nullptr) {
    scan::ResolvedFilter rf;
    rf.start_ms = day0;
    rf.end_ms = today + kMsPerDay;
    scan::ForEachRow(store, project, rf, [&](const scan::BlockColumns& c, size_t i) {
      const int64_t ts = c.ts[i];
      const int d = static_cast<int>((ts - day0) / kMsPerDay);
      int h = -1;
      if (cfg.hourly && ts >= hour0) {
        const int64_t hh = (ts - hour0) / kHourMs;
        if (hh < kHourBuckets) h = static_cast<int>(hh);
      }
      const uint64_t error = c.success(i) ? 0 : 1;
      const bool has_latency = c.has_latency(i);
      const int64_t cost = c.cost[i];
      const float latency = c.latency[i];
      auto add_to = [&](Cell& x) {
        x.cost_nano += cost;
        ++x.events;
        x.errors += error;
        x.latencies += has_latency ? 1 : 0;
      };
      ++out.events;
      add_to(project_cells[static_cast<size_t>(d)]);
      if (has_latency) project_latencies[static_cast<size_t>(d)].push_back(latency);
      if (h >= 0) {
        add_to(project_cells[static_cast<size_t>(kHourOffset + h)]);
        if (has_latency) project_latencies[static_cast<size_t>(kHourOffset + h)].push_back(latency);
      }
      if (c.entity_id[i] == store::Dictionary::kEmpty) return;
      const uint64_t g = groups.Get(scan::PairKey(c.entity_type[i], c.entity_id[i]));
      auto add = [&](int bucket) {
        const uint32_t k = cell_index.Get((g << kBucketBits) | static_cast<uint64_t>(bucket));
        if (k >= cells.size()) cells.resize(k + 1);
        add_to(cells[k]);
        if (has_latency) latencies.emplace_back(k, latency);
      };
      add(d);
      if (h >= 0) add(kHourOffset + h);
    });
  }
  out.entities = groups.size() - 1;

  // --- exact p99 per cell: latencies grouped by cell with a counting sort
  std::vector<double> values;
  for (size_t b = 0; b < project_latencies.size(); ++b) {
    if (!project_latencies[b].empty()) {
      project_cells[b].p99 = ExactPercentile(project_latencies[b], 99);
    }
  }
  project_latencies = {};
  {
    std::vector<size_t> offset(cells.size() + 1, 0);
    for (size_t k = 0; k < cells.size(); ++k) offset[k + 1] = offset[k] + cells[k].latencies;
    std::vector<float> flat(latencies.size());
    std::vector<size_t> fill(offset.begin(), offset.end() - 1);
    for (const auto& [cell, latency] : latencies) flat[fill[cell]++] = latency;
    latencies = {};
    for (size_t k = 0; k < cells.size(); ++k) {
      if (cells[k].latencies == 0) continue;
      values.assign(flat.begin() + static_cast<ptrdiff_t>(offset[k]),
                    flat.begin() + static_cast<ptrdiff_t>(offset[k + 1]));
      cells[k].p99 = ExactPercentile(values, 99);
    }
  }

  // --- watched keys by entity
  std::unordered_map<std::string, std::vector<size_t>> watched;
  for (size_t i = 0; i < watch.size(); ++i) {
    watched[EntityKey(watch[i].key.entity_type, watch[i].key.entity_id)].push_back(i);
  }
  std::vector<bool> watch_seen(watch.size(), false);

  auto series = std::make_unique<Series>();
  auto entity_of = [&](uint64_t group_key) -> std::pair<std::string, std::string> {
    if (group_key == kProjectKey) return {std::string(kProjectEntityType), std::string(project)};
    const uint32_t t = static_cast<uint32_t>(group_key >> 32);
    const uint32_t id = static_cast<uint32_t>(group_key & 0xffffffffu);
    return {std::string(dict->Str(t)), std::string(dict->Str(id))};
  };
  // Judges the buckets in `series` for the group with `group_key`.
  auto evaluate = [&](uint64_t group_key) {
    std::pair<std::string, std::string> entity;  // filled on demand
    bool have_entity = false;
    auto ensure_entity = [&]() {
      if (!have_entity) entity = entity_of(group_key);
      have_entity = true;
    };
    // Latest complete bucket: anomaly or not, per (type, granularity).
    bool complete_anomaly[4][2] = {};
    for (int hourly = 0; hourly < (cfg.hourly ? 2 : 1); ++hourly) {
      const Cell* base = hourly ? series->hour : series->day;
      const int complete = hourly ? 168 : 7;
      const int n = hourly ? 168 : 7;
      const double scale = hourly ? 1.0 / 24 : 1.0;
      const int64_t bucket_ms = hourly ? kHourMs : kMsPerDay;
      const int64_t first_ms = hourly ? hour0 : day0;
      for (AnomalyType type : kAnomalyTypes) {
        const bool sums = type == AnomalyType::kCost || type == AnomalyType::kUsage;
        for (int b = complete; b <= (sums ? complete + 1 : complete); ++b) {
          const Verdict v = Judge(type, base, b, n, scale, cfg);
          if (b == complete) complete_anomaly[static_cast<int>(type)][hourly] = v.anomaly;
          if (!v.anomaly) continue;
          ensure_entity();
          AnomalyFinding f;
          f.key = {entity.first, entity.second, type, hourly != 0};
          f.period_start_ms = first_ms + b * bucket_ms;
          f.expected = v.expected;
          f.actual = v.actual;
          f.ratio = v.ratio;
          f.severity = SeverityOf(v.ratio, cfg);
          f.description = Describe(type, hourly != 0, v);
          out.anomalies.push_back(std::move(f));
        }
      }
    }
    if (!watched.empty()) {
      ensure_entity();
      auto it = watched.find(EntityKey(entity.first, entity.second));
      if (it != watched.end()) {
        for (size_t w : it->second) {
          const WatchedAnomaly& wa = watch[w];
          watch_seen[w] = true;
          const int64_t last = wa.key.hourly ? last_hour_start : last_day_start;
          out.back_in_range[w] = last > wa.period_start_ms &&
                                 !complete_anomaly[static_cast<int>(wa.key.type)][wa.key.hourly];
        }
      }
    }
    series->Reset();
  };

  // --- the project, then each entity over its cells (sorted: by group, then bucket)
  for (int b = 0; b < kBucketSlots; ++b) {
    if (b >= kDayBuckets && b < kHourOffset) continue;
    Cell& slot = series->At(b);
    slot = project_cells[static_cast<size_t>(b)];
    series->touched.push_back(&slot);
  }
  evaluate(kProjectKey);
  std::vector<std::pair<uint64_t, uint32_t>> order(cells.size());  // (cell key, cell)
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = {cell_index.key(i), i};
  std::sort(order.begin(), order.end());
  for (size_t i = 0; i < order.size();) {
    const uint64_t g = order[i].first >> kBucketBits;
    size_t j = i;
    for (; j < order.size() && (order[j].first >> kBucketBits) == g; ++j) {
      const int bucket = static_cast<int>(order[j].first & ((1u << kBucketBits) - 1));
      Cell& slot = series->At(bucket);
      slot = cells[order[j].second];
      series->touched.push_back(&slot);
    }
    i = j;
    evaluate(groups.key(static_cast<uint32_t>(g)));
  }
  // Watched entities without events in the window: every bucket is empty.
  for (size_t w = 0; w < watch.size(); ++w) {
    if (watch_seen[w]) continue;
    const int64_t last = watch[w].key.hourly ? last_hour_start : last_day_start;
    out.back_in_range[w] = last > watch[w].period_start_ms;
  }
  // Newest bucket first, then by entity and type (stable output for tests).
  std::sort(out.anomalies.begin(), out.anomalies.end(),
            [](const AnomalyFinding& a, const AnomalyFinding& b) {
              if (a.period_start_ms != b.period_start_ms) return a.period_start_ms > b.period_start_ms;
              if (a.key.entity_type != b.key.entity_type) return a.key.entity_type < b.key.entity_type;
              if (a.key.entity_id != b.key.entity_id) return a.key.entity_id < b.key.entity_id;
              return a.key.type < b.key.type;
            });
  return out;
}

}  // namespace rest
