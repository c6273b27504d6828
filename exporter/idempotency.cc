#include "exporter/idempotency.h"

namespace exporter {

std::string IdempotencyCache::MapKey(const std::string& project, const std::string& key) {
  std::string k;
  k.reserve(project.size() + key.size() + 1);
  k.append(project).push_back('\x1f');
  k.append(key);
  return k;
}

void IdempotencyCache::PurgeExpiredLocked(int64_t now_ms) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    // In-flight entries older than the TTL belong to requests that never finished.
    if (now_ms - it->second.created_ms >= ttl_ms_) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  last_purge_ms_ = now_ms;
}

IdempotencyCache::BeginResult IdempotencyCache::Begin(const std::string& project,
                                                      const std::string& key,
                                                      const std::string& body_hash,
                                                      int64_t now_ms) {
  std::lock_guard lock(mu_);
  // Purge at most once a minute, or when full, so Begin stays O(1) amortised.
  if (now_ms - last_purge_ms_ >= 60'000 || entries_.size() >= max_entries_) {
    PurgeExpiredLocked(now_ms);
  }
  const std::string map_key = MapKey(project, key);
  auto it = entries_.find(map_key);
  if (it != entries_.end() && now_ms - it->second.created_ms >= ttl_ms_ && it->second.done) {
    entries_.erase(it);
    it = entries_.end();
  }
  if (it == entries_.end()) {
    Entry e;
    e.body_hash = body_hash;
    e.created_ms = now_ms;
    entries_.emplace(map_key, std::move(e));
    return {Outcome::kNew, {}};
  }
  if (it->second.body_hash != body_hash) return {Outcome::kReused, {}};
  if (!it->second.done) return {Outcome::kInFlight, {}};
  return {Outcome::kReplay, it->second.response};
}

void IdempotencyCache::Complete(const std::string& project, const std::string& key,
                                StoredResponse response) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(MapKey(project, key));
  if (it == entries_.end()) return;
  it->second.done = true;
  it->second.response = std::move(response);
}

void IdempotencyCache::Abandon(const std::string& project, const std::string& key) {
  std::lock_guard lock(mu_);
  entries_.erase(MapKey(project, key));
}

void IdempotencyCache::Restore(const std::string& project, const std::string& key,
                               const std::string& body_hash, StoredResponse response,
                               int64_t created_ms) {
  std::lock_guard lock(mu_);
  Entry& e = entries_[MapKey(project, key)];
  e.body_hash = body_hash;
  e.done = true;
  e.response = std::move(response);
  e.created_ms = created_ms;
}

std::vector<IdempotencyCache::Completed> IdempotencyCache::ExportCompleted() const {
  std::lock_guard lock(mu_);
  std::vector<Completed> out;
  out.reserve(entries_.size());
  for (const auto& [map_key, e] : entries_) {
    if (!e.done) continue;
    const size_t sep = map_key.find('\x1f');
    out.push_back({map_key.substr(0, sep), map_key.substr(sep + 1), e.body_hash, e.response,
                   e.created_ms});
  }
  return out;
}

size_t IdempotencyCache::size() const {
  std::lock_guard lock(mu_);
  return entries_.size();
}

}  // namespace exporter
