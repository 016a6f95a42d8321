#pragma once

// Internal to engine/store: a thin RAII layer over the SQLite C API.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "engine/common/error.h"

namespace conveyor::store {

class SqliteDb;

// A prepared statement, reset after each use.
class Statement {
 public:
  Statement(SqliteDb& db, const char* sql);
  ~Statement();
  // Prepares SQL that comes from a user (a query in a task's args): an error instead of an abort.
  static Result<std::unique_ptr<Statement>> Prepare(SqliteDb& db, const std::string& sql);
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int index, std::int64_t value);
  Statement& BindReal(int index, double value);
  Statement& Bind(int index, const std::string& value);
  // Text read in place, not copied: it must outlive the statement's next step.
  Statement& BindUnowned(int index, std::string_view value);
  Statement& BindBlob(int index, std::string_view bytes);  // copied
  Statement& BindNull(int index);
  template <typename T>
  Statement& BindOptional(int index, const std::optional<T>& value) {
    return value ? Bind(index, *value) : BindNull(index);
  }

  // Steps once: true while a row is available.
  Result<bool> Step();
  // Steps to completion, then resets.
  Status Run();
  // Calls read() on each row in turn, then resets.
  template <typename Read>
  Status ForEachRow(Read&& read) {
    while (true) {
      auto row = Step();
      if (!row.ok()) return row.error();
      if (!*row) break;
      read();
    }
    Reset();
    return Status::Ok();
  }
  // Calls read() on the first row, if there is one, then resets. Returns whether there was.
  template <typename Read>
  Result<bool> ForFirstRow(Read&& read) {
    auto row = Step();
    if (!row.ok()) return row.error();
    if (*row) read();
    Reset();
    return *row;
  }
  // The first column of the first row (a count, a max, a PRAGMA's value), then resets; 0 when
  // there is no row or the value is NULL.
  Result<std::int64_t> ScalarInt();
  void Reset();

  std::int64_t Int(int column) const;
  std::optional<std::int64_t> OptionalInt(int column) const;
  std::string Text(int column) const;
  std::string Blob(int column) const;
  double Real(int column) const;
  bool IsNull(int column) const;

  // The current row's value kind, and the result columns' names and declared types.
  enum class Kind { kInteger, kReal, kText, kBlob, kNull };
  Kind KindOf(int column) const;
  int ColumnCount() const;
  std::string ColumnName(int column) const;
  std::string DeclaredType(int column) const;  // empty for an expression
  // A statement that returns rows (SELECT, not INSERT).
  bool ReturnsRows() const;
  bool ReadOnly() const;

 private:
  Statement(SqliteDb& db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  SqliteDb& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// A use of a statement from SqliteDb's cache: reset when the use ends, so that a SELECT never
// keeps its read snapshot past its caller.
class CachedStatement {
 public:
  explicit CachedStatement(Statement& statement) : statement_(statement) {}
  ~CachedStatement() { statement_.Reset(); }
  CachedStatement(const CachedStatement&) = delete;
  CachedStatement& operator=(const CachedStatement&) = delete;
  Statement* operator->() { return &statement_; }
  Statement& operator*() { return statement_; }
  operator Statement&() { return statement_; }  // NOLINT: used where a Statement is read

 private:
  Statement& statement_;
};

class SqliteDb {
 public:
  // Opens (or creates) the database in WAL mode, waiting up to kBusyTimeoutMs for other
  // connections' locks.
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  static constexpr int kBusyTimeoutMs = 10000;
  ~SqliteDb();
  sqlite3* handle() { return db_; }
  const std::string& path() const { return path_; }

  Status Exec(const std::string& sql);
  // Exec for a fixed statement without results that runs often (BEGIN, COMMIT), prepared once.
  Status ExecCached(const std::string& sql);
  // Fixed SQL prepared once per connection and kept: the scheduler writes through the same few
  // statements thousands of times a second, and preparing costs more than running them.
  CachedStatement Cached(const std::string& sql);
  Error LastError(const std::string& what) const;

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
  std::unordered_map<std::string, std::unique_ptr<Statement>> cache_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back unless committed.
class Transaction {
 public:
  explicit Transaction(SqliteDb& db) : db_(db) {}
  ~Transaction();
  Status Begin();
  Status Commit();

 private:
  SqliteDb& db_;
  bool open_ = false;
};

}  // namespace conveyor::store
