#include "rest/metrics_query.h"

#include <sys/mman.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <new>
#include <queue>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "core/time_parse.h"
#include "exporter/point_decoder.h"

namespace rest {
namespace {

using core::ErrorCode;

constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 86'400'000;
constexpr size_t kMaxTagKeyLength = 100;
constexpr std::string_view kKnownParams[] = {"name",  "agg",   "tags",     "window",
                                             "since", "until", "group_by", "project_id"};

core::Unexpected<core::Error> Bad(std::string message, std::string param) {
  return core::Fail(ErrorCode::kInvalidRequest, std::move(message), std::move(param));
}

// Client text quoted for an error message (cut to 100 bytes).
std::string Quote(std::string_view text) {
  std::string out = "'";
  out.append(text.substr(0, 100));
  if (text.size() > 100) out.append("...");
  out.push_back('\'');
  return out;
}

std::string JsonString(std::string_view s) {
  return nlohmann::json(std::string(s))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

bool IsTagKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxTagKeyLength) return false;
  for (size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    const bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Splits on `sep`, keeping empty parts.
std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t at = text.find(sep, start);
    out.push_back(text.substr(start, at == std::string_view::npos ? std::string_view::npos
                                                                   : at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return out;
}

core::Status CheckTagKey(std::string_view key, const std::string& param) {
  if (IsTagKey(key)) return {};
  return Bad("tag key " + Quote(key) + " is not a valid tag key ([A-Za-z_][A-Za-z0-9_]*, at most " +
                 std::to_string(kMaxTagKeyLength) + " characters)",
             param);
}

// ---- evaluation -------------------------------------------------------------

// Allocates arrays of 2 MiB and more 2 MiB-aligned and asks for transparent
// huge pages (MADV_HUGEPAGE; a hint, ignored where THP is off). The values of a
// percentile over a large bucket (8 MB for 1M samples) then cost a few page
// faults instead of ~2,000: on the 2-core VM of bench/RESULTS.md that took a
// p99 over 1M samples without a window from ~85 ms to ~11 ms of CPU.
template <typename T>
struct HugePageAllocator {
  using value_type = T;
  static constexpr size_t kHugeBytes = 2 << 20;

  HugePageAllocator() = default;
  template <typename U>
  explicit HugePageAllocator(const HugePageAllocator<U>&) {}

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kHugeBytes) return static_cast<T*>(::operator new(bytes));
    const size_t rounded = (bytes + kHugeBytes - 1) / kHugeBytes * kHugeBytes;
    void* p = std::aligned_alloc(kHugeBytes, rounded);
    if (p == nullptr) throw std::bad_alloc();
    madvise(p, rounded, MADV_HUGEPAGE);
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) {
    if (n * sizeof(T) < kHugeBytes) {
      ::operator delete(p);
    } else {
      std::free(p);
    }
  }
  friend bool operator==(const HugePageAllocator&, const HugePageAllocator&) { return true; }
};

// The running state of one bucket of one group.
struct Accumulator {
  bool open = false;
  int64_t bucket = 0;
  uint64_t count = 0;
  double sum = 0;
  double compensation = 0;  // Neumaier: the low-order bits `sum` lost
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  std::vector<double, HugePageAllocator<double>> values;  // quantiles only

  void Reset() {
    open = false;
    count = 0;
    sum = compensation = 0;
    min = std::numeric_limits<double>::infinity();
    max = -std::numeric_limits<double>::infinity();
    values.clear();
  }

  void Add(const store::Sample* begin, const store::Sample* end, MetricsAgg::Kind kind) {
    count += static_cast<uint64_t>(end - begin);
    switch (kind) {
      case MetricsAgg::Kind::kCount:
        break;
      case MetricsAgg::Kind::kQuantile: {
        const size_t old = values.size();
        const size_t n = static_cast<size_t>(end - begin);
        if (values.capacity() < old + n) values.reserve(std::max(old + n, 2 * values.capacity()));
        values.resize(old + n);
        double* out = values.data() + old;
        for (const store::Sample* s = begin; s != end; ++s) *out++ = s->value;
        break;
      }
      case MetricsAgg::Kind::kSum:
      case MetricsAgg::Kind::kAvg:
        for (const store::Sample* s = begin; s != end; ++s) {
          const double x = s->value;
          const double t = sum + x;
          compensation += std::fabs(sum) >= std::fabs(x) ? (sum - t) + x : (x - t) + sum;
          sum = t;
        }
        break;
      case MetricsAgg::Kind::kMin:
        for (const store::Sample* s = begin; s != end; ++s) min = std::min(min, s->value);
        break;
      case MetricsAgg::Kind::kMax:
        for (const store::Sample* s = begin; s != end; ++s) max = std::max(max, s->value);
        break;
    }
  }

