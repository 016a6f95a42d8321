#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "engine/common/error.h"

namespace conveyor::exec {

// Column types of data tables, kept as the tables' declared SQL types.
enum class ColumnType { kInteger, kReal, kText, kTimestamp };
std::string_view ColumnTypeName(ColumnType type);  // "integer", "real", "text", "timestamp"

struct Column {
  std::string name;
  ColumnType type = ColumnType::kText;
};

// One value: NULL, an integer, a real, or text (timestamps are ISO-8601 text).
using Cell = std::variant<std::monostate, std::int64_t, double, std::string>;

// Rows going into one table in one transaction: nothing is visible, and nothing of an earlier
// table is lost, until Commit. Destroyed without Commit, it rolls back.
class TableWriter {
 public:
  virtual ~TableWriter() = default;
  virtual Status Append(const std::vector<Cell>& row) = 0;
  virtual Status Commit() = 0;
};

// Rows of a table or a query, read in order. Timestamps come back as text.
class TableReader {
 public:
  virtual ~TableReader() = default;
  virtual const std::vector<Column>& columns() const = 0;
  // Fills `row` with the next row; false at the end.
  virtual Result<bool> Next(std::vector<Cell>& row) = 0;
};

// The data database of the ML operators (the spec's data_db), as operators see it.
class DataStore {
 public:
  virtual ~DataStore() = default;
  // Starts writing `table`: `replace` drops what was there; otherwise rows are appended to a
  // table with the same columns (created if missing).
  virtual Result<std::unique_ptr<TableWriter>> WriteTable(const std::string& table,
                                                          const std::vector<Column>& columns,
                                                          bool replace) = 0;
  // The table's columns, or kNotFound.
  virtual Result<std::vector<Column>> TableColumns(const std::string& table) = 0;
  virtual Result<std::int64_t> CountRows(const std::string& table) = 0;
  // Reads a table (kNotFound if missing) or the rows of one read-only SELECT statement.
  virtual Result<std::unique_ptr<TableReader>> ReadTable(const std::string& table) = 0;
  virtual Result<std::unique_ptr<TableReader>> ReadQuery(const std::string& sql) = 0;
  // A fingerprint of the table's content, kept as it is written (replacing a table with the same
  // rows gives the same one; an append changes it): what a cached try's key holds of a table it
  // reads. kNotFound for a table conveyor has not written.
  virtual Result<std::string> TableFingerprint(const std::string& table) = 0;
  // One fingerprint of every table conveyor has written: for a try that reads a query.
  virtual Result<std::string> DataFingerprint() = 0;
};

// How long a try waits for another try writing the data database (an ingest holds its write lock
// for its whole transaction, seconds to minutes for a large file): until the try is cancelled or
// its deadline (execution_timeout) passes, however long that is.
struct LockWait {
  const std::atomic<bool>* cancelled = nullptr;
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

// Opens the data database for one try (each try gets its own connection).
using DataOpener = std::function<Result<std::unique_ptr<DataStore>>(const LockWait&)>;

}  // namespace conveyor::exec
