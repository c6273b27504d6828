#include "store/control/sqlite_db.h"

#include <sqlite3.h>

#include <string>

namespace control {
namespace {

core::ErrorCode CodeFor(int rc) {
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return core::ErrorCode::kConflict;
  }
  const int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return core::ErrorCode::kUnavailable;
  return core::ErrorCode::kInternal;
}

// The error of a failed call on `db` that returned `rc`.
core::Error ErrorFor(sqlite3* db, int rc, std::string_view what) {
  std::string message = "sqlite: ";
  message.append(what);
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  message += " (code " + std::to_string(rc) + ")";
  return core::MakeError(CodeFor(rc), std::move(message));
}

// SQLite binds NULL for a null pointer, even with length 0.
const char* NonNull(std::string_view s) { return s.data() != nullptr ? s.data() : ""; }

}  // namespace

// --- Statement

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

core::Status Statement::Check(int rc, std::string_view what) const {
  if (rc == SQLITE_OK) return {};
  return core::Unexpected(ErrorFor(db_, rc, what));
}

core::Status Statement::Bind(int index, int64_t value) {
  return Check(sqlite3_bind_int64(stmt_, index, value), "bind");
}

core::Status Statement::Bind(int index, std::string_view text) {
  return Check(
      sqlite3_bind_text64(stmt_, index, NonNull(text), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8),
      "bind");
}

core::Status Statement::Bind(int index, const std::optional<int64_t>& value) {
  return value ? Bind(index, *value) : BindNull(index);
}

core::Status Statement::BindBlob(int index, std::string_view bytes) {
  return Check(sqlite3_bind_blob64(stmt_, index, NonNull(bytes), bytes.size(), SQLITE_TRANSIENT),
               "bind");
}

core::Status Statement::BindNull(int index) {
  return Check(sqlite3_bind_null(stmt_, index), "bind");
}

core::Result<bool> Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  core::Error error = ErrorFor(db_, rc, "step");
  sqlite3_reset(stmt_);
  return core::Unexpected(std::move(error));
}

core::Status Statement::Run() {
  for (;;) {
    auto row = Step();
    if (!row) return core::Unexpected(std::move(row).error());
    if (!*row) return {};
  }
}

void Statement::Reset() { sqlite3_reset(stmt_); }

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::Int64(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::Double(int column) const { return sqlite3_column_double(stmt_, column); }

core::Status Statement::BindDouble(int index, double value) {
  return Check(sqlite3_bind_double(stmt_, index, value), "bind");
}

std::optional<int64_t> Statement::OptionalInt64(int column) const {
  if (IsNull(column)) return std::nullopt;
  return Int64(column);
}

std::string Statement::Text(int column) const {
  // column_blob keeps embedded NULs and works for TEXT and BLOB columns alike.
  const void* data = sqlite3_column_blob(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) return {};
  return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
}

// --- SqliteDb

core::Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path,
                                                       const SqliteOptions& options) {
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    core::Error error = ErrorFor(raw, rc, "open " + path);
    sqlite3_close_v2(raw);  // a no-op for nullptr
    return core::Unexpected(std::move(error));
  }
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw));
  sqlite3_extended_result_codes(raw, 1);
  // Before the first PRAGMA: switching to WAL takes a lock another process may hold.
  sqlite3_busy_timeout(raw, options.busy_timeout_ms);

  auto mode = db->QueryText("PRAGMA journal_mode=WAL");
  if (!mode) return core::Unexpected(std::move(mode).error());
  if (*mode != "wal" && !(path == ":memory:" && *mode == "memory")) {
    return core::Fail(
        core::ErrorCode::kInternal,
        "sqlite: " + path + ": cannot switch to journal_mode=WAL (got \"" + *mode + "\")");
  }
  if (auto st = db->Exec("PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;"); !st) {
    return core::Unexpected(std::move(st).error());
  }
  auto fk = db->QueryText("PRAGMA foreign_keys");
  if (!fk) return core::Unexpected(std::move(fk).error());
  if (*fk != "1") {
    return core::Fail(core::ErrorCode::kInternal, "sqlite: foreign_keys=ON did not take effect");
  }
  return db;
}

SqliteDb::~SqliteDb() { sqlite3_close_v2(db_); }

core::Result<Statement> SqliteDb::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc =
      sqlite3_prepare_v2(db_, NonNull(sql), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return core::Unexpected(ErrorFor(db_, rc, "prepare"));
  }
  if (stmt == nullptr) {
    return core::Fail(core::ErrorCode::kInternal, "sqlite: prepare: empty statement");
  }
  return Statement(db_, stmt);
}

core::Status SqliteDb::Exec(const std::string& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return {};
  std::string message = "sqlite: exec: ";
  message += err != nullptr ? err : sqlite3_errstr(rc);
  message += " (code " + std::to_string(rc) + ")";
  sqlite3_free(err);
  return core::Fail(CodeFor(rc), std::move(message));
}

core::Result<std::string> SqliteDb::QueryText(std::string_view sql) {
  auto stmt = Prepare(sql);
  if (!stmt) return core::Unexpected(std::move(stmt).error());
  auto row = stmt->Step();
  if (!row) return core::Unexpected(std::move(row).error());
  if (!*row) return std::string();
  return stmt->Text(0);
}

int64_t SqliteDb::Changes() const { return sqlite3_changes64(db_); }

core::Status SqliteDb::Begin() { return Exec("BEGIN IMMEDIATE"); }

core::Status SqliteDb::Commit() {
  if (auto st = Exec("COMMIT"); !st) {
    Rollback();
    return st;
  }
  return {};
}

void SqliteDb::Rollback() {
  // SQLite may already have rolled back by itself (e.g. after SQLITE_FULL).
  if (sqlite3_get_autocommit(db_) == 0) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

}  // namespace control
