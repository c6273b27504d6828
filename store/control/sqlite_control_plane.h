// SqliteControlPlane: the ControlPlane in one SQLite file (<storage.dir>/tally.db).
//
// Open() applies the versioned schema migrations (PRAGMA user_version; each
// step in its own transaction) and refuses a file whose schema is newer than
// this build knows. The connection runs in WAL mode with synchronous=FULL, so
// every mutation is on stable storage when its method returns; a multi-row
// mutation is one transaction.
//
// Storage choices: scopes are stored space-separated (a scope containing
// whitespace is kInvalidRequest); projects are soft-deleted (their revoked keys
// keep pointing at them); list cursors encode the row's AUTOINCREMENT sequence,
// so a page never shifts when rows are inserted or deleted.
//
// Thread-safe: one mutex (mu_) serializes every call on the connection. This is
// the control plane, not the hot path; callers cache keys in memory.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "store/control/control_plane.h"
#include "store/control/sqlite_db.h"

namespace control {

class SqliteControlPlane final : public ControlPlane {
 public:
  // The schema version this build writes (the last migration's number).
  static int SchemaVersion();

  // Opens or creates the database at `path` and migrates it to SchemaVersion().
  static core::Result<std::unique_ptr<SqliteControlPlane>> Open(const std::string& path);

  // PRAGMA integrity_check: "ok" for a healthy file, else SQLite's findings
  // one per line.
  core::Result<std::string> IntegrityCheck();

  // --- ControlPlane
  core::Result<Account> CreateAccount(const std::string& name, const std::string& tier,
                                      int64_t now_ms) override;
  core::Result<Account> GetAccount(const std::string& account_id) override;
  core::Result<std::vector<Account>> ListAccounts() override;
  core::Status SetAccountTier(const std::string& account_id, const std::string& tier) override;
  core::Result<bool> IsEmpty() override;

  core::Result<Project> CreateProject(const Project& project, int64_t now_ms) override;
  core::Result<Project> GetProject(const std::string& account_id,
                                   const std::string& project_id) override;
  core::Result<Page<Project>> ListProjects(const std::string& account_id,
                                           const std::optional<std::string>& cursor,
                                           int limit) override;
  core::Result<Project> UpdateProject(const Project& project) override;
  core::Status DeleteProject(const std::string& account_id, const std::string& project_id,
                             int64_t now_ms) override;

  core::Result<ApiKey> CreateKey(const ApiKey& key, int64_t now_ms) override;
  core::Result<ApiKey> GetKey(const std::string& account_id, const std::string& key_id) override;
  core::Result<ApiKey> FindKeyByPrefix(const std::string& prefix) override;
  core::Result<Page<ApiKey>> ListKeys(const std::string& account_id, const std::string& project_id,
                                      const std::optional<std::string>& cursor, int limit) override;
  core::Result<ApiKey> UpdateKey(const std::string& account_id, const std::string& key_id,
                                 const std::optional<std::string>& name,
                                 const std::optional<std::vector<std::string>>& scopes) override;
  core::Result<ApiKey> AddSecret(const std::string& account_id, const std::string& key_id,
                                 const KeySecret& secret, int64_t old_expires_at_ms) override;
  core::Result<ApiKey> SetKeyStatus(const std::string& account_id, const std::string& key_id,
                                    const std::string& status, int64_t now_ms) override;
  core::Status TouchKeys(const std::vector<std::pair<std::string, int64_t>>& last_used) override;

  core::Result<Member> AddMember(const Member& member, int64_t now_ms) override;
  core::Result<Page<Member>> ListMembers(const std::string& account_id,
                                         const std::optional<std::string>& cursor,
                                         int limit) override;
  core::Status RemoveMember(const std::string& account_id, const std::string& member_id) override;

  core::Status AddUsage(const std::vector<UsageRow>& rows) override;
  core::Result<std::vector<UsageRow>> QueryUsage(const std::string& account_id, int64_t start_ms,
                                                 int64_t end_ms) override;

  core::Result<BandwidthAlert> CreateBandwidthAlert(const std::string& account_id,
                                                    int64_t threshold_bytes,
                                                    int64_t now_ms) override;
  core::Result<std::vector<BandwidthAlert>> ListBandwidthAlerts(
      const std::string& account_id) override;
  core::Status DeleteBandwidthAlert(const std::string& account_id,
                                    const std::string& alert_id) override;

  core::Result<std::optional<IdempotencyRecord>> GetIdempotency(const std::string& project_id,
                                                                const std::string& key) override;
  core::Status PutIdempotency(const IdempotencyRecord& record) override;
  core::Result<int64_t> PurgeIdempotency(int64_t before_ms) override;

  core::Result<std::pair<Anomaly, bool>> RecordAnomaly(const Anomaly& a, int64_t now_ms) override;
  core::Result<std::vector<Anomaly>> ListAnomalies(const std::string& project_id,
                                                   const AnomalyFilter& filter) override;
  core::Status ResolveAnomalies(const std::string& project_id, const std::vector<std::string>& ids,
                                int64_t now_ms) override;
  core::Result<Anomaly> SetAnomalyStatus(const std::string& project_id, const std::string& id,
                                         const std::string& status, int64_t now_ms) override;

 private:
  explicit SqliteControlPlane(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  // REQUIRES: mu_ held (the *Locked helpers below).
  // The key with its secrets; kNotFound unless it exists and, when
  // `account_id` is non-null, belongs to that account.
  core::Result<ApiKey> LoadKeyLocked(const std::string& key_id, const std::string* account_id);
  core::Status LoadSecretsLocked(ApiKey& key);
  // Ok when the project exists in the account and is not deleted, else kNotFound.
  core::Status CheckProjectLocked(const std::string& account_id, const std::string& project_id);
  core::Result<Anomaly> LoadAnomalyLocked(const std::string& project_id, const std::string& id);

  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;  // guarded by mu_
};

}  // namespace control
