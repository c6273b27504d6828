#include "rest/analytics_time.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>

#include <date/tz.h>

#include "core/time_parse.h"

namespace rest {
namespace {

using core::ErrorCode;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

core::Result<int64_t> ParseBound(std::string_view text, int64_t now_ms, const std::string& param,
                                 bool is_end) {
  if (text.empty()) {
    return core::Fail(ErrorCode::kInvalidRequest, "'" + param + "' must not be empty", param);
  }
  auto ms = core::ParseTimeParamMs(text, now_ms);
  if (!ms) return core::Fail(ErrorCode::kInvalidRequest, param + ": " + ms.error().message, param);
  if (is_end && core::IsPlainDate(text)) return *ms + kMsPerDay;
  return *ms;
}

// Smallest divisor of 86400 above g (g < 86400), or the next whole number of days.
int64_t NextCalendarFriendly(int64_t g) {
  if (g < 86400) {
    for (int64_t d = g + 1; d < 86400; ++d) {
      if (86400 % d == 0) return d;
    }
    return 86400;
  }
  return (g / 86400 + 1) * 86400;
}

int64_t RoundUpToDays(int64_t g) { return g > 86400 ? (g + 86399) / 86400 * 86400 : g; }

// Bucket boundaries: the start of every bucket that intersects [start, end),
// then the end of the last one. Stops after cap + 1 buckets.
std::vector<int64_t> Boundaries(int64_t start_ms, int64_t end_ms, int64_t g, const TimeZone& tz,
                                size_t cap) {
  std::vector<int64_t> b;
  if (g % 86400 == 0) {
    const int64_t n = g / 86400;
    int64_t d = FloorDiv(tz.LocalDayNumber(start_ms), n) * n;
    int64_t cur = tz.DayStartMs(d);
    for (int64_t next = tz.DayStartMs(d + n); next <= start_ms; next = tz.DayStartMs(d + n)) {
      d += n;
      cur = next;
    }
    b.push_back(cur);
    while (cur < end_ms && b.size() <= cap + 1) {
      d += n;
      cur = tz.DayStartMs(d);
      b.push_back(cur);
    }
    return b;
  }
  const int64_t g_ms = g * 1000;
  int64_t d = tz.LocalDayNumber(start_ms);
  int64_t day_start = tz.DayStartMs(d);
  int64_t next_day = tz.DayStartMs(d + 1);
  int64_t cur = day_start + (start_ms - day_start) / g_ms * g_ms;
  b.push_back(cur);
  while (cur < end_ms && b.size() <= cap + 1) {
    cur += g_ms;
    if (cur >= next_day) {
      ++d;
      cur = next_day;
      next_day = tz.DayStartMs(d + 1);
    }
    b.push_back(cur);
  }
  return b;
}

}  // namespace

core::Result<int64_t> ParseRangeStart(std::string_view text, int64_t now_ms,
                                      const std::string& param) {
  return ParseBound(text, now_ms, param, false);
}

core::Result<int64_t> ParseRangeEnd(std::string_view text, int64_t now_ms,
                                    const std::string& param) {
  return ParseBound(text, now_ms, param, true);
}

core::Result<Interval> ParseInterval(std::string_view text, const std::string& param) {
  if (text == "hour") return Interval::kHour;
  if (text == "day") return Interval::kDay;
  if (text == "week") return Interval::kWeek;
  if (text == "month") return Interval::kMonth;
  return core::Fail(ErrorCode::kInvalidRequest,
                    "'" + param + "' must be one of hour, day, week, month (got '" +
                        std::string(text.substr(0, 64)) + "')",
                    param);
}

std::string_view IntervalName(Interval interval) {
  switch (interval) {
    case Interval::kHour: return "hour";
    case Interval::kDay: return "day";
    case Interval::kWeek: return "week";
    case Interval::kMonth: return "month";
  }
  return "day";
}

int64_t FloorToInterval(int64_t ms, Interval interval) {
  using namespace std::chrono;
  switch (interval) {
    case Interval::kHour: return FloorDiv(ms, 3'600'000) * 3'600'000;
    case Interval::kDay: return FloorDiv(ms, kMsPerDay) * kMsPerDay;
    case Interval::kWeek: {
      // 1970-01-01 was a Thursday: Monday-based weekday = (days + 3) mod 7.
      int64_t day = FloorDiv(ms, kMsPerDay);
      int64_t weekday = ((day + 3) % 7 + 7) % 7;
      return (day - weekday) * kMsPerDay;
    }
    case Interval::kMonth: {
      year_month_day ymd{sys_days{days{FloorDiv(ms, kMsPerDay)}}};
      return sys_days{ymd.year() / ymd.month() / 1}.time_since_epoch().count() * kMsPerDay;
    }
  }
  return ms;
}

int64_t NextInterval(int64_t bucket_start_ms, Interval interval) {
  using namespace std::chrono;
  switch (interval) {
    case Interval::kHour: return bucket_start_ms + 3'600'000;
    case Interval::kDay: return bucket_start_ms + kMsPerDay;
    case Interval::kWeek: return bucket_start_ms + 7 * kMsPerDay;
    case Interval::kMonth: {
      year_month_day ymd{sys_days{days{FloorDiv(bucket_start_ms, kMsPerDay)}}};
      year_month next = ymd.year() / ymd.month() + months{1};
      return sys_days{next / 1}.time_since_epoch().count() * kMsPerDay;
    }
  }
  return bucket_start_ms + kMsPerDay;
}

std::string FormatDate(int64_t ms) {
  using namespace std::chrono;
  year_month_day ymd{sys_days{days{FloorDiv(ms, kMsPerDay)}}};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", int(ymd.year()), unsigned(ymd.month()),
                unsigned(ymd.day()));
  return buf;
}

