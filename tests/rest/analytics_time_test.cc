#include "rest/analytics_time.h"

#include <gtest/gtest.h>

#include <string>

#include "core/time_parse.h"

namespace rest {
namespace {

constexpr int64_t kHourMs = 3'600'000;

int64_t Iso(const char* text) { return *core::ParseIso8601Ms(text); }

TEST(AnalyticsTimeTest, PlainDatesCoverWholeDays) {
  const int64_t now = Iso("2025-06-01T12:00:00Z");
  EXPECT_EQ(*ParseRangeStart("2025-01-15", now, "start_date"), Iso("2025-01-15T00:00:00Z"));
  EXPECT_EQ(*ParseRangeEnd("2025-01-15", now, "end_date"), Iso("2025-01-16T00:00:00Z"));
  // Instants are taken as they are, at either end.
  EXPECT_EQ(*ParseRangeEnd("2025-01-15T10:30:00Z", now, "end_date"), Iso("2025-01-15T10:30:00Z"));
  EXPECT_EQ(*ParseRangeStart("2025-01-15T10:30:00+02:00", now, "s"), Iso("2025-01-15T08:30:00Z"));
  EXPECT_EQ(*ParseRangeStart("1736899200", now, "s"), Iso("2025-01-15T00:00:00Z"));
  EXPECT_EQ(*ParseRangeStart("1736899200000", now, "s"), Iso("2025-01-15T00:00:00Z"));
  EXPECT_EQ(*ParseRangeStart("now", now, "s"), now);
  EXPECT_EQ(*ParseRangeStart("-7d", now, "s"), now - 7 * kMsPerDay);
  EXPECT_EQ(*ParseRangeStart("-1h30m", now, "s"), now - 90 * 60'000);
}

TEST(AnalyticsTimeTest, BadTimesNameTheParam) {
  const char* bad[] = {"",           "yesterday", "2025-13-01", "2025-02-30", "2025-01-15T25:00:00Z",
                       "0x10",       "nan",       "inf",        "-5",         "-1q",
                       "2025/01/15", "1e400",     "12abc"};
  for (const char* text : bad) {
    SCOPED_TRACE(text);
    auto r = ParseRangeStart(text, 0, "start_date");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().param, "start_date");
    EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidRequest);
  }
}

TEST(AnalyticsTimeTest, IntervalsFloorAndStep) {
  // 2025-01-15 is a Wednesday; its week starts Monday 2025-01-13.
  const int64_t t = Iso("2025-01-15T10:30:00Z");
  EXPECT_EQ(FloorToInterval(t, Interval::kHour), Iso("2025-01-15T10:00:00Z"));
  EXPECT_EQ(FloorToInterval(t, Interval::kDay), Iso("2025-01-15T00:00:00Z"));
  EXPECT_EQ(FloorToInterval(t, Interval::kWeek), Iso("2025-01-13T00:00:00Z"));
  EXPECT_EQ(FloorToInterval(t, Interval::kMonth), Iso("2025-01-01T00:00:00Z"));
  // A Monday is its own week start; a Sunday belongs to the week before.
  EXPECT_EQ(FloorToInterval(Iso("2025-01-13T00:00:00Z"), Interval::kWeek), Iso("2025-01-13T00:00:00Z"));
  EXPECT_EQ(FloorToInterval(Iso("2025-01-12T23:59:59Z"), Interval::kWeek), Iso("2025-01-06T00:00:00Z"));
  // Before 1970 too.
  EXPECT_EQ(FloorToInterval(Iso("1969-12-31T23:00:00Z"), Interval::kWeek), Iso("1969-12-29T00:00:00Z"));
  EXPECT_EQ(NextInterval(Iso("2024-01-01T00:00:00Z"), Interval::kMonth), Iso("2024-02-01T00:00:00Z"));
  EXPECT_EQ(NextInterval(Iso("2024-12-01T00:00:00Z"), Interval::kMonth), Iso("2025-01-01T00:00:00Z"));
  EXPECT_EQ(NextInterval(Iso("2024-02-01T00:00:00Z"), Interval::kMonth) - Iso("2024-02-01T00:00:00Z"),
            29 * kMsPerDay);
  EXPECT_EQ(FormatDate(Iso("2024-02-29T23:59:59Z")), "2024-02-29");
}

TEST(AnalyticsTimeTest, ParseIntervalRejectsUnknown) {
  EXPECT_EQ(*ParseInterval("week", "interval"), Interval::kWeek);
  for (const char* bad : {"", "Day", "minute", "days", "1h"}) {
    auto r = ParseInterval(bad, "interval");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().param, "interval");
  }
}

