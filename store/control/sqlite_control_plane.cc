#include "store/control/sqlite_control_plane.h"

#include <sys/random.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <iterator>
#include <string_view>
#include <utility>

namespace control {
namespace {

using core::ErrorCode;

// Schema migrations: entry i takes user_version i to i + 1. Append only; never
// edit a step that has shipped.
constexpr const char* kMigrations[] = {
    // 1: the initial schema. `seq` (AUTOINCREMENT: never reused) orders lists
    // and is what cursors encode.
    R"sql(
CREATE TABLE accounts (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  tier TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL
);
CREATE TABLE projects (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  name TEXT NOT NULL,
  scopes TEXT NOT NULL,
  rate_limit_rpm INTEGER,
  metadata_json TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  deleted_at_ms INTEGER
);
CREATE INDEX projects_by_account ON projects(account_id, seq);
CREATE TABLE api_keys (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  project_id TEXT NOT NULL REFERENCES projects(id),
  name TEXT NOT NULL,
  scopes TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  last_used_at_ms INTEGER,
  revoked_at_ms INTEGER
);
CREATE INDEX api_keys_by_account ON api_keys(account_id, seq);
CREATE INDEX api_keys_by_project ON api_keys(project_id, seq);
CREATE TABLE key_secrets (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  key_id TEXT NOT NULL REFERENCES api_keys(id),
  prefix TEXT NOT NULL UNIQUE,
  hash_hex TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER
);
CREATE INDEX key_secrets_by_key ON key_secrets(key_id, seq);
CREATE TABLE members (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  email TEXT NOT NULL COLLATE NOCASE,
  role TEXT NOT NULL,
  status TEXT NOT NULL,
  invite_token_hash TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  UNIQUE (account_id, email)
);
CREATE TABLE usage_hourly (
  account_id TEXT NOT NULL,
  project_id TEXT NOT NULL,
  hour_start_ms INTEGER NOT NULL,
  capability TEXT NOT NULL,
  requests INTEGER NOT NULL,
  ingress_bytes INTEGER NOT NULL,
  egress_bytes INTEGER NOT NULL,
  PRIMARY KEY (account_id, project_id, hour_start_ms, capability)
) WITHOUT ROWID;
CREATE INDEX usage_hourly_by_hour ON usage_hourly(account_id, hour_start_ms);
CREATE TABLE bandwidth_alerts (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  threshold_bytes INTEGER NOT NULL,
  enabled INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL,
  last_fired_period_start_ms INTEGER
);
CREATE INDEX bandwidth_alerts_by_account ON bandwidth_alerts(account_id, seq);
CREATE TABLE idempotency (
  project_id TEXT NOT NULL,
  key TEXT NOT NULL,
  body_hash TEXT NOT NULL,
  status INTEGER NOT NULL,
  response_body BLOB NOT NULL,
  created_at_ms INTEGER NOT NULL,
  PRIMARY KEY (project_id, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_by_created ON idempotency(created_at_ms);
)sql",
    // 2: detected anomalies (rest/anomaly_detector.h). One row per bucket.
    R"sql(
CREATE TABLE anomalies (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  project_id TEXT NOT NULL,
  entity_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  type TEXT NOT NULL,
  granularity TEXT NOT NULL,
  period_start_ms INTEGER NOT NULL,
  severity TEXT NOT NULL,
  description TEXT NOT NULL,
  expected_value REAL NOT NULL,
  actual_value REAL NOT NULL,
  ratio REAL NOT NULL,
  status TEXT NOT NULL,
  detected_at_ms INTEGER NOT NULL,
  resolved_at_ms INTEGER,
  dismissed_at_ms INTEGER,
  UNIQUE (project_id, entity_type, entity_id, type, granularity, period_start_ms)
);
CREATE INDEX anomalies_by_period ON anomalies(project_id, period_start_ms);
CREATE INDEX anomalies_by_status ON anomalies(project_id, status);
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

template <typename R>
core::Unexpected<core::Error> Err(R&& result) {
  return core::Unexpected(std::forward<R>(result).error());
}

template <typename... Args>
core::Result<Statement> PrepareBound(SqliteDb& db, std::string_view sql, const Args&... args) {
  auto stmt = db.Prepare(sql);
  if (!stmt) return stmt;
  if (auto st = stmt->BindAll(args...); !st) return Err(st);
  return stmt;
}

// Runs a statement that returns no rows.
template <typename... Args>
core::Status ExecBound(SqliteDb& db, std::string_view sql, const Args&... args) {
  auto stmt = PrepareBound(db, sql, args...);
  if (!stmt) return Err(stmt);
  return stmt->Run();
}

core::Result<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return core::Fail(ErrorCode::kInternal, "not an integer: \"" + std::string(s) + "\"");
  }
  return v;
}

// --- ids

// `prefix` + 16 lower-case hex characters (64 bits from getrandom(2)).
core::Result<std::string> NewId(std::string_view prefix) {
  unsigned char bytes[8];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    const ssize_t n = ::getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return core::Fail(ErrorCode::kInternal, std::string("getrandom: ") + std::strerror(errno));
    }
    got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(prefix);
  for (unsigned char b : bytes) {
    id += kHex[b >> 4];
    id += kHex[b & 0xf];
  }
  return id;
}

// --- cursors: base64url (no padding) of "<kind>:<seq>". The kind letter ties
// a cursor to its list, so one list's cursor is rejected by another.

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64Url(std::string_view in) {
  std::string out;
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (uint32_t{static_cast<uint8_t>(in[i])} << 16) |
                       (uint32_t{static_cast<uint8_t>(in[i + 1])} << 8) |
                       uint32_t{static_cast<uint8_t>(in[i + 2])};
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  const size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{static_cast<uint8_t>(in[i])} << 16;
    if (rest == 2) v |= uint32_t{static_cast<uint8_t>(in[i + 1])} << 8;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    if (rest == 2) out += kB64[(v >> 6) & 63];
  }
  return out;
}

