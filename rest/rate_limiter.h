// RateLimiter: per-bucket token buckets for the X-RateLimit-* headers and 429s
// of API.md section 1, in process memory.
//
// Semantics of Take(bucket, limit, now):
//   - A bucket holds up to `limit` tokens (its capacity, one minute's worth) and
//     starts full. It refills continuously at limit/60 tokens per second, so an
//     empty bucket is full again after exactly 60 s. A request takes one token;
//     a denied request takes none.
//   - Tokens are counted exactly in integer units of 1/60000 token (a bucket
//     gains `limit` units per millisecond), so a burst admits exactly `limit`.
//   - When `limit` differs from the bucket's previous limit, the bucket is
//     rescaled to the same fraction of the new capacity (a half-full bucket
//     stays half full), then refilled at the new rate.
//   - `now_ms` is passed in; nothing here reads a clock. A `now_ms` earlier than
//     one the bucket has already seen counts as that later time (callers read
//     the clock before taking the lock, so concurrent calls arrive out of order).
//   - limit <= 0 means unlimited: always allowed, limit 0, remaining 0,
//     reset = now (rounded up to a second), retry_after 0; no bucket is kept.
//     Limits above kMaxLimitPerMinute are treated as kMaxLimitPerMinute, and
//     times outside +-2^62 ms (146 million years) as the nearest bound.
//   - Idle buckets are dropped: a shard sweeps itself at most once per
//     `sweep_interval_ms` (on a Take), removing buckets that have been full for
//     longer than `idle_ms`. A dropped bucket is indistinguishable from a full one.
//
// Thread-safe. Buckets live in 16 shards chosen by a hash of the bucket id;
// each shard has its own mutex, held for one hash lookup and a few integer
// operations (plus, once per sweep interval, one pass over that shard).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace rest {

struct RateDecision {
  bool allowed = true;
  int64_t limit = 0;          // X-RateLimit-Limit: requests per minute
  int64_t remaining = 0;      // X-RateLimit-Remaining: whole tokens left after this request
  int64_t reset_unix_s = 0;   // X-RateLimit-Reset: unix seconds when the bucket is full again
  int64_t retry_after_s = 0;  // Retry-After: >= 1 when denied, 0 when allowed
};

struct RateLimiterOptions {
  int64_t idle_ms = 120'000;           // drop buckets full for longer than this
  int64_t sweep_interval_ms = 60'000;  // how often each shard looks for idle buckets
};

class RateLimiter {
 public:
  static constexpr int64_t kMaxLimitPerMinute = 1'000'000'000'000;  // keeps units in int64
  static constexpr int64_t kMaxAbsTimeMs = int64_t{1} << 62;

  RateLimiter() : RateLimiter(RateLimiterOptions{}) {}
  explicit RateLimiter(RateLimiterOptions options);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Takes one token from `bucket_id` (created full on first use) if it has one.
  RateDecision Take(std::string_view bucket_id, int64_t limit_per_minute, int64_t now_ms);

  // Sweeps every shard now, whatever the sweep interval; returns the buckets dropped.
  size_t PurgeIdle(int64_t now_ms);

  // Buckets currently held (for tests and self-metrics).
  size_t BucketCount() const;

 private:
  static constexpr int kShards = 16;

  struct Bucket {
    int64_t limit = 0;    // per minute
    int64_t units = 0;    // tokens * 60000; capacity is limit * 60000
    int64_t last_ms = 0;  // the latest time `units` was brought up to date
  };

  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  struct alignas(64) Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Bucket, StringHash, std::equal_to<>> buckets;  // GUARDED_BY(mu)
    int64_t next_sweep_ms = 0;                                                     // GUARDED_BY(mu)
  };

  // REQUIRES: shard.mu held.
  size_t SweepLocked(Shard& shard, int64_t now_ms);

  const RateLimiterOptions options_;
  Shard shards_[kShards];
};

}  // namespace rest
