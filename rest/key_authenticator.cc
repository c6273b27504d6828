#include "rest/key_authenticator.h"

#include <limits>
#include <mutex>

#include "core/digest.h"
#include "core/time_parse.h"
#include "rest/api_key.h"

namespace rest {
namespace {

core::Unexpected<core::Error> Unauthorized(std::string message) {
  return core::Fail(core::ErrorCode::kUnauthorized, std::move(message), "Authorization");
}

// Replaces every cached entry that `matches` by a stale copy (see InvalidateKey).
// REQUIRES: the cache's mutex held exclusively.
template <typename Cache, typename Pred>
void MarkStaleLocked(Cache& cache, Pred&& matches) {
  using EntryType = typename Cache::mapped_type::element_type;
  for (auto& [prefix, entry] : cache) {
    if (!matches(*entry)) continue;
    auto stale = std::make_shared<EntryType>();
    stale->ctx = entry->ctx;  // key, project and account ids: later invalidations match
    stale->fetched_at_ms = std::numeric_limits<int64_t>::max();  // always reloaded
    stale->last_used_ms.store(entry->last_used_ms.load());
    stale->flushed_used_ms.store(entry->flushed_used_ms.load());
    entry = std::move(stale);
  }
}

}  // namespace

KeyAuthenticator::KeyAuthenticator(control::ControlPlane& db, const core::Clock& clock,
                                   std::vector<config::TierLimits> tiers, int64_t cache_ttl_ms)
    : db_(db), clock_(clock), tiers_(std::move(tiers)), cache_ttl_ms_(cache_ttl_ms) {}

KeyAuthenticator::Limits KeyAuthenticator::LimitsFor(const control::Account& account,
                                                     const control::Project& project) const {
  Limits limits;
  if (const config::TierLimits* tier = config::FindTier(tiers_, account.tier)) {
    limits.rpm = tier->rate_limit_rpm;
    limits.ingest_rpm = tier->ingest_rate_limit_rpm;
  } else {
    // A tier removed from the config after accounts were put on it: the most
    // restrictive built-in limits rather than none.
    const config::TierLimits* free = config::FindTier(config::DefaultTiers(), "free");
    limits.rpm = free != nullptr ? free->rate_limit_rpm : 60;
    limits.ingest_rpm = free != nullptr ? free->ingest_rate_limit_rpm : 600;
  }
  if (project.rate_limit_rpm) limits.rpm = *project.rate_limit_rpm;
  return limits;
}

std::shared_ptr<KeyAuthenticator::Entry> KeyAuthenticator::Cached(const std::string& prefix) const {
  std::shared_lock lock(mu_);
  auto it = cache_.find(prefix);
  return it == cache_.end() ? nullptr : it->second;
}

core::Result<std::shared_ptr<KeyAuthenticator::Entry>> KeyAuthenticator::Load(
    const std::string& prefix, int64_t now_ms) const {
  auto key = db_.FindKeyByPrefix(prefix);
  if (!key) {
    if (key.error().code == core::ErrorCode::kNotFound) return Unauthorized("unknown API key");
    return core::Unexpected(key.error());
  }
  const control::KeySecret* secret = nullptr;
  for (const control::KeySecret& s : key->secrets) {
    if (s.prefix == prefix) secret = &s;
  }
  if (secret == nullptr) return Unauthorized("unknown API key");
  auto account = db_.GetAccount(key->account_id);
  if (!account) return core::Unexpected(account.error());
  auto entry = std::make_shared<Entry>();
  entry->hash_hex = secret->hash_hex;
  entry->expires_at_ms = secret->expires_at_ms;
  entry->key_status = key->status;
  entry->account_status = account->status;
  entry->fetched_at_ms = now_ms;
  RequestContext& ctx = entry->ctx;
  ctx.account_id = key->account_id;
  ctx.project_id = key->project_id;
  ctx.key_id = key->id;
  ctx.scopes = key->scopes;
  ctx.tier = account->tier;
  auto project = db_.GetProject(key->account_id, key->project_id);
  if (project) {
    ctx.project_scopes = project->scopes;
    Limits limits = LimitsFor(*account, *project);
    ctx.rate_limit_rpm = limits.rpm;
    ctx.ingest_rate_limit_rpm = limits.ingest_rpm;
  } else if (project.error().code == core::ErrorCode::kNotFound) {
    entry->key_status = "revoked";  // its project was deleted
  } else {
    return core::Unexpected(project.error());
  }
  return entry;
}

core::Result<RequestContext> KeyAuthenticator::Authenticate(const core::HttpRequest& req) const {
  std::optional<std::string> credential = ExtractCredential(req);
  if (!credential) {
    return Unauthorized("missing API key: send 'Authorization: Bearer <key>'");
  }
  auto parsed = ParseApiKey(*credential);
  if (!parsed) {
    core::Error e = parsed.error();
    if (e.param.empty()) e.param = "Authorization";
    return core::Unexpected(std::move(e));
  }
  const std::string prefix(parsed->prefix);
  const int64_t now_ms = clock_.NowMs();

  std::shared_ptr<Entry> entry = Cached(prefix);
  if (entry == nullptr || now_ms - entry->fetched_at_ms >= cache_ttl_ms_ ||
      now_ms < entry->fetched_at_ms) {
    auto loaded = Load(prefix, now_ms);
    if (!loaded) return core::Unexpected(loaded.error());
    if (entry != nullptr) {
      (*loaded)->last_used_ms.store(entry->last_used_ms.load());
      (*loaded)->flushed_used_ms.store(entry->flushed_used_ms.load());
    }
    entry = std::move(*loaded);
    std::unique_lock lock(mu_);
    cache_[prefix] = entry;
  }

  // Only a caller holding the secret learns anything about the key's state.
  if (!core::ConstantTimeEquals(core::Sha256Hex(*credential), entry->hash_hex)) {
    return Unauthorized("unknown API key");
  }
  if (entry->key_status == "revoked") return Unauthorized("API key has been revoked");
  if (entry->expires_at_ms && now_ms >= *entry->expires_at_ms) {
    return Unauthorized("API key was rotated and its grace period ended at " +
                        core::FormatIso8601(*entry->expires_at_ms) + "; use the new secret");
  }
  if (entry->account_status != "active") {
    return core::Fail(core::ErrorCode::kForbidden, "account is " + entry->account_status);
  }
  int64_t last = entry->last_used_ms.load(std::memory_order_relaxed);
  while (last < now_ms &&
         !entry->last_used_ms.compare_exchange_weak(last, now_ms, std::memory_order_relaxed)) {
  }
  return entry->ctx;
}

// Invalidated entries are not erased but replaced by a stale copy: the next
// request re-reads the key (a fetch time in the future always reloads), and the
// copy keeps the entry's last-used marks, which FlushLastUsed() still writes and
// the reload carries over. Erasing would lose the last use of a key revoked,
// rotated or updated before the next flush, the one an operator looks for after
// a leak.
void KeyAuthenticator::InvalidateKey(const std::string& key_id) {
  std::unique_lock lock(mu_);
  MarkStaleLocked(cache_, [&](const auto& e) { return e.ctx.key_id == key_id; });
}

void KeyAuthenticator::InvalidateAccount(const std::string& account_id) {
  std::unique_lock lock(mu_);
  MarkStaleLocked(cache_, [&](const auto& e) { return e.ctx.account_id == account_id; });
}

void KeyAuthenticator::InvalidateProject(const std::string& project_id) {
  std::unique_lock lock(mu_);
  MarkStaleLocked(cache_, [&](const auto& e) { return e.ctx.project_id == project_id; });
}

core::Status KeyAuthenticator::FlushLastUsed() {
  std::vector<std::pair<std::string, int64_t>> touched;
  std::vector<std::pair<std::shared_ptr<Entry>, int64_t>> marks;
  {
    std::shared_lock lock(mu_);
    for (const auto& [prefix, entry] : cache_) {
      const int64_t used = entry->last_used_ms.load();
      if (used > entry->flushed_used_ms.load()) {
        touched.emplace_back(entry->ctx.key_id, used);
        marks.emplace_back(entry, used);
      }
    }
  }
  if (touched.empty()) return {};
  auto status = db_.TouchKeys(touched);
  if (!status) return status;
  for (auto& [entry, used] : marks) entry->flushed_used_ms.store(used);
  return {};
}

}  // namespace rest
