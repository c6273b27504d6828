#include "store/types.h"

#include <gtest/gtest.h>

namespace store {
namespace {

TEST(MetricTypeTest, NamesRoundTrip) {
  for (MetricType t : {MetricType::kCounter, MetricType::kGauge, MetricType::kTiming,
                       MetricType::kDistribution}) {
    SCOPED_TRACE(std::string(MetricTypeName(t)));
    EXPECT_EQ(ParseMetricType(MetricTypeName(t)), t);
  }
  EXPECT_EQ(MetricTypeName(MetricType::kCounter), "counter");
  EXPECT_EQ(MetricTypeName(MetricType::kGauge), "gauge");
  EXPECT_EQ(MetricTypeName(MetricType::kTiming), "timing");
  EXPECT_EQ(MetricTypeName(MetricType::kDistribution), "distribution");
}

TEST(MetricTypeTest, UnknownNamesAreRejected) {
  for (std::string_view name : {"", "Counter", "histogram", "summary", "gauge ", "c"}) {
    SCOPED_TRACE(std::string(name));
    EXPECT_EQ(ParseMetricType(name), std::nullopt);
  }
}

}  // namespace
}  // namespace store