std::optional<std::string> DecodeBase64Url(std::string_view in) {
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const char* p = std::strchr(kB64, c);
    if (c == '\0' || p == nullptr) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // Canonical form only: the unused low bits of the last character are zero.
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string EncodeCursor(char kind, int64_t seq) {
  return Base64Url(std::string(1, kind) + ":" + std::to_string(seq));
}

// The sequence after which the page starts: 0 without a cursor.
core::Result<int64_t> DecodeCursor(char kind, const std::optional<std::string>& cursor) {
  if (!cursor) return 0;
  auto bad = [] { return core::Fail(ErrorCode::kInvalidRequest, "malformed cursor", "cursor"); };
  if (cursor->empty() || cursor->size() > 64) return bad();
  auto text = DecodeBase64Url(*cursor);
  if (!text || text->size() < 3 || (*text)[0] != kind || (*text)[1] != ':') return bad();
  const std::string_view digits = std::string_view(*text).substr(2);
  if (digits[0] < '1' || digits[0] > '9') return bad();  // no sign, no leading zeros
  auto seq = ParseInt(digits);
  if (!seq) return bad();
  return *seq;
}

int64_t PageFetch(int limit) { return static_cast<int64_t>(limit <= 0 ? 1 : limit) + 1; }

// Reads the rows of a list query that fetched PageFetch(limit) rows; the row's
// seq is column `seq_column`.
template <typename T, typename Read>
core::Result<Page<T>> ReadPage(Statement& stmt, int limit, char kind, int seq_column, Read read) {
  const size_t want = static_cast<size_t>(PageFetch(limit) - 1);
  Page<T> page;
  int64_t last_seq = 0;
  for (;;) {
    auto row = stmt.Step();
    if (!row) return Err(row);
    if (!*row) break;
    if (page.items.size() == want) {
      page.next_cursor = EncodeCursor(kind, last_seq);
      break;
    }
    page.items.push_back(read(stmt));
    last_seq = stmt.Int64(seq_column);
  }
  return page;
}

// --- scopes: stored space-separated

bool HasSpace(std::string_view s) {
  return s.find_first_of(" \t\r\n\v\f") != std::string_view::npos;
}

core::Result<std::string> JoinScopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (size_t i = 0; i < scopes.size(); ++i) {
    if (scopes[i].empty() || HasSpace(scopes[i])) {
      return core::Fail(
          ErrorCode::kInvalidRequest,
          "a scope must be non-empty and contain no whitespace: \"" + scopes[i] + "\"",
          "scopes[" + std::to_string(i) + "]");
    }
    if (i > 0) out += ' ';
    out += scopes[i];
  }
  return out;
}

std::vector<std::string> SplitScopes(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const size_t sp = s.find(' ');
    if (sp != 0) out.emplace_back(s.substr(0, sp));
    if (sp == std::string_view::npos) break;
    s.remove_prefix(sp + 1);
  }
  return out;
}

bool IsOneOf(std::string_view s, std::initializer_list<std::string_view> values) {
  for (std::string_view v : values) {
    if (s == v) return true;
  }
  return false;
}

core::Status CheckKeyStatus(const std::string& status) {
  if (IsOneOf(status, {"active", "suspected_compromise", "revoked"})) return {};
  return core::Fail(ErrorCode::kInvalidRequest, "unknown key status \"" + status + "\"", "status");
}

// --- rows

constexpr std::string_view kAccountCols = "id, name, tier, status, created_at_ms";

Account ReadAccount(const Statement& s) {
  Account a;
  a.id = s.Text(0);
  a.name = s.Text(1);
  a.tier = s.Text(2);
  a.status = s.Text(3);
  a.created_at_ms = s.Int64(4);
  return a;
}

constexpr std::string_view kProjectCols =
    "id, account_id, name, scopes, rate_limit_rpm, metadata_json, created_at_ms, seq";
constexpr int kProjectSeq = 7;

Project ReadProject(const Statement& s) {
  Project p;
  p.id = s.Text(0);
  p.account_id = s.Text(1);
  p.name = s.Text(2);
  p.scopes = SplitScopes(s.Text(3));
  p.rate_limit_rpm = s.OptionalInt64(4);
  p.metadata_json = s.Text(5);
  p.created_at_ms = s.Int64(6);
  return p;
}

constexpr std::string_view kKeyCols =
    "id, account_id, project_id, name, scopes, status, created_at_ms, last_used_at_ms, "
    "revoked_at_ms, seq";
constexpr int kKeySeq = 9;

ApiKey ReadKey(const Statement& s) {
  ApiKey k;
  k.id = s.Text(0);
  k.account_id = s.Text(1);
  k.project_id = s.Text(2);
  k.name = s.Text(3);
  k.scopes = SplitScopes(s.Text(4));
  k.status = s.Text(5);
  k.created_at_ms = s.Int64(6);
  k.last_used_at_ms = s.OptionalInt64(7);
  k.revoked_at_ms = s.OptionalInt64(8);
  return k;
}

constexpr std::string_view kMemberCols =
    "id, account_id, email, role, status, invite_token_hash, created_at_ms, seq";
constexpr int kMemberSeq = 7;

Member ReadMember(const Statement& s) {
  Member m;
  m.id = s.Text(0);
  m.account_id = s.Text(1);
  m.email = s.Text(2);
  m.role = s.Text(3);
  m.status = s.Text(4);
  m.invite_token_hash = s.Text(5);
  m.created_at_ms = s.Int64(6);
  return m;
}

constexpr std::string_view kAlertCols =
    "id, account_id, threshold_bytes, enabled, created_at_ms, last_fired_period_start_ms";

BandwidthAlert ReadAlert(const Statement& s) {
  BandwidthAlert a;
  a.id = s.Text(0);
  a.account_id = s.Text(1);
  a.threshold_bytes = s.Int64(2);
  a.enabled = s.Int64(3) != 0;
  a.created_at_ms = s.Int64(4);
  a.last_fired_period_start_ms = s.OptionalInt64(5);
  return a;
}

std::string Sql(std::string_view a, std::string_view b, std::string_view c = {}) {
  std::string s(a);
  s += b;
  s += c;
  return s;
}

