#include "store/series_store.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

namespace store {
namespace {

constexpr size_t kShardBits = 4;
constexpr size_t kNumShards = size_t{1} << kShardBits;
constexpr uint32_t kNoSeries = std::numeric_limits<uint32_t>::max();
// Rough fixed cost of a series beyond its strings: struct, maps, index entries.
constexpr int64_t kSeriesOverheadBytes = 320;

const std::vector<double> kDefaultBounds = {1,   2.5, 5,    10,   25,   50,    100,
                                            250, 500, 1000, 2500, 5000, 10000};

uint64_t HashLabelViews(std::span<const LabelView> labels) {
  // Must equal core::Labels::Hash() for the same labels.
  uint64_t h = core::kLabelsHashSeed;
  for (const LabelView& l : labels) h = core::HashLabel(l.name, l.value, h);
  return h;
}

bool SameLabels(const core::Labels& a, std::span<const LabelView> b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < b.size(); ++i) {
    if (a.items()[i].name != b[i].name || a.items()[i].value != b[i].value) return false;
  }
  return true;
}

// Inserts `sample` keeping blocks in time order and returns the change in
// bytes reserved. Blocks start small and double up to `block_capacity`, so a
// series with one sample costs one small allocation, not a whole block. A
// slightly late sample (common: concurrent requests stamp "now" before they
// reach the lock) that would land in a full last block splits that block's
// tail into a new block instead of growing it past the capacity.
int64_t InsertSample(std::deque<std::vector<Sample>>& blocks, Sample sample,
                     size_t block_capacity) {
  constexpr size_t kInitialBlock = 8;
  auto grow = [&](std::vector<Sample>& block, auto&& op) -> int64_t {
    const size_t before = block.capacity();
    if (block.size() == before) {
      block.reserve(std::max(kInitialBlock, std::min(block_capacity, before * 2)));
    }
    op();
    return static_cast<int64_t>((block.capacity() - before) * sizeof(Sample));
  };
  auto by_ts = [](int64_t ts, const Sample& x) { return ts < x.ts_ms; };
  if (blocks.empty() || (blocks.back().size() >= block_capacity &&
                         sample.ts_ms >= blocks.back().back().ts_ms)) {
    auto& block = blocks.emplace_back();
    return grow(block, [&] { block.push_back(sample); });
  }
  auto& last = blocks.back();
  if (sample.ts_ms >= last.back().ts_ms) {
    return grow(last, [&] { last.push_back(sample); });
  }
  if (sample.ts_ms >= last.front().ts_ms) {
    auto at = std::upper_bound(last.begin(), last.end(), sample.ts_ms, by_ts);
    if (last.size() < block_capacity) {
      // `grow` may reallocate: keep the position as an index, not an iterator.
      const auto index = at - last.begin();
      return grow(last, [&] { last.insert(last.begin() + index, sample); });
    }
    std::vector<Sample> tail;
    tail.reserve(std::max(kInitialBlock, static_cast<size_t>(last.end() - at) + 1));
    tail.push_back(sample);
    tail.insert(tail.end(), at, last.end());
    last.erase(at, last.end());
    const int64_t bytes = static_cast<int64_t>(tail.capacity() * sizeof(Sample));
    blocks.push_back(std::move(tail));
    return bytes;
  }
  // Older than the last block: the last block whose first sample is <= ts (or
  // the first block). Such a block may grow past the capacity; it is rare.
  auto bit = std::upper_bound(
      blocks.begin(), blocks.end(), sample.ts_ms,
      [](int64_t ts, const std::vector<Sample>& b) { return ts < b.front().ts_ms; });
  auto& block = bit == blocks.begin() ? *bit : *std::prev(bit);
  auto at = std::upper_bound(block.begin(), block.end(), sample.ts_ms, by_ts);
  const size_t before = block.capacity();
  block.insert(at, sample);
  return static_cast<int64_t>((block.capacity() - before) * sizeof(Sample));
}

bool IsHistogramType(MetricType t) {
  return t == MetricType::kTiming || t == MetricType::kDistribution;
}

}  // namespace

