#include "exporter/idempotency.h"

#include <gtest/gtest.h>

#include <string>

namespace exporter {
namespace {

using Outcome = IdempotencyCache::Outcome;

constexpr int64_t kNow = 1'736'937'000'000;
constexpr int64_t kTtl = 24LL * 3'600'000;

TEST(IdempotencyCacheTest, NewThenInFlightThenReplay) {
  IdempotencyCache cache;
  EXPECT_EQ(cache.Begin("p", "k1", "hash-a", kNow).outcome, Outcome::kNew);
  EXPECT_EQ(cache.size(), 1u);
  // Same key and body while the first request runs.
  EXPECT_EQ(cache.Begin("p", "k1", "hash-a", kNow + 1).outcome, Outcome::kInFlight);
  cache.Complete("p", "k1", {201, R"({"ok":true})"});
  const auto replay = cache.Begin("p", "k1", "hash-a", kNow + 2);
  EXPECT_EQ(replay.outcome, Outcome::kReplay);
  EXPECT_EQ(replay.response.status, 201);
  EXPECT_EQ(replay.response.body, R"({"ok":true})");
  // Replays do not consume the entry.
  EXPECT_EQ(cache.Begin("p", "k1", "hash-a", kNow + 3).outcome, Outcome::kReplay);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(IdempotencyCacheTest, DifferentBodyIsReused) {
  IdempotencyCache cache;
  ASSERT_EQ(cache.Begin("p", "k", "hash-a", kNow).outcome, Outcome::kNew);
  // While running...
  EXPECT_EQ(cache.Begin("p", "k", "hash-b", kNow).outcome, Outcome::kReused);
  cache.Complete("p", "k", {200, "first"});
  // ... and after.
  const auto r = cache.Begin("p", "k", "hash-b", kNow + 1);
  EXPECT_EQ(r.outcome, Outcome::kReused);
  EXPECT_TRUE(r.response.body.empty()) << "a reused key must not leak the stored response";
  // The original body still replays.
  EXPECT_EQ(cache.Begin("p", "k", "hash-a", kNow + 2).outcome, Outcome::kReplay);
}

TEST(IdempotencyCacheTest, AbandonLetsTheKeyRunAgain) {
  IdempotencyCache cache;
  ASSERT_EQ(cache.Begin("p", "k", "h", kNow).outcome, Outcome::kNew);
  cache.Abandon("p", "k");
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.Begin("p", "k", "h", kNow).outcome, Outcome::kNew);
  // After an abandon another body may use the key too.
  cache.Abandon("p", "k");
  EXPECT_EQ(cache.Begin("p", "k", "other", kNow).outcome, Outcome::kNew);
}

TEST(IdempotencyCacheTest, CompleteAndAbandonOfUnknownKeysAreNoOps) {
  IdempotencyCache cache;
  cache.Complete("p", "nope", {200, "x"});
  cache.Abandon("p", "nope");
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.Begin("p", "nope", "h", kNow).outcome, Outcome::kNew);
}

TEST(IdempotencyCacheTest, EntriesExpireAfterTtl) {
  IdempotencyCache cache(/*ttl_ms=*/1000);
  ASSERT_EQ(cache.Begin("p", "k", "h", kNow).outcome, Outcome::kNew);
  cache.Complete("p", "k", {200, "first"});
  EXPECT_EQ(cache.Begin("p", "k", "h", kNow + 999).outcome, Outcome::kReplay);
  // At the TTL the old response is gone: the request runs again, even with another body.
  EXPECT_EQ(cache.Begin("p", "k", "other", kNow + 1000).outcome, Outcome::kNew);
  EXPECT_EQ(cache.Begin("p", "k", "other", kNow + 1001).outcome, Outcome::kInFlight);
}

TEST(IdempotencyCacheTest, DefaultTtlIsOneDay) {
  IdempotencyCache cache;
  ASSERT_EQ(cache.Begin("p", "k", "h", kNow).outcome, Outcome::kNew);
  cache.Complete("p", "k", {200, "first"});
  EXPECT_EQ(cache.Begin("p", "k", "h", kNow + kTtl - 1).outcome, Outcome::kReplay);
  EXPECT_EQ(cache.Begin("p", "k", "h", kNow + kTtl).outcome, Outcome::kNew);
}

TEST(IdempotencyCacheTest, InFlightEntriesLiveUntilTheTtl) {
  // A running request keeps its key while it runs; an in-flight entry older
  // than the TTL belongs to a request that never finished and is purged, so the
  // key becomes usable again instead of answering 409 forever.
  IdempotencyCache cache(/*ttl_ms=*/1000);
  ASSERT_EQ(cache.Begin("p", "k", "h", kNow).outcome, Outcome::kNew);
  EXPECT_EQ(cache.Begin("p", "k", "h", kNow + 500).outcome, Outcome::kInFlight);
  EXPECT_EQ(cache.Begin("p", "z", "h", kNow + 120'000).outcome, Outcome::kNew);  // purges
  EXPECT_EQ(cache.Begin("p", "k", "h", kNow + 120'001).outcome, Outcome::kNew);
}

TEST(IdempotencyCacheTest, PeriodicPurgeDropsExpiredEntries) {
  IdempotencyCache cache(/*ttl_ms=*/1000);
  for (int i = 0; i < 10; ++i) {
    const std::string key = "k" + std::to_string(i);
    ASSERT_EQ(cache.Begin("p", key, "h", kNow).outcome, Outcome::kNew);
    cache.Complete("p", key, {200, "x"});
  }
  EXPECT_EQ(cache.size(), 10u);
  // Another key a minute later triggers the purge of the ten done, expired ones.
  ASSERT_EQ(cache.Begin("p", "late", "h", kNow + 60'000).outcome, Outcome::kNew);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(IdempotencyCacheTest, KeysAreScopedPerProject) {
  IdempotencyCache cache;
  ASSERT_EQ(cache.Begin("acme", "k", "h", kNow).outcome, Outcome::kNew);
  cache.Complete("acme", "k", {200, "acme's response"});
  // Another project with the same key (even the same body) starts fresh.
  const auto other = cache.Begin("globex", "k", "h", kNow);
  EXPECT_EQ(other.outcome, Outcome::kNew);
  EXPECT_TRUE(other.response.body.empty());
  EXPECT_EQ(cache.Begin("globex2", "k", "different", kNow).outcome, Outcome::kNew);
  // Abandoning in one project leaves the other alone.
  cache.Abandon("globex", "k");
  const auto acme = cache.Begin("acme", "k", "h", kNow + 1);
  EXPECT_EQ(acme.outcome, Outcome::kReplay);
  EXPECT_EQ(acme.response.body, "acme's response");
}

TEST(IdempotencyCacheTest, ProjectAndKeyBoundariesDoNotCollide) {
  IdempotencyCache cache;
  ASSERT_EQ(cache.Begin("ab", "c", "h", kNow).outcome, Outcome::kNew);
  EXPECT_EQ(cache.Begin("a", "bc", "h", kNow).outcome, Outcome::kNew);
}

}  // namespace
}  // namespace exporter