core::Result<int> UserVersion(SqliteDb& db) {
  auto text = db.QueryText("PRAGMA user_version");
  if (!text) return Err(text);
  auto v = ParseInt(*text);
  if (!v) return Err(v);
  return static_cast<int>(*v);
}

core::Error NewerSchema(const std::string& path, int version) {
  return core::MakeError(ErrorCode::kInternal,
                         path + ": schema version " + std::to_string(version) +
                             " is newer than this build of tally supports (" +
                             std::to_string(kSchemaVersion) +
                             "); run the tally version that wrote it, or restore a backup");
}

}  // namespace

int SqliteControlPlane::SchemaVersion() { return kSchemaVersion; }

core::Result<std::unique_ptr<SqliteControlPlane>> SqliteControlPlane::Open(
    const std::string& path) {
  auto db = SqliteDb::Open(path);
  if (!db) return Err(db);
  auto version = UserVersion(**db);
  if (!version) return Err(version);
  if (*version > kSchemaVersion) return core::Unexpected(NewerSchema(path, *version));

  for (int target = *version + 1; target <= kSchemaVersion; ++target) {
    auto st = (*db)->Transaction([&]() -> core::Status {
      // Re-read under the write lock: another process may have migrated meanwhile.
      auto current = UserVersion(**db);
      if (!current) return Err(current);
      if (*current > kSchemaVersion) return core::Unexpected(NewerSchema(path, *current));
      if (*current >= target) return {};
      if (*current != target - 1) {
        return core::Fail(ErrorCode::kInternal, path + ": unexpected schema version " +
                                                    std::to_string(*current) + " while migrating");
      }
      if (auto st = (*db)->Exec(kMigrations[target - 1]); !st) return st;
      return (*db)->Exec("PRAGMA user_version = " + std::to_string(target));
    });
    if (!st) {
      core::Error error = std::move(st).error();
      error.message = path + ": migration to schema version " + std::to_string(target) +
                      " failed: " + error.message;
      return core::Unexpected(std::move(error));
    }
  }
  return std::unique_ptr<SqliteControlPlane>(new SqliteControlPlane(std::move(*db)));
}

core::Result<std::string> SqliteControlPlane::IntegrityCheck() {
  std::lock_guard lock(mu_);
  auto stmt = db_->Prepare("PRAGMA integrity_check");
  if (!stmt) return Err(stmt);
  std::string out;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return Err(row);
    if (!*row) break;
    if (!out.empty()) out += '\n';
    out += stmt->Text(0);
  }
  return out;
}

// --- accounts

core::Result<Account> SqliteControlPlane::CreateAccount(const std::string& name,
                                                        const std::string& tier, int64_t now_ms) {
  auto id = NewId("acc_");
  if (!id) return Err(id);
  Account account{*id, name, tier, "active", now_ms};
  std::lock_guard lock(mu_);
  auto st = ExecBound(*db_,
                      "INSERT INTO accounts (id, name, tier, status, created_at_ms) "
                      "VALUES (?, ?, ?, ?, ?)",
                      account.id, account.name, account.tier, account.status, now_ms);
  if (!st) return Err(st);
  return account;
}

core::Result<Account> SqliteControlPlane::GetAccount(const std::string& account_id) {
  std::lock_guard lock(mu_);
  auto stmt =
      PrepareBound(*db_, Sql("SELECT ", kAccountCols, " FROM accounts WHERE id = ?"), account_id);
  if (!stmt) return Err(stmt);
  auto row = stmt->Step();
  if (!row) return Err(row);
  if (!*row) return core::Fail(ErrorCode::kNotFound, "no such account", "account_id");
  return ReadAccount(*stmt);
}

core::Result<std::vector<Account>> SqliteControlPlane::ListAccounts() {
  std::lock_guard lock(mu_);
  auto stmt = db_->Prepare(Sql("SELECT ", kAccountCols, " FROM accounts ORDER BY seq"));
  if (!stmt) return Err(stmt);
  std::vector<Account> out;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return Err(row);
    if (!*row) break;
    out.push_back(ReadAccount(*stmt));
  }
  return out;
}

core::Status SqliteControlPlane::SetAccountTier(const std::string& account_id,
                                                const std::string& tier) {
  std::lock_guard lock(mu_);
  if (auto st = ExecBound(*db_, "UPDATE accounts SET tier = ? WHERE id = ?", tier, account_id);
      !st) {
    return st;
  }
  if (db_->Changes() == 0) return core::Fail(ErrorCode::kNotFound, "no such account", "account_id");
  return {};
}

core::Result<bool> SqliteControlPlane::IsEmpty() {
  std::lock_guard lock(mu_);
  auto any = db_->QueryText("SELECT EXISTS (SELECT 1 FROM accounts)");
  if (!any) return Err(any);
  return *any == "0";
}

// --- projects

core::Status SqliteControlPlane::CheckProjectLocked(const std::string& account_id,
                                                    const std::string& project_id) {
  auto stmt = PrepareBound(*db_,
                           "SELECT 1 FROM projects WHERE id = ? AND account_id = ? "
                           "AND deleted_at_ms IS NULL",
                           project_id, account_id);
  if (!stmt) return Err(stmt);
  auto row = stmt->Step();
  if (!row) return Err(row);
  if (!*row) return core::Fail(ErrorCode::kNotFound, "no such project", "project_id");
  return {};
}

core::Result<Project> SqliteControlPlane::CreateProject(const Project& project, int64_t now_ms) {
  auto scopes = JoinScopes(project.scopes);
  if (!scopes) return Err(scopes);
  Project out = project;
  if (out.id.empty()) {
    auto id = NewId("prj_");
    if (!id) return Err(id);
    out.id = *id;
  }
  out.created_at_ms = now_ms;

  std::lock_guard lock(mu_);
  auto st = db_->Transaction([&]() -> core::Status {
    auto account = PrepareBound(*db_, "SELECT 1 FROM accounts WHERE id = ?", project.account_id);
    if (!account) return Err(account);
    auto row = account->Step();
    if (!row) return Err(row);
    if (!*row) return core::Fail(ErrorCode::kNotFound, "no such account", "account_id");
    return ExecBound(*db_,
                     "INSERT INTO projects (id, account_id, name, scopes, rate_limit_rpm, "
                     "metadata_json, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     out.id, out.account_id, out.name, *scopes, out.rate_limit_rpm,
                     out.metadata_json, now_ms);
  });
  if (!st) return Err(st);
  return out;
}