namespace {

struct Series {
  SeriesId id = 0;
  const std::string* project = nullptr;  // owned by the MetricMeta key
  std::string name;
  MetricType type = MetricType::kGauge;
  core::Labels labels;
  uint32_t next_same_hash = kNoSeries;
  std::deque<std::vector<Sample>> blocks;  // time-ordered; each sorted
  double counter_total = 0;
  double last_value = 0;
  int64_t last_ts_ms = std::numeric_limits<int64_t>::min();
  uint64_t observations = 0;
  double observation_sum = 0;
  std::vector<uint64_t> bucket_counts;
  Buckets bounds;
  int64_t updated_at_ms = 0;
};

// Label-set hash -> local index of the first series with that hash (others
// chain through Series::next_same_hash). Open addressing with linear probing
// over 16-byte slots: a lookup costs one cache miss where std::unordered_map
// costs two (bucket, then node); at 1M series this lookup was ~24% of the
// aggregator's CPU when scraping 1,000 targets x 1,000 series (bench/RESULTS.md).
// Keys are already well-mixed 64-bit hashes. Entries are never removed.
class LabelHashIndex {
 public:
  // The value stored for `key`, or kNoSeries.
  uint32_t Find(uint64_t key) const {
    if (slots_.empty()) return kNoSeries;
    for (size_t i = key & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.value == kNoSeries) return kNoSeries;
      if (s.key == key) return s.value;
    }
  }
  // Sets the value of `key` (inserting it). REQUIRES: value != kNoSeries.
  void Set(uint64_t key, uint32_t value) {
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    for (size_t i = key & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.value == kNoSeries) {
        s = Slot{key, value};
        ++size_;
        return;
      }
      if (s.key == key) {
        s.value = value;
        return;
      }
    }
  }

 private:
  struct Slot {
    uint64_t key = 0;
    uint32_t value = kNoSeries;  // kNoSeries: empty
  };
  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(old.empty() ? 16 : old.size() * 2, Slot{});
    mask_ = slots_.size() - 1;
    size_ = 0;
    for (const Slot& s : old) {
      if (s.value != kNoSeries) Set(s.key, s.value);
    }
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

struct MetricMeta {
  std::string project;
  MetricType type;
  Buckets bounds;  // resolved once per metric for histogram types
  LabelHashIndex by_label_hash;  // -> first local index
  std::vector<uint32_t> series;  // local indexes of this metric's series, in creation order
  int series_count = 0;
};

}  // namespace

struct SeriesStore::Shard {
  mutable std::shared_mutex mu;
  // key: project + '\x1f' + name. Guarded by mu.
  std::unordered_map<std::string, MetricMeta> metrics;
  std::deque<Series> series;  // local index -> series; guarded by mu
  // project -> label name -> value -> local indexes (ascending). Guarded by mu.
  std::unordered_map<std::string, std::map<std::string, std::map<std::string, std::vector<uint32_t>>>>
      index;
  uint32_t shard_no = 0;

  // Adds a new series to the label index. REQUIRES: mu held exclusively.
  void IndexSeries(const std::string& project, const Series& series, uint32_t local) {
    auto& project_index = index[project];
    project_index["__name__"][series.name].push_back(local);
    for (const core::Label& l : series.labels.items()) {
      project_index[l.name][l.value].push_back(local);
    }
  }
};

SeriesStore::SeriesStore(SeriesStoreOptions options) : options_(std::move(options)) {
  default_bounds_ = std::make_shared<const std::vector<double>>(kDefaultBounds);
  shards_.reserve(kNumShards);
  for (size_t i = 0; i < kNumShards; ++i) {
    shards_.push_back(std::make_unique<Shard>());
    shards_.back()->shard_no = static_cast<uint32_t>(i);
  }
}

SeriesStore::~SeriesStore() = default;

