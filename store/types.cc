#include "store/types.h"

namespace store {

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kTiming: return "timing";
    case MetricType::kDistribution: return "distribution";
  }
  return "gauge";
}

std::optional<MetricType> ParseMetricType(std::string_view name) {
  if (name == "counter") return MetricType::kCounter;
  if (name == "gauge") return MetricType::kGauge;
  if (name == "timing") return MetricType::kTiming;
  if (name == "distribution") return MetricType::kDistribution;
  return std::nullopt;
}

}  // namespace store
