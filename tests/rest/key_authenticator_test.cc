// KeyAuthenticator over a real SQLite control plane, with a fake clock: key
// states, scopes, rotation grace, cache TTL and invalidation, last_used.
#include "rest/key_authenticator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/clock.h"
#include "rest/api_key.h"
#include "rest/key_issuer.h"
#include "store/control/sqlite_control_plane.h"
#include "tests/temp_dir.h"

namespace rest {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kT0 = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
constexpr int64_t kHour = 3'600'000;

core::HttpRequest WithKey(const std::string& key) {
  core::HttpRequest req;
  req.method = "GET";
  req.path = "/v1/account/whoami";
  req.headers.emplace_back("authorization", "Bearer " + key);
  return req;
}

class KeyAuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = control::SqliteControlPlane::Open(dir_.path() + "/tally.db");
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::move(*db);
    auto account = db_->CreateAccount("acme", "pro", kT0);
    ASSERT_TRUE(account);
    account_ = *account;
    control::Project p;
    p.account_id = account_.id;
    p.name = "web";
    auto project = db_->CreateProject(p, kT0);
    ASSERT_TRUE(project);
    project_ = *project;
    auth_ = std::make_unique<KeyAuthenticator>(*db_, clock_, config::DefaultTiers(), kTtlMs);
  }

  IssuedKey Issue(std::vector<std::string> scopes = {}) {
    auto issued = IssueKey(*db_, account_.id, project_.id, "k", scopes, clock_.NowMs());
    EXPECT_TRUE(issued) << issued.error().message;
    return *issued;
  }

  // The context for `key`, failing with kForbidden when it lacks `scope` (as the
  // router does after authentication).
  core::Result<RequestContext> Auth(const std::string& key, const std::string& scope = "") {
    auto ctx = auth_->Authenticate(WithKey(key));
    if (ctx && !ctx->Allows(scope)) {
      return core::Fail(core::ErrorCode::kForbidden, "lacks scope " + scope, "scope");
    }
    return ctx;
  }

  static constexpr int64_t kTtlMs = 1000;
  tally_test::TempDir dir_;
  core::FakeClock clock_{kT0};
  std::unique_ptr<control::SqliteControlPlane> db_;
  control::Account account_;
  control::Project project_;
  std::unique_ptr<KeyAuthenticator> auth_;
};

TEST_F(KeyAuthenticatorTest, ResolvesAccountProjectScopesAndTierLimits) {
  IssuedKey k = Issue({"metrics:write"});
  auto ctx = Auth(k.secret, "metrics:write");
  ASSERT_TRUE(ctx) << ctx.error().message;
  EXPECT_EQ(ctx->account_id, account_.id);
  EXPECT_EQ(ctx->project_id, project_.id);
  EXPECT_EQ(ctx->key_id, k.key.id);
  EXPECT_EQ(ctx->tier, "pro");
  EXPECT_EQ(ctx->rate_limit_rpm, 1000);
  EXPECT_EQ(ctx->ingest_rate_limit_rpm, 60000);
}

TEST_F(KeyAuthenticatorTest, MissingMalformedAndUnknownKeysAre401WithoutEchoingTheSecret) {
  core::HttpRequest none;
  auto r = auth_->Authenticate(none);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kUnauthorized);
  EXPECT_THAT(r.error().message, HasSubstr("missing API key"));

  r = Auth("not-a-key");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kUnauthorized);
  EXPECT_THAT(r.error().message, ::testing::Not(HasSubstr("not-a-key")));

  // Well-formed with a valid checksum, but never stored.
  auto stranger = GenerateApiKey();
  ASSERT_TRUE(stranger);
  r = Auth(stranger->full);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kUnauthorized);
  EXPECT_THAT(r.error().message, HasSubstr("unknown API key"));
  EXPECT_THAT(r.error().message, ::testing::Not(HasSubstr(stranger->prefix)));
}

TEST_F(KeyAuthenticatorTest, RightPrefixWrongSecretIsUnknownAndRevealsNothing) {
  IssuedKey k = Issue();
  ASSERT_TRUE(db_->SetKeyStatus(account_.id, k.key.id, "revoked", kT0));
  // Same prefix, different secret body with a valid checksum: build it from a fresh key.
  auto other = GenerateApiKey();
  ASSERT_TRUE(other);
  std::string forged = other->full;
  forged.replace(4, 8, k.key.secrets.front().prefix);  // checksum now fails -> malformed
  auto r = Auth(forged);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kUnauthorized);
  EXPECT_THAT(r.error().message, ::testing::Not(HasSubstr("revoked")));
}