SeriesStore::Shard& SeriesStore::ShardFor(std::string_view project, std::string_view name) const {
  uint64_t h = core::HashBytes(name, core::HashBytes(project));
  return *shards_[h & (kNumShards - 1)];
}

namespace {

// Applies one sample to a series: time-ordered insert plus running aggregates.
// Returns the change in bytes reserved. REQUIRES: the series' shard lock held.
int64_t ApplySample(Series& s, const PointView& p, int64_t now_ms, size_t block_capacity) {
  const int64_t bytes = InsertSample(s.blocks, Sample{p.ts_ms, p.value}, block_capacity);
  switch (s.type) {
    case MetricType::kCounter:
      s.counter_total += p.value;
      break;
    case MetricType::kGauge:
    case MetricType::kScraped:
    case MetricType::kRecorded:
      break;
    case MetricType::kTiming:
    case MetricType::kDistribution: {
      ++s.observations;
      s.observation_sum += p.value;
      const auto& b = *s.bounds;
      auto first = std::lower_bound(b.begin(), b.end(), p.value);  // le is inclusive
      for (auto k = static_cast<size_t>(first - b.begin()); k < b.size(); ++k) {
        ++s.bucket_counts[k];
      }
      break;
    }
  }
  if (p.ts_ms >= s.last_ts_ms) {
    s.last_ts_ms = p.ts_ms;
    s.last_value = p.value;
  }
  s.updated_at_ms = now_ms;
  return bytes;
}

}  // namespace

core::Result<std::vector<AppendOutcome>> SeriesStore::Append(std::string_view project,
                                                             std::span<const PointView> points,
                                                             int64_t now_ms) {
  auto reservation = Reserve(project, points, now_ms);
  if (!reservation) return core::Unexpected(reservation.error());
  Commit(*reservation, points, now_ms);
  return std::move(reservation->outcomes);
}

void SeriesStore::AppendUnchecked(std::string_view project, std::span<const PointView> points,
                                  int64_t now_ms) {
  auto reservation = ReserveImpl(project, points, now_ms, /*enforce_limits=*/false);
  if (reservation) Commit(*reservation, points, now_ms);
}

core::Result<Reservation> SeriesStore::Reserve(std::string_view project,
                                               std::span<const PointView> points,
                                               int64_t now_ms) {
  return ReserveImpl(project, points, now_ms, /*enforce_limits=*/true);
}

