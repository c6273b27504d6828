// The PromQL engine's view of stored data: series (label set + samples) found by
// label matchers over a time range. The engine (promql_engine.h) reads only
// through Querier; MemoryStorage is the in-memory implementation used by the
// .test runner and unit tests. An adapter over store::SeriesStore implements
// the same interface for the server.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "aggregator/label_matcher.h"
#include "core/labels.h"
#include "core/status.h"

namespace promql {

// One sample: unix milliseconds and a value. A staleness marker is a sample
// whose value has the StaleNaN bit pattern (promql_test_file.h).
struct Sample {
  int64_t t_ms = 0;
  double v = 0;
};

// A series: its labels (including __name__) and samples in ascending time
// order with unique timestamps.
struct Series {
  core::Labels labels;
  std::vector<Sample> samples;
};

// Orders label sets like Prometheus' labels.Compare: label by label (name, then
// value), a prefix before the longer set. Returns <0, 0 or >0.
int CompareLabels(const core::Labels& a, const core::Labels& b);

// Read access to series. Implementations must be safe for concurrent calls.
class Querier {
 public:
  virtual ~Querier() = default;

  // Every series matching all `matchers` (a label a series lacks has the value
  // "") that has at least one sample with min_ms <= t <= max_ms, with exactly
  // those samples, ordered by CompareLabels. Staleness markers are returned
  // like any sample. `max_samples` bounds memory: an implementation may stop
  // copying once the result holds more than max_samples samples in total (the
  // caller then fails the query); it may also ignore the bound.
  virtual core::Result<std::vector<Series>> Select(std::span<const LabelMatcher> matchers,
                                                   int64_t min_ms, int64_t max_ms,
                                                   int64_t max_samples) const = 0;

  // Sorted, unique label names of the series Select would return.
  virtual core::Result<std::vector<std::string>> LabelNames(std::span<const LabelMatcher> matchers,
                                                            int64_t min_ms,
                                                            int64_t max_ms) const = 0;

  // Sorted, unique non-empty values of label `name` over the series Select
  // would return.
  virtual core::Result<std::vector<std::string>> LabelValues(std::string_view name,
                                                             std::span<const LabelMatcher> matchers,
                                                             int64_t min_ms,
                                                             int64_t max_ms) const = 0;
};

// Series held in memory, for the conformance runner and tests.
// Thread-safe: appends take mu_ exclusively, reads take it shared.
class MemoryStorage final : public Querier {
 public:
  MemoryStorage() = default;
  MemoryStorage(const MemoryStorage&) = delete;
  MemoryStorage& operator=(const MemoryStorage&) = delete;

  // Appends one sample, creating the series when new. Like a Prometheus TSDB
  // appender: a sample older than the series' newest fails with "out of order
  // sample"; one at the newest timestamp is ignored when bit-identical and
  // fails with "duplicate sample for timestamp" otherwise.
  core::Status Append(const core::Labels& labels, int64_t t_ms, double v);

  // Drops every series.
  void Clear();

  size_t NumSeries() const;

  core::Result<std::vector<Series>> Select(std::span<const LabelMatcher> matchers, int64_t min_ms,
                                           int64_t max_ms, int64_t max_samples) const override;
  core::Result<std::vector<std::string>> LabelNames(std::span<const LabelMatcher> matchers,
                                                    int64_t min_ms, int64_t max_ms) const override;
  core::Result<std::vector<std::string>> LabelValues(std::string_view name,
                                                     std::span<const LabelMatcher> matchers,
                                                     int64_t min_ms, int64_t max_ms) const override;

 private:
  struct LabelsLess {
    bool operator()(const core::Labels& a, const core::Labels& b) const {
      return CompareLabels(a, b) < 0;
    }
  };
  // Calls fn(labels, first, last) for each series matching `matchers` with
  // samples in [min_ms, max_ms]; [first, last) are those samples.
  template <typename Fn>
  void ForEachMatch(std::span<const LabelMatcher> matchers, int64_t min_ms, int64_t max_ms,
                    Fn&& fn) const;

  mutable std::shared_mutex mu_;
  std::map<core::Labels, std::vector<Sample>, LabelsLess> series_;  // guarded by mu_
};

}  // namespace promql