TEST(AnalyticsTimeTest, TimeZonesAndDstDays) {
  EXPECT_TRUE(TimeZone::Find("UTC", "timezone")->is_utc());
  for (const char* bad : {"Mars/Olympus", "America/New York", "../etc/passwd", "EST5EDT/x"}) {
    auto r = TimeZone::Find(bad, "timezone");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().param, "timezone");
  }
  auto ny = TimeZone::Find("America/New_York", "timezone");
  ASSERT_TRUE(ny.has_value());
  // 2025-03-09 (spring forward) lasts 23 h, 2025-11-02 (fall back) 25 h.
  const int64_t mar9 = ny->LocalDayNumber(Iso("2025-03-09T12:00:00Z"));
  EXPECT_EQ(ny->DayStartMs(mar9), Iso("2025-03-09T05:00:00Z"));
  EXPECT_EQ(ny->DayStartMs(mar9 + 1) - ny->DayStartMs(mar9), 23 * kHourMs);
  const int64_t nov2 = ny->LocalDayNumber(Iso("2025-11-02T12:00:00Z"));
  EXPECT_EQ(ny->DayStartMs(nov2 + 1) - ny->DayStartMs(nov2), 25 * kHourMs);
  EXPECT_EQ(ny->OffsetMs(Iso("2025-07-01T00:00:00Z")), -4 * kHourMs);
  auto berlin = TimeZone::Find("Europe/Berlin", "timezone");
  ASSERT_TRUE(berlin.has_value());
  const int64_t mar30 = berlin->LocalDayNumber(Iso("2025-03-30T12:00:00Z"));
  EXPECT_EQ(berlin->DayStartMs(mar30), Iso("2025-03-29T23:00:00Z"));
  EXPECT_EQ(berlin->DayStartMs(mar30 + 1) - berlin->DayStartMs(mar30), 23 * kHourMs);
  // Local midnight 00:00 does not exist in America/Havana on 2025-03-09 (DST at 0:00):
  // the day starts at the jump (01:00 local = 05:00 UTC).
  auto havana = TimeZone::Find("America/Havana", "timezone");
  ASSERT_TRUE(havana.has_value());
  const int64_t hv = havana->LocalDayNumber(Iso("2025-03-09T12:00:00Z"));
  EXPECT_EQ(havana->DayStartMs(hv), Iso("2025-03-09T05:00:00Z"));
}

TEST(AnalyticsTimeTest, DefaultGranularityFollowsTheRange) {
  EXPECT_EQ(BucketGrid::DefaultGranularity(2 * kHourMs), 300);
  EXPECT_EQ(BucketGrid::DefaultGranularity(2 * kHourMs + 1), 3600);
  EXPECT_EQ(BucketGrid::DefaultGranularity(12 * kHourMs), 3600);
  EXPECT_EQ(BucketGrid::DefaultGranularity(3 * kMsPerDay), 21600);
  EXPECT_EQ(BucketGrid::DefaultGranularity(14 * kMsPerDay), 43200);
  EXPECT_EQ(BucketGrid::DefaultGranularity(14 * kMsPerDay + 1), 86400);
}

TEST(AnalyticsTimeTest, GridInUtcIsEpochAligned) {
  const int64_t start = Iso("2025-01-15T10:17:00Z");
  const int64_t end = Iso("2025-01-15T13:00:00Z");
  BucketGrid g = BucketGrid::Make(start, end, 3600, TimeZone());
  EXPECT_EQ(g.granularity_s(), 3600);
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(g.starts()[0], Iso("2025-01-15T10:00:00Z"));
  EXPECT_EQ(g.Index(start), 0);
  EXPECT_EQ(g.Index(Iso("2025-01-15T12:59:59Z")), 2);
  EXPECT_EQ(g.Index(end), -1);
  EXPECT_EQ(g.Index(start - 1), -1);
}