core::Result<Reservation> SeriesStore::ReserveImpl(std::string_view project,
                                                   std::span<const PointView> points,
                                                   int64_t now_ms, bool enforce_limits) {
  (void)now_ms;
  if (enforce_limits &&
      memory_bytes_.load(std::memory_order_relaxed) >= options_.max_memory_bytes) {
    return core::Fail(core::ErrorCode::kUnavailable,
                      "storage.max_memory reached (" + std::to_string(options_.max_memory_bytes) +
                          " bytes): ingest is paused until retention frees memory or the "
                          "limit is raised");
  }
  Reservation reservation;
  std::vector<AppendOutcome>& outcomes = reservation.outcomes;
  outcomes.resize(points.size());
  reservation.ids.assign(points.size(), 0);

  // Visit points shard by shard so each shard lock is taken once per batch,
  // keeping the order of points within a series.
  std::vector<uint32_t> order(points.size());
  std::vector<uint8_t> shard_of(points.size());
  for (size_t i = 0; i < points.size(); ++i) {
    order[i] = static_cast<uint32_t>(i);
    // Runs of one metric (a scrape body, a batch of one timing) hash the name once.
    shard_of[i] = i > 0 && points[i].name == points[i - 1].name
                      ? shard_of[i - 1]
                      : static_cast<uint8_t>(ShardFor(project, points[i].name).shard_no);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return shard_of[a] < shard_of[b]; });

  std::string key;
  int64_t added_bytes = 0;
  uint64_t added_series = 0, added_metrics = 0;
  size_t pos = 0;
  while (pos < order.size()) {
    Shard& shard = *shards_[shard_of[order[pos]]];
    std::unique_lock lock(shard.mu);
    MetricMeta* meta = nullptr;
    std::string_view meta_name;
    for (; pos < order.size() && shard_of[order[pos]] == shard.shard_no; ++pos) {
      const size_t i = order[pos];
      const PointView& p = points[i];
      if (meta == nullptr || meta_name != p.name) {
        key.assign(project).push_back('\x1f');
        key.append(p.name);
        auto it = shard.metrics.find(key);
        if (it == shard.metrics.end()) {
          MetricMeta m;
          m.project = std::string(project);
          m.type = p.type;
          if (IsHistogramType(p.type)) {
            m.bounds = options_.bucket_resolver ? options_.bucket_resolver(p.name) : nullptr;
            if (!m.bounds) m.bounds = default_bounds_;
          }
          it = shard.metrics.emplace(key, std::move(m)).first;
          added_bytes += static_cast<int64_t>(key.size() * 2 + 128);
          ++added_metrics;
        }
        meta = &it->second;
        meta_name = p.name;
      }
      if (meta->type != p.type) {
        outcomes[i] = core::MakeError(
            core::ErrorCode::kTypeMismatch,
            "metric '" + std::string(p.name) + "' is a " + std::string(MetricTypeName(meta->type)) +
                "; it cannot be reported as a " + std::string(MetricTypeName(p.type)),
            "type");
        continue;
      }
      const uint64_t h = HashLabelViews(p.labels);
      Series* s = nullptr;
      const uint32_t chain = meta->by_label_hash.Find(h);
      for (uint32_t idx = chain; idx != kNoSeries; idx = shard.series[idx].next_same_hash) {
        if (shard.series[idx].name == p.name && SameLabels(shard.series[idx].labels, p.labels)) {
          s = &shard.series[idx];
          break;
        }
      }
      if (s == nullptr) {
        if (enforce_limits && meta->series_count >= options_.max_series_per_metric) {
          outcomes[i] = core::MakeError(
              core::ErrorCode::kCardinalityLimit,
              "metric '" + std::string(p.name) + "' already has " +
                  std::to_string(meta->series_count) +
                  " tag combinations (limits.max_series_per_metric); this point would add another",
              "tags");
          continue;
        }
        const uint32_t local = static_cast<uint32_t>(shard.series.size());
        Series& ns = shard.series.emplace_back();
        ns.id = (static_cast<SeriesId>(local) << kShardBits) | shard.shard_no;
        ns.project = &meta->project;
        ns.name = std::string(p.name);
        ns.type = p.type;
        std::vector<core::Label> labels;
        labels.reserve(p.labels.size());
        for (const LabelView& l : p.labels) labels.push_back({std::string(l.name), std::string(l.value)});
        ns.labels = core::Labels(std::move(labels));
        ns.next_same_hash = chain;
        meta->by_label_hash.Set(h, local);
        meta->series.push_back(local);
        if (IsHistogramType(p.type)) {
          ns.bounds = meta->bounds;
          ns.bucket_counts.assign(ns.bounds->size(), 0);
        }
        shard.IndexSeries(meta->project, ns, local);
        ++meta->series_count;
        ++added_series;
        added_bytes += kSeriesOverheadBytes + static_cast<int64_t>(ns.labels.ByteSize()) +
                       static_cast<int64_t>(ns.name.size()) * 2;
        s = &ns;
      }

      reservation.ids[i] = s->id;
    }
  }
  memory_bytes_.fetch_add(added_bytes, std::memory_order_relaxed);
  series_count_.fetch_add(added_series, std::memory_order_relaxed);
  metric_count_.fetch_add(added_metrics, std::memory_order_relaxed);
  return reservation;
}

