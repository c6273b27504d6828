#include "aggregator/promql_storage.h"

#include <algorithm>
#include <bit>
#include <mutex>
#include <set>

namespace promql {

int CompareLabels(const core::Labels& a, const core::Labels& b) {
  const auto& x = a.items();
  const auto& y = b.items();
  const size_t n = std::min(x.size(), y.size());
  for (size_t i = 0; i < n; ++i) {
    if (int c = x[i].name.compare(y[i].name); c != 0) return c < 0 ? -1 : 1;
    if (int c = x[i].value.compare(y[i].value); c != 0) return c < 0 ? -1 : 1;
  }
  if (x.size() == y.size()) return 0;
  return x.size() < y.size() ? -1 : 1;
}

namespace {

bool MatchesAll(const core::Labels& labels, std::span<const LabelMatcher> matchers) {
  static const std::string kEmpty;
  for (const LabelMatcher& m : matchers) {
    const std::string* v = labels.Get(m.name());
    if (!m.Matches(v != nullptr ? *v : kEmpty)) return false;
  }
  return true;
}

}  // namespace

core::Status MemoryStorage::Append(const core::Labels& labels, int64_t t_ms, double v) {
  std::unique_lock lock(mu_);
  std::vector<Sample>& samples = series_[labels];
  if (!samples.empty()) {
    const Sample& last = samples.back();
    if (t_ms < last.t_ms) {
      return core::Fail(core::ErrorCode::kInvalidRequest, "out of order sample");
    }
    if (t_ms == last.t_ms) {
      if (std::bit_cast<uint64_t>(v) == std::bit_cast<uint64_t>(last.v)) return {};
      return core::Fail(core::ErrorCode::kInvalidRequest, "duplicate sample for timestamp");
    }
  }
  samples.push_back(Sample{t_ms, v});
  return {};
}

void MemoryStorage::Clear() {
  std::unique_lock lock(mu_);
  series_.clear();
}

size_t MemoryStorage::NumSeries() const {
  std::shared_lock lock(mu_);
  return series_.size();
}

template <typename Fn>
void MemoryStorage::ForEachMatch(std::span<const LabelMatcher> matchers, int64_t min_ms,
                                 int64_t max_ms, Fn&& fn) const {
  auto by_time = [](const Sample& s, int64_t t) { return s.t_ms < t; };
  for (const auto& [labels, samples] : series_) {
    if (!MatchesAll(labels, matchers)) continue;
    auto first = std::lower_bound(samples.begin(), samples.end(), min_ms, by_time);
    auto last = std::upper_bound(samples.begin(), samples.end(), max_ms,
                                 [](int64_t t, const Sample& s) { return t < s.t_ms; });
    if (first >= last) continue;
    if (!fn(labels, first, last)) return;
  }
}

core::Result<std::vector<Series>> MemoryStorage::Select(std::span<const LabelMatcher> matchers,
                                                        int64_t min_ms, int64_t max_ms,
                                                        int64_t max_samples) const {
  std::shared_lock lock(mu_);
  std::vector<Series> out;
  int64_t total = 0;
  ForEachMatch(matchers, min_ms, max_ms, [&](const core::Labels& labels, auto first, auto last) {
    out.push_back(Series{labels, std::vector<Sample>(first, last)});
    total += static_cast<int64_t>(last - first);
    return total <= max_samples;  // stop copying once over the bound
  });
  return out;
}

core::Result<std::vector<std::string>> MemoryStorage::LabelNames(
    std::span<const LabelMatcher> matchers, int64_t min_ms, int64_t max_ms) const {
  std::shared_lock lock(mu_);
  std::set<std::string> names;
  ForEachMatch(matchers, min_ms, max_ms, [&](const core::Labels& labels, auto, auto) {
    for (const core::Label& l : labels.items()) names.insert(l.name);
    return true;
  });
  return std::vector<std::string>(names.begin(), names.end());
}

core::Result<std::vector<std::string>> MemoryStorage::LabelValues(
    std::string_view name, std::span<const LabelMatcher> matchers, int64_t min_ms,
    int64_t max_ms) const {
  std::shared_lock lock(mu_);
  std::set<std::string> values;
  ForEachMatch(matchers, min_ms, max_ms, [&](const core::Labels& labels, auto, auto) {
    if (const std::string* v = labels.Get(name); v != nullptr && !v->empty()) values.insert(*v);
    return true;
  });
  return std::vector<std::string>(values.begin(), values.end());
}

}  // namespace promql