  double Value(const MetricsAgg& agg) {
    switch (agg.kind) {
      case MetricsAgg::Kind::kCount: return static_cast<double>(count);
      case MetricsAgg::Kind::kSum: return sum + compensation;
      case MetricsAgg::Kind::kAvg: return (sum + compensation) / static_cast<double>(count);
      case MetricsAgg::Kind::kMin: return min;
      case MetricsAgg::Kind::kMax: return max;
      case MetricsAgg::Kind::kQuantile: return ExactQuantile(values, agg.quantile);
    }
    return 0;
  }
};

struct Group {
  core::Labels tags;
  Accumulator acc;
  std::vector<MetricsPoint> points;
};

// Aggregates store reads, slice after slice in time order, into groups.
class Evaluator {
 public:
  explicit Evaluator(const MetricsQuery& query) : query_(query) {
    if (query_.group_by.empty()) groups_.emplace_back();
  }

  void AddSlice(const std::vector<store::SeriesRead>& reads) {
    for (auto& m : members_) m.clear();
    for (const store::SeriesRead& r : reads) {
      if (r.samples.empty()) continue;
      const size_t g = GroupOf(r.labels);
      if (members_.size() < groups_.size()) members_.resize(groups_.size());
      members_[g].push_back(&r.samples);
    }
    for (size_t g = 0; g < members_.size(); ++g) {
      if (!members_[g].empty()) AddGroupSlice(groups_[g], members_[g]);
    }
  }

  std::vector<MetricsSeries> Finish() {
    std::vector<MetricsSeries> out;
    out.reserve(groups_.size());
    for (Group& g : groups_) {
      Flush(g);
      out.push_back(MetricsSeries{std::move(g.tags), std::move(g.points)});
    }
    std::sort(out.begin(), out.end(), [](const MetricsSeries& a, const MetricsSeries& b) {
      return a.tags.items() < b.tags.items();
    });
    return out;
  }

 private:
  size_t GroupOf(const core::Labels& labels) {
    if (query_.group_by.empty()) return 0;
    key_.clear();
    for (const std::string& k : query_.group_by) {
      const std::string* v = labels.Get(k);
      if (v == nullptr) {
        key_.push_back('\0');
        continue;
      }
      key_.push_back('\1');
      key_.append(std::to_string(v->size())).push_back(':');
      key_.append(*v);
    }
    auto [it, inserted] = group_index_.try_emplace(key_, groups_.size());
    if (inserted) {
      std::vector<core::Label> tags;
      for (const std::string& k : query_.group_by) {
        if (const std::string* v = labels.Get(k)) tags.push_back({k, *v});
      }
      groups_.emplace_back().tags = core::Labels(std::move(tags));
    }
    return it->second;
  }

  void Flush(Group& g) {
    if (!g.acc.open) return;
    const int64_t ts = query_.window_ms ? g.acc.bucket * *query_.window_ms : query_.since_ms;
    g.points.push_back({ts, g.acc.Value(query_.agg)});
    g.acc.Reset();
  }

  // Adds `begin..end` (all in bucket `bucket`) to the group's open bucket.
  void AddRun(Group& g, int64_t bucket, const store::Sample* begin, const store::Sample* end) {
    if (g.acc.open && g.acc.bucket != bucket) Flush(g);
    g.acc.open = true;
    g.acc.bucket = bucket;
    g.acc.Add(begin, end, query_.agg.kind);
  }