void SeriesStore::Commit(const Reservation& reservation, std::span<const PointView> points,
                         int64_t now_ms) {
  // Group by shard (the id's low bits) so each shard lock is taken once, keeping
  // the order of points within a series.
  std::vector<uint32_t> order;
  order.reserve(points.size());
  for (size_t i = 0; i < points.size(); ++i) {
    if (!reservation.outcomes[i]) order.push_back(static_cast<uint32_t>(i));
  }
  auto shard_no = [&](uint32_t i) { return reservation.ids[i] & (kNumShards - 1); };
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return shard_no(a) < shard_no(b); });
  int64_t added_bytes = 0;
  size_t pos = 0;
  while (pos < order.size()) {
    Shard& shard = *shards_[shard_no(order[pos])];
    std::unique_lock lock(shard.mu);
    for (; pos < order.size() && shard_no(order[pos]) == shard.shard_no; ++pos) {
      const uint32_t i = order[pos];
      Series& s = shard.series[reservation.ids[i] >> kShardBits];
      added_bytes += ApplySample(s, points[i], now_ms, options_.block_capacity);
    }
  }
  memory_bytes_.fetch_add(added_bytes, std::memory_order_relaxed);
  sample_count_.fetch_add(order.size(), std::memory_order_relaxed);
}

std::optional<MetricType> SeriesStore::TypeOf(std::string_view project,
                                              std::string_view name) const {
  Shard& shard = ShardFor(project, name);
  std::string key(project);
  key.push_back('\x1f');
  key.append(name);
  std::shared_lock lock(shard.mu);
  auto it = shard.metrics.find(key);
  if (it == shard.metrics.end()) return std::nullopt;
  return it->second.type;
}

std::vector<SeriesSnapshot> SeriesStore::Snapshot() const {
  std::vector<SeriesSnapshot> out;
  out.reserve(series_count_.load(std::memory_order_relaxed));
  for (const auto& shard : shards_) {
    std::shared_lock lock(shard->mu);
    for (const Series& s : shard->series) {
      SeriesSnapshot& snap = out.emplace_back();
      snap.id = s.id;
      snap.project = *s.project;
      snap.name = s.name;
      snap.type = s.type;
      snap.labels = s.labels;
      snap.counter_total = s.counter_total;
      snap.last_value = s.last_value;
      snap.last_ts_ms = s.last_ts_ms;
      snap.observations = s.observations;
      snap.observation_sum = s.observation_sum;
      snap.bucket_counts = s.bucket_counts;
      snap.bounds = s.bounds;
      snap.updated_at_ms = s.updated_at_ms;
    }
  }
  return out;
}

void SeriesStore::VisitSeries(const std::function<void(const MetricView&)>& begin_metric,
                              const std::function<void(const SeriesView&)>& series) const {
  for (const auto& shard : shards_) {
    std::shared_lock lock(shard->mu);
    for (const auto& [key, meta] : shard->metrics) {
      if (meta.series.empty()) continue;
      const std::string_view name = std::string_view(key).substr(meta.project.size() + 1);
      begin_metric(MetricView{meta.project, name, meta.type, meta.bounds.get()});
      for (uint32_t local : meta.series) {
        const Series& s = shard->series[local];
        series(SeriesView{s.labels, s.counter_total, s.last_value, s.last_ts_ms, s.observations,
                          s.observation_sum, s.bucket_counts, s.updated_at_ms});
      }
    }
  }
}

std::vector<SeriesState> SeriesStore::ExportState() const {
  std::vector<SeriesState> out;
  out.reserve(series_count_.load(std::memory_order_relaxed));
  for (const auto& shard : shards_) {
    std::shared_lock lock(shard->mu);
    for (const Series& s : shard->series) {
      if (s.updated_at_ms == 0) continue;  // reserved, never committed (failed request)
      SeriesState& st = out.emplace_back();
      st.project = *s.project;
      st.name = s.name;
      st.type = s.type;
      st.labels = s.labels;
      st.counter_total = s.counter_total;
      st.last_value = s.last_value;
      st.last_ts_ms = s.last_ts_ms;
      st.observations = s.observations;
      st.observation_sum = s.observation_sum;
      if (s.bounds) st.bounds = *s.bounds;
      st.bucket_counts = s.bucket_counts;
      st.updated_at_ms = s.updated_at_ms;
      size_t n = 0;
      for (const auto& block : s.blocks) n += block.size();
      st.samples.reserve(n);
      for (const auto& block : s.blocks) st.samples.insert(st.samples.end(), block.begin(), block.end());
    }
  }
  return out;
}