TEST(AnalyticsTimeTest, TenThousandBucketsFitTenThousandOneRaise) {
  const int64_t start = Iso("2025-01-01T00:00:00Z");
  BucketGrid fits = BucketGrid::Make(start, start + 10'000 * 60'000LL, 60, TimeZone());
  EXPECT_EQ(fits.granularity_s(), 60);
  EXPECT_EQ(fits.size(), 10'000u);
  BucketGrid raised = BucketGrid::Make(start, start + 10'001 * 60'000LL, 60, TimeZone());
  EXPECT_EQ(raised.granularity_s(), 61);  // ceil(600060 s / 10000)
  EXPECT_LE(raised.size(), 10'000u);
  // One year at 1 s: ceil(31536000 / 10000) = 3154 s, which does not divide a
  // day; buckets restart at midnight so the count would exceed 10000, and the
  // grid takes the next divisor of 86400 (3200 s).
  BucketGrid year = BucketGrid::Make(start, start + 365 * kMsPerDay, 1, TimeZone());
  EXPECT_LE(year.size(), 10'000u);
  EXPECT_EQ(year.granularity_s(), 3200);
  // Above a day: whole days.
  BucketGrid days = BucketGrid::Make(start, start + 100 * kMsPerDay, 100'000, TimeZone());
  EXPECT_EQ(days.granularity_s(), 2 * 86400);
  // 2-day buckets start on even day numbers; 2025-01-01 is day 20089, so the
  // first bucket starts 2024-12-31 and 51 buckets cover the 100 days.
  EXPECT_EQ(days.starts()[0], Iso("2024-12-31T00:00:00Z"));
  EXPECT_EQ(days.size(), 51u);
}

TEST(AnalyticsTimeTest, LocalGridFollowsDst) {
  auto ny = *TimeZone::Find("America/New_York", "timezone");
  // Local days 2025-03-08 .. 2025-03-10 at 1 h: 24 + 23 + 24 buckets.
  const int64_t start = Iso("2025-03-08T05:00:00Z");  // local midnight (EST)
  const int64_t end = Iso("2025-03-11T04:00:00Z");    // local midnight (EDT)
  BucketGrid g = BucketGrid::Make(start, end, 3600, ny);
  EXPECT_EQ(g.size(), 71u);
  // Default for 3 days (71 h) is 21600: 4 buckets per day, aligned to local
  // midnight; the 23 h day's last bucket is 5 h long.
  BucketGrid six = BucketGrid::Make(start, end, std::nullopt, ny);
  EXPECT_EQ(six.granularity_s(), 21600);
  ASSERT_EQ(six.size(), 12u);
  EXPECT_EQ(six.starts()[4], Iso("2025-03-09T05:00:00Z"));
  // Offsets count elapsed time from local midnight: 00:00 EST + 18 h = 19:00 EDT.
  EXPECT_EQ(six.starts()[7], Iso("2025-03-09T23:00:00Z"));
  EXPECT_EQ(six.starts()[8], Iso("2025-03-10T04:00:00Z"));  // midnight EDT
  EXPECT_EQ(six.Index(Iso("2025-03-10T03:59:59Z")), 7);
  EXPECT_EQ(six.Index(Iso("2025-03-10T04:00:00Z")), 8);
  // Daily buckets in Berlin around the October change (25 h day).
  auto berlin = *TimeZone::Find("Europe/Berlin", "timezone");
  BucketGrid daily = BucketGrid::Make(Iso("2025-10-25T00:00:00Z"), Iso("2025-10-28T00:00:00Z"),
                                      86400, berlin);
  ASSERT_EQ(daily.size(), 4u);  // the first starts the local day before (22:00 UTC on the 24th)
  EXPECT_EQ(daily.starts()[0], Iso("2025-10-24T22:00:00Z"));
  EXPECT_EQ(daily.starts()[1], Iso("2025-10-25T22:00:00Z"));  // the 25 h day
  EXPECT_EQ(daily.starts()[2], Iso("2025-10-26T23:00:00Z"));
  EXPECT_EQ(daily.starts()[3], Iso("2025-10-27T23:00:00Z"));
  EXPECT_EQ(daily.Index(Iso("2025-10-26T22:59:59Z")), 1);
}

TEST(AnalyticsTimeTest, UniformAndSlowIndexAgree) {
  auto ny = *TimeZone::Find("America/New_York", "timezone");
  const int64_t start = Iso("2025-10-30T00:00:00Z");
  const int64_t end = Iso("2025-11-05T00:00:00Z");
  for (int64_t g : {300, 3600, 7000, 21600, 86400}) {
    BucketGrid grid = BucketGrid::Make(start, end, g, ny);
    for (int64_t t = start; t < end; t += 599'999) {
      const int idx = grid.Index(t);
      ASSERT_GE(idx, 0);
      ASSERT_LE(grid.starts()[idx], t) << g;
      if (static_cast<size_t>(idx) + 1 < grid.size()) {
        ASSERT_GT(grid.starts()[idx + 1], t) << g;
      }
    }
  }
}

}  // namespace
}  // namespace rest
