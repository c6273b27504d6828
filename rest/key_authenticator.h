// KeyAuthenticator: resolves `Authorization: Bearer|Basic` API keys to a
// RequestContext (account, project, key, scopes, rate limits) and checks the
// route's scope. API.md section 1.
//
// Hot path: the key's format and checksum are checked without any lookup, then
// the key's public prefix finds a cached entry and the SHA-256 of the presented
// key is compared in constant time with the stored hash. Entries come from the
// ControlPlane on a miss and are trusted for `cache_ttl_ms`; routes that change a
// key, project or account call Invalidate*() so the change applies to the very
// next request. last_used_at is recorded in memory and written by FlushLastUsed().
//
// Thread-safe: a shared_mutex guards the cache (readers share it); last-used
// times are atomics inside the entries.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "core/clock.h"
#include "rest/request_context.h"
#include "store/control/control_plane.h"

namespace rest {

class KeyAuthenticator final : public Authenticator {
 public:
  KeyAuthenticator(control::ControlPlane& db, const core::Clock& clock,
                   std::vector<config::TierLimits> tiers, int64_t cache_ttl_ms);

  core::Result<RequestContext> Authenticate(const core::HttpRequest& req) const override;

  // Drops cached entries so the next request re-reads the database.
  void InvalidateKey(const std::string& key_id);
  void InvalidateAccount(const std::string& account_id);
  void InvalidateProject(const std::string& project_id);

  // Writes last_used_at of keys used since the previous flush. Called by a runner.
  core::Status FlushLastUsed();

  // Rate limits of a project of `account` (0 = unlimited).
  struct Limits {
    int64_t rpm = 0;
    int64_t ingest_rpm = 0;
  };
  Limits LimitsFor(const control::Account& account, const control::Project& project) const;

 private:
  struct Entry {
    std::string hash_hex;                   // of the secret with this prefix
    std::optional<int64_t> expires_at_ms;   // rotated-out secret: end of grace
    std::string key_status;                 // active | suspected_compromise | revoked
    std::string account_status;
    RequestContext ctx;
    int64_t fetched_at_ms = 0;
    std::atomic<int64_t> last_used_ms{0};
    std::atomic<int64_t> flushed_used_ms{0};
  };

  // Reads the key behind `prefix` from the database. nullptr + error on failure.
  core::Result<std::shared_ptr<Entry>> Load(const std::string& prefix, int64_t now_ms) const;
  std::shared_ptr<Entry> Cached(const std::string& prefix) const;

  control::ControlPlane& db_;
  const core::Clock& clock_;
  const std::vector<config::TierLimits> tiers_;
  const int64_t cache_ttl_ms_;
  mutable std::shared_mutex mu_;
  mutable std::unordered_map<std::string, std::shared_ptr<Entry>> cache_;  // by prefix; guarded by mu_
};

}  // namespace rest
