// SqliteDb and Statement: a small RAII wrapper over one SQLite connection.
// sqlite_db.cc is the only file that includes <sqlite3.h>; every SQLite error
// comes back as a core::Error carrying SQLite's own message:
//   UNIQUE / PRIMARY KEY constraint -> kConflict, SQLITE_BUSY / LOCKED ->
//   kUnavailable, anything else -> kInternal.
//
// Not thread-safe: the owner serializes access (SqliteControlPlane holds one
// mutex around its connection). A Statement must not outlive its SqliteDb.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace control {

// A prepared statement. Bind indexes and column indexes follow SQLite: binds
// start at 1, columns at 0. Movable, not copyable; finalized on destruction.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  core::Status Bind(int index, int64_t value);
  core::Status Bind(int index, std::string_view text);
  core::Status Bind(int index, const std::optional<int64_t>& value);  // nullopt -> NULL
  core::Status BindBlob(int index, std::string_view bytes);
  core::Status BindNull(int index);
  // A REAL (named apart from Bind so that integer arguments stay unambiguous).
  core::Status BindDouble(int index, double value);

  // Binds `values` to parameters 1, 2, ... in order.
  template <typename... Args>
  core::Status BindAll(const Args&... values) {
    core::Status st;
    int index = 0;
    auto bind_one = [&](const auto& value) {
      if (st) st = Bind(++index, value);
    };
    (bind_one(values), ...);
    return st;
  }

  // Advances: true = a row is available, false = done.
  core::Result<bool> Step();
  // Steps until done (for statements that return no rows).
  core::Status Run();
  // Clears the current execution so the statement can be stepped again (the
  // bindings stay).
  void Reset();

  bool IsNull(int column) const;
  int64_t Int64(int column) const;
  std::optional<int64_t> OptionalInt64(int column) const;  // NULL -> nullopt
  std::string Text(int column) const;                      // NULL -> ""
  double Double(int column) const;                         // NULL -> 0

 private:
  friend class SqliteDb;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  core::Status Check(int rc, std::string_view what) const;

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

struct SqliteOptions {
  int busy_timeout_ms = 5000;
};

class SqliteDb {
 public:
  // Opens (creating if absent) the database at `path` and applies
  // journal_mode=WAL, foreign_keys=ON, synchronous=FULL and the busy timeout.
  // ":memory:" opens a private in-memory database (no WAL there).
  static core::Result<std::unique_ptr<SqliteDb>> Open(const std::string& path,
                                                      const SqliteOptions& options = {});
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  core::Result<Statement> Prepare(std::string_view sql);
  // Runs one or more `;`-separated statements without parameters, ignoring rows.
  core::Status Exec(const std::string& sql);
  // Runs a single-value query (e.g. a PRAGMA) and returns its first column of
  // the first row as text, or "" when there is no row.
  core::Result<std::string> QueryText(std::string_view sql);

  // Rows changed by the last INSERT/UPDATE/DELETE.
  int64_t Changes() const;

  // Runs `fn` (returning core::Status) inside BEGIN IMMEDIATE ... COMMIT.
  // When `fn` or COMMIT fails the transaction is rolled back and the error
  // returned. REQUIRES: no transaction is open.
  template <typename Fn>
  core::Status Transaction(Fn&& fn) {
    if (auto st = Begin(); !st) return st;
    core::Status st = std::forward<Fn>(fn)();
    if (!st) {
      Rollback();
      return st;
    }
    return Commit();
  }

  core::Status Begin();
  core::Status Commit();  // rolls back when COMMIT fails
  void Rollback();        // a no-op when no transaction is open

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

}  // namespace control
