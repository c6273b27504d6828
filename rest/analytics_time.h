// Time handling for the analytics routes and POST /v1/calls/stats: date-range
// parameters, calendar buckets (hour, day, week from Monday, month; UTC), IANA
// time zones (Howard Hinnant's date/tz over the system tzdata) and the
// granularity grid of calls/stats, whose buckets are aligned to local midnight
// and follow DST (a local day may last 23 or 25 hours).
//
// Everything here is a pure function or an immutable value: thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace date {
class time_zone;
}

namespace rest {

inline constexpr int64_t kMsPerDay = 86'400'000;

// [start_ms, end_ms): the instants a request covers.
struct TimeRange {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
};

// One bound of a range, as API.md section 1 allows it. A plain date
// "YYYY-MM-DD" means its midnight UTC as a start and the end of that day (the
// next midnight, exclusive) as an end, so a date range is inclusive of both
// days. Other forms (ISO 8601, unix s/ms, now, -7d) are instants. Errors name
// `param`.
core::Result<int64_t> ParseRangeStart(std::string_view text, int64_t now_ms,
                                      const std::string& param);
core::Result<int64_t> ParseRangeEnd(std::string_view text, int64_t now_ms,
                                    const std::string& param);

// Calendar bucket sizes of the analytics routes (all in UTC).
enum class Interval { kHour, kDay, kWeek, kMonth };

// "hour" | "day" | "week" | "month"; anything else fails naming `param`.
core::Result<Interval> ParseInterval(std::string_view text, const std::string& param);
std::string_view IntervalName(Interval interval);

// The start of the UTC bucket containing `ms` (weeks start Monday 00:00 UTC).
int64_t FloorToInterval(int64_t ms, Interval interval);
// The start of the bucket after the one starting at `bucket_start_ms`.
int64_t NextInterval(int64_t bucket_start_ms, Interval interval);

// The UTC date of `ms` as "YYYY-MM-DD".
std::string FormatDate(int64_t ms);

// An IANA time zone, or UTC. Cheap to copy; the zone data is owned by date/tz's
// process-wide database (loaded once, read-only afterwards).
class TimeZone {
 public:
  TimeZone() = default;  // UTC

  // "UTC" (also "Etc/UTC", "Z" and the empty string) or an IANA name such as
  // "America/New_York"; an unknown name fails naming `param`.
  static core::Result<TimeZone> Find(std::string_view name, const std::string& param);

  const std::string& name() const { return name_; }
  bool is_utc() const { return zone_ == nullptr; }

  // UTC offset in effect at `ms`, in milliseconds.
  int64_t OffsetMs(int64_t ms) const;
  // The local calendar day containing `ms`, as days since 1970-01-01 (local).
  int64_t LocalDayNumber(int64_t ms) const;
  // The instant local day `day_number` begins (its first existing instant when
  // midnight falls into a DST gap).
  int64_t DayStartMs(int64_t day_number) const;

 private:
  const date::time_zone* zone_ = nullptr;
  std::string name_ = "UTC";
};

// The bucket grid of POST /v1/calls/stats.
//
// Granularity g (seconds): when absent it follows the range (<= 2 h: 300,
// <= 12 h: 3600, <= 3 d: 21600, <= 14 d: 43200, else 86400). A g above one day
// is rounded up to whole days. When the range would need more than
// kMaxBuckets buckets, g is raised to ceil(range / kMaxBuckets) seconds
// (rounded up to whole days above one day), and further, to the next divisor
// of 86400 or whole number of days, if the alignment below still needs more.
//
// Alignment: within each local day, buckets start at local midnight + k*g and
// never cross the next local midnight (the last bucket of a day may be
// shorter; on a 23 h or 25 h DST day there is one bucket fewer or more at
// g = 3600). Buckets of n whole days start on local days whose number since
// 1970-01-01 is a multiple of n. In UTC with g dividing 86400 this is plain
// alignment to multiples of g since the epoch.
class BucketGrid {
 public:
  static constexpr int64_t kMaxBuckets = 10'000;

  // REQUIRES: start_ms < end_ms. `granularity_s` must be >= 1 when present.
  static BucketGrid Make(int64_t start_ms, int64_t end_ms, std::optional<int64_t> granularity_s,
                         const TimeZone& tz);

  // The default granularity for a range of `range_ms`.
  static int64_t DefaultGranularity(int64_t range_ms);

  int64_t granularity_s() const { return granularity_s_; }
  size_t size() const { return starts_.size(); }
  // Start instants of the buckets that intersect [start, end), ascending.
  const std::vector<int64_t>& starts() const { return starts_; }

  // Bucket index of `ms`, or -1 when outside [start, end).
  int Index(int64_t ms) const {
    if (ms < start_ms_ || ms >= end_ms_) return -1;
    if (uniform_) return static_cast<int>((ms - starts_[0]) / step_ms_);
    return IndexSlow(ms);
  }

 private:
  int IndexSlow(int64_t ms) const;

  int64_t start_ms_ = 0;
  int64_t end_ms_ = 0;
  int64_t granularity_s_ = 0;
  std::vector<int64_t> starts_;
  bool uniform_ = false;  // every bucket is step_ms_ long: Index is a division
  int64_t step_ms_ = 0;
};

// Bucket starts of a grid with granularity `g` seconds over [start, end) in
// `tz`, stopping once more than `cap` buckets were produced.
std::vector<int64_t> AlignedBucketStarts(int64_t start_ms, int64_t end_ms, int64_t g,
                                         const TimeZone& tz, size_t cap);

}  // namespace rest
