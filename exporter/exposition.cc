#include "exporter/exposition.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <limits>
#include <map>
#include <sstream>

#include "core/text.h"

namespace exporter {
namespace {

prometheus::MetricFamily Gauge(std::string name, std::string help, double value) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = prometheus::MetricType::Gauge;
  prometheus::ClientMetric m;
  m.gauge.value = value;
  f.metric.push_back(std::move(m));
  return f;
}

}  // namespace

std::string ExposedName(const std::string& name, store::MetricType type) {
  if (type == store::MetricType::kCounter && !name.ends_with("_total")) return name + "_total";
  return name;
}

std::shared_ptr<const std::vector<double>> ResolveBuckets(const config::ExpositionConfig& config,
                                                          std::string_view metric_name) {
  for (const auto& rule : config.histograms) {
    if (core::GlobMatch(rule.match, metric_name)) {
      return std::make_shared<const std::vector<double>>(rule.buckets);
    }
  }
  return std::make_shared<const std::vector<double>>(config.default_buckets);
}

std::vector<prometheus::MetricFamily> StoreCollectable::Collect() const {
  std::vector<store::SeriesSnapshot> series = store_.Snapshot();
  const int64_t now_ms = clock_.NowMs();
  // Group by exposed name; std::map keeps families sorted.
  std::map<std::string, prometheus::MetricFamily> families;
  for (store::SeriesSnapshot& s : series) {
    if (config_.series_ttl_ms > 0 && now_ms - s.updated_at_ms > config_.series_ttl_ms) continue;
    const std::string name = ExposedName(s.name, s.type);
    auto [it, inserted] = families.try_emplace(name);
    prometheus::MetricFamily& family = it->second;
    if (inserted) {
      family.name = name;
      switch (s.type) {
        case store::MetricType::kCounter:
          family.type = prometheus::MetricType::Counter;
          family.help = "Reported counter " + s.name + " (cumulative)";
          break;
        case store::MetricType::kGauge:
          family.type = prometheus::MetricType::Gauge;
          family.help = "Reported gauge " + s.name + " (latest value)";
          break;
        case store::MetricType::kTiming:
          family.type = prometheus::MetricType::Histogram;
          family.help = "Reported timing " + s.name + " (milliseconds)";
          break;
        case store::MetricType::kDistribution:
          family.type = prometheus::MetricType::Histogram;
          family.help = "Reported distribution " + s.name;
          break;
      }
    }
    prometheus::ClientMetric& m = family.metric.emplace_back();
    m.label.reserve(s.labels.size() + 1);
    bool project_added = !config_.include_project_label;
    for (const core::Label& l : s.labels.items()) {
      if (!project_added && l.name > "project") {
        m.label.push_back({"project", s.project});
        project_added = true;
      }
      if (l.name == "project" && config_.include_project_label) {
        m.label.push_back({"exported_project", l.value});
      } else {
        m.label.push_back({l.name, l.value});
      }
    }
    if (!project_added) m.label.push_back({"project", s.project});
    std::sort(m.label.begin(), m.label.end());
    switch (s.type) {
      case store::MetricType::kCounter:
        m.counter.value = s.counter_total;
        break;
      case store::MetricType::kGauge:
        m.gauge.value = s.last_value;
        break;
      case store::MetricType::kTiming:
      case store::MetricType::kDistribution: {
        m.histogram.sample_count = s.observations;
        m.histogram.sample_sum = s.observation_sum;
        const auto& bounds = *s.bounds;
        m.histogram.bucket.reserve(bounds.size() + 1);
        for (size_t i = 0; i < bounds.size(); ++i) {
          m.histogram.bucket.push_back({s.bucket_counts[i], bounds[i]});
        }
        m.histogram.bucket.push_back({s.observations, std::numeric_limits<double>::infinity()});
        break;
      }
    }
  }
  std::vector<prometheus::MetricFamily> out;
  out.reserve(families.size() + 4);
  for (auto& [name, family] : families) out.push_back(std::move(family));

  const store::StoreStats stats = store_.Stats();
  out.push_back(Gauge("tally_store_series", "Series held in the store",
                      static_cast<double>(stats.series)));
  out.push_back(Gauge("tally_store_samples", "Raw samples held in the store",
                      static_cast<double>(stats.samples)));
  out.push_back(Gauge("tally_store_metrics", "Distinct (project, metric name) pairs",
                      static_cast<double>(stats.metrics)));
  out.push_back(Gauge("tally_store_memory_bytes",
                      "Approximate memory held by the store (compared with storage.max_memory)",
                      static_cast<double>(stats.memory_bytes)));
  return out;
}

std::string RenderTextFormat(const std::vector<const prometheus::Collectable*>& collectables) {
  std::vector<prometheus::MetricFamily> families;
  for (const prometheus::Collectable* c : collectables) {
    auto collected = c->Collect();
    families.insert(families.end(), std::make_move_iterator(collected.begin()),
                    std::make_move_iterator(collected.end()));
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return std::move(out).str();
}

}  // namespace exporter
