#include "rest/durable_idempotency.h"

#include <gtest/gtest.h>

#include "store/control/sqlite_control_plane.h"
#include "tests/temp_dir.h"

namespace rest {
namespace {

using Outcome = exporter::IdempotencyStore::Outcome;
constexpr int64_t kT0 = 1'767'225'600'000;
constexpr int64_t kDay = 86'400'000;

TEST(DurableIdempotencyTest, ReplaysAcrossReopenAndScopesPerProject) {
  tally_test::TempDir dir;
  const std::string path = dir.path() + "/tally.db";
  {
    auto db = control::SqliteControlPlane::Open(path);
    ASSERT_TRUE(db);
    DurableIdempotency idem(**db);
    EXPECT_EQ(idem.Begin("p1", "k", "h1", kT0).outcome, Outcome::kNew);
    EXPECT_EQ(idem.Begin("p1", "k", "h1", kT0).outcome, Outcome::kInFlight);
    EXPECT_EQ(idem.Begin("p1", "k", "h2", kT0).outcome, Outcome::kReused);
    idem.Complete("p1", "k", {200, R"({"key_id":"key_1"})"});
  }
  auto db = control::SqliteControlPlane::Open(path);
  ASSERT_TRUE(db);
  DurableIdempotency idem(**db);
  auto replay = idem.Begin("p1", "k", "h1", kT0 + 1000);
  EXPECT_EQ(replay.outcome, Outcome::kReplay);
  EXPECT_EQ(replay.response.status, 200);
  EXPECT_EQ(replay.response.body, R"({"key_id":"key_1"})");
  EXPECT_EQ(idem.Begin("p1", "k", "other", kT0 + 1000).outcome, Outcome::kReused);
  // Another project's key of the same name is unrelated.
  EXPECT_EQ(idem.Begin("p2", "k", "h1", kT0).outcome, Outcome::kNew);
  // After 24 h the key is free again, and Purge removes the record.
  EXPECT_EQ(idem.Begin("p1", "k", "h9", kT0 + kDay + 1).outcome, Outcome::kNew);
  idem.Abandon("p1", "k");
  auto purged = idem.Purge(kT0 + kDay + 1);
  ASSERT_TRUE(purged);
  EXPECT_GE(*purged, 1);
}

TEST(DurableIdempotencyTest, AbandonedRequestsLeaveNothing) {
  tally_test::TempDir dir;
  auto db = control::SqliteControlPlane::Open(dir.path() + "/tally.db");
  ASSERT_TRUE(db);
  DurableIdempotency idem(**db);
  EXPECT_EQ(idem.Begin("p", "k", "h", kT0).outcome, Outcome::kNew);
  idem.Abandon("p", "k");
  EXPECT_EQ(idem.Begin("p", "k", "h", kT0).outcome, Outcome::kNew);
}

}  // namespace
}  // namespace rest
