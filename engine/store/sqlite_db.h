#pragma once

// Internal to engine/store: a thin RAII layer over the SQLite C API.

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

#include "engine/common/error.h"

namespace conveyor::store {

class SqliteDb;

// A prepared statement, reset after each use.
class Statement {
 public:
  Statement(SqliteDb& db, const char* sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int index, std::int64_t value);
  Statement& BindReal(int index, double value);
  Statement& Bind(int index, const std::string& value);
  Statement& BindNull(int index);
  template <typename T>
  Statement& BindOptional(int index, const std::optional<T>& value) {
    return value ? Bind(index, *value) : BindNull(index);
  }

  // Steps once: true while a row is available.
  Result<bool> Step();
  // Steps to completion, then resets.
  Status Run();
  void Reset();

  std::int64_t Int(int column) const;
  std::optional<std::int64_t> OptionalInt(int column) const;
  std::string Text(int column) const;
  bool IsNull(int column) const;

 private:
  SqliteDb& db_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
};

class SqliteDb {
 public:
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  ~SqliteDb();
  sqlite3* handle() { return db_; }
  const std::string& path() const { return path_; }

  Status Exec(const std::string& sql);
  Error LastError(const std::string& what) const;

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
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
