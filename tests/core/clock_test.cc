#include "core/clock.h"

#include <gtest/gtest.h>

namespace core {
namespace {

TEST(FakeClockTest, MovesOnlyWhenTold) {
  FakeClock clock(1'736'937'000'000);
  EXPECT_EQ(clock.NowMs(), 1'736'937'000'000);
  EXPECT_EQ(clock.NowMs(), 1'736'937'000'000);
  clock.AdvanceMs(1'500);
  EXPECT_EQ(clock.NowMs(), 1'736'937'001'500);
  clock.SetMs(5);
  EXPECT_EQ(clock.NowMs(), 5);
}

TEST(FakeClockTest, MonotonicFollowsWallTimeInNanoseconds) {
  FakeClock clock(10);
  EXPECT_EQ(clock.MonotonicNs(), 10'000'000);
  clock.AdvanceMs(2);
  EXPECT_EQ(clock.MonotonicNs(), 12'000'000);
}

TEST(SystemClockTest, ReadsPlausibleTime) {
  SystemClock clock;
  // After 2024-01-01 and before 2100-01-01.
  EXPECT_GT(clock.NowMs(), 1'704'067'200'000);
  EXPECT_LT(clock.NowMs(), 4'102'444'800'000);
  const int64_t a = clock.MonotonicNs();
  const int64_t b = clock.MonotonicNs();
  EXPECT_LE(a, b);
}

}  // namespace
}  // namespace core
