#include "core/time_parse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace core {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kSec = 1000;
constexpr int64_t kMin = 60 * kSec;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kDay = 24 * kHour;
// 2025-01-15T10:30:00Z.
constexpr int64_t kJan15 = 1'736'937'000'000;

TEST(ParseDurationMsTest, GoodDurations) {
  struct Case {
    std::string text;
    int64_t ms;
  };
  const Case cases[] = {
      {"0", 0},
      {"0s", 0},
      {"250ms", 250},
      {"1ms", 1},
      {"30s", 30 * kSec},
      {"5m", 5 * kMin},
      {"1h", kHour},
      {"1d", kDay},
      {"1w", 7 * kDay},
      {"1y", 365 * kDay},
      {"1h30m", kHour + 30 * kMin},
      {"1m30s", kMin + 30 * kSec},
      {"2h5m10s250ms", 2 * kHour + 5 * kMin + 10 * kSec + 250},
      {"1d12h", kDay + 12 * kHour},
      {"90m", 90 * kMin},
      {"007s", 7 * kSec},
      {"36500d", 36500 * kDay},  // exactly the 100-year cap
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    auto got = ParseDurationMs(c.text);
    ASSERT_TRUE(got.has_value()) << got.error().message;
    EXPECT_EQ(*got, c.ms);
  }
}

TEST(ParseDurationMsTest, BadDurations) {
  const std::string cases[] = {
      "",       "s",          "ms",    "5",      "1h30",   "abc",    "-5m",
      "+5m",    "1.5h",       "1h 30m", " 1h",   "1h ",    "5x",     "5M",
      "5H",     "1hh",        "1h-30m", "0x10s", "101y",   "36501d", "99999999999999999999s",
      "1e3s",   "5 m",        "h1",
      // Products that would overflow int64 before the 100-year check.
      "999999999999y", "999999999999w", "1y999999999999y",
  };
  for (const std::string& text : cases) {
    SCOPED_TRACE("'" + text + "'");
    auto got = ParseDurationMs(text);
    ASSERT_FALSE(got.has_value()) << "parsed as " << *got;
    EXPECT_EQ(got.error().code, ErrorCode::kInvalidRequest);
    EXPECT_FALSE(got.error().message.empty());
    EXPECT_TRUE(got.error().param.empty());
  }
}

TEST(ParseDurationMsTest, ErrorQuotesTheText) {
  auto got = ParseDurationMs("5parsecs");
  ASSERT_FALSE(got.has_value());
  EXPECT_THAT(got.error().message, HasSubstr("5parsecs"));
}