core::Result<Project> SqliteControlPlane::GetProject(const std::string& account_id,
                                                     const std::string& project_id) {
  std::lock_guard lock(mu_);
  auto stmt = PrepareBound(*db_,
                           Sql("SELECT ", kProjectCols,
                               " FROM projects WHERE id = ? AND account_id = ? "
                               "AND deleted_at_ms IS NULL"),
                           project_id, account_id);
  if (!stmt) return Err(stmt);
  auto row = stmt->Step();
  if (!row) return Err(row);
  if (!*row) return core::Fail(ErrorCode::kNotFound, "no such project", "project_id");
  return ReadProject(*stmt);
}

core::Result<Page<Project>> SqliteControlPlane::ListProjects(
    const std::string& account_id, const std::optional<std::string>& cursor, int limit) {
  auto after = DecodeCursor('p', cursor);
  if (!after) return Err(after);
  std::lock_guard lock(mu_);
  auto stmt = PrepareBound(*db_,
                           Sql("SELECT ", kProjectCols,
                               " FROM projects WHERE account_id = ? AND deleted_at_ms IS NULL "
                               "AND seq > ? ORDER BY seq LIMIT ?"),
                           account_id, *after, PageFetch(limit));
  if (!stmt) return Err(stmt);
  return ReadPage<Project>(*stmt, limit, 'p', kProjectSeq, ReadProject);
}

core::Result<Project> SqliteControlPlane::UpdateProject(const Project& project) {
  auto scopes = JoinScopes(project.scopes);
  if (!scopes) return Err(scopes);
  std::lock_guard lock(mu_);
  auto st = ExecBound(*db_,
                      "UPDATE projects SET name = ?, scopes = ?, rate_limit_rpm = ?, "
                      "metadata_json = ? WHERE id = ? AND account_id = ? AND deleted_at_ms IS NULL",
                      project.name, *scopes, project.rate_limit_rpm, project.metadata_json,
                      project.id, project.account_id);
  if (!st) return Err(st);
  if (db_->Changes() == 0) return core::Fail(ErrorCode::kNotFound, "no such project", "project_id");
  auto stmt =
      PrepareBound(*db_, Sql("SELECT ", kProjectCols, " FROM projects WHERE id = ?"), project.id);
  if (!stmt) return Err(stmt);
  auto row = stmt->Step();
  if (!row) return Err(row);
  if (!*row) return core::Fail(ErrorCode::kInternal, "updated project vanished");
  return ReadProject(*stmt);
}

core::Status SqliteControlPlane::DeleteProject(const std::string& account_id,
                                               const std::string& project_id, int64_t now_ms) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> core::Status {
    auto st = ExecBound(*db_,
                        "UPDATE projects SET deleted_at_ms = ? WHERE id = ? AND account_id = ? "
                        "AND deleted_at_ms IS NULL",
                        now_ms, project_id, account_id);
    if (!st) return st;
    if (db_->Changes() == 0) {
      return core::Fail(ErrorCode::kNotFound, "no such project", "project_id");
    }
    return ExecBound(*db_,
                     "UPDATE api_keys SET status = 'revoked', "
                     "revoked_at_ms = COALESCE(revoked_at_ms, ?) WHERE project_id = ?",
                     now_ms, project_id);
  });
}

// --- keys

core::Status SqliteControlPlane::LoadSecretsLocked(ApiKey& key) {
  auto stmt = PrepareBound(*db_,
                           "SELECT prefix, hash_hex, created_at_ms, expires_at_ms "
                           "FROM key_secrets WHERE key_id = ? ORDER BY seq DESC",
                           key.id);
  if (!stmt) return Err(stmt);
  key.secrets.clear();
  for (;;) {
    auto row = stmt->Step();
    if (!row) return Err(row);
    if (!*row) return {};
    key.secrets.push_back(
        KeySecret{stmt->Text(0), stmt->Text(1), stmt->Int64(2), stmt->OptionalInt64(3)});
  }
}

core::Result<ApiKey> SqliteControlPlane::LoadKeyLocked(const std::string& key_id,
                                                       const std::string* account_id) {
  auto stmt =
      account_id != nullptr
          ? PrepareBound(*db_,
                         Sql("SELECT ", kKeyCols, " FROM api_keys WHERE id = ? AND account_id = ?"),
                         key_id, *account_id)
          : PrepareBound(*db_, Sql("SELECT ", kKeyCols, " FROM api_keys WHERE id = ?"), key_id);
  if (!stmt) return Err(stmt);
  auto row = stmt->Step();
  if (!row) return Err(row);
  if (!*row) return core::Fail(ErrorCode::kNotFound, "no such key", "key_id");
  ApiKey key = ReadKey(*stmt);
  if (auto st = LoadSecretsLocked(key); !st) return Err(st);
  return key;
}

namespace {

// Inserts one secret of `key_id`; a prefix already in use is kConflict.
core::Status InsertSecret(SqliteDb& db, const std::string& key_id, const KeySecret& secret,
                          int64_t created_at_ms) {
  auto st = ExecBound(db,
                      "INSERT INTO key_secrets (key_id, prefix, hash_hex, created_at_ms, "
                      "expires_at_ms) VALUES (?, ?, ?, ?, ?)",
                      key_id, secret.prefix, secret.hash_hex, created_at_ms, secret.expires_at_ms);
  if (!st && st.error().code == ErrorCode::kConflict) {
    return core::Fail(ErrorCode::kConflict,
                      "key prefix \"" + secret.prefix + "\" is already in use", "prefix");
  }
  return st;
}

}  // namespace

