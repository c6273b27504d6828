// DurableIdempotency: idempotency records of account routes kept in the
// ControlPlane (SQLite), so a retried "create key" after a restart still gets
// the first response instead of a second key (API.md section 1: 24 h, scoped
// per project). Requests in flight are tracked in memory: a process that dies
// mid-request leaves nothing behind, so the retry simply runs.
//
// Secrets are never written to disk: before a response is stored, the fields
// that carry a secret shown once (key_secret, key, invite_token) are replaced by
// null and "secret_redacted": true is added. The full response is kept in memory
// for `secret_replay_ms` (15 min), so a client that lost the first answer and
// retries soon still gets its secret; later (or after a restart) the replay says
// the secret was redacted, and the client rotates the key instead.
//
// Thread-safe: mu_ guards the in-flight and recent maps; the ControlPlane is
// thread-safe.
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
  explicit DurableIdempotency(control::ControlPlane& db, int64_t ttl_ms = 24LL * 3'600'000,
                              int64_t secret_replay_ms = 15LL * 60'000)
      : db_(db), ttl_ms_(ttl_ms), secret_replay_ms_(secret_replay_ms) {}

  BeginResult Begin(const std::string& project, const std::string& key,
                    const std::string& body_hash, int64_t now_ms) override;
  void Complete(const std::string& project, const std::string& key,
                exporter::StoredResponse response) override;
  void Abandon(const std::string& project, const std::string& key) override;

  // Deletes records older than the TTL (and forgets old in-memory responses).
  // Called by a runner.
  core::Result<int64_t> Purge(int64_t now_ms);

  // `body` with every secret-bearing field nulled; unchanged when it has none
  // (or is not a JSON object).
  static std::string RedactSecrets(const std::string& body);

 private:
  struct InFlight {
    std::string body_hash;
    int64_t started_ms = 0;
  };
  struct Recent {
    std::string body_hash;
    exporter::StoredResponse response;  // unredacted
    int64_t completed_ms = 0;
  };
  using Key = std::pair<std::string, std::string>;  // (project, idempotency key)

  control::ControlPlane& db_;
  const int64_t ttl_ms_;
  const int64_t secret_replay_ms_;
  std::mutex mu_;
  std::map<Key, InFlight> in_flight_;  // guarded by mu_
  std::map<Key, Recent> recent_;       // guarded by mu_; only responses that held secrets
};

}  // namespace rest