TEST(ParseIso8601MsTest, GoodTimestamps) {
  struct Case {
    std::string text;
    int64_t ms;
  };
  const Case cases[] = {
      {"1970-01-01T00:00:00Z", 0},
      {"1970-01-01", 0},
      {"2025-01-15T10:30:00Z", kJan15},
      {"2025-01-15t10:30:00z", kJan15},
      {"2025-01-15 10:30:00Z", kJan15},
      {"2025-01-15T10:30:00", kJan15},  // no offset: UTC
      {"2025-01-15", kJan15 - 10 * kHour - 30 * kMin},
      // Offsets.
      {"2025-01-15T12:30:00+02:00", kJan15},
      {"2025-01-15T12:30:00+0200", kJan15},
      {"2025-01-15T05:30:00-05:00", kJan15},
      {"2025-01-15T16:00:00+05:30", kJan15},
      {"2025-01-15T10:30:00+00:00", kJan15},
      {"2025-01-15T10:30:00-00:00", kJan15},
      {"2025-01-16T00:29:00+13:59", kJan15},
      {"2025-01-14T23:30:00-11:00", kJan15},
      // Fractions: milliseconds kept, finer digits truncated.
      {"2025-01-15T10:30:00.5Z", kJan15 + 500},
      {"2025-01-15T10:30:00.1Z", kJan15 + 100},
      {"2025-01-15T10:30:00.12Z", kJan15 + 120},
      {"2025-01-15T10:30:00.123Z", kJan15 + 123},
      {"2025-01-15T10:30:00.007Z", kJan15 + 7},
      {"2025-01-15T10:30:00.123456789Z", kJan15 + 123},
      {"2025-01-15T10:30:00.999999Z", kJan15 + 999},
      {"2025-01-15T12:30:00.250+02:00", kJan15 + 250},
      // Calendar edges.
      {"2024-02-29T23:59:59Z", 1'709'251'199'000},
      {"2000-02-29", 951'782'400'000},
      {"2000-03-01T00:00:00Z", 951'868'800'000},
      {"1969-12-31T23:59:59Z", -1000},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    auto got = ParseIso8601Ms(c.text);
    ASSERT_TRUE(got.has_value()) << got.error().message;
    EXPECT_EQ(*got, c.ms);
  }
}

TEST(ParseIso8601MsTest, BadTimestamps) {
  const std::string cases[] = {
      "",
      "garbage",
      "2025",
      "2025-01",
      "25-01-15",
      "2025/01/15",
      "2025-1-15",
      "2025-01-5",
      // Dates that do not exist.
      "2025-02-30",
      "2025-02-29",
      "1900-02-29",
      "2025-04-31",
      "2025-13-01",
      "2025-00-10",
      "2025-01-00",
      "2025-01-32",
      // Times out of range or incomplete.
      "2025-01-15T24:00:00Z",
      "2025-01-15T10:60:00Z",
      "2025-01-15T10:30:61Z",
      "2025-01-15T10:30Z",
      "2025-01-15T10Z",
      "2025-01-15T",
      "2025-01-15T1:30:00Z",
      // Fractions and zones.
      "2025-01-15T10:30:00.Z",
      "2025-01-15T10:30:00,5Z",
      "2025-01-15T10:30:00+25:00",
      "2025-01-15T10:30:00+02:60",
      "2025-01-15T10:30:00+02",
      "2025-01-15T10:30:00+2:00",
      "2025-01-15T10:30:00ZZ",
      "2025-01-15T10:30:00 Z",
      "2025-01-15T10:30:00UTC",
      "2025-01-15T10:30:00Z ",
      " 2025-01-15T10:30:00Z",
      "2025-01-15X10:30:00Z",
      "2025-01-15T10:30:00Zjunk",
      "1736937000",
  };
  for (const std::string& text : cases) {
    SCOPED_TRACE("'" + text + "'");
    auto got = ParseIso8601Ms(text);
    ASSERT_FALSE(got.has_value()) << "parsed as " << *got;
    EXPECT_EQ(got.error().code, ErrorCode::kInvalidRequest);
  }
}

TEST(ParseIso8601MsTest, ErrorQuotesTheTextAndTheExpectedForm) {
  auto got = ParseIso8601Ms("2025-02-30T00:00:00Z");
  ASSERT_FALSE(got.has_value());
  EXPECT_THAT(got.error().message, HasSubstr("2025-02-30T00:00:00Z"));
  EXPECT_THAT(got.error().message, HasSubstr("ISO 8601"));
}

TEST(UnixNumberToMsTest, SecondsBelowThresholdMillisecondsAbove) {
  struct Case {
    double value;
    int64_t ms;
  };
  const Case cases[] = {
      {0, 0},
      {1, 1000},
      {1'736'937'000, kJan15},
      {1'736'937'000.5, kJan15 + 500},
      {1'736'937'000.123, kJan15 + 123},
      {1'736'937'000'000, kJan15},
      {1'736'937'000'123, kJan15 + 123},
      // 1e11 itself is still seconds (year 5138); just above is milliseconds (1973).
      {1e11, 100'000'000'000'000},
      {1e11 + 1, 100'000'000'001},
      {1e14, 100'000'000'000'000},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.value));
    auto got = UnixNumberToMs(c.value);
    ASSERT_TRUE(got.has_value()) << got.error().message;
    EXPECT_EQ(*got, c.ms);
  }
}

TEST(UnixNumberToMsTest, RejectsNonFiniteNegativeAndHuge) {
  const double cases[] = {
      -1,
      -0.5,
      std::numeric_limits<double>::quiet_NaN(),
      std::numeric_limits<double>::infinity(),
      -std::numeric_limits<double>::infinity(),
      1e14 + 1,
      1e15,
      1e300,
  };
  for (double v : cases) {
    SCOPED_TRACE(std::to_string(v));
    auto got = UnixNumberToMs(v);
    ASSERT_FALSE(got.has_value()) << "converted to " << *got;
    EXPECT_EQ(got.error().code, ErrorCode::kInvalidRequest);
  }
}

TEST(FormatIso8601Test, FormatsUtcWithOptionalMilliseconds) {
  EXPECT_EQ(FormatIso8601(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatIso8601(kJan15), "2025-01-15T10:30:00Z");
  EXPECT_EQ(FormatIso8601(kJan15 + 123), "2025-01-15T10:30:00.123Z");
  EXPECT_EQ(FormatIso8601(kJan15 + 7), "2025-01-15T10:30:00.007Z");
  EXPECT_EQ(FormatIso8601(1'709'251'199'999), "2024-02-29T23:59:59.999Z");
  EXPECT_EQ(FormatIso8601(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatIso8601(-1000), "1969-12-31T23:59:59Z");
  EXPECT_EQ(FormatIso8601(-86'400'000), "1969-12-31T00:00:00Z");
  EXPECT_EQ(FormatIso8601(253'402'300'799'000), "9999-12-31T23:59:59Z");
}

TEST(FormatIso8601Test, RoundTripsThroughParse) {
  const int64_t values[] = {0,
                            1,
                            999,
                            1000,
                            kJan15,
                            kJan15 + 1,
                            kJan15 + 999,
                            951'782'400'000,
                            1'709'251'199'999,
                            4'102'444'800'000,
                            -1,
                            -999,
                            -1000,
                            -1001,
                            -86'400'001,
                            -2'208'988'800'000};  // 1900-01-01
  for (int64_t v : values) {
    SCOPED_TRACE(v);
    const std::string text = FormatIso8601(v);
    auto back = ParseIso8601Ms(text);
    ASSERT_TRUE(back.has_value()) << text << ": " << back.error().message;
    EXPECT_EQ(*back, v) << text;
  }
  // Every millisecond of one second and every hour of a leap year's day count.
  for (int64_t v = kJan15 - 1000; v <= kJan15 + 1000; ++v) {
    auto back = ParseIso8601Ms(FormatIso8601(v));
    ASSERT_TRUE(back.has_value());
    ASSERT_EQ(*back, v);
  }
  for (int64_t v = 1'704'067'200'000; v < 1'735'689'600'000; v += kHour + 1) {
    auto back = ParseIso8601Ms(FormatIso8601(v));
    ASSERT_TRUE(back.has_value()) << FormatIso8601(v);
    ASSERT_EQ(*back, v) << FormatIso8601(v);
  }
}

}  // namespace
}  // namespace core