core::Result<ApiKey> SqliteControlPlane::CreateKey(const ApiKey& key, int64_t now_ms) {
  if (key.secrets.size() != 1) {
    return core::Fail(ErrorCode::kInvalidRequest, "a new key needs exactly one secret", "secrets");
  }
  if (auto st = CheckKeyStatus(key.status); !st) return Err(st);
  auto scopes = JoinScopes(key.scopes);
  if (!scopes) return Err(scopes);
  auto id = NewId("key_");
  if (!id) return Err(id);
  const KeySecret& secret = key.secrets.front();

  std::lock_guard lock(mu_);
  auto st = db_->Transaction([&]() -> core::Status {
    if (auto st = CheckProjectLocked(key.account_id, key.project_id); !st) return st;
    auto ins = ExecBound(*db_,
                         "INSERT INTO api_keys (id, account_id, project_id, name, scopes, status, "
                         "created_at_ms, last_used_at_ms, revoked_at_ms) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         *id, key.account_id, key.project_id, key.name, *scopes, key.status, now_ms,
                         key.last_used_at_ms,
                         key.status == "revoked" ? std::optional<int64_t>(now_ms) : std::nullopt);
    if (!ins) return ins;
    return InsertSecret(*db_, *id, secret,
                        secret.created_at_ms != 0 ? secret.created_at_ms : now_ms);
  });
  if (!st) return Err(st);
  return LoadKeyLocked(*id, &key.account_id);
}

core::Result<ApiKey> SqliteControlPlane::GetKey(const std::string& account_id,
                                                const std::string& key_id) {
  std::lock_guard lock(mu_);
  return LoadKeyLocked(key_id, &account_id);
}

core::Result<ApiKey> SqliteControlPlane::FindKeyByPrefix(const std::string& prefix) {
  std::lock_guard lock(mu_);
  auto stmt = PrepareBound(*db_, "SELECT key_id FROM key_secrets WHERE prefix = ?", prefix);
  if (!stmt) return Err(stmt);
  auto row = stmt->Step();
  if (!row) return Err(row);
  if (!*row) return core::Fail(ErrorCode::kNotFound, "no key with this prefix", "prefix");
  return LoadKeyLocked(stmt->Text(0), nullptr);
}

core::Result<Page<ApiKey>> SqliteControlPlane::ListKeys(const std::string& account_id,
                                                        const std::string& project_id,
                                                        const std::optional<std::string>& cursor,
                                                        int limit) {
  auto after = DecodeCursor('k', cursor);
  if (!after) return Err(after);
  std::lock_guard lock(mu_);
  if (!project_id.empty()) {
    if (auto st = CheckProjectLocked(account_id, project_id); !st) return Err(st);
  }
  auto stmt = PrepareBound(*db_,
                           Sql("SELECT ", kKeyCols,
                               " FROM api_keys WHERE account_id = ?1 "
                               "AND (?2 = '' OR project_id = ?2) AND seq > ?3 "
                               "ORDER BY seq LIMIT ?4"),
                           account_id, project_id, *after, PageFetch(limit));
  if (!stmt) return Err(stmt);
  auto page = ReadPage<ApiKey>(*stmt, limit, 'k', kKeySeq, ReadKey);
  if (!page) return page;
  for (ApiKey& key : page->items) {
    if (auto st = LoadSecretsLocked(key); !st) return Err(st);
  }
  return page;
}

core::Result<ApiKey> SqliteControlPlane::UpdateKey(
    const std::string& account_id, const std::string& key_id,
    const std::optional<std::string>& name, const std::optional<std::vector<std::string>>& scopes) {
  std::optional<std::string> joined;
  if (scopes) {
    auto j = JoinScopes(*scopes);
    if (!j) return Err(j);
    joined = std::move(*j);
  }
  std::lock_guard lock(mu_);
  auto st = db_->Transaction([&]() -> core::Status {
    auto key = LoadKeyLocked(key_id, &account_id);
    if (!key) return Err(key);
    if (name) {
      if (auto st = ExecBound(*db_, "UPDATE api_keys SET name = ? WHERE id = ?", *name, key_id);
          !st) {
        return st;
      }
    }
    if (joined) {
      return ExecBound(*db_, "UPDATE api_keys SET scopes = ? WHERE id = ?", *joined, key_id);
    }
    return {};
  });
  if (!st) return Err(st);
  return LoadKeyLocked(key_id, &account_id);
}

core::Result<ApiKey> SqliteControlPlane::AddSecret(const std::string& account_id,
                                                   const std::string& key_id,
                                                   const KeySecret& secret,
                                                   int64_t old_expires_at_ms) {
  std::lock_guard lock(mu_);
  auto st = db_->Transaction([&]() -> core::Status {
    auto key = LoadKeyLocked(key_id, &account_id);
    if (!key) return Err(key);
    auto expire = ExecBound(*db_,
                            "UPDATE key_secrets SET expires_at_ms = ?1 WHERE key_id = ?2 "
                            "AND (expires_at_ms IS NULL OR expires_at_ms > ?1)",
                            old_expires_at_ms, key_id);
    if (!expire) return expire;
    return InsertSecret(*db_, key_id, secret, secret.created_at_ms);
  });
  if (!st) return Err(st);
  return LoadKeyLocked(key_id, &account_id);
}

core::Result<ApiKey> SqliteControlPlane::SetKeyStatus(const std::string& account_id,
                                                      const std::string& key_id,
                                                      const std::string& status, int64_t now_ms) {
  if (auto st = CheckKeyStatus(status); !st) return Err(st);
  std::lock_guard lock(mu_);
  auto st = db_->Transaction([&]() -> core::Status {
    auto key = LoadKeyLocked(key_id, &account_id);
    if (!key) return Err(key);
    if (key->status == "revoked" && status != "revoked") {
      return core::Fail(ErrorCode::kConflict, "a revoked key cannot be reactivated", "status");
    }
    return ExecBound(*db_,
                     "UPDATE api_keys SET status = ?1, revoked_at_ms = CASE WHEN ?1 = 'revoked' "
                     "THEN COALESCE(revoked_at_ms, ?2) ELSE revoked_at_ms END WHERE id = ?3",
                     status, now_ms, key_id);
  });
  if (!st) return Err(st);
  return LoadKeyLocked(key_id, &account_id);
}