core::Status SeriesStore::ImportSeries(SeriesState state) {
  if (IsHistogramType(state.type) && state.bounds.size() != state.bucket_counts.size()) {
    return core::Fail(core::ErrorCode::kInternal, "snapshot series " + state.name +
                                                      ": bucket bounds and counts differ in length");
  }
  Shard& shard = ShardFor(state.project, state.name);
  std::unique_lock lock(shard.mu);
  std::string key = state.project;
  key.push_back('\x1f');
  key.append(state.name);
  auto it = shard.metrics.find(key);
  if (it == shard.metrics.end()) {
    MetricMeta m;
    m.project = state.project;
    m.type = state.type;
    if (IsHistogramType(state.type)) {
      m.bounds = std::make_shared<const std::vector<double>>(state.bounds);
    }
    it = shard.metrics.emplace(key, std::move(m)).first;
    metric_count_.fetch_add(1, std::memory_order_relaxed);
    memory_bytes_.fetch_add(static_cast<int64_t>(key.size() * 2 + 128), std::memory_order_relaxed);
  }
  MetricMeta& meta = it->second;
  if (meta.type != state.type) {
    return core::Fail(core::ErrorCode::kInternal,
                      "snapshot series " + state.name + " has two types");
  }
  uint64_t h = core::kLabelsHashSeed;
  for (const core::Label& l : state.labels.items()) h = core::HashLabel(l.name, l.value, h);
  const uint32_t chain = meta.by_label_hash.Find(h);
  for (uint32_t idx = chain; idx != kNoSeries; idx = shard.series[idx].next_same_hash) {
    if (shard.series[idx].labels == state.labels) {
      return core::Fail(core::ErrorCode::kInternal, "snapshot holds series " + state.name + " twice");
    }
  }
  const uint32_t local = static_cast<uint32_t>(shard.series.size());
  Series& ns = shard.series.emplace_back();
  ns.id = (static_cast<SeriesId>(local) << kShardBits) | shard.shard_no;
  ns.project = &meta.project;
  ns.name = std::move(state.name);
  ns.type = state.type;
  ns.labels = std::move(state.labels);
  ns.next_same_hash = chain;
  meta.by_label_hash.Set(h, local);
  meta.series.push_back(local);
  ++meta.series_count;
  if (IsHistogramType(ns.type)) {
    // Keep the snapshot's bounds (they match its counts), shared when equal.
    ns.bounds = *meta.bounds == state.bounds
                    ? meta.bounds
                    : std::make_shared<const std::vector<double>>(state.bounds);
    ns.bucket_counts = std::move(state.bucket_counts);
  }
  ns.counter_total = state.counter_total;
  ns.last_value = state.last_value;
  ns.last_ts_ms = state.last_ts_ms;
  ns.observations = state.observations;
  ns.observation_sum = state.observation_sum;
  ns.updated_at_ms = state.updated_at_ms;
  int64_t bytes = kSeriesOverheadBytes + static_cast<int64_t>(ns.labels.ByteSize()) +
                  static_cast<int64_t>(ns.name.size()) * 2;
  for (size_t i = 0; i < state.samples.size(); i += options_.block_capacity) {
    const size_t end = std::min(state.samples.size(), i + options_.block_capacity);
    auto& block = ns.blocks.emplace_back(state.samples.begin() + static_cast<std::ptrdiff_t>(i),
                                         state.samples.begin() + static_cast<std::ptrdiff_t>(end));
    bytes += static_cast<int64_t>(block.capacity() * sizeof(Sample));
  }
  shard.IndexSeries(meta.project, ns, local);
  series_count_.fetch_add(1, std::memory_order_relaxed);
  sample_count_.fetch_add(state.samples.size(), std::memory_order_relaxed);
  memory_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  return {};
}

