#include "rest/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace rest {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;  // a whole second, in ms

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

TEST(RateLimiterTest, BurstAdmitsExactlyTheLimit) {
  for (int64_t limit : {1, 2, 7, 60, 300, 1000}) {
    SCOPED_TRACE("limit " + std::to_string(limit));
    RateLimiter limiter;
    for (int64_t i = 0; i < limit + 5; ++i) {
      SCOPED_TRACE("request " + std::to_string(i));
      const RateDecision d = limiter.Take("p", limit, kT0);
      EXPECT_EQ(d.limit, limit);
      if (i < limit) {
        EXPECT_TRUE(d.allowed);
        EXPECT_EQ(d.remaining, limit - 1 - i);
        EXPECT_EQ(d.retry_after_s, 0);
        // i + 1 tokens are missing; the bucket gains limit/60000 tokens per ms.
        EXPECT_EQ(d.reset_unix_s, kT0 / 1000 + CeilDiv(CeilDiv((i + 1) * 60'000, limit), 1000));
      } else {
        EXPECT_FALSE(d.allowed);
        EXPECT_EQ(d.remaining, 0);
        EXPECT_EQ(d.retry_after_s, CeilDiv(CeilDiv(60'000, limit), 1000));
        EXPECT_GE(d.retry_after_s, 1);
        EXPECT_EQ(d.reset_unix_s, kT0 / 1000 + 60) << "empty: full after one minute";
      }
    }
  }
}

TEST(RateLimiterTest, RefillsContinuously) {
  RateLimiter limiter;
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(limiter.Take("p", 60, kT0).allowed);  // 1 token/s

  RateDecision d = limiter.Take("p", 60, kT0 + 999);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_s, 1);

  d = limiter.Take("p", 60, kT0 + 1000);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 0);
  EXPECT_FALSE(limiter.Take("p", 60, kT0 + 1000).allowed);

  d = limiter.Take("p", 60, kT0 + 10'500);  // 9.5 s later: 9 whole tokens and a half
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 8);
  EXPECT_EQ(d.reset_unix_s, kT0 / 1000 + 62);  // 51.5 tokens missing: full 51.5 s after 10.5 s

  // A full minute of idleness refills the whole bucket, and no more.
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(limiter.Take("p", 60, kT0 + 600'000).allowed);
  EXPECT_FALSE(limiter.Take("p", 60, kT0 + 600'000).allowed);
}

TEST(RateLimiterTest, FractionalRatesAccumulate) {
  RateLimiter limiter;
  // 120/min = one token every 500 ms.
  for (int i = 0; i < 120; ++i) ASSERT_TRUE(limiter.Take("p", 120, kT0).allowed);
  EXPECT_FALSE(limiter.Take("p", 120, kT0 + 499).allowed);
  EXPECT_TRUE(limiter.Take("p", 120, kT0 + 500).allowed);
  // 7/min = one token every 8571.43 ms: refill in small steps loses nothing.
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(limiter.Take("q", 7, kT0).allowed);
  int allowed = 0;
  for (int64_t t = kT0; t <= kT0 + 60'000; t += 12) allowed += limiter.Take("q", 7, t).allowed;
  EXPECT_EQ(allowed, 7);
}

TEST(RateLimiterTest, RetryAfterForSlowLimits) {
  RateLimiter limiter;
  ASSERT_TRUE(limiter.Take("p", 1, kT0).allowed);
  RateDecision d = limiter.Take("p", 1, kT0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_s, 60);
  EXPECT_EQ(d.reset_unix_s, kT0 / 1000 + 60);
  d = limiter.Take("p", 1, kT0 + 30'000);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_s, 30);
  d = limiter.Take("p", 1, kT0 + 59'001);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_s, 1);
  EXPECT_TRUE(limiter.Take("p", 1, kT0 + 60'000).allowed);
}

TEST(RateLimiterTest, ResetRoundsUpToAWholeSecond) {
  RateLimiter limiter;
  const int64_t now = kT0 + 250;
  const RateDecision d = limiter.Take("p", 60, now);  // one token missing: full 1 s later
  EXPECT_EQ(d.reset_unix_s, kT0 / 1000 + 2);          // 1.25 s rounds up to 2
}

TEST(RateLimiterTest, LimitChangeRescales) {
  RateLimiter limiter;
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(limiter.Take("up", 100, kT0).allowed);
  RateDecision d = limiter.Take("up", 200, kT0);  // half full -> 100 of 200, take one
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.limit, 200);
  EXPECT_EQ(d.remaining, 99);

  d = limiter.Take("down", 100, kT0);  // 99 of 100 left
  EXPECT_EQ(d.remaining, 99);
  d = limiter.Take("down", 10, kT0);  // 9.9 of 10, take one
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.limit, 10);
  EXPECT_EQ(d.remaining, 8);

  // An empty bucket stays empty but refills at the new rate.
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(limiter.Take("empty", 60, kT0).allowed);
  d = limiter.Take("empty", 6000, kT0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_s, 1);
  EXPECT_TRUE(limiter.Take("empty", 6000, kT0 + 10).allowed);  // 100 tokens/s

  // Time before the change refills at the old rate: 1 s at 60/min is one token.
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(limiter.Take("mid", 60, kT0).allowed);
  d = limiter.Take("mid", 600, kT0 + 1000);  // 1 of 60 -> 10 of 600, take one
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 9);
}

TEST(RateLimiterTest, BucketsAreIndependent) {
  RateLimiter limiter;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(limiter.Take("a", 5, kT0).allowed);
  EXPECT_FALSE(limiter.Take("a", 5, kT0).allowed);
  const RateDecision d = limiter.Take("b", 5, kT0);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 4);
  EXPECT_TRUE(limiter.Take(std::string("a\0x", 3), 5, kT0).allowed) << "ids are byte strings";
}

TEST(RateLimiterTest, UnlimitedKeepsNoState) {
  RateLimiter limiter;
  for (int64_t limit : {int64_t{0}, int64_t{-1}, std::numeric_limits<int64_t>::min()}) {
    SCOPED_TRACE(limit);
    for (int i = 0; i < 1000; ++i) {
      const RateDecision d = limiter.Take("p", limit, kT0 + 1);
      ASSERT_TRUE(d.allowed);
      EXPECT_EQ(d.limit, 0);
      EXPECT_EQ(d.remaining, 0);
      EXPECT_EQ(d.retry_after_s, 0);
      EXPECT_EQ(d.reset_unix_s, kT0 / 1000 + 1);
    }
  }
  EXPECT_EQ(limiter.BucketCount(), 0u);
}

TEST(RateLimiterTest, TimeGoingBackwardsGivesNoExtraTokens) {
  RateLimiter limiter;
  for (int i = 0; i < 60; ++i) ASSERT_TRUE(limiter.Take("p", 60, kT0 + 10'000).allowed);
  const RateDecision d = limiter.Take("p", 60, kT0);  // 10 s in the past
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_s, 1);
  EXPECT_EQ(d.reset_unix_s, kT0 / 1000 + 70) << "measured from the latest time seen";
  EXPECT_FALSE(limiter.Take("p", 60, kT0 + 10'999).allowed);
  EXPECT_TRUE(limiter.Take("p", 60, kT0 + 11'000).allowed);
}

TEST(RateLimiterTest, ExtremeValuesDoNotOverflow) {
  RateLimiter limiter;
  const int64_t max = std::numeric_limits<int64_t>::max();
  RateDecision d = limiter.Take("huge", max, kT0);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.limit, RateLimiter::kMaxLimitPerMinute);
  EXPECT_EQ(d.remaining, RateLimiter::kMaxLimitPerMinute - 1);
  EXPECT_GE(d.reset_unix_s, kT0 / 1000);

  d = limiter.Take("huge", 1, kT0);  // rescaled to 1 - 1e-12 of one token: not enough
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.remaining, 0);
  EXPECT_EQ(d.retry_after_s, 1);
  d = limiter.Take("huge", max, kT0);  // and back up: 59999/60000 of the bucket
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 59'999 * (RateLimiter::kMaxLimitPerMinute / 1'000) / 60 - 1);

  // Huge jumps in time, both ways.
  const int64_t min = std::numeric_limits<int64_t>::min();
  for (int64_t now : {int64_t{0}, max / 2, min, max, int64_t{-1'000'000}, max - 1, int64_t{1}}) {
    SCOPED_TRACE(now);
    d = limiter.Take("jump", 10, now);
    EXPECT_GE(d.remaining, 0);
    EXPECT_LE(d.remaining, 9);
    EXPECT_GE(d.retry_after_s, 0);
    EXPECT_LE(d.retry_after_s, 6);
  }
  EXPECT_EQ(limiter.PurgeIdle(max), 1u);  // "huge"; "jump" was last used at `max`
  EXPECT_FALSE(limiter.Take("x", 1, min).retry_after_s);
  EXPECT_EQ(limiter.PurgeIdle(min), 0u);
}

TEST(RateLimiterTest, ConcurrentTakesNeverOverAdmit) {
  // Fixed time: exactly the capacity is admitted, whatever the interleaving.
  constexpr int kThreads = 8;
  constexpr int kPerThread = 2'000;
  constexpr int64_t kLimit = 1'000;
  RateLimiter limiter;
  std::atomic<int64_t> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      int64_t mine = 0;
      for (int i = 0; i < kPerThread; ++i) mine += limiter.Take("shared", kLimit, kT0).allowed;
      allowed.fetch_add(mine);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(allowed.load(), kLimit);
}

TEST(RateLimiterTest, ConcurrentTakesWithMovingTimeStayWithinCapacityPlusRefill) {
  // Each thread walks its own clock over [kT0, kT0 + kSpanMs], so calls reach
  // the bucket out of order. Admitted <= capacity + what kSpanMs refills.
  constexpr int kThreads = 8;
  constexpr int kPerThread = 5'000;
  constexpr int64_t kLimit = 600;  // 10 tokens/s
  constexpr int64_t kSpanMs = 5'000;
  RateLimiter limiter;
  std::atomic<int64_t> allowed{0};
  std::atomic<int64_t> other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      int64_t mine = 0, others = 0;
      for (int i = 0; i < kPerThread; ++i) {
        const int64_t now = kT0 + (int64_t{i} * kSpanMs / kPerThread + t * 37) % (kSpanMs + 1);
        const RateDecision d = limiter.Take("shared", kLimit, now);
        mine += d.allowed;
        EXPECT_EQ(d.retry_after_s >= 1, !d.allowed);
        // Unrelated buckets in every shard, to contend on the other locks too.
        others +=
            limiter.Take("t" + std::to_string(t) + "/" + std::to_string(i % 64), 1'000'000, now)
                .allowed;
      }
      allowed.fetch_add(mine);
      other.fetch_add(others);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(allowed.load(), kLimit + kSpanMs * kLimit / 60'000);
  EXPECT_GE(allowed.load(), kLimit) << "the initial burst is always available";
  EXPECT_EQ(other.load(), int64_t{kThreads} * kPerThread);
}

TEST(RateLimiterTest, PurgeDropsOnlyBucketsFullForTheIdlePeriod) {
  RateLimiter limiter;  // idle_ms 120 s
  // One token taken from each: full again 1 s later.
  for (int i = 0; i < 100; ++i) limiter.Take("light" + std::to_string(i), 60, kT0);
  for (int i = 0; i < 60; ++i) limiter.Take("drained", 60, kT0);  // full at +60 s
  EXPECT_EQ(limiter.BucketCount(), 101u);

  EXPECT_EQ(limiter.PurgeIdle(kT0 + 121'000), 0u);  // full for exactly 120 s: kept
  EXPECT_EQ(limiter.PurgeIdle(kT0 + 121'001), 100u);
  EXPECT_EQ(limiter.BucketCount(), 1u);
  // The drained bucket became full 60 s after T0, so it goes 59 s later.
  EXPECT_EQ(limiter.PurgeIdle(kT0 + 180'000), 0u);
  EXPECT_EQ(limiter.PurgeIdle(kT0 + 180'001), 1u);
  EXPECT_EQ(limiter.BucketCount(), 0u);
  // A purged bucket comes back full, as it would have been.
  const RateDecision d = limiter.Take("drained", 60, kT0 + 200'000);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 59);
}

TEST(RateLimiterTest, TakeSweepsItsShardPeriodically) {
  RateLimiter limiter(RateLimiterOptions{.idle_ms = 1'000, .sweep_interval_ms = 10'000});
  for (int i = 0; i < 1'000; ++i) limiter.Take("old" + std::to_string(i), 60'000, kT0);
  EXPECT_EQ(limiter.BucketCount(), 1'000u);
  // Before the sweep interval has passed nothing is dropped, even though the
  // buckets are idle.
  for (int i = 0; i < 1'000; ++i) limiter.Take("mid" + std::to_string(i), 60'000, kT0 + 5'000);
  EXPECT_EQ(limiter.BucketCount(), 2'000u);
  // 1,000 new ids reach all 16 shards; each shard sweeps on its first Take.
  for (int i = 0; i < 1'000; ++i) limiter.Take("new" + std::to_string(i), 60'000, kT0 + 20'000);
  EXPECT_EQ(limiter.BucketCount(), 1'000u);
}

}  // namespace
}  // namespace rest
