#include "rest/rate_limiter.h"

#include <algorithm>

namespace rest {
namespace {

constexpr int64_t kMsPerMinute = 60'000;
// A bucket with limit L holds L * kUnitsPerToken units when full and gains L
// units per millisecond: full after exactly one minute, with no rounding.
constexpr int64_t kUnitsPerToken = kMsPerMinute;

// ceil(a / b) for b > 0, without overflow.
int64_t CeilDiv(int64_t a, int64_t b) { return a / b + (a % b > 0 ? 1 : 0); }

// Milliseconds from `from` to `to` (to >= from), capped at one minute: no bucket
// needs more than that to fill, and the cap keeps `elapsed * limit` in range.
int64_t ElapsedMs(int64_t from, int64_t to) {
  const uint64_t diff = static_cast<uint64_t>(to) - static_cast<uint64_t>(from);
  return static_cast<int64_t>(std::min<uint64_t>(diff, kMsPerMinute));
}

int64_t ClampTime(int64_t ms) {
  return std::clamp(ms, -RateLimiter::kMaxAbsTimeMs, RateLimiter::kMaxAbsTimeMs);
}

// Durations in options: 0 .. ~35 years, so `now + duration` cannot overflow.
int64_t ClampDuration(int64_t ms) { return std::clamp<int64_t>(ms, 0, int64_t{1} << 40); }

}  // namespace

RateLimiter::RateLimiter(RateLimiterOptions options)
    : options_{ClampDuration(options.idle_ms), ClampDuration(options.sweep_interval_ms)} {}

RateDecision RateLimiter::Take(std::string_view bucket_id, int64_t limit_per_minute,
                               int64_t now_ms) {
  now_ms = ClampTime(now_ms);
  if (limit_per_minute <= 0) {
    return RateDecision{true, 0, 0, CeilDiv(now_ms, 1000), 0};
  }
  const int64_t limit = std::min(limit_per_minute, kMaxLimitPerMinute);
  const int64_t capacity = limit * kUnitsPerToken;

  Shard& shard = shards_[StringHash{}(bucket_id) % kShards];
  std::lock_guard<std::mutex> lock(shard.mu);
  if (now_ms >= shard.next_sweep_ms) {
    SweepLocked(shard, now_ms);
    shard.next_sweep_ms = now_ms + options_.sweep_interval_ms;
  }

  auto it = shard.buckets.find(bucket_id);
  if (it == shard.buckets.end()) {
    it = shard.buckets.emplace(std::string(bucket_id), Bucket{limit, capacity, now_ms}).first;
  }
  Bucket& b = it->second;

  // Refill at the rate in force since the last request, then rescale.
  const int64_t now = std::max(now_ms, b.last_ms);
  b.units = std::min(b.limit * kUnitsPerToken, b.units + ElapsedMs(b.last_ms, now) * b.limit);
  b.last_ms = now;
  if (b.limit != limit) {
    b.units = static_cast<int64_t>(static_cast<__int128>(b.units) * limit / b.limit);
    b.limit = limit;
  }

  RateDecision d;
  d.limit = limit;
  if (b.units >= kUnitsPerToken) {
    b.units -= kUnitsPerToken;
    d.allowed = true;
    d.retry_after_s = 0;
  } else {
    d.allowed = false;
    const int64_t ms_to_token = CeilDiv(kUnitsPerToken - b.units, limit);
    d.retry_after_s = std::max<int64_t>(1, CeilDiv(ms_to_token, 1000));
  }
  d.remaining = b.units / kUnitsPerToken;
  d.reset_unix_s = CeilDiv(now + CeilDiv(capacity - b.units, limit), 1000);
  return d;
}

size_t RateLimiter::SweepLocked(Shard& shard, int64_t now_ms) {
  size_t dropped = 0;
  for (auto it = shard.buckets.begin(); it != shard.buckets.end();) {
    const Bucket& b = it->second;
    const int64_t full_at = b.last_ms + CeilDiv(b.limit * kUnitsPerToken - b.units, b.limit);
    const bool idle =
        now_ms > full_at && static_cast<uint64_t>(now_ms) - static_cast<uint64_t>(full_at) >
                                static_cast<uint64_t>(options_.idle_ms);
    if (idle) {
      it = shard.buckets.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  return dropped;
}

size_t RateLimiter::PurgeIdle(int64_t now_ms) {
  now_ms = ClampTime(now_ms);
  size_t dropped = 0;
  for (Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    dropped += SweepLocked(shard, now_ms);
    shard.next_sweep_ms = now_ms + options_.sweep_interval_ms;
  }
  return dropped;
}

size_t RateLimiter::BucketCount() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mu);
    n += shard.buckets.size();
  }
  return n;
}

}  // namespace rest
