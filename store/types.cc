#include "store/types.h"

#include <bit>

namespace store {

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kTiming: return "timing";
    case MetricType::kDistribution: return "distribution";
    case MetricType::kScraped: return "scraped";
    case MetricType::kRecorded: return "recorded";
  }
  return "gauge";
}

bool IsStaleMarker(double value) { return std::bit_cast<uint64_t>(value) == kStaleNaNBits; }

double StaleMarker() { return std::bit_cast<double>(kStaleNaNBits); }

std::optional<MetricType> ParseMetricType(std::string_view name) {
  if (name == "counter") return MetricType::kCounter;
  if (name == "gauge") return MetricType::kGauge;
  if (name == "timing") return MetricType::kTiming;
  if (name == "distribution") return MetricType::kDistribution;
  return std::nullopt;
}

}  // namespace store