core::Status SqliteControlPlane::TouchKeys(
    const std::vector<std::pair<std::string, int64_t>>& last_used) {
  if (last_used.empty()) return {};
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> core::Status {
    auto stmt = db_->Prepare(
        "UPDATE api_keys SET last_used_at_ms = MAX(COALESCE(last_used_at_ms, ?2), ?2) "
        "WHERE id = ?1");
    if (!stmt) return Err(stmt);
    for (const auto& [key_id, at_ms] : last_used) {
      stmt->Reset();
      if (auto st = stmt->BindAll(key_id, at_ms); !st) return st;
      if (auto st = stmt->Run(); !st) return st;
    }
    return {};
  });
}

// --- members

core::Result<Member> SqliteControlPlane::AddMember(const Member& member, int64_t now_ms) {
  if (!IsOneOf(member.role, {"admin", "billing-ops", "kyc-ops", "member", "viewer"})) {
    return core::Fail(ErrorCode::kInvalidRequest, "unknown role \"" + member.role + "\"", "role");
  }
  if (!IsOneOf(member.status, {"invited", "active"})) {
    return core::Fail(ErrorCode::kInvalidRequest, "unknown member status \"" + member.status + "\"",
                      "status");
  }
  auto id = NewId("mem_");
  if (!id) return Err(id);
  Member out = member;
  out.id = *id;
  out.created_at_ms = now_ms;

  std::lock_guard lock(mu_);
  auto st = db_->Transaction([&]() -> core::Status {
    auto account = PrepareBound(*db_, "SELECT 1 FROM accounts WHERE id = ?", out.account_id);
    if (!account) return Err(account);
    auto row = account->Step();
    if (!row) return Err(row);
    if (!*row) return core::Fail(ErrorCode::kNotFound, "no such account", "account_id");
    auto ins = ExecBound(*db_,
                         "INSERT INTO members (id, account_id, email, role, status, "
                         "invite_token_hash, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         out.id, out.account_id, out.email, out.role, out.status,
                         out.invite_token_hash, now_ms);
    if (!ins && ins.error().code == ErrorCode::kConflict) {
      return core::Fail(ErrorCode::kConflict, "a member with this email already exists", "email");
    }
    return ins;
  });
  if (!st) return Err(st);
  return out;
}

core::Result<Page<Member>> SqliteControlPlane::ListMembers(const std::string& account_id,
                                                           const std::optional<std::string>& cursor,
                                                           int limit) {
  auto after = DecodeCursor('m', cursor);
  if (!after) return Err(after);
  std::lock_guard lock(mu_);
  auto stmt = PrepareBound(*db_,
                           Sql("SELECT ", kMemberCols,
                               " FROM members WHERE account_id = ? AND seq > ? "
                               "ORDER BY seq LIMIT ?"),
                           account_id, *after, PageFetch(limit));
  if (!stmt) return Err(stmt);
  return ReadPage<Member>(*stmt, limit, 'm', kMemberSeq, ReadMember);
}

core::Status SqliteControlPlane::RemoveMember(const std::string& account_id,
                                              const std::string& member_id) {
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> core::Status {
    auto stmt =
        PrepareBound(*db_, "SELECT role, status FROM members WHERE id = ? AND account_id = ?",
                     member_id, account_id);
    if (!stmt) return Err(stmt);
    auto row = stmt->Step();
    if (!row) return Err(row);
    if (!*row) return core::Fail(ErrorCode::kNotFound, "no such member", "member_id");
    if (stmt->Text(0) == "admin" && stmt->Text(1) == "active") {
      auto count = PrepareBound(*db_,
                                "SELECT COUNT(*) FROM members WHERE account_id = ? "
                                "AND role = 'admin' AND status = 'active'",
                                account_id);
      if (!count) return Err(count);
      auto crow = count->Step();
      if (!crow) return Err(crow);
      if (!*crow || count->Int64(0) <= 1) {
        return core::Fail(ErrorCode::kConflict, "cannot remove the last admin", "member_id");
      }
    }
    return ExecBound(*db_, "DELETE FROM members WHERE id = ?", member_id);
  });
}

// --- usage

core::Status SqliteControlPlane::AddUsage(const std::vector<UsageRow>& rows) {
  if (rows.empty()) return {};
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> core::Status {
    auto stmt = db_->Prepare(
        "INSERT INTO usage_hourly (account_id, project_id, hour_start_ms, capability, requests, "
        "ingress_bytes, egress_bytes) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (account_id, project_id, hour_start_ms, capability) DO UPDATE SET "
        "requests = requests + excluded.requests, "
        "ingress_bytes = ingress_bytes + excluded.ingress_bytes, "
        "egress_bytes = egress_bytes + excluded.egress_bytes");
    if (!stmt) return Err(stmt);
    for (const UsageRow& r : rows) {
      stmt->Reset();
      auto st = stmt->BindAll(r.account_id, r.project_id, r.hour_start_ms, r.capability, r.requests,
                              r.ingress_bytes, r.egress_bytes);
      if (!st) return st;
      if (auto st = stmt->Run(); !st) return st;
    }
    return {};
  });
}

core::Result<std::vector<UsageRow>> SqliteControlPlane::QueryUsage(const std::string& account_id,
                                                                   int64_t start_ms,
                                                                   int64_t end_ms) {
  std::lock_guard lock(mu_);
  auto stmt = PrepareBound(*db_,
                           "SELECT account_id, project_id, hour_start_ms, capability, requests, "
                           "ingress_bytes, egress_bytes FROM usage_hourly WHERE account_id = ? "
                           "AND hour_start_ms >= ? AND hour_start_ms < ? "
                           "ORDER BY hour_start_ms, project_id, capability",
                           account_id, start_ms, end_ms);
  if (!stmt) return Err(stmt);
  std::vector<UsageRow> out;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return Err(row);
    if (!*row) break;
    out.push_back(UsageRow{stmt->Text(0), stmt->Text(1), stmt->Int64(2), stmt->Text(3),
                           stmt->Int64(4), stmt->Int64(5), stmt->Int64(6)});
  }
  return out;
}