TEST_F(KeyAuthenticatorTest, ScopesOfKeyAndProjectBothApply) {
  IssuedKey k = Issue({"metrics:read", "account:admin"});
  EXPECT_TRUE(Auth(k.secret, "metrics:read"));
  EXPECT_TRUE(Auth(k.secret, "account:read"));  // implied by account:admin
  auto denied = Auth(k.secret, "metrics:write");
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, core::ErrorCode::kForbidden);
  EXPECT_THAT(denied.error().message, HasSubstr("metrics:write"));

  // The project caps its keys: an all-scopes key of a metrics-only project.
  project_.scopes = {"metrics:write"};
  ASSERT_TRUE(db_->UpdateProject(project_));
  auth_->InvalidateProject(project_.id);
  IssuedKey all = Issue();
  EXPECT_TRUE(Auth(all.secret, "metrics:write"));
  auto capped = Auth(all.secret, "account:read");
  ASSERT_FALSE(capped);
  EXPECT_EQ(capped.error().code, core::ErrorCode::kForbidden);
}

TEST_F(KeyAuthenticatorTest, RevocationAppliesOnTheNextRequestAfterInvalidate) {
  IssuedKey k = Issue();
  ASSERT_TRUE(Auth(k.secret));
  ASSERT_TRUE(db_->SetKeyStatus(account_.id, k.key.id, "revoked", kT0));
  auth_->InvalidateKey(k.key.id);
  auto r = Auth(k.secret);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kUnauthorized);
  EXPECT_THAT(r.error().message, HasSubstr("revoked"));
}

TEST_F(KeyAuthenticatorTest, ChangesFromAnotherProcessShowAfterTheCacheTtl) {
  IssuedKey k = Issue();
  ASSERT_TRUE(Auth(k.secret));
  // As `tally keys revoke` would, without telling this authenticator.
  ASSERT_TRUE(db_->SetKeyStatus(account_.id, k.key.id, "revoked", kT0));
  EXPECT_TRUE(Auth(k.secret)) << "still cached";
  clock_.AdvanceMs(kTtlMs);
  EXPECT_FALSE(Auth(k.secret));
}

TEST_F(KeyAuthenticatorTest, RotatedSecretWorksUntilItsGraceEnds) {
  IssuedKey k = Issue();
  auto fresh = IssueSecret(*db_, account_.id, k.key.id, kT0 + 24 * kHour, kT0);
  ASSERT_TRUE(fresh) << fresh.error().message;
  auth_->InvalidateKey(k.key.id);
  EXPECT_TRUE(Auth(k.secret));
  EXPECT_TRUE(Auth(fresh->secret));
  clock_.SetMs(kT0 + 24 * kHour);
  auto old = Auth(k.secret);
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code, core::ErrorCode::kUnauthorized);
  EXPECT_THAT(old.error().message, HasSubstr("grace period ended"));
  EXPECT_TRUE(Auth(fresh->secret));
}

TEST_F(KeyAuthenticatorTest, SuspectedCompromiseStillAuthenticates) {
  IssuedKey k = Issue();
  ASSERT_TRUE(db_->SetKeyStatus(account_.id, k.key.id, "suspected_compromise", kT0));
  auth_->InvalidateKey(k.key.id);
  EXPECT_TRUE(Auth(k.secret));
}

TEST_F(KeyAuthenticatorTest, DeletedProjectKillsItsKeys) {
  IssuedKey k = Issue();
  ASSERT_TRUE(Auth(k.secret));
  ASSERT_TRUE(db_->DeleteProject(account_.id, project_.id, kT0));
  auth_->InvalidateProject(project_.id);
  EXPECT_FALSE(Auth(k.secret));
}

TEST_F(KeyAuthenticatorTest, ProjectRateLimitOverridesTheTier) {
  project_.rate_limit_rpm = 7;
  ASSERT_TRUE(db_->UpdateProject(project_));
  IssuedKey k = Issue();
  auto ctx = Auth(k.secret);
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->rate_limit_rpm, 7);
  EXPECT_EQ(ctx->ingest_rate_limit_rpm, 60000);  // ingest keeps the tier's budget
}

TEST_F(KeyAuthenticatorTest, LastUsedIsFlushedOnce) {
  IssuedKey k = Issue();
  clock_.AdvanceMs(5000);
  ASSERT_TRUE(Auth(k.secret));
  ASSERT_TRUE(auth_->FlushLastUsed());
  auto stored = db_->GetKey(account_.id, k.key.id);
  ASSERT_TRUE(stored);
  ASSERT_TRUE(stored->last_used_at_ms.has_value());
  EXPECT_EQ(*stored->last_used_at_ms, kT0 + 5000);
}

TEST_F(KeyAuthenticatorTest, BasicAuthCarriesTheKeyAsPassword) {
  IssuedKey k = Issue();
  // base64("user:" + key) via OpenSSL-free table: build it by hand.
  static const char* kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string in = "anyone:" + k.secret, out;
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) n |= static_cast<uint8_t>(in[i + 1]) << 8;
    if (i + 2 < in.size()) n |= static_cast<uint8_t>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kAlphabet[n & 63] : '=';
  }
  core::HttpRequest req;
  req.headers.emplace_back("authorization", "Basic " + out);
  auto ctx = auth_->Authenticate(req);
  ASSERT_TRUE(ctx) << ctx.error().message;
  EXPECT_EQ(ctx->key_id, k.key.id);
}

}  // namespace
}  // namespace rest
