#include "rest/durable_idempotency.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

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

namespace rest {
namespace {

TEST(DurableIdempotencyTest, SecretsNeverReachTheDatabase) {
  tally_test::TempDir dir;
  const std::string path = dir.path() + "/tally.db";
  const std::string secret = "tly_AAAAAAAA_secretsecretsecret";
  const std::string body = R"({"key_id":"key_1","key_secret":")" + secret + R"(","name":"n"})";
  {
    auto db = control::SqliteControlPlane::Open(path);
    ASSERT_TRUE(db);
    DurableIdempotency idem(**db, kDay, /*secret_replay_ms=*/60'000);
    ASSERT_EQ(idem.Begin("p", "k", "h", kT0).outcome, Outcome::kNew);
    idem.Complete("p", "k", {200, body});
    // A quick retry still gets the secret (from memory) ...
    auto soon = idem.Begin("p", "k", "h", kT0 + 1000);
    ASSERT_EQ(soon.outcome, Outcome::kReplay);
    EXPECT_EQ(soon.response.body, body);
    // ... but the stored record holds no secret.
    auto stored = (*db)->GetIdempotency("p", "k");
    ASSERT_TRUE(stored && *stored);
    EXPECT_EQ((*stored)->response_body.find(secret), std::string::npos);
    EXPECT_NE((*stored)->response_body.find(R"("secret_redacted":true)"), std::string::npos);
    // After the in-memory window the replay is the redacted record.
    auto late = idem.Begin("p", "k", "h", kT0 + 61'000);
    ASSERT_EQ(late.outcome, Outcome::kReplay);
    EXPECT_EQ(late.response.body.find(secret), std::string::npos);
  }
  // Nothing in the database files either.
  for (const char* suffix : {"", "-wal"}) {
    std::ifstream in(path + suffix, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find(secret), std::string::npos) << suffix;
  }
}

TEST(DurableIdempotencyTest, RedactionLeavesOtherBodiesAlone) {
  EXPECT_EQ(DurableIdempotency::RedactSecrets(R"({"revoked":true})"), R"({"revoked":true})");
  EXPECT_EQ(DurableIdempotency::RedactSecrets("not json"), "not json");
  EXPECT_EQ(DurableIdempotency::RedactSecrets(R"({"invite_token":"inv_x","id":"m"})"),
            R"({"id":"m","invite_token":null,"secret_redacted":true})");
}

}  // namespace
}  // namespace rest