// ---- TimeZone -------------------------------------------------------------------

core::Result<TimeZone> TimeZone::Find(std::string_view name, const std::string& param) {
  TimeZone tz;
  if (name.empty() || name == "UTC" || name == "Etc/UTC" || name == "Z") return tz;
  auto unknown = [&] {
    return core::Fail(ErrorCode::kInvalidRequest,
                      "unknown time zone '" + std::string(name.substr(0, 64)) +
                          "' (use an IANA name such as America/New_York, or UTC)",
                      param);
  };
  if (name.size() > 64) return unknown();
  try {
    tz.zone_ = date::locate_zone(name);
  } catch (const std::exception&) {
    return unknown();
  }
  if (tz.zone_ == nullptr) return unknown();
  tz.name_ = std::string(name);
  return tz;
}

int64_t TimeZone::OffsetMs(int64_t ms) const {
  if (zone_ == nullptr) return 0;
  using namespace std::chrono;
  date::sys_seconds t{seconds{FloorDiv(ms, 1000)}};
  return zone_->get_info(t).offset.count() * 1000;
}

int64_t TimeZone::LocalDayNumber(int64_t ms) const {
  return FloorDiv(ms + OffsetMs(ms), kMsPerDay);
}

int64_t TimeZone::DayStartMs(int64_t day_number) const {
  if (zone_ == nullptr) return day_number * kMsPerDay;
  using namespace std::chrono;
  date::local_seconds midnight{seconds{day_number * 86400}};
  date::local_info info = zone_->get_info(midnight);
  switch (info.result) {
    case date::local_info::unique:
    case date::local_info::ambiguous:  // the earlier of the two instants
      return (midnight.time_since_epoch() - info.first.offset).count() * 1000;
    case date::local_info::nonexistent:  // midnight skipped: the day starts at the jump
      return info.first.end.time_since_epoch().count() * 1000;
  }
  return day_number * kMsPerDay;
}

// ---- BucketGrid -----------------------------------------------------------------

int64_t BucketGrid::DefaultGranularity(int64_t range_ms) {
  constexpr int64_t kHour = 3'600'000;
  if (range_ms <= 2 * kHour) return 300;
  if (range_ms <= 12 * kHour) return 3600;
  if (range_ms <= 3 * 24 * kHour) return 21600;
  if (range_ms <= 14 * 24 * kHour) return 43200;
  return 86400;
}

std::vector<int64_t> AlignedBucketStarts(int64_t start_ms, int64_t end_ms, int64_t g,
                                         const TimeZone& tz, size_t cap) {
  std::vector<int64_t> b = Boundaries(start_ms, end_ms, g, tz, cap);
  b.pop_back();
  return b;
}

BucketGrid BucketGrid::Make(int64_t start_ms, int64_t end_ms,
                            std::optional<int64_t> granularity_s, const TimeZone& tz) {
  BucketGrid grid;
  grid.start_ms_ = start_ms;
  grid.end_ms_ = end_ms;
  const int64_t range_ms = end_ms - start_ms;
  int64_t g = RoundUpToDays(granularity_s.value_or(DefaultGranularity(range_ms)));
  // Nominal count first: ceil(range / g) buckets.
  if ((range_ms + g * 1000 - 1) / (g * 1000) > kMaxBuckets) {
    g = RoundUpToDays((range_ms + kMaxBuckets * 1000 - 1) / (kMaxBuckets * 1000));
  }
  std::vector<int64_t> b = Boundaries(start_ms, end_ms, g, tz, kMaxBuckets);
  while (b.size() - 1 > static_cast<size_t>(kMaxBuckets)) {
    g = NextCalendarFriendly(g);
    b = Boundaries(start_ms, end_ms, g, tz, kMaxBuckets);
  }
  grid.granularity_s_ = g;
  grid.uniform_ = true;
  grid.step_ms_ = b[1] - b[0];
  for (size_t i = 1; i < b.size(); ++i) {
    if (b[i] - b[i - 1] != grid.step_ms_) {
      grid.uniform_ = false;
      break;
    }
  }
  b.pop_back();
  grid.starts_ = std::move(b);
  return grid;
}

int BucketGrid::IndexSlow(int64_t ms) const {
  auto it = std::upper_bound(starts_.begin(), starts_.end(), ms);
  return static_cast<int>(it - starts_.begin()) - 1;
}

}  // namespace rest
