#include "exporter/exposition.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

#include "core/text.h"

namespace exporter {
namespace {

// One (project, metric) rendered: its samples' text is arena[begin, end),
// grouped later by family.
struct Chunk {
  std::string family;  // exposed name
  std::string_view project;
  store::MetricType type;
  std::string help;
  size_t begin = 0;
  size_t end = 0;
};

std::string_view PrometheusType(store::MetricType type) {
  switch (type) {
    case store::MetricType::kCounter: return "counter";
    case store::MetricType::kGauge: return "gauge";
    case store::MetricType::kTiming:
    case store::MetricType::kDistribution: return "histogram";
    case store::MetricType::kScraped:
    case store::MetricType::kRecorded: return "untyped";
  }
  return "untyped";
}

std::string Help(std::string_view name, store::MetricType type) {
  switch (type) {
    case store::MetricType::kCounter: return "Reported counter " + std::string(name) + " (cumulative)";
    case store::MetricType::kGauge: return "Reported gauge " + std::string(name) + " (latest value)";
    case store::MetricType::kTiming: return "Reported timing " + std::string(name) + " (milliseconds)";
    case store::MetricType::kDistribution: return "Reported distribution " + std::string(name);
    case store::MetricType::kScraped: return "Scraped " + std::string(name);
    case store::MetricType::kRecorded: return "Recorded by a rule: " + std::string(name);
  }
  return std::string(name);
}

bool SameFamilyType(store::MetricType a, store::MetricType b) {
  return PrometheusType(a) == PrometheusType(b);
}

// Appends `{project="p",k="v"` (no closing brace: callers may add `le`).
// A histogram's own `le` label would otherwise appear twice on its buckets and
// Prometheus rejects the whole scrape, so a tag named `le` becomes `exported_le`.
void AppendLabelsOpen(std::string& out, std::string_view project, const core::Labels& labels,
                      bool include_project, bool histogram) {
  out.push_back('{');
  bool first = true;
  if (include_project) {
    out.append("project=\"");
    AppendEscapedLabelValue(out, project);
    out.push_back('"');
    first = false;
  }
  for (const core::Label& l : labels.items()) {
    if (!first) out.push_back(',');
    first = false;
    const bool clashes = (include_project && l.name == "project") || (histogram && l.name == "le");
    if (clashes) {
      out.append(ExposedLabelName(l.name, labels, include_project, histogram));
    } else {
      out.append(l.name);
    }
    out.append("=\"");
    AppendEscapedLabelValue(out, l.value);
    out.push_back('"');
  }
}

void AppendSample(std::string& out, std::string_view name, std::string_view suffix,
                  std::string_view labels_open, double value) {
  out.append(name).append(suffix).append(labels_open);
  out.append("} ");
  AppendSampleValue(out, value);
  out.push_back('\n');
}

void AppendGauge(std::string& out, std::string_view name, std::string_view help, double value) {
  out.append("# HELP ").append(name).push_back(' ');
  out.append(help).push_back('\n');
  out.append("# TYPE ").append(name).append(" gauge\n");
  out.append(name).push_back(' ');
  AppendSampleValue(out, value);
  out.push_back('\n');
}

}  // namespace

void AppendEscapedLabelValue(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\': out.append("\\\\"); break;
      case '"': out.append("\\\""); break;
      case '\n': out.append("\\n"); break;
      default: out.push_back(c);
    }
  }
}

void AppendSampleValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out.append("NaN");
  } else if (std::isinf(value)) {
    out.append(value > 0 ? "+Inf" : "-Inf");
  } else {
    char buf[32];
    auto res = std::to_chars(buf, buf + sizeof buf, value);
    out.append(buf, res.ptr);
  }
}

std::string ExposedName(std::string_view name, store::MetricType type) {
  if (type == store::MetricType::kCounter && !name.ends_with("_total")) {
    return std::string(name) + "_total";
  }
  return std::string(name);
}

std::string_view FamilyType(store::MetricType type) { return PrometheusType(type); }

std::string FamilyHelp(std::string_view name, store::MetricType type) { return Help(name, type); }

