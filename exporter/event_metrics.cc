#include "exporter/event_metrics.h"

#include <algorithm>
#include <limits>

#include <prometheus/metric_family.h>

namespace exporter {
namespace {

using store::EventField;

constexpr std::string_view kDirections[4] = {"input", "output", "cache_read", "cache_write"};

}  // namespace

LlmMetrics::LlmMetrics(std::vector<double> latency_bounds, bool entity_id_label)
    : bounds_(std::move(latency_bounds)), entity_id_label_(entity_id_label) {}

LlmMetrics::Agg& LlmMetrics::AggFor(std::string_view project, const store::EventView& e,
                                    std::string& key) {
  const std::string_view success = e.success ? "true" : "false";
  key.clear();
  key.append(project).push_back('\0');
  key.append(e.str(EventField::kModel)).push_back('\0');
  key.append(e.str(EventField::kProvider)).push_back('\0');
  key.append(e.str(EventField::kEntityType)).push_back('\0');
  key.append(success);
  if (entity_id_label_) key.append(1, '\0').append(e.str(EventField::kEntityId));
  auto [it, inserted] = aggs_.try_emplace(key);
  Agg& a = it->second;
  if (inserted) {
    a.labels = {std::string(project), std::string(e.str(EventField::kModel)),
                std::string(e.str(EventField::kProvider)),
                std::string(e.str(EventField::kEntityType)), std::string(success)};
    if (entity_id_label_) a.labels.emplace_back(e.str(EventField::kEntityId));
    a.buckets.assign(bounds_.size() + 1, 0);
  }
  return a;
}

void LlmMetrics::AddRepricedCost(std::string_view project,
                                 std::span<const store::EventCostChange> changes) {
  std::string key;
  std::lock_guard lock(mu_);
  for (const store::EventCostChange& c : changes) {
    const int64_t delta = c.event.cost_nano_usd - c.old_cost_nano_usd;
    if (delta > 0) AggFor(project, c.event, key).cost_nano_usd += delta;
  }
}

void LlmMetrics::Observe(std::string_view project, std::span<const store::EventView> events,
                         const std::vector<bool>& skip) {
  std::string key;
  std::lock_guard lock(mu_);
  for (size_t i = 0; i < events.size(); ++i) {
    if (!skip.empty() && skip[i]) continue;
    const store::EventView& e = events[i];
    Agg& a = AggFor(project, e, key);
    ++a.requests;
    a.tokens[0] += e.input_tokens;
    a.tokens[1] += e.output_tokens;
    a.tokens[2] += e.cache_read_tokens;
    a.tokens[3] += uint64_t{e.cache_write_5m_tokens} + e.cache_write_1h_tokens;
    a.cost_nano_usd += e.cost_nano_usd;
    if (e.latency_ms) {
      const double l = *e.latency_ms;
      const size_t b = static_cast<size_t>(
          std::lower_bound(bounds_.begin(), bounds_.end(), l) - bounds_.begin());
      ++a.buckets[b];
      a.latency_sum += l;
      ++a.latency_count;
    }
  }
}

size_t LlmMetrics::series() const {
  std::lock_guard lock(mu_);
  return aggs_.size();
}

std::vector<prometheus::MetricFamily> LlmMetrics::Collect() const {
  std::vector<Agg> copy;
  {
    std::lock_guard lock(mu_);
    copy.reserve(aggs_.size());
    for (const auto& [k, a] : aggs_) copy.push_back(a);
  }
  std::sort(copy.begin(), copy.end(),
            [](const Agg& a, const Agg& b) { return a.labels < b.labels; });
  std::vector<std::string> names = {"project", "model", "provider", "entity_type", "success"};
  if (entity_id_label_) names.emplace_back("entity_id");
  auto labels_of = [&](const Agg& a) {
    std::vector<prometheus::ClientMetric::Label> out;
    for (size_t i = 0; i < names.size(); ++i) out.push_back({names[i], a.labels[i]});
    return out;
  };

  prometheus::MetricFamily requests{"tally_llm_requests_total",
                                    "LLM calls reported as events", prometheus::MetricType::Counter,
                                    {}};
  prometheus::MetricFamily tokens{"tally_llm_tokens_total",
                                  "Tokens of reported LLM calls, by direction (disjoint kinds)",
                                  prometheus::MetricType::Counter, {}};
  prometheus::MetricFamily cost{"tally_llm_cost_usd_total",
                                "Cost of reported LLM calls in USD (reported or priced)",
                                prometheus::MetricType::Counter, {}};
  prometheus::MetricFamily latency{"tally_llm_latency_ms",
                                   "Latency of reported LLM calls in milliseconds",
                                   prometheus::MetricType::Histogram, {}};
  for (const Agg& a : copy) {
    prometheus::ClientMetric m;
    m.label = labels_of(a);
    m.counter.value = static_cast<double>(a.requests);
    requests.metric.push_back(m);
    for (size_t d = 0; d < 4; ++d) {
      prometheus::ClientMetric t;
      t.label = labels_of(a);
      t.label.push_back({"direction", std::string(kDirections[d])});
      std::sort(t.label.begin(), t.label.end(),
                [](const auto& x, const auto& y) { return x.name < y.name; });
      t.counter.value = static_cast<double>(a.tokens[d]);
      tokens.metric.push_back(std::move(t));
    }
    prometheus::ClientMetric c;
    c.label = labels_of(a);
    c.counter.value = static_cast<double>(a.cost_nano_usd) / 1e9;
    cost.metric.push_back(std::move(c));
    if (a.latency_count > 0) {
      prometheus::ClientMetric h;
      h.label = labels_of(a);
      h.histogram.sample_count = a.latency_count;
      h.histogram.sample_sum = a.latency_sum;
      uint64_t cumulative = 0;
      for (size_t b = 0; b < a.buckets.size(); ++b) {
        cumulative += a.buckets[b];
        h.histogram.bucket.push_back(
            {cumulative, b < bounds_.size() ? bounds_[b] : std::numeric_limits<double>::infinity()});
      }
      latency.metric.push_back(std::move(h));
    }
  }
  // Families without series are left out (no # TYPE lines for nothing).
  std::vector<prometheus::MetricFamily> out;
  for (auto* f : {&requests, &tokens, &cost, &latency}) {
    if (!f->metric.empty()) out.push_back(std::move(*f));
  }
  return out;
}

}  // namespace exporter
