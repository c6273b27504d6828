// IdempotencyCache: replays the first response for a repeated idempotency key
// (API.md section 1). Keys are scoped per project; entries live 24 h.
//
// A request calls Begin(); on kNew it does the work and then Complete() (or
// Abandon() when the outcome must not be replayed, e.g. a 503). Same key + same
// body hash while the first is running -> kInFlight (409); after -> kReplay with
// the stored response; different body -> kReused (422).
//
// Thread-safe (one mutex; only requests that carry a key reach it).
// In memory for now: the WAL issue makes keys survive restarts.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace exporter {

struct StoredResponse {
  int status = 0;
  std::string body;
};

// Where idempotency records live: IdempotencyCache (memory + WAL, for ingest)
// or a durable table (account routes). Implementations are thread-safe.
class IdempotencyStore {
 public:
  enum class Outcome { kNew, kReplay, kInFlight, kReused };
  struct BeginResult {
    Outcome outcome;
    StoredResponse response;  // set for kReplay
  };
  virtual ~IdempotencyStore() = default;
  virtual BeginResult Begin(const std::string& project, const std::string& key,
                            const std::string& body_hash, int64_t now_ms) = 0;
  virtual void Complete(const std::string& project, const std::string& key,
                        StoredResponse response) = 0;
  virtual void Abandon(const std::string& project, const std::string& key) = 0;
};

class IdempotencyCache final : public IdempotencyStore {
 public:
  explicit IdempotencyCache(int64_t ttl_ms = 24LL * 3'600'000, size_t max_entries = 1'000'000)
      : ttl_ms_(ttl_ms), max_entries_(max_entries) {}

  BeginResult Begin(const std::string& project, const std::string& key,
                    const std::string& body_hash, int64_t now_ms) override;
  void Complete(const std::string& project, const std::string& key,
                StoredResponse response) override;
  void Abandon(const std::string& project, const std::string& key) override;
  // Re-creates a completed entry (WAL replay); `created_ms` is when the first
  // request was answered, so the 24 h window is kept across restarts.
  void Restore(const std::string& project, const std::string& key, const std::string& body_hash,
               StoredResponse response, int64_t created_ms);

  // A completed entry, for snapshots.
  struct Completed {
    std::string project;
    std::string key;
    std::string body_hash;
    StoredResponse response;
    int64_t created_ms = 0;
  };
  std::vector<Completed> ExportCompleted() const;

  size_t size() const;

 private:
  struct Entry {
    std::string body_hash;
    bool done = false;
    StoredResponse response;
    int64_t created_ms = 0;
  };
  static std::string MapKey(const std::string& project, const std::string& key);
  void PurgeExpiredLocked(int64_t now_ms);

  const int64_t ttl_ms_;
  const size_t max_entries_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;  // guarded by mu_
  int64_t last_purge_ms_ = 0;                       // guarded by mu_
};

}  // namespace exporter
