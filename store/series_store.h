// SeriesStore: the in-memory time-series store (DESIGN.md section 3).
//
// Series are identified by (project, metric name, sorted label set). Samples are
// (unix ms, double), kept in time order in fixed-size blocks; several samples may
// share a timestamp. Each series also keeps the running aggregates /metrics
// exposes (counter total, last gauge value, histogram buckets), so exposition
// never rescans samples and counters stay cumulative past retention.
//
// Thread-safety: all methods are thread-safe. Series are sharded by
// hash(project, name): all series of one metric live in one shard, so the type
// lock and the per-metric cardinality cap are checked under one shard lock.
// Writers take a shard's lock exclusively once per batch and shard; readers take
// it shared and copy what they need.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/labels.h"
#include "core/status.h"
#include "store/types.h"

namespace store {

// Histogram upper bounds for a metric name (timing/distribution), shared by its series.
using Buckets = std::shared_ptr<const std::vector<double>>;
using BucketResolver = std::function<Buckets(std::string_view metric_name)>;

struct SeriesStoreOptions {
  int max_series_per_metric = 10'000;
  int64_t max_memory_bytes = 2LL << 30;
  size_t block_capacity = 512;  // samples per block; retention drops whole blocks
  BucketResolver bucket_resolver;  // may be empty: default buckets below
};

// A copy of one series' identity and running aggregates, for exposition.
struct SeriesSnapshot {
  SeriesId id = 0;
  std::string project;
  std::string name;
  MetricType type = MetricType::kGauge;
  core::Labels labels;
  double counter_total = 0;      // counters: sum of all increments ever
  double last_value = 0;         // gauges: value at the latest timestamp
  int64_t last_ts_ms = 0;
  uint64_t observations = 0;     // timing/distribution: number observed
  double observation_sum = 0;
  std::vector<uint64_t> bucket_counts;  // cumulative per bound, same order as `bounds`
  Buckets bounds;
  int64_t updated_at_ms = 0;     // wall time of the last append (for series_ttl)
};

struct StoreStats {
  uint64_t series = 0;
  uint64_t samples = 0;
  uint64_t metrics = 0;
  int64_t memory_bytes = 0;
};

// Borrowed views of one metric and one of its series, valid only inside a
// VisitSeries callback.
struct MetricView {
  std::string_view project;
  std::string_view name;
  MetricType type;
  const std::vector<double>* bounds;  // histogram types only, else nullptr
};
struct SeriesView {
  const core::Labels& labels;
  double counter_total;
  double last_value;
  int64_t last_ts_ms;
  uint64_t observations;
  double observation_sum;
  std::span<const uint64_t> bucket_counts;
  int64_t updated_at_ms;
};

// The whole state of one series, for snapshots.
struct SeriesState {
  std::string project;
  std::string name;
  MetricType type = MetricType::kGauge;
  core::Labels labels;
  double counter_total = 0;
  double last_value = 0;
  int64_t last_ts_ms = 0;
  uint64_t observations = 0;
  double observation_sum = 0;
  std::vector<double> bounds;          // histogram types
  std::vector<uint64_t> bucket_counts;  // same length as bounds
  int64_t updated_at_ms = 0;
  std::vector<Sample> samples;  // time order
};

// An equality matcher on a label; name "__name__" matches the metric name.
struct EqualMatcher {
  std::string name;
  std::string value;
};

// A condition on one stored tag that the label index can answer: the series
// must carry tag `name` with a value for which `equals` (when set) or
// `matches` holds. A series without the tag never qualifies, so callers pass
// only conditions that reject the empty value (Prometheus' `a=""` or `a!="x"`
// also match series without `a`: filter those with `keep` instead).
struct IndexedMatcher {
  std::string name;
  std::optional<std::string> equals;                // exact value: one posting list
  std::function<bool(std::string_view)> matches;    // else: tested once per distinct value
};

// One metric of a project (SeriesStore::ListMetrics).
struct MetricInfo {
  std::string name;
  MetricType type = MetricType::kGauge;
};

// A copy of one series for queries (SeriesStore::ReadMetric): its labels, its
// running aggregates and its samples in a window, copied under one lock so the
// aggregates include exactly the samples up to the newest one.
struct SeriesRead {
  core::Labels labels;
  double counter_total = 0;
  uint64_t observations = 0;
  double observation_sum = 0;
  std::vector<uint64_t> bucket_counts;  // histogram types
  Buckets bounds;                       // histogram types
  std::vector<Sample> samples;          // time order
};

// What Append says about one point: stored, or why not.
using AppendOutcome = std::optional<core::Error>;

// The first phase of an append: per point, an outcome and (when accepted) the
// series it goes to. Series exist after Reserve; samples arrive with Commit.
struct Reservation {
  std::vector<AppendOutcome> outcomes;
  std::vector<SeriesId> ids;  // ids[i] is meaningful when !outcomes[i]
};

class SeriesStore {
 public:
  explicit SeriesStore(SeriesStoreOptions options);
  ~SeriesStore();
  SeriesStore(const SeriesStore&) = delete;
  SeriesStore& operator=(const SeriesStore&) = delete;

