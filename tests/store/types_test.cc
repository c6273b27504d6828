#include "store/types.h"

#include <gtest/gtest.h>

#include <cmath>

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
  for (std::string_view name : {"", "Counter", "histogram", "summary", "gauge ", "c",
                                "scraped", "recorded"}) {
    SCOPED_TRACE(std::string(name));
    EXPECT_EQ(ParseMetricType(name), std::nullopt);
  }
}

TEST(MetricTypeTest, OnlyClientTypesAreReportable) {
  EXPECT_TRUE(IsReportable(MetricType::kTiming));
  EXPECT_FALSE(IsReportable(MetricType::kScraped));
  EXPECT_FALSE(IsReportable(MetricType::kRecorded));
  EXPECT_EQ(MetricTypeName(MetricType::kRecorded), "recorded");
}

TEST(StaleMarkerTest, IsOneNaNBitPattern) {
  EXPECT_TRUE(IsStaleMarker(StaleMarker()));
  EXPECT_TRUE(std::isnan(StaleMarker()));
  EXPECT_FALSE(IsStaleMarker(std::nan("")));
  EXPECT_FALSE(IsStaleMarker(0.0));
}

}  // namespace
}  // namespace store