// --- bandwidth alerts

core::Result<BandwidthAlert> SqliteControlPlane::CreateBandwidthAlert(const std::string& account_id,
                                                                      int64_t threshold_bytes,
                                                                      int64_t now_ms) {
  auto id = NewId("bwa_");
  if (!id) return Err(id);
  BandwidthAlert alert{*id, account_id, threshold_bytes, true, now_ms, std::nullopt};
  std::lock_guard lock(mu_);
  auto st = db_->Transaction([&]() -> core::Status {
    auto account = PrepareBound(*db_, "SELECT 1 FROM accounts WHERE id = ?", account_id);
    if (!account) return Err(account);
    auto row = account->Step();
    if (!row) return Err(row);
    if (!*row) return core::Fail(ErrorCode::kNotFound, "no such account", "account_id");
    return ExecBound(*db_,
                     "INSERT INTO bandwidth_alerts (id, account_id, threshold_bytes, enabled, "
                     "created_at_ms) VALUES (?, ?, ?, 1, ?)",
                     alert.id, account_id, threshold_bytes, now_ms);
  });
  if (!st) return Err(st);
  return alert;
}

core::Result<std::vector<BandwidthAlert>> SqliteControlPlane::ListBandwidthAlerts(
    const std::string& account_id) {
  std::lock_guard lock(mu_);
  auto stmt = PrepareBound(
      *db_, Sql("SELECT ", kAlertCols, " FROM bandwidth_alerts WHERE account_id = ? ORDER BY seq"),
      account_id);
  if (!stmt) return Err(stmt);
  std::vector<BandwidthAlert> out;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return Err(row);
    if (!*row) break;
    out.push_back(ReadAlert(*stmt));
  }
  return out;
}

core::Status SqliteControlPlane::DeleteBandwidthAlert(const std::string& account_id,
                                                      const std::string& alert_id) {
  std::lock_guard lock(mu_);
  auto st = ExecBound(*db_, "DELETE FROM bandwidth_alerts WHERE id = ? AND account_id = ?",
                      alert_id, account_id);
  if (!st) return st;
  if (db_->Changes() == 0) return core::Fail(ErrorCode::kNotFound, "no such alert", "alert_id");
  return {};
}

// --- idempotency

core::Result<std::optional<IdempotencyRecord>> SqliteControlPlane::GetIdempotency(
    const std::string& project_id, const std::string& key) {
  std::lock_guard lock(mu_);
  auto stmt = PrepareBound(*db_,
                           "SELECT body_hash, status, response_body, created_at_ms "
                           "FROM idempotency WHERE project_id = ? AND key = ?",
                           project_id, key);
  if (!stmt) return Err(stmt);
  auto row = stmt->Step();
  if (!row) return Err(row);
  if (!*row) return std::optional<IdempotencyRecord>();
  return std::optional<IdempotencyRecord>(IdempotencyRecord{project_id, key, stmt->Text(0),
                                                            static_cast<int>(stmt->Int64(1)),
                                                            stmt->Text(2), stmt->Int64(3)});
}

core::Status SqliteControlPlane::PutIdempotency(const IdempotencyRecord& record) {
  std::lock_guard lock(mu_);
  auto stmt = PrepareBound(*db_,
                           "INSERT INTO idempotency (project_id, key, body_hash, status, "
                           "response_body, created_at_ms) VALUES (?, ?, ?, ?, ?, ?) "
                           "ON CONFLICT (project_id, key) DO UPDATE SET "
                           "body_hash = excluded.body_hash, status = excluded.status, "
                           "response_body = excluded.response_body, "
                           "created_at_ms = excluded.created_at_ms",
                           record.project_id, record.key, record.body_hash, int64_t{record.status});
  if (!stmt) return Err(stmt);
  if (auto st = stmt->BindBlob(5, record.response_body); !st) return st;
  if (auto st = stmt->Bind(6, record.created_at_ms); !st) return st;
  return stmt->Run();
}

core::Result<int64_t> SqliteControlPlane::PurgeIdempotency(int64_t before_ms) {
  std::lock_guard lock(mu_);
  auto st = ExecBound(*db_, "DELETE FROM idempotency WHERE created_at_ms < ?", before_ms);
  if (!st) return Err(st);
  return db_->Changes();
}

// --- anomalies

namespace {

constexpr std::string_view kAnomalyCols =
    "id, project_id, entity_type, entity_id, type, granularity, period_start_ms, severity, "
    "description, expected_value, actual_value, ratio, status, detected_at_ms, resolved_at_ms, "
    "dismissed_at_ms";

Anomaly ReadAnomaly(const Statement& s) {
  Anomaly a;
  a.id = s.Text(0);
  a.project_id = s.Text(1);
  a.entity_type = s.Text(2);
  a.entity_id = s.Text(3);
  a.type = s.Text(4);
  a.granularity = s.Text(5);
  a.period_start_ms = s.Int64(6);
  a.severity = s.Text(7);
  a.description = s.Text(8);
  a.expected_value = s.Double(9);
  a.actual_value = s.Double(10);
  a.ratio = s.Double(11);
  a.status = s.Text(12);
  a.detected_at_ms = s.Int64(13);
  a.resolved_at_ms = s.OptionalInt64(14);
  a.dismissed_at_ms = s.OptionalInt64(15);
  return a;
}

core::Status CheckAnomalyStatus(const std::string& status) {
  if (IsOneOf(status, {"active", "resolved", "dismissed"})) return {};
  return core::Fail(ErrorCode::kInvalidRequest,
                    "status must be active, resolved or dismissed (got \"" + status + "\")",
                    "status");
}

}  // namespace