  // Appends `points` to `project`. Returns one outcome per point (nullopt =
  // stored): kTypeMismatch when the metric exists with another type,
  // kCardinalityLimit when a new series would exceed the per-metric cap.
  // Fails as a whole (nothing stored) with kUnavailable when the memory ceiling
  // is reached. `now_ms` is the wall time recorded as the series' update time.
  core::Result<std::vector<AppendOutcome>> Append(std::string_view project,
                                                  std::span<const PointView> points,
                                                  int64_t now_ms);

  // Append in two phases, so a durable log can sit between the decision and
  // the visible write: Reserve checks types, the cardinality cap and the memory
  // ceiling and creates series (no samples); Commit adds the accepted samples.
  // Append = Reserve + Commit.
  core::Result<Reservation> Reserve(std::string_view project, std::span<const PointView> points,
                                    int64_t now_ms);
  // REQUIRES: `reservation` came from Reserve with the same `points`.
  void Commit(const Reservation& reservation, std::span<const PointView> points, int64_t now_ms);

  // Appends points that were accepted before (WAL replay): ignores the
  // cardinality cap and the memory ceiling, so a lowered limit cannot drop
  // acknowledged data. Type mismatches are still skipped.
  void AppendUnchecked(std::string_view project, std::span<const PointView> points,
                       int64_t now_ms);

  // The type a metric was first reported with, if it exists in `project`.
  std::optional<MetricType> TypeOf(std::string_view project, std::string_view name) const;

  // Copies every series' identity and aggregates (all projects).
  std::vector<SeriesSnapshot> Snapshot() const;

  // Calls `begin_metric` once per (project, metric) and then `series` for each of
  // its series, shard by shard under the shard's shared lock, without copying.
  // Writers to that shard wait meanwhile, so callbacks must be quick and must not
  // call back into the store. Used by /metrics, where a copy of 100k series costs
  // more than the rendering itself.
  void VisitSeries(const std::function<void(const MetricView&)>& begin_metric,
                   const std::function<void(const SeriesView&)>& series) const;

  // Copies the state of every series (all projects) that has received a
  // sample; series reserved by a request that then failed are left out, so a
  // restart forgets them. For a consistent snapshot the caller keeps writers
  // out meanwhile.
  std::vector<SeriesState> ExportState() const;

  // Adds a series from a snapshot (at start-up, before serving). Limits are not
  // enforced. Fails if the series exists or its metric has another type.
  core::Status ImportSeries(SeriesState state);

  // Series ids in `project` matching all matchers (sorted).
  std::vector<SeriesId> Select(std::string_view project,
                               std::span<const EqualMatcher> matchers) const;

  // Samples of series `id` with from_ms <= ts <= to_ms, in time order.
  std::vector<Sample> ReadSamples(SeriesId id, int64_t from_ms, int64_t to_ms) const;

  // The metrics of `project` that have series, sorted by name (from the
  // per-project index: no series are scanned).
  std::vector<MetricInfo> ListMetrics(std::string_view project) const;

  // Every series of metric `name` in `project` that has received a sample and
  // for which `keep(labels)` is true (empty `keep`: all), with its samples
  // from_ms <= ts <= to_ms. One shard lock is held shared for the copy, so
  // `keep` must be quick and must not call back into the store.
  std::vector<SeriesRead> ReadMetric(std::string_view project, std::string_view name,
                                     int64_t from_ms, int64_t to_ms,
                                     const std::function<bool(const core::Labels&)>& keep) const;

  // As above, but first narrows the metric's series with the label index:
  // only series satisfying every `indexed` matcher are considered (and then
  // `keep`). Work is proportional to the distinct values of the matched tags
  // and the series selected, not to the metric's series count. With
  // `first_sample_only`, each series read holds at most its first sample in
  // the window (label browsing: which series have data, not the data).
  std::vector<SeriesRead> ReadMetric(std::string_view project, std::string_view name,
                                     int64_t from_ms, int64_t to_ms,
                                     std::span<const IndexedMatcher> indexed,
                                     const std::function<bool(const core::Labels&)>& keep,
                                     bool first_sample_only = false) const;

  // Drops whole blocks whose newest sample is older than `cutoff_ms`.
  // Aggregates are kept. Returns the number of samples dropped.
  uint64_t DropBefore(int64_t cutoff_ms);

  StoreStats Stats() const;

 private:
  struct Shard;
  Shard& ShardFor(std::string_view project, std::string_view name) const;
  core::Result<Reservation> ReserveImpl(std::string_view project,
                                        std::span<const PointView> points, int64_t now_ms,
                                        bool enforce_limits);

  SeriesStoreOptions options_;
  Buckets default_bounds_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<int64_t> memory_bytes_{0};
  std::atomic<uint64_t> series_count_{0};
  std::atomic<uint64_t> sample_count_{0};
  std::atomic<uint64_t> metric_count_{0};
};

}  // namespace store