  // One series' samples from `pos`: the bucket of samples[pos] and the end of
  // its run (samples are in time order).
  size_t RunEnd(const std::vector<store::Sample>& s, size_t pos, int64_t bucket) const {
    const int64_t end_ts = (bucket + 1) * *query_.window_ms;
    size_t end = pos + 1;
    while (end < s.size() && s[end].ts_ms < end_ts) ++end;
    return end;
  }

  void AddGroupSlice(Group& g, const std::vector<const std::vector<store::Sample>*>& series) {
    if (!query_.window_ms) {  // one bucket
      for (const auto* s : series) AddRun(g, 0, s->data(), s->data() + s->size());
      return;
    }
    const int64_t w = *query_.window_ms;
    if (series.size() == 1) {
      const std::vector<store::Sample>& s = *series[0];
      for (size_t pos = 0; pos < s.size();) {
        const int64_t bucket = FloorDiv(s[pos].ts_ms, w);
        const size_t end = RunEnd(s, pos, bucket);
        AddRun(g, bucket, s.data() + pos, s.data() + end);
        pos = end;
      }
      return;
    }
    // Several series: merge their runs in bucket order (a min-heap of cursors).
    using Entry = std::pair<int64_t, size_t>;  // (bucket, series index)
    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap;
    cursors_.assign(series.size(), 0);
    for (size_t i = 0; i < series.size(); ++i) heap.push({FloorDiv((*series[i])[0].ts_ms, w), i});
    while (!heap.empty()) {
      const auto [bucket, i] = heap.top();
      heap.pop();
      const std::vector<store::Sample>& s = *series[i];
      const size_t pos = cursors_[i];
      const size_t end = RunEnd(s, pos, bucket);
      AddRun(g, bucket, s.data() + pos, s.data() + end);
      cursors_[i] = end;
      if (end < s.size()) heap.push({FloorDiv(s[end].ts_ms, w), i});
    }
  }