core::Result<Anomaly> SqliteControlPlane::LoadAnomalyLocked(const std::string& project_id,
                                                            const std::string& id) {
  auto stmt = PrepareBound(
      *db_, Sql("SELECT ", kAnomalyCols, " FROM anomalies WHERE id = ? AND project_id = ?"), id,
      project_id);
  if (!stmt) return Err(stmt);
  auto row = stmt->Step();
  if (!row) return Err(row);
  if (!*row) return core::Fail(ErrorCode::kNotFound, "no such anomaly", "id");
  return ReadAnomaly(*stmt);
}

core::Result<std::pair<Anomaly, bool>> SqliteControlPlane::RecordAnomaly(const Anomaly& a,
                                                                         int64_t now_ms) {
  auto id = NewId("anomaly_");
  if (!id) return Err(id);
  std::lock_guard lock(mu_);
  bool created = false;
  std::string stored_id;
  auto st = db_->Transaction([&]() -> core::Status {
    auto find = PrepareBound(*db_,
                             "SELECT id, status FROM anomalies WHERE project_id = ? AND "
                             "entity_type = ? AND entity_id = ? AND type = ? AND granularity = ? "
                             "AND period_start_ms = ?",
                             a.project_id, a.entity_type, a.entity_id, a.type, a.granularity,
                             a.period_start_ms);
    if (!find) return Err(find);
    auto row = find->Step();
    if (!row) return Err(row);
    if (*row) {
      stored_id = find->Text(0);
      if (find->Text(1) != "active") return {};
      auto up = PrepareBound(*db_,
                             "UPDATE anomalies SET severity = ?, description = ? WHERE id = ?",
                             a.severity, a.description, stored_id);
      if (!up) return Err(up);
      if (auto st = up->Run(); !st) return st;
      auto values = db_->Prepare(
          "UPDATE anomalies SET expected_value = ?, actual_value = ?, ratio = ? WHERE id = ?");
      if (!values) return Err(values);
      for (auto st : {values->BindDouble(1, a.expected_value),
                      values->BindDouble(2, a.actual_value), values->BindDouble(3, a.ratio),
                      values->Bind(4, std::string_view(stored_id))}) {
        if (!st) return st;
      }
      return values->Run();
    }
    created = true;
    stored_id = *id;
    auto ins = PrepareBound(*db_,
                            "INSERT INTO anomalies (id, project_id, entity_type, entity_id, type, "
                            "granularity, period_start_ms, severity, description, status, "
                            "detected_at_ms, expected_value, actual_value, ratio) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?)",
                            stored_id, a.project_id, a.entity_type, a.entity_id, a.type,
                            a.granularity, a.period_start_ms, a.severity, a.description, now_ms);
    if (!ins) return Err(ins);
    for (auto st : {ins->BindDouble(11, a.expected_value), ins->BindDouble(12, a.actual_value),
                    ins->BindDouble(13, a.ratio)}) {
      if (!st) return st;
    }
    return ins->Run();
  });
  if (!st) return Err(st);
  auto stored = LoadAnomalyLocked(a.project_id, stored_id);
  if (!stored) return Err(stored);
  return std::pair<Anomaly, bool>(std::move(*stored), created);
}

core::Result<std::vector<Anomaly>> SqliteControlPlane::ListAnomalies(const std::string& project_id,
                                                                     const AnomalyFilter& filter) {
  if (filter.status) {
    if (auto st = CheckAnomalyStatus(*filter.status); !st) return Err(st);
  }
  std::lock_guard lock(mu_);
  auto stmt = PrepareBound(
      *db_,
      Sql("SELECT ", kAnomalyCols,
          " FROM anomalies WHERE project_id = ?1 AND period_start_ms >= ?2 AND "
          "period_start_ms < ?3 AND (?4 = '' OR entity_type = ?4) AND (?5 = '' OR status = ?5) "
          "ORDER BY period_start_ms DESC, seq DESC LIMIT ?6"),
      project_id, filter.start_ms, filter.end_ms, filter.entity_type.value_or(""),
      filter.status.value_or(""), static_cast<int64_t>(filter.limit));
  if (!stmt) return Err(stmt);
  std::vector<Anomaly> out;
  for (;;) {
    auto row = stmt->Step();
    if (!row) return Err(row);
    if (!*row) break;
    out.push_back(ReadAnomaly(*stmt));
  }
  return out;
}

core::Status SqliteControlPlane::ResolveAnomalies(const std::string& project_id,
                                                  const std::vector<std::string>& ids,
                                                  int64_t now_ms) {
  if (ids.empty()) return {};
  std::lock_guard lock(mu_);
  return db_->Transaction([&]() -> core::Status {
    auto stmt = db_->Prepare(
        "UPDATE anomalies SET status = 'resolved', resolved_at_ms = ?3 "
        "WHERE id = ?1 AND project_id = ?2 AND status = 'active'");
    if (!stmt) return Err(stmt);
    for (const std::string& id : ids) {
      stmt->Reset();
      if (auto st = stmt->BindAll(id, project_id, now_ms); !st) return st;
      if (auto st = stmt->Run(); !st) return st;
    }
    return {};
  });
}

core::Result<Anomaly> SqliteControlPlane::SetAnomalyStatus(const std::string& project_id,
                                                           const std::string& id,
                                                           const std::string& status,
                                                           int64_t now_ms) {
  if (auto st = CheckAnomalyStatus(status); !st) return Err(st);
  std::lock_guard lock(mu_);
  auto st = db_->Transaction([&]() -> core::Status {
    auto current = LoadAnomalyLocked(project_id, id);
    if (!current) return Err(current);
    if (current->status == status) return {};
    if (current->status == "dismissed") {
      return core::Fail(ErrorCode::kConflict, "a dismissed anomaly stays dismissed", "status");
    }
    return ExecBound(*db_,
                     "UPDATE anomalies SET status = ?1, "
                     "resolved_at_ms = CASE WHEN ?1 = 'resolved' THEN ?2 ELSE resolved_at_ms END, "
                     "dismissed_at_ms = CASE WHEN ?1 = 'dismissed' THEN ?2 ELSE dismissed_at_ms "
                     "END WHERE id = ?3",
                     status, now_ms, id);
  });
  if (!st) return Err(st);
  return LoadAnomalyLocked(project_id, id);
}

}  // namespace control
