// The `anomalies:` section of the config: defaults, every key, and bad values
// reported with their key path and line.
#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"

namespace config {
namespace {

TEST(AnomaliesConfigTest, DefaultsWithoutTheSection) {
  LoadResult r = LoadConfigText("server: {}\n", "t.yaml");
  ASSERT_TRUE(r.ok());
  const AnomaliesConfig& a = r.config.anomalies;
  EXPECT_TRUE(a.enabled);
  EXPECT_EQ(a.interval_ms, 300'000);
  EXPECT_TRUE(a.hourly);
  EXPECT_DOUBLE_EQ(a.cost_min_ratio, 2.0);
  EXPECT_DOUBLE_EQ(a.severity_critical, 10.0);
}

// config/tally.yaml spells out the defaults of the section exactly.
TEST(AnomaliesConfigTest, ShippedFileHasTheDefaults) {
  LoadResult r = LoadConfigFile(std::string(TALLY_SOURCE_DIR) + "/config/tally.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].ToString();
  const AnomaliesConfig& got = r.config.anomalies;
  const AnomaliesConfig want;
  EXPECT_EQ(got.enabled, want.enabled);
  EXPECT_EQ(got.interval_ms, want.interval_ms);
  EXPECT_EQ(got.hourly, want.hourly);
  EXPECT_EQ(got.cost_min_ratio, want.cost_min_ratio);
  EXPECT_EQ(got.usage_min_ratio, want.usage_min_ratio);
  EXPECT_EQ(got.error_rate_min_ratio, want.error_rate_min_ratio);
  EXPECT_EQ(got.latency_min_ratio, want.latency_min_ratio);
  EXPECT_EQ(got.min_expected_cost_usd, want.min_expected_cost_usd);
  EXPECT_EQ(got.min_expected_requests, want.min_expected_requests);
  EXPECT_EQ(got.min_bucket_requests, want.min_bucket_requests);
  EXPECT_EQ(got.min_error_rate, want.min_error_rate);
  EXPECT_EQ(got.severity_medium, want.severity_medium);
  EXPECT_EQ(got.severity_high, want.severity_high);
  EXPECT_EQ(got.severity_critical, want.severity_critical);
}

TEST(AnomaliesConfigTest, EveryKey) {
  LoadResult r = LoadConfigText(R"(anomalies:
  enabled: false
  interval: 30s
  hourly: false
  min_ratio: {cost_spike: 1.5, usage_spike: 3, error_rate_spike: 2.5, latency_spike: 4}
  min_expected_cost_usd: 0.5
  min_expected_requests: 0
  min_bucket_requests: 7
  min_error_rate: 0.1
  severity: {medium: 2, high: 4, critical: 8}
)",
                                "t.yaml");
  ASSERT_TRUE(r.ok()) << r.errors[0].ToString();
  const AnomaliesConfig& a = r.config.anomalies;
  EXPECT_FALSE(a.enabled);
  EXPECT_EQ(a.interval_ms, 30'000);
  EXPECT_FALSE(a.hourly);
  EXPECT_DOUBLE_EQ(a.cost_min_ratio, 1.5);
  EXPECT_DOUBLE_EQ(a.usage_min_ratio, 3);
  EXPECT_DOUBLE_EQ(a.error_rate_min_ratio, 2.5);
  EXPECT_DOUBLE_EQ(a.latency_min_ratio, 4);
  EXPECT_DOUBLE_EQ(a.min_expected_cost_usd, 0.5);
  EXPECT_DOUBLE_EQ(a.min_expected_requests, 0);
  EXPECT_EQ(a.min_bucket_requests, 7);
  EXPECT_DOUBLE_EQ(a.min_error_rate, 0.1);
  EXPECT_DOUBLE_EQ(a.severity_medium, 2);
  EXPECT_DOUBLE_EQ(a.severity_high, 4);
  EXPECT_DOUBLE_EQ(a.severity_critical, 8);
}

TEST(AnomaliesConfigTest, BadValues) {
  struct Case {
    const char* yaml;
    const char* key_path;
    const char* message_part;
  } cases[] = {
      {"anomalies:\n  enabled: maybe\n", "anomalies.enabled", "true or false"},
      {"anomalies:\n  interval: 100ms\n", "anomalies.interval", "at least 1000ms"},
      {"anomalies:\n  interval: 5\n", "anomalies.interval", "5s"},
      {"anomalies:\n  min_ratio: {cost_spike: 1}\n", "anomalies.min_ratio.cost_spike",
       "greater than 1"},
      {"anomalies:\n  min_ratio: {bogus_spike: 3}\n", "anomalies.min_ratio.bogus_spike", ""},
      {"anomalies:\n  min_expected_cost_usd: -1\n", "anomalies.min_expected_cost_usd",
       "at least 0"},
      {"anomalies:\n  min_error_rate: .nan\n", "anomalies.min_error_rate", "finite"},
      {"anomalies:\n  min_bucket_requests: 0\n", "anomalies.min_bucket_requests", "positive"},
      {"anomalies:\n  severity: {medium: 6, high: 5}\n", "anomalies.severity", "medium <= high"},
      {"anomalies:\n  nope: 1\n", "anomalies.nope", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.yaml);
    LoadResult r = LoadConfigText(c.yaml, "t.yaml");
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_EQ(r.errors[0].key_path, c.key_path) << r.errors[0].ToString();
    EXPECT_NE(r.errors[0].message.find(c.message_part), std::string::npos)
        << r.errors[0].ToString();
    EXPECT_GT(r.errors[0].line, 0);
  }
}

}  // namespace
}  // namespace config
