#include "engine/data/sqlite_data_store.h"

#include <chrono>
#include <thread>

#include "engine/common/sha256.h"
#include "engine/store/sqlite_db.h"

namespace conveyor::store {
namespace {

using exec::Cell;
using exec::Column;
using exec::ColumnType;

// A table or column name as an SQL identifier: double-quoted, quotes doubled.
std::string Identifier(const std::string& name) {
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string SqlType(ColumnType type) {
  switch (type) {
    case ColumnType::kInteger:
      return "INTEGER";
    case ColumnType::kReal:
      return "REAL";
    case ColumnType::kTimestamp:
      return "TIMESTAMP";
    case ColumnType::kText:
      break;
  }
  return "TEXT";
}

ColumnType FromSqlType(const std::string& type) {
  if (type == "INTEGER") return ColumnType::kInteger;
  if (type == "REAL") return ColumnType::kReal;
  if (type == "TIMESTAMP") return ColumnType::kTimestamp;
  return ColumnType::kText;
}

// The fingerprints of the tables conveyor writes (DataStore::TableFingerprint), in the data
// database beside them.
constexpr const char* kCreateFingerprints =
    "CREATE TABLE IF NOT EXISTS conveyor_table_fingerprints (name TEXT PRIMARY KEY, "
    "fingerprint TEXT NOT NULL)";

class SqliteTableWriter : public exec::TableWriter {
 public:
  // `fingerprint_base`: what the table's new fingerprint starts from: its columns when it is
  // (re)created, its previous fingerprint when rows are appended.
  SqliteTableWriter(SqliteDb& db, std::unique_ptr<Statement> insert, size_t width,
                    std::string table, const std::string& fingerprint_base)
      : db_(db), insert_(std::move(insert)), width_(width), table_(std::move(table)) {
    hash_.UpdateField(fingerprint_base);
  }
  ~SqliteTableWriter() override {
    if (!committed_) (void)db_.Exec("ROLLBACK");
  }

  Status Append(const std::vector<Cell>& row) override {
    if (row.size() != width_) {
      return Error{ErrorCode::kInternal,
                   "a row of " + std::to_string(row.size()) + " values for " +
                       std::to_string(width_) + " columns",
                   {}};
    }
    for (size_t i = 0; i < row.size(); ++i) {
      const int index = static_cast<int>(i) + 1;
      if (const auto* v = std::get_if<std::int64_t>(&row[i])) {
        insert_->Bind(index, *v);
        pending_ += 'i';
        pending_.append(reinterpret_cast<const char*>(v), sizeof *v);
      } else if (const auto* d = std::get_if<double>(&row[i])) {
        insert_->BindReal(index, *d);
        pending_ += 'r';
        pending_.append(reinterpret_cast<const char*>(d), sizeof *d);
      } else if (const auto* t = std::get_if<std::string>(&row[i])) {
        insert_->Bind(index, *t);
        const std::uint64_t size = t->size();
        pending_ += 't';
        pending_.append(reinterpret_cast<const char*>(&size), sizeof size);
        pending_ += *t;
      } else {
        insert_->BindNull(index);
        pending_ += 'n';
      }
    }
    if (pending_.size() >= 1 << 16) {
      hash_.Update(pending_);
      pending_.clear();
    }
    Status s = insert_->Run();
    return s;
  }

  Status Commit() override {
    insert_.reset();
    hash_.Update(pending_);
    CachedStatement put = db_.Cached(
        "INSERT OR REPLACE INTO conveyor_table_fingerprints (name, fingerprint) VALUES (?, ?)");
    put->Bind(1, table_).Bind(2, hash_.HexDigest());
    if (Status s = put->Run(); !s.ok()) return s;
    if (Status s = db_.Exec("COMMIT"); !s.ok()) return s;
    committed_ = true;
    return Status::Ok();
  }

 private:
  SqliteDb& db_;
  std::unique_ptr<Statement> insert_;
  size_t width_;
  std::string table_;
  Sha256 hash_;
  std::string pending_;  // rows not yet hashed
  bool committed_ = false;
};

// Reads a prepared SELECT. Columns take their declared types; an expression column takes the
// type of its value in the first row.
class SqliteTableReader : public exec::TableReader {
 public:
  static Result<std::unique_ptr<exec::TableReader>> Start(std::unique_ptr<Statement> select) {
    auto reader = std::unique_ptr<SqliteTableReader>(new SqliteTableReader(std::move(select)));
    auto first = reader->select_->Step();
    if (!first.ok()) return first.error();
    reader->pending_ = *first;
    auto& stmt = *reader->select_;
    for (int i = 0; i < stmt.ColumnCount(); ++i) {
      Column column{stmt.ColumnName(i), ColumnType::kText};
      const std::string declared = stmt.DeclaredType(i);
      if (!declared.empty()) {
        column.type = FromSqlType(declared);
      } else if (reader->pending_ && stmt.KindOf(i) == Statement::Kind::kInteger) {
        column.type = ColumnType::kInteger;
      } else if (reader->pending_ && stmt.KindOf(i) == Statement::Kind::kReal) {
        column.type = ColumnType::kReal;
      }
      reader->columns_.push_back(std::move(column));
    }
    return std::unique_ptr<exec::TableReader>(std::move(reader));
  }
  ~SqliteTableReader() override { select_->Reset(); }

  const std::vector<Column>& columns() const override { return columns_; }

  Result<bool> Next(std::vector<Cell>& row) override {
    if (!pending_) {
      if (done_) return false;
      auto stepped = select_->Step();
      if (!stepped.ok()) return stepped.error();
      if (!*stepped) {
        done_ = true;
        return false;
      }
    }
    pending_ = false;
    row.resize(columns_.size());
    for (size_t i = 0; i < columns_.size(); ++i) {
      const int index = static_cast<int>(i);
      switch (select_->KindOf(index)) {
        case Statement::Kind::kInteger:
          row[i] = select_->Int(index);
          break;
        case Statement::Kind::kReal:
          row[i] = select_->Real(index);
          break;
        case Statement::Kind::kText:
        case Statement::Kind::kBlob:
          row[i] = select_->Text(index);
          break;
        case Statement::Kind::kNull:
          row[i] = std::monostate{};
          break;
      }
    }
    return true;
  }

 private:
  explicit SqliteTableReader(std::unique_ptr<Statement> select) : select_(std::move(select)) {}
  std::unique_ptr<Statement> select_;
  std::vector<Column> columns_;
  bool pending_ = false;
  bool done_ = false;
};

// SQLite's busy handler for a try's connection: waits for the other writer while the try may
// still run (SqliteDb's own timeout would fail a try queued behind a long ingest).
int WaitForLock(void* arg, int attempts) {
  const auto& wait = *static_cast<const exec::LockWait*>(arg);
  if (wait.cancelled != nullptr && wait.cancelled->load()) return 0;
  if (wait.deadline && std::chrono::steady_clock::now() >= *wait.deadline) return 0;
  std::this_thread::sleep_for(std::chrono::milliseconds(attempts < 10 ? 1 : 20));
  return 1;
}

class SqliteDataStore : public exec::DataStore {
 public:
  SqliteDataStore(std::unique_ptr<SqliteDb> db, const exec::LockWait& wait)
      : wait_(wait), db_(std::move(db)) {
    sqlite3_busy_handler(db_->handle(), WaitForLock, &wait_);
  }

  Result<std::unique_ptr<exec::TableWriter>> WriteTable(const std::string& table,
                                                        const std::vector<Column>& columns,
                                                        bool replace) override {
    if (columns.empty()) return InvalidArgument("table '" + table + "' needs columns");
    if (Status s = db_->Exec("BEGIN IMMEDIATE"); !s.ok()) return s.error();
    auto fail = [this](const Error& error) -> Error {
      (void)db_->Exec("ROLLBACK");
      return error;
    };
    std::string create = "CREATE TABLE " + Identifier(table) + " (";
    for (size_t i = 0; i < columns.size(); ++i) {
      create += (i ? ", " : "") + Identifier(columns[i].name) + " " + SqlType(columns[i].type);
    }
    create += ")";
    auto existing = TableColumns(table);
    if (replace || !existing.ok()) {
      if (existing.ok()) {
        if (Status s = db_->Exec("DROP TABLE " + Identifier(table)); !s.ok()) {
          return fail(s.error());
        }
      }
      if (Status s = db_->Exec(create); !s.ok()) return fail(s.error());
    } else if (!SameColumns(*existing, columns)) {
      return fail(InvalidArgument("cannot append to table '" + table + "': its columns are " +
                                  Describe(*existing) + ", the new rows' are " +
                                  Describe(columns)));
    }
    if (Status s = db_->Exec(kCreateFingerprints); !s.ok()) return fail(s.error());
    // A table made here starts from its columns; rows appended to one start from its content's
    // fingerprint (a table conveyor did not write has none: its rows' count stands in).
    std::string base = "columns " + Describe(columns);
    if (!replace && existing.ok()) {
      auto previous = TableFingerprint(table);
      if (previous.ok()) {
        base = "appended to " + *previous;
      } else {
        auto rows = CountRows(table);
        base = "appended to unfingerprinted rows " + (rows.ok() ? std::to_string(*rows) : "?");
      }
    }
    std::string insert = "INSERT INTO " + Identifier(table) + " VALUES (";
    for (size_t i = 0; i < columns.size(); ++i) insert += i ? ", ?" : "?";
    insert += ")";
    return std::unique_ptr<exec::TableWriter>(new SqliteTableWriter(
        *db_, std::make_unique<Statement>(*db_, insert.c_str()), columns.size(), table, base));
  }

  Result<std::string> TableFingerprint(const std::string& table) override {
    if (!HasFingerprints()) return NotFound("no table of the data database has a fingerprint");
    Statement select(*db_, "SELECT fingerprint FROM conveyor_table_fingerprints WHERE name = ?");
    select.Bind(1, table);
    std::optional<std::string> found;
    const Status read = select.ForEachRow([&] { found = select.Text(0); });
    if (!read.ok()) return read.error();
    if (!found) return NotFound("table '" + table + "' has no fingerprint");
    return *found;
  }

  Result<std::string> DataFingerprint() override {
    Sha256 hash;
    if (HasFingerprints()) {
      Statement select(*db_,
                       "SELECT name, fingerprint FROM conveyor_table_fingerprints ORDER BY name");
      const Status read = select.ForEachRow([&] {
        hash.UpdateField(select.Text(0));
        hash.UpdateField(select.Text(1));
      });
      if (!read.ok()) return read.error();
    }
    return hash.HexDigest();
  }

  Result<std::vector<Column>> TableColumns(const std::string& table) override {
    Statement info(*db_, ("PRAGMA table_info(" + Identifier(table) + ")").c_str());
    std::vector<Column> columns;
    const Status read = info.ForEachRow([&] {
      columns.push_back({info.Text(1), FromSqlType(info.Text(2))});
    });
    if (!read.ok()) return read.error();
    if (columns.empty()) return NotFound("the data database has no table '" + table + "'");
    return columns;
  }

  Result<std::int64_t> CountRows(const std::string& table) override {
    Statement count(*db_, ("SELECT count(*) FROM " + Identifier(table)).c_str());
    return count.ScalarInt();
  }

  Result<std::unique_ptr<exec::TableReader>> ReadTable(const std::string& table) override {
    if (auto columns = TableColumns(table); !columns.ok()) return columns.error();
    auto select = Statement::Prepare(*db_, "SELECT * FROM " + Identifier(table));
    if (!select.ok()) return select.error();
    return SqliteTableReader::Start(std::move(select).value());
  }

  Result<std::unique_ptr<exec::TableReader>> ReadQuery(const std::string& sql) override {
    auto select = Statement::Prepare(*db_, sql);
    if (!select.ok()) return select.error();
    if (!(*select)->ReturnsRows() || !(*select)->ReadOnly()) {
      return InvalidArgument("the query must be one SELECT statement that changes nothing");
    }
    return SqliteTableReader::Start(std::move(select).value());
  }

 private:
  bool HasFingerprints() {
    Statement exists(
        *db_, "SELECT count(*) FROM sqlite_master WHERE name = 'conveyor_table_fingerprints'");
    auto count = exists.ScalarInt();
    return count.ok() && *count > 0;
  }
  static bool SameColumns(const std::vector<Column>& a, const std::vector<Column>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].name != b[i].name || a[i].type != b[i].type) return false;
    }
    return true;
  }
  static std::string Describe(const std::vector<Column>& columns) {
    std::string out = "(";
    for (size_t i = 0; i < columns.size(); ++i) {
      out += (i ? ", " : "") + columns[i].name + " " +
             std::string(exec::ColumnTypeName(columns[i].type));
    }
    return out + ")";
  }

  exec::LockWait wait_;  // read by WaitForLock until db_, declared after it, is closed
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace

Result<std::unique_ptr<exec::DataStore>> OpenSqliteDataStore(const std::string& path,
                                                             const exec::LockWait& wait) {
  auto db = SqliteDb::Open(path);
  if (!db.ok()) return db.error();
  if (Status s = (*db)->Exec("PRAGMA synchronous = NORMAL"); !s.ok()) return s.error();
  return std::unique_ptr<exec::DataStore>(new SqliteDataStore(std::move(db).value(), wait));
}

}  // namespace conveyor::store