std::string ExposedLabelName(std::string_view name, const core::Labels& labels,
                             bool include_project, bool histogram) {
  const bool clashes = (include_project && name == "project") || (histogram && name == "le");
  if (!clashes) return std::string(name);
  // Prometheus' convention: prefix `exported_` until the name is free, so a
  // series that also has an `exported_project` tag keeps both.
  std::string renamed = "exported_" + std::string(name);
  while (labels.Get(renamed) != nullptr) renamed.insert(0, "exported_");
  return renamed;
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

void StoreExposition::RenderText(std::string& out) const {
  const int64_t now_ms = clock_.NowMs();
  const bool include_project = config_.include_project_label;
  std::vector<Chunk> chunks;
  std::vector<std::string> projects;  // stable storage for chunk.project views
  // All sample lines go to one arena, sized from the previous render, so a
  // 100k-series page costs no per-metric string growth.
  std::string arena;
  arena.reserve(last_render_bytes_.load(std::memory_order_relaxed) + 4096);
  store::MetricView current{};
  std::string labels;
  std::string le_labels;
  store_.VisitSeries(
      [&](const store::MetricView& metric) {
        current = metric;
        if (!chunks.empty()) chunks.back().end = arena.size();
        Chunk& c = chunks.emplace_back();
        c.begin = arena.size();
        c.family = ExposedName(metric.name, metric.type);
        c.type = metric.type;
        c.help = Help(metric.name, metric.type);
        projects.emplace_back(metric.project);
      },
      [&](const store::SeriesView& s) {
        // A series reserved by a request whose WAL write failed never got a sample.
        if (s.updated_at_ms == 0) return;
        if (config_.series_ttl_ms > 0 && now_ms - s.updated_at_ms > config_.series_ttl_ms) return;
        Chunk& c = chunks.back();
        std::string& text = arena;
        labels.clear();
        // Recorded series carry their whole label set (often a `project` of
        // their own, from `sum by (project)`): no label is added.
        AppendLabelsOpen(labels, current.project, s.labels,
                         include_project && store::IsReportable(current.type),
                         PrometheusType(current.type) == "histogram");
        switch (current.type) {
          case store::MetricType::kCounter:
            AppendSample(text, c.family, "", labels, s.counter_total);
            break;
          case store::MetricType::kGauge:
            AppendSample(text, c.family, "", labels, s.last_value);
            break;
          case store::MetricType::kScraped:
            break;  // the exporters' own data: Prometheus scrapes them itself
          case store::MetricType::kRecorded:
            // A series a rule stopped producing ends with a staleness marker.
            if (!store::IsStaleMarker(s.last_value)) {
              AppendSample(text, c.family, "", labels, s.last_value);
            }
            break;
          case store::MetricType::kTiming:
          case store::MetricType::kDistribution: {
            const std::vector<double>& bounds = *current.bounds;
            const char* sep = labels.size() > 1 ? "," : "";
            for (size_t i = 0; i < bounds.size(); ++i) {
              le_labels.assign(labels).append(sep).append("le=\"");
              AppendSampleValue(le_labels, bounds[i]);
              le_labels.push_back('"');
              AppendSample(text, c.family, "_bucket", le_labels,
                           static_cast<double>(s.bucket_counts[i]));
            }
            le_labels.assign(labels).append(sep).append("le=\"+Inf\"");
            AppendSample(text, c.family, "_bucket", le_labels, static_cast<double>(s.observations));
            AppendSample(text, c.family, "_sum", labels, s.observation_sum);
            AppendSample(text, c.family, "_count", labels, static_cast<double>(s.observations));
            break;
          }
        }
      });
  if (!chunks.empty()) chunks.back().end = arena.size();
  last_render_bytes_.store(arena.size(), std::memory_order_relaxed);
  for (size_t i = 0; i < chunks.size(); ++i) chunks[i].project = projects[i];
  std::sort(chunks.begin(), chunks.end(), [](const Chunk& a, const Chunk& b) {
    return a.family != b.family ? a.family < b.family : a.project < b.project;
  });
  size_t total = arena.size();
  for (const Chunk& c : chunks) total += c.help.size() + 2 * c.family.size() + 32;
  // Room for the self-metrics appended after the store's series.
  out.reserve(out.size() + total + 64 * 1024);
  for (size_t i = 0; i < chunks.size();) {
    const Chunk& head = chunks[i];
    size_t j = i;
    bool header_written = false;
    for (; j < chunks.size() && chunks[j].family == head.family; ++j) {
      // The same name with another Prometheus type in another project cannot share
      // a family; the first (by project) wins on /metrics.
      if (chunks[j].begin == chunks[j].end || !SameFamilyType(chunks[j].type, head.type)) continue;
      if (!header_written) {
        out.append("# HELP ").append(head.family).push_back(' ');
        out.append(head.help).push_back('\n');
        out.append("# TYPE ").append(head.family).push_back(' ');
        out.append(PrometheusType(head.type)).push_back('\n');
        header_written = true;
      }
      out.append(arena, chunks[j].begin, chunks[j].end - chunks[j].begin);
    }
    i = j;
  }
  const store::StoreStats stats = store_.Stats();
  AppendGauge(out, "tally_store_series", "Series held in the store",
              static_cast<double>(stats.series));
  AppendGauge(out, "tally_store_samples", "Raw samples held in the store",
              static_cast<double>(stats.samples));
  AppendGauge(out, "tally_store_metrics", "Distinct (project, metric name) pairs",
              static_cast<double>(stats.metrics));
  AppendGauge(out, "tally_store_memory_bytes",
              "Approximate memory held by the store (compared with storage.max_memory)",
              static_cast<double>(stats.memory_bytes));
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

std::string RenderMetricsPage(const StoreExposition& store,
                              const std::vector<const prometheus::Collectable*>& collectables) {
  std::string out;
  store.RenderText(out);
  out.append(RenderTextFormat(collectables));
  return out;
}

}  // namespace exporter
