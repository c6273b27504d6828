// The vocabulary of stored metric data: types, samples, point views.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace store {

// How a reported value is interpreted (API.md section 2).
enum class MetricType : uint8_t {
  kCounter,       // value is an increment >= 0; exposed as a cumulative <name>_total
  kGauge,         // value is the current level; exposed as the latest value
  kTiming,        // a duration in ms, observed; exposed as a histogram
  kDistribution,  // any observed value; exposed as a histogram
  // Prometheus samples taken as they are (the aggregator's, not reported by
  // clients): the stored labels are the whole label set, several samples at
  // one timestamp keep the last, and staleness markers are stored like values.
  kScraped,   // scraped from an exporter; queryable, not re-exposed on /metrics
  kRecorded,  // written by a recording rule or alert state; also on /metrics
};
inline constexpr MetricType kLastMetricType = MetricType::kRecorded;

// The types clients may report (API.md section 2); the rest are the aggregator's.
inline bool IsReportable(MetricType type) {
  return type != MetricType::kScraped && type != MetricType::kRecorded;
}

std::string_view MetricTypeName(MetricType type);
// Parses the name of a reportable type only ("counter", "gauge", "timing",
// "distribution").
std::optional<MetricType> ParseMetricType(std::string_view name);

// Prometheus' staleness marker: a NaN with this bit pattern ends a series.
inline constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ULL;
bool IsStaleMarker(double value);
double StaleMarker();

struct Sample {
  int64_t ts_ms;
  double value;
  friend bool operator==(const Sample&, const Sample&) = default;
};

// A label as borrowed views; used on the ingest hot path to avoid allocations.
struct LabelView {
  std::string_view name;
  std::string_view value;
};

// One validated point to append. Views must stay valid for the Append call.
// REQUIRES: `labels` sorted by name with unique names.
struct PointView {
  std::string_view name;  // normalised metric name
  MetricType type;
  std::span<const LabelView> labels;
  int64_t ts_ms;
  double value;
};

// Series ids are unique per store for the life of the process.
using SeriesId = uint64_t;

}  // namespace store
