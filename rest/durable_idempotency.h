// DurableIdempotency: idempotency records of account routes kept in the
// ControlPlane (SQLite), so a retried "create key" after a restart still gets
// the first response instead of a second key (API.md section 1: 24 h, scoped
// per project). Requests in flight are tracked in memory: a process that dies
// mid-request leaves nothing behind, so the retry simply runs.
//
// Thread-safe: mu_ guards the in-flight map; the ControlPlane is thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "exporter/idempotency.h"
#include "store/control/control_plane.h"

namespace rest {

class DurableIdempotency final : public exporter::IdempotencyStore {
 public:
  explicit DurableIdempotency(control::ControlPlane& db, int64_t ttl_ms = 24LL * 3'600'000)
      : db_(db), ttl_ms_(ttl_ms) {}

  BeginResult Begin(const std::string& project, const std::string& key,
                    const std::string& body_hash, int64_t now_ms) override;
  void Complete(const std::string& project, const std::string& key,
                exporter::StoredResponse response) override;
  void Abandon(const std::string& project, const std::string& key) override;

  // Deletes records older than the TTL. Called by a runner.
  core::Result<int64_t> Purge(int64_t now_ms) { return db_.PurgeIdempotency(now_ms - ttl_ms_); }

 private:
  struct InFlight {
    std::string body_hash;
    int64_t started_ms = 0;
  };
  control::ControlPlane& db_;
  const int64_t ttl_ms_;
  std::mutex mu_;
  std::map<std::pair<std::string, std::string>, InFlight> in_flight_;  // guarded by mu_
};

}  // namespace rest