std::vector<SeriesId> SeriesStore::Select(std::string_view project,
                                          std::span<const EqualMatcher> matchers) const {
  std::vector<SeriesId> out;
  for (const auto& shard : shards_) {
    std::shared_lock lock(shard->mu);
    auto pit = shard->index.find(std::string(project));
    if (pit == shard->index.end()) continue;
    std::vector<uint32_t> result;
    bool first = true;
    for (const EqualMatcher& m : matchers) {
      std::vector<uint32_t> postings;
      auto nit = pit->second.find(m.name);
      if (nit != pit->second.end()) {
        auto vit = nit->second.find(m.value);
        if (vit != nit->second.end()) postings = vit->second;
      }
      if (first) {
        result = std::move(postings);
        first = false;
      } else {
        std::vector<uint32_t> merged;
        std::set_intersection(result.begin(), result.end(), postings.begin(), postings.end(),
                              std::back_inserter(merged));
        result = std::move(merged);
      }
      if (result.empty()) break;
    }
    if (first) {  // no matchers: every series of the project
      for (uint32_t i = 0; i < shard->series.size(); ++i) {
        if (*shard->series[i].project == project) result.push_back(i);
      }
    }
    for (uint32_t local : result) out.push_back((SeriesId{local} << kShardBits) | shard->shard_no);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<Sample> SeriesStore::ReadSamples(SeriesId id, int64_t from_ms, int64_t to_ms) const {
  std::vector<Sample> out;
  const Shard& shard = *shards_[id & (kNumShards - 1)];
  const uint64_t local = id >> kShardBits;
  std::shared_lock lock(shard.mu);
  if (local >= shard.series.size()) return out;
  for (const auto& block : shard.series[local].blocks) {
    if (block.empty() || block.back().ts_ms < from_ms) continue;
    if (block.front().ts_ms > to_ms) break;
    for (const Sample& s : block) {
      if (s.ts_ms >= from_ms && s.ts_ms <= to_ms) out.push_back(s);
    }
  }
  return out;
}

std::vector<MetricInfo> SeriesStore::ListMetrics(std::string_view project) const {
  std::vector<MetricInfo> out;
  const std::string project_key(project);
  std::string key;
  for (const auto& shard : shards_) {
    std::shared_lock lock(shard->mu);
    auto pit = shard->index.find(project_key);
    if (pit == shard->index.end()) continue;
    auto nit = pit->second.find("__name__");
    if (nit == pit->second.end()) continue;
    for (const auto& [name, postings] : nit->second) {
      key.assign(project).push_back('\x1f');
      key.append(name);
      auto mit = shard->metrics.find(key);
      if (mit == shard->metrics.end() || mit->second.series.empty()) continue;
      out.push_back(MetricInfo{name, mit->second.type});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const MetricInfo& a, const MetricInfo& b) { return a.name < b.name; });
  return out;
}

std::vector<SeriesRead> SeriesStore::ReadMetric(
    std::string_view project, std::string_view name, int64_t from_ms, int64_t to_ms,
    const std::function<bool(const core::Labels&)>& keep) const {
  return ReadMetric(project, name, from_ms, to_ms, {}, keep);
}

std::vector<SeriesRead> SeriesStore::ReadMetric(
    std::string_view project, std::string_view name, int64_t from_ms, int64_t to_ms,
    std::span<const IndexedMatcher> indexed,
    const std::function<bool(const core::Labels&)>& keep, bool first_sample_only) const {
  std::vector<SeriesRead> out;
  const Shard& shard = ShardFor(project, name);
  std::string key(project);
  key.push_back('\x1f');
  key.append(name);
  std::shared_lock lock(shard.mu);
  auto mit = shard.metrics.find(key);
  if (mit == shard.metrics.end()) return out;
  // Candidates: the metric's series (ascending local indexes), intersected
  // with the union of postings of each indexed matcher's accepted values.
  std::vector<uint32_t> narrowed;
  const std::vector<uint32_t>* candidates = &mit->second.series;
  if (!indexed.empty()) {
    auto pit = shard.index.find(mit->second.project);
    if (pit == shard.index.end()) return out;
    narrowed = mit->second.series;
    for (const IndexedMatcher& m : indexed) {
      auto nit = pit->second.find(m.name);
      if (nit == pit->second.end()) return out;
      std::vector<uint32_t> accepted;
      auto add = [&](const std::vector<uint32_t>& postings) {
        std::vector<uint32_t> merged;
        merged.reserve(accepted.size() + postings.size());
        std::set_union(accepted.begin(), accepted.end(), postings.begin(), postings.end(),
                       std::back_inserter(merged));
        accepted = std::move(merged);
      };
      if (m.equals) {
        auto vit = nit->second.find(*m.equals);
        if (vit != nit->second.end()) accepted = vit->second;
      } else {
        for (const auto& [value, postings] : nit->second) {
          if (!m.matches || m.matches(value)) add(postings);
        }
      }
      std::vector<uint32_t> both;
      std::set_intersection(narrowed.begin(), narrowed.end(), accepted.begin(), accepted.end(),
                            std::back_inserter(both));
      narrowed = std::move(both);
      if (narrowed.empty()) return out;
    }
    candidates = &narrowed;
  }
  for (uint32_t local : *candidates) {
    const Series& s = shard.series[local];
    if (s.updated_at_ms == 0) continue;  // reserved, never committed
    if (keep && !keep(s.labels)) continue;
    SeriesRead& r = out.emplace_back();
    r.labels = s.labels;
    r.counter_total = s.counter_total;
    r.observations = s.observations;
    r.observation_sum = s.observation_sum;
    r.bucket_counts = s.bucket_counts;
    r.bounds = s.bounds;
    // Blocks are time-ordered: skip to the first that reaches from_ms.
    auto first = std::partition_point(
        s.blocks.begin(), s.blocks.end(),
        [from_ms](const std::vector<Sample>& b) { return !b.empty() && b.back().ts_ms < from_ms; });
    for (auto bit = first; bit != s.blocks.end(); ++bit) {
      const auto& block = *bit;
      if (block.empty()) continue;
      if (block.front().ts_ms > to_ms) break;
      auto lo = block.begin();
      if (block.front().ts_ms < from_ms) {
        lo = std::lower_bound(block.begin(), block.end(), from_ms,
                              [](const Sample& x, int64_t ts) { return x.ts_ms < ts; });
      }
      auto hi = block.end();
      if (block.back().ts_ms > to_ms) {
        hi = std::upper_bound(lo, block.end(), to_ms,
                              [](int64_t ts, const Sample& x) { return ts < x.ts_ms; });
      }
      if (first_sample_only) {
        if (lo != hi) {
          r.samples.push_back(*lo);
          break;
        }
        continue;
      }
      r.samples.insert(r.samples.end(), lo, hi);
    }
  }
  return out;
}

uint64_t SeriesStore::DropBefore(int64_t cutoff_ms) {
  uint64_t dropped = 0;
  int64_t freed = 0;
  for (const auto& shard : shards_) {
    std::unique_lock lock(shard->mu);
    for (Series& s : shard->series) {
      while (!s.blocks.empty() && !s.blocks.front().empty() &&
             s.blocks.front().back().ts_ms < cutoff_ms) {
        dropped += s.blocks.front().size();
        freed += static_cast<int64_t>(s.blocks.front().capacity() * sizeof(Sample));
        s.blocks.pop_front();
      }
    }
  }
  memory_bytes_.fetch_sub(freed, std::memory_order_relaxed);
  sample_count_.fetch_sub(dropped, std::memory_order_relaxed);
  return dropped;
}

StoreStats SeriesStore::Stats() const {
  return StoreStats{series_count_.load(), sample_count_.load(), metric_count_.load(),
                    memory_bytes_.load()};
}

}  // namespace store
