#include "rest/store_querier.h"

#include <algorithm>
#include <limits>
#include <set>

#include "exporter/exposition.h"

namespace rest {
namespace {

using promql::LabelMatcher;

bool IsHistogram(store::MetricType type) {
  return type == store::MetricType::kTiming || type == store::MetricType::kDistribution;
}

// What an exposed series shows of a stored one.
enum class Kind { kLevel, kCounter, kBucket, kSum, kCount };

struct Family {
  std::string name;
  Kind kind;
};

// The exposed series families of one stored metric.
std::vector<Family> FamiliesOf(const store::MetricInfo& metric) {
  switch (metric.type) {
    case store::MetricType::kGauge:
    case store::MetricType::kScraped:
    case store::MetricType::kRecorded: return {{metric.name, Kind::kLevel}};
    case store::MetricType::kCounter:
      return {{exporter::ExposedName(metric.name, metric.type), Kind::kCounter}};
    case store::MetricType::kTiming:
    case store::MetricType::kDistribution:
      return {{metric.name + "_bucket", Kind::kBucket},
              {metric.name + "_sum", Kind::kSum},
              {metric.name + "_count", Kind::kCount},
              {metric.name, Kind::kLevel}};
  }
  return {};
}

bool NameMatches(std::span<const LabelMatcher> matchers, std::string_view name) {
  for (const LabelMatcher& m : matchers) {
    if (m.name() == "__name__" && !m.Matches(name)) return false;
  }
  return true;
}

bool LabelsMatch(std::span<const LabelMatcher> matchers, const core::Labels& labels) {
  for (const LabelMatcher& m : matchers) {
    const std::string* v = labels.Get(m.name());
    if (!m.Matches(v == nullptr ? std::string_view() : std::string_view(*v))) return false;
  }
  return true;
}

// A stored series' labels as exposed, without __name__ and le.
std::vector<core::Label> ExposedTags(std::string_view project, bool include_project,
                                     const core::Labels& tags, bool histogram) {
  std::vector<core::Label> out;
  out.reserve(tags.size() + 2);
  if (include_project) out.push_back({"project", std::string(project)});
  for (const core::Label& l : tags.items()) {
    out.push_back({exporter::ExposedLabelName(l.name, tags, include_project, histogram), l.value});
  }
  return out;
}

// The matchers the store's label index can answer: those on a tag whose
// exposed name is its stored name (not `project`, `le` on histograms or an
// `exported_` rename) and that reject the empty value (a series lacking the
// tag fails them). The rest are checked per series by `keep`.
std::vector<store::IndexedMatcher> IndexedMatchers(std::span<const LabelMatcher> matchers,
                                                   bool histogram, bool include_project) {
  std::vector<store::IndexedMatcher> out;
  for (const LabelMatcher& m : matchers) {
    const std::string& name = m.name();
    if (name == "__name__" || (include_project && name == "project") ||
        (histogram && name == "le") || name.starts_with("exported_") || m.Matches("")) {
      continue;
    }
    store::IndexedMatcher& im = out.emplace_back();
    im.name = name;
    if (m.type() == promql::MatchType::kEqual) {
      im.equals = m.value();
    } else {
      im.matches = [&m](std::string_view v) { return m.Matches(v); };
    }
  }
  return out;
}

std::string FormatBound(double bound) {
  std::string s;
  exporter::AppendSampleValue(s, bound);
  return s;
}

// Samples sharing a timestamp, [begin, end) of the stored samples.
struct Group {
  int64_t t_ms;
  size_t begin;
  size_t end;
};

std::vector<Group> GroupByTime(const std::vector<store::Sample>& samples) {
  std::vector<Group> groups;
  for (size_t i = 0; i < samples.size();) {
    size_t j = i + 1;
    while (j < samples.size() && samples[j].ts_ms == samples[i].ts_ms) ++j;
    groups.push_back({samples[i].ts_ms, i, j});
    i = j;
  }
  return groups;
}

// The points in [min_ms, max_ms] of a running value: `total` at the newest
// sample, and at each earlier time `total` minus the contributions
// (contribution(sample)) of the samples after it.
template <typename Contribution>
std::vector<promql::Sample> RunningPoints(const std::vector<store::Sample>& samples,
                                          const std::vector<Group>& groups, double total,
                                          int64_t min_ms, int64_t max_ms,
                                          Contribution&& contribution) {
  std::vector<promql::Sample> out;
  double after = 0;  // contributions of the samples newer than the current group
  for (size_t g = groups.size(); g-- > 0;) {
    const Group& group = groups[g];
    if (group.t_ms >= min_ms && group.t_ms <= max_ms) out.push_back({group.t_ms, total - after});
    for (size_t i = group.begin; i < group.end; ++i) after += contribution(samples[i].value);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

// The last sample of each timestamp in [min_ms, max_ms].
std::vector<promql::Sample> LevelPoints(const std::vector<store::Sample>& samples,
                                        const std::vector<Group>& groups, int64_t min_ms,
                                        int64_t max_ms) {
  std::vector<promql::Sample> out;
  for (const Group& group : groups) {
    if (group.t_ms >= min_ms && group.t_ms <= max_ms) {
      out.push_back({group.t_ms, samples[group.end - 1].value});
    }
  }
  return out;
}

}  // namespace

core::Result<std::vector<promql::Series>> StoreQuerier::Select(
    std::span<const LabelMatcher> matchers, int64_t min_ms, int64_t max_ms,
    int64_t max_samples) const {
  return Collect(matchers, min_ms, max_ms, max_samples, /*labels_only=*/false);
}

std::vector<promql::Series> StoreQuerier::Collect(std::span<const LabelMatcher> matchers,
                                                  int64_t min_ms, int64_t max_ms,
                                                  int64_t max_samples, bool labels_only) const {
  std::vector<promql::Series> out;
  if (min_ms > max_ms) return out;
  int64_t held = 0;
  // Reported series carry the same `project` label: a matcher on it decides
  // all of them. Scraped and recorded series keep their own labels.
  bool project_matches = true;
  for (const LabelMatcher& m : matchers) {
    if (m.name() == "project" && !m.Matches(project_)) project_matches = false;
  }
  for (const store::MetricInfo& metric : store_.ListMetrics(project_)) {
    const bool add_project = include_project_ && store::IsReportable(metric.type);
    if (add_project && !project_matches) continue;
    std::vector<Family> families = FamiliesOf(metric);
    std::erase_if(families, [&](const Family& f) { return !NameMatches(matchers, f.name); });
    if (families.empty()) continue;
    const bool histogram = IsHistogram(metric.type);
    // Running values need every sample after min_ms (they are computed
    // backwards from the totals); levels only the window.
    bool running = false;
    for (const Family& f : families) running |= f.kind != Kind::kLevel;
    const int64_t read_to =
        running && !labels_only ? std::numeric_limits<int64_t>::max() : max_ms;
    // Under the store's lock: drop series whose tags fail a matcher (all but
    // __name__, and le on histograms, which depend on the family).
    bool tag_matchers = false;
    for (const LabelMatcher& m : matchers) {
      tag_matchers |= m.name() != "__name__" && !(histogram && m.name() == "le");
    }
    const std::vector<store::IndexedMatcher> indexed = IndexedMatchers(matchers, histogram,
                                                                       add_project);
    auto keep = [&](const core::Labels& tags) {
      if (!tag_matchers) return true;
      const core::Labels exposed(ExposedTags(project_, add_project, tags, histogram));
      for (const LabelMatcher& m : matchers) {
        if (m.name() == "__name__" || (histogram && m.name() == "le")) continue;
        const std::string* v = exposed.Get(m.name());
        if (!m.Matches(v == nullptr ? std::string_view() : std::string_view(*v))) return false;
      }
      return true;
    };
    std::vector<store::SeriesRead> reads =
        store_.ReadMetric(project_, metric.name, min_ms, read_to, indexed, keep, labels_only);
    for (const store::SeriesRead& read : reads) {
      if (labels_only && read.samples.empty()) continue;
      const std::vector<Group> groups = GroupByTime(read.samples);
      const std::vector<core::Label> tags =
          ExposedTags(project_, add_project, read.labels, histogram);
      auto emit = [&](const std::string& name, const std::string* le,
                      std::vector<promql::Sample> points) {
        if (points.empty()) return;
        if (labels_only) points.resize(1);
        std::vector<core::Label> items = tags;
        items.push_back({"__name__", name});
        if (le != nullptr) items.push_back({"le", *le});
        core::Labels labels(std::move(items));
        if (!LabelsMatch(matchers, labels)) return;
        held += static_cast<int64_t>(points.size());
        out.push_back({std::move(labels), std::move(points)});
      };
      for (const Family& f : families) {
        switch (f.kind) {
          case Kind::kLevel:
            emit(f.name, nullptr, LevelPoints(read.samples, groups, min_ms, max_ms));
            break;
          case Kind::kCounter:
            emit(f.name, nullptr,
                 RunningPoints(read.samples, groups, read.counter_total, min_ms, max_ms,
                               [](double v) { return v; }));
            break;
          case Kind::kSum:
            emit(f.name, nullptr,
                 RunningPoints(read.samples, groups, read.observation_sum, min_ms, max_ms,
                               [](double v) { return v; }));
            break;
          case Kind::kCount:
            emit(f.name, nullptr,
                 RunningPoints(read.samples, groups, static_cast<double>(read.observations),
                               min_ms, max_ms, [](double) { return 1.0; }));
            break;
          case Kind::kBucket: {
            const std::vector<double> empty;
            const std::vector<double>& bounds = read.bounds ? *read.bounds : empty;
            for (size_t i = 0; i < bounds.size() && i < read.bucket_counts.size(); ++i) {
              const double bound = bounds[i];
              const std::string le = FormatBound(bound);
              emit(f.name, &le,
                   RunningPoints(read.samples, groups, static_cast<double>(read.bucket_counts[i]),
                                 min_ms, max_ms,
                                 [bound](double v) { return v <= bound ? 1.0 : 0.0; }));
            }
            const std::string inf = "+Inf";
            emit(f.name, &inf,
                 RunningPoints(read.samples, groups, static_cast<double>(read.observations),
                               min_ms, max_ms, [](double) { return 1.0; }));
            break;
          }
        }
        if (held > max_samples) break;
      }
      if (held > max_samples) break;
    }
    if (held > max_samples) break;
  }
  std::stable_sort(out.begin(), out.end(), [](const promql::Series& a, const promql::Series& b) {
    return promql::CompareLabels(a.labels, b.labels) < 0;
  });
  // Two stored metrics can expose the same series (a counter `x` and a gauge
  // `x_total`); like /metrics, the first one wins.
  out.erase(std::unique(out.begin(), out.end(),
                        [](const promql::Series& a, const promql::Series& b) {
                          return a.labels == b.labels;
                        }),
            out.end());
  return out;
}

core::Result<std::vector<std::string>> StoreQuerier::LabelNames(
    std::span<const LabelMatcher> matchers, int64_t min_ms, int64_t max_ms) const {
  const std::vector<promql::Series> series =
      Collect(matchers, min_ms, max_ms, std::numeric_limits<int64_t>::max(), /*labels_only=*/true);
  std::set<std::string> names;
  for (const promql::Series& s : series) {
    for (const core::Label& l : s.labels.items()) names.insert(l.name);
  }
  return std::vector<std::string>(names.begin(), names.end());
}

core::Result<std::vector<std::string>> StoreQuerier::LabelValues(
    std::string_view name, std::span<const LabelMatcher> matchers, int64_t min_ms,
    int64_t max_ms) const {
  const std::vector<promql::Series> series =
      Collect(matchers, min_ms, max_ms, std::numeric_limits<int64_t>::max(), /*labels_only=*/true);
  std::set<std::string> values;
  for (const promql::Series& s : series) {
    const std::string* v = s.labels.Get(name);
    if (v != nullptr && !v->empty()) values.insert(*v);
  }
  return std::vector<std::string>(values.begin(), values.end());
}

}  // namespace rest