  const MetricsQuery& query_;
  std::vector<Group> groups_;
  std::unordered_map<std::string, size_t> group_index_;
  std::vector<std::vector<const std::vector<store::Sample>*>> members_;  // per group, one slice
  std::vector<size_t> cursors_;
  std::string key_;
};

void AppendNumber(std::string& out, double v) {
  if (!std::isfinite(v)) {  // a sum past the double range
    out.append("null");
    return;
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void AppendTags(std::string& out, const std::vector<core::Label>& tags) {
  out.push_back('{');
  for (size_t i = 0; i < tags.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append(JsonString(tags[i].name)).push_back(':');
    out.append(JsonString(tags[i].value));
  }
  out.push_back('}');
}

void AppendPoints(std::string& out, const std::vector<MetricsPoint>& points) {
  out.push_back('[');
  for (size_t i = 0; i < points.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append(R"({"ts":")").append(core::FormatIso8601(points[i].ts_ms)).append(R"(","value":)");
    AppendNumber(out, points[i].value);
    out.push_back('}');
  }
  out.push_back(']');
}

}  // namespace

core::Result<MetricsAgg> ParseMetricsAgg(std::string_view text) {
  MetricsAgg agg;
  agg.text.assign(text);
  for (char& c : agg.text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string& t = agg.text;
  using Kind = MetricsAgg::Kind;
  if (t == "sum") agg.kind = Kind::kSum;
  else if (t == "avg") agg.kind = Kind::kAvg;
  else if (t == "count") agg.kind = Kind::kCount;
  else if (t == "min") agg.kind = Kind::kMin;
  else if (t == "max") agg.kind = Kind::kMax;
  else {
    auto bad = [&](std::string why) {
      return Bad("agg " + Quote(text) + " " + why +
                     "; use sum, avg, count, min, max, or a percentile pNN / pNN.N with "
                     "0 < NN < 100 (p50, p90, p95, p99, p99.9; p999 = p99.9)",
                 "agg");
    };
    if (t.size() < 2 || t[0] != 'p') return bad("is not an aggregation");
    std::string number = t.substr(1);
    if (AllDigits(number) && number.size() >= 3 &&
        number.find_first_not_of('9') == std::string::npos) {
      number.insert(2, ".");  // p999 -> 99.9, p9999 -> 99.99
    }
    const size_t dot = number.find('.');
    const bool well_formed =
        dot == std::string::npos
            ? AllDigits(number)
            : AllDigits(std::string_view(number).substr(0, dot)) &&
                  AllDigits(std::string_view(number).substr(dot + 1));
    if (!well_formed || number.size() > 20) return bad("is not a percentile");
    double percent = 0;
    std::from_chars(number.data(), number.data() + number.size(), percent);
    if (!(percent > 0 && percent < 100)) {
      return bad("is out of range: a percentile must be above 0 and below 100 (use min or max)");
    }
    agg.kind = Kind::kQuantile;
    agg.quantile = percent / 100;
  }
  return agg;
}

core::Result<int64_t> ParseQueryTime(std::string_view text, int64_t now_ms, bool end_of_day,
                                     const std::string& param) {
  auto bad = [&]() {
    return Bad(param + " " + Quote(text) +
                   " is not a time: use ISO 8601 (2025-01-15T10:30:00Z), a date (2025-01-15), "
                   "unix seconds or milliseconds, 'now', or a duration before now such as -1h "
                   "or now-1h",
               param);
  };
  if (text.empty()) return Bad(param + " must not be empty", param);
  if (text == "now") return now_ms;
  std::string_view relative;
  int sign = -1;
  if (text.starts_with("now-")) {
    relative = text.substr(4);
  } else if (text.starts_with("now+")) {
    relative = text.substr(4);
    sign = 1;
  } else if (text.size() > 1 && text[0] == '-') {
    relative = text.substr(1);
  }
  if (!relative.empty() || text.starts_with("now")) {
    auto d = core::ParseDurationMs(relative);
    if (!d) return Bad(param + " " + Quote(text) + ": " + d.error().message, param);
    return now_ms + sign * *d;
  }
  // The absolute forms (ISO 8601, a date, unix seconds or milliseconds) as every
  // time parameter of the API reads them.
  auto t = core::ParseTimeParamMs(text, now_ms);
  if (!t) return bad();
  return *t + (end_of_day && core::IsPlainDate(text) ? kDayMs : 0);
}

core::Result<MetricsQuery> ParseMetricsQuery(
    const std::vector<std::pair<std::string, std::string>>& params, int64_t now_ms,
    const MetricsQueryLimits& limits) {
  MetricsQuery q;
  std::vector<std::pair<std::string, std::string>> seen;  // known params, first value
  for (const auto& [key, value] : params) {
    if (key.starts_with("tags[") && key.ends_with("]") && key.size() > 6) {
      const std::string tag = key.substr(5, key.size() - 6);
      if (auto st = CheckTagKey(tag, key); !st) return core::Unexpected(st.error());
      q.tags.push_back({tag, value});
      continue;
    }
    if (std::find(std::begin(kKnownParams), std::end(kKnownParams), key) ==
        std::end(kKnownParams)) {
      return Bad("unknown parameter " + Quote(key) +
                     "; known: name, agg, tags (or tags[key]=value), window, since, until, "
                     "group_by, project_id",
                 key);
    }
    for (const auto& s : seen) {
      if (s.first == key) return Bad("parameter " + Quote(key) + " is given more than once", key);
    }
    seen.emplace_back(key, value);
  }
  auto get = [&](std::string_view key) -> const std::string* {
    for (const auto& s : seen) {
      if (s.first == key) return &s.second;
    }
    return nullptr;
  };

  const std::string* name = get("name");
  if (name == nullptr || name->empty()) return Bad("name is required", "name");
  if (auto st = exporter::ValidateMetricName(*name, config::LimitsConfig{}, "name"); !st) {
    return core::Unexpected(st.error());
  }
  q.name = *name;

  const std::string* agg = get("agg");
  if (agg == nullptr || agg->empty()) {
    return Bad("agg is required: sum, avg, count, min, max or a percentile such as p99", "agg");
  }
  auto parsed_agg = ParseMetricsAgg(*agg);
  if (!parsed_agg) return core::Unexpected(parsed_agg.error());
  q.agg = std::move(*parsed_agg);

  if (const std::string* tags = get("tags"); tags != nullptr && !tags->empty()) {
    for (std::string_view item : Split(*tags, ',')) {
      const size_t colon = item.find(':');
      if (colon == std::string_view::npos) {
        return Bad("tags item " + Quote(item) +
                       " is not key:value (tags=k:v,k2:v2; for values with commas use "
                       "tags[k]=v)",
                   "tags");
      }
      if (auto st = CheckTagKey(item.substr(0, colon), "tags"); !st) {
        return core::Unexpected(st.error());
      }
      q.tags.push_back({std::string(item.substr(0, colon)), std::string(item.substr(colon + 1))});
    }
  }
  std::sort(q.tags.begin(), q.tags.end());
  for (size_t i = 1; i < q.tags.size(); ++i) {
    if (q.tags[i].name == q.tags[i - 1].name) {
      return Bad("tag " + Quote(q.tags[i].name) + " is given more than once", "tags");
    }
  }

  const std::string* until = get("until");
  q.until_ms = now_ms;
  if (until != nullptr) {
    auto t = ParseQueryTime(*until, now_ms, /*end_of_day=*/true, "until");
    if (!t) return core::Unexpected(t.error());
    q.until_ms = *t;
  }
  q.since_ms = q.until_ms - kHourMs;
  if (const std::string* since = get("since")) {
    auto t = ParseQueryTime(*since, now_ms, /*end_of_day=*/false, "since");
    if (!t) return core::Unexpected(t.error());
    q.since_ms = *t;
  }
  if (q.since_ms >= q.until_ms) {
    return Bad("since (" + core::FormatIso8601(q.since_ms) + ") must be before until (" +
                   core::FormatIso8601(q.until_ms) + ")",
               "since");
  }

  if (const std::string* window = get("window")) {
    auto w = core::ParseDurationMs(*window);
    if (!w) return Bad("window " + Quote(*window) + ": " + w.error().message, "window");
    if (*w <= 0) return Bad("window must be a positive duration such as 1m or 1h", "window");
    const int64_t buckets = FloorDiv(q.until_ms - 1, *w) - FloorDiv(q.since_ms, *w) + 1;
    if (buckets > limits.max_buckets) {
      return Bad("window " + *window + " makes " + std::to_string(buckets) +
                     " buckets between since and until; the limit is " +
                     std::to_string(limits.max_buckets) +
                     ": use a wider window or a shorter range",
                 "window");
    }
    q.window_ms = *w;
    q.window_text = *window;
  }

  if (const std::string* group_by = get("group_by"); group_by != nullptr && !group_by->empty()) {
    for (std::string_view key : Split(*group_by, ',')) {
      if (auto st = CheckTagKey(key, "group_by"); !st) return core::Unexpected(st.error());
      if (std::find(q.group_by.begin(), q.group_by.end(), key) == q.group_by.end()) {
        q.group_by.emplace_back(key);
      }
    }
    if (q.group_by.size() > limits.max_group_by) {
      return Bad("group_by names " + std::to_string(q.group_by.size()) +
                     " tag keys; the limit is " + std::to_string(limits.max_group_by),
                 "group_by");
    }
  }

  if (const std::string* project = get("project_id")) {
    if (project->empty() || project->size() > 64) {
      return Bad("project_id must be 1 to 64 characters", "project_id");
    }
    q.project_id = *project;
  }
  return q;
}

std::string SampleLimitExceeded::Message() const {
  return "the query reads more than " + std::to_string(limit) +
         " raw samples (stopped after " + std::to_string(read) +
         "); narrow since/until or filter with tags";
}

double ExactQuantile(std::span<double> values, double q) {
  const size_t n = values.size();
  const double h = q * static_cast<double>(n - 1);
  size_t lo = static_cast<size_t>(std::floor(h));
  if (lo > n - 1) lo = n - 1;
  std::nth_element(values.begin(), values.begin() + lo, values.end());
  const double x0 = values[lo];
  const double frac = h - static_cast<double>(lo);
  if (lo + 1 >= n || frac == 0) return x0;
  // After nth_element everything past `lo` is >= x0: its minimum is x[lo + 1].
  const double x1 = *std::min_element(values.begin() + lo + 1, values.end());
  return x0 + frac * (x1 - x0);
}

core::Expected<MetricsQueryResult, SampleLimitExceeded> RunMetricsQuery(
    const store::SeriesStore& store, std::string_view project, const MetricsQuery& query,
    const MetricsQueryLimits& limits) {
  MetricsQueryResult result;
  result.metric = exporter::NormalizeMetricName(query.name);
  result.type = store.TypeOf(project, result.metric);
  if (!result.type && result.metric.ends_with("_total")) {
    const std::string base = result.metric.substr(0, result.metric.size() - 6);
    if (store.TypeOf(project, base) == store::MetricType::kCounter) {
      result.metric = base;
      result.type = store::MetricType::kCounter;
    }
  }
  Evaluator eval(query);
  if (!result.type) {
    result.series = eval.Finish();
    return result;
  }
  std::function<bool(const core::Labels&)> keep;
  if (!query.tags.empty()) {
    keep = [&query](const core::Labels& labels) {
      for (const core::Label& t : query.tags) {
        const std::string* v = labels.Get(t.name);
        if (v == nullptr || *v != t.value) return false;
      }
      return true;
    };
  }
  // Time slices: a small probe first, then sized from the density seen so far
  // (growing at most 16x a step), so one read holds about slice_samples.
  const int64_t range = query.until_ms - query.since_ms;
  int64_t span = std::max<int64_t>(1, range / 64);
  for (int64_t from = query.since_ms; from < query.until_ms;) {
    const int64_t to = span >= query.until_ms - from ? query.until_ms : from + span;
    const std::vector<store::SeriesRead> reads =
        store.ReadMetric(project, result.metric, from, to - 1, keep);
    uint64_t n = 0;
    for (const store::SeriesRead& r : reads) n += r.samples.size();
    result.samples += n;
    if (result.samples > limits.max_samples) {
      return core::Unexpected(SampleLimitExceeded{limits.max_samples, result.samples});
    }
    eval.AddSlice(reads);
    const double aim = static_cast<double>(std::max<uint64_t>(limits.slice_samples, 1));
    const double factor =
        n == 0 ? 16.0 : std::clamp(aim / static_cast<double>(n), 1.0 / 16, 16.0);
    span = static_cast<int64_t>(
        std::clamp(static_cast<double>(span) * factor, 1.0, static_cast<double>(range)));
    from = to;
  }
  result.series = eval.Finish();
  return result;
}

std::string MetricsQueryJson(const MetricsQuery& query, const MetricsQueryResult& result) {
  std::string out;
  size_t points = 0;
  for (const MetricsSeries& s : result.series) points += s.points.size();
  out.reserve(256 + points * 56);
  out.append(R"({"name":)").append(JsonString(result.metric));
  out.append(R"(,"agg":)").append(JsonString(query.agg.text));
  out.append(R"(,"window":)");
  out.append(query.window_ms ? JsonString(query.window_text) : "null");
  out.append(R"(,"since":)").append(JsonString(core::FormatIso8601(query.since_ms)));
  out.append(R"(,"until":)").append(JsonString(core::FormatIso8601(query.until_ms)));
  out.append(R"(,"tags":)");
  AppendTags(out, query.tags);
  out.append(R"(,"type":)");
  out.append(result.type ? JsonString(store::MetricTypeName(*result.type)) : "null");
  if (query.group_by.empty()) {
    out.append(R"(,"points":)");
    AppendPoints(out, result.series.empty() ? std::vector<MetricsPoint>{}
                                            : result.series.front().points);
  } else {
    out.append(R"(,"group_by":[)");
    for (size_t i = 0; i < query.group_by.size(); ++i) {
      if (i > 0) out.push_back(',');
      out.append(JsonString(query.group_by[i]));
    }
    out.append(R"(],"series":[)");
    for (size_t i = 0; i < result.series.size(); ++i) {
      if (i > 0) out.push_back(',');
      out.append(R"({"tags":)");
      AppendTags(out, result.series[i].tags.items());
      out.append(R"(,"points":)");
      AppendPoints(out, result.series[i].points);
      out.push_back('}');
    }
    out.push_back(']');
  }
  out.push_back('}');
  return out;
}

}  // namespace rest
