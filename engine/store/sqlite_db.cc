#include "engine/store/sqlite_db.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <memory>
#include <thread>

#include "engine/store/wal_coalescing_vfs.h"

namespace conveyor::store {

namespace {

// Process-wide settings, made before SQLite initializes (the first open). Memory statistics take
// a global mutex on every allocation; nothing here reads them.
void ConfigureSqlite() {
  static const bool configured = [] {
    // SQLITE_MISUSE if SQLite was initialized already (another library opened a database
    // first): it then keeps its defaults, which are correct, only slower.
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
  }();
  (void)configured;
}

// Switching a database to WAL takes a write lock while the statement already holds a read lock;
// when another connection is taking a write lock at that moment (two tries opening a new data
// database together), SQLite answers SQLITE_BUSY at once instead of calling the busy handler, to
// avoid a deadlock. Retrying the statement, which gives up the read lock, is the way out.
int EnableWal(sqlite3* db) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(SqliteDb::kBusyTimeoutMs);
  for (;;) {
    const int rc = sqlite3_exec(db, "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr);
    if (rc != SQLITE_BUSY || std::chrono::steady_clock::now() >= deadline) return rc;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// A build with -DCONVEYOR_SQLITE_DEFAULT_VFS=1 opens databases through SQLite's own VFS: how the
// coalescing VFS is measured against it (docs/internals/performance.md).
#if CONVEYOR_SQLITE_DEFAULT_VFS
const char* DatabaseVfs() { return nullptr; }
#else
const char* DatabaseVfs() { return WalCoalescingVfs(); }
#endif

}  // namespace

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  ConfigureSqlite();
  // Created here 0600 (SQLite would make it 0644): its write-ahead log and shared memory files
  // take the database's mode.
  if (!path.empty() && path != ":memory:" && path.rfind("file:", 0) != 0) {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      fchmod(fd, 0600);
      close(fd);
    } else {
      // One an older build made readable: private from now on (its owner only can change it).
      for (const char* suffix : {"", "-wal", "-shm"}) chmod((path + suffix).c_str(), 0600);
    }
  }
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                 DatabaseVfs());
  if (rc != SQLITE_OK) {
    std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return IoError("cannot open database '" + path + "': " + message);
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  if (EnableWal(db) != SQLITE_OK) {
    std::string message = sqlite3_errmsg(db);
    sqlite3_close(db);
    return IoError("database '" + path + "': " + message);
  }
  return std::unique_ptr<SqliteDb>(new SqliteDb(db, path));
}

SqliteDb::~SqliteDb() {
  cache_.clear();  // statements are finalized before their connection closes
  sqlite3_close(db_);
}

CachedStatement SqliteDb::Cached(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    it = cache_.emplace(sql, std::make_unique<Statement>(*this, sql.c_str())).first;
  }
  return CachedStatement(*it->second);
}

Status SqliteDb::Exec(const std::string& sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    return IoError("database '" + path_ + "': " + text);
  }
  return Status::Ok();
}

Status SqliteDb::ExecCached(const std::string& sql) {
  CachedStatement statement = Cached(sql);
  if (statement->Step().ok()) return Status::Ok();
  return IoError("database '" + path_ + "': " + sqlite3_errmsg(db_));
}

Error SqliteDb::LastError(const std::string& what) const {
  return IoError("database '" + path_ + "': " + what + ": " + sqlite3_errmsg(db_));
}

Statement::Statement(SqliteDb& db, const char* sql) : db_(db) {
  // A statement that does not prepare is a programmer error in a fixed SQL string.
  if (sqlite3_prepare_v3(db.handle(), sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr) !=
      SQLITE_OK) {
    std::fprintf(stderr, "conveyor: bad SQL (%s): %s\n", sqlite3_errmsg(db.handle()), sql);
    std::abort();
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Result<std::unique_ptr<Statement>> Statement::Prepare(SqliteDb& db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  if (sqlite3_prepare_v2(db.handle(), sql.c_str(), static_cast<int>(sql.size()), &stmt, &tail) !=
      SQLITE_OK) {
    return InvalidArgument("bad SQL query: " + std::string(sqlite3_errmsg(db.handle())));
  }
  if (stmt == nullptr) return InvalidArgument("empty SQL query");
  auto statement = std::unique_ptr<Statement>(new Statement(db, stmt));
  for (; tail != nullptr && *tail != '\0'; ++tail) {
    if (!std::isspace(static_cast<unsigned char>(*tail)) && *tail != ';') {
      return InvalidArgument("the SQL query holds more than one statement");
    }
  }
  return statement;
}

Statement& Statement::Bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Statement& Statement::Bind(int index, const std::string& value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindUnowned(int index, std::string_view value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
  return *this;
}

Statement& Statement::BindBlob(int index, std::string_view bytes) {
  // A null pointer would bind NULL, which equals nothing: an empty blob is still a blob.
  const char* data = bytes.data() != nullptr ? bytes.data() : "";
  sqlite3_bind_blob(stmt_, index, data, static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::BindReal(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}

Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error error = db_.LastError("step");
  if (rc == SQLITE_CONSTRAINT) error.code = ErrorCode::kAlreadyExists;
  Reset();
  return error;
}

Status Statement::Run() {
  auto stepped = Step();
  Reset();
  if (!stepped.ok()) return stepped.error();
  return Status::Ok();
}

Result<std::int64_t> Statement::ScalarInt() {
  std::int64_t value = 0;
  auto row = ForFirstRow([&] { value = Int(0); });
  if (!row.ok()) return row.error();
  return value;
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }

std::optional<std::int64_t> Statement::OptionalInt(int column) const {
  if (IsNull(column)) return std::nullopt;
  return Int(column);
}

std::string Statement::Blob(int column) const {
  const auto* bytes = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  return bytes ? std::string(bytes, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
               : std::string();
}

std::string Statement::Text(int column) const {
  const auto* text = sqlite3_column_text(stmt_, column);
  return text ? std::string(reinterpret_cast<const char*>(text),
                            static_cast<size_t>(sqlite3_column_bytes(stmt_, column)))
              : std::string();
}

double Statement::Real(int column) const { return sqlite3_column_double(stmt_, column); }

Statement::Kind Statement::KindOf(int column) const {
  switch (sqlite3_column_type(stmt_, column)) {
    case SQLITE_INTEGER:
      return Kind::kInteger;
    case SQLITE_FLOAT:
      return Kind::kReal;
    case SQLITE_TEXT:
      return Kind::kText;
    case SQLITE_BLOB:
      return Kind::kBlob;
    default:
      return Kind::kNull;
  }
}

int Statement::ColumnCount() const { return sqlite3_column_count(stmt_); }

std::string Statement::ColumnName(int column) const {
  const char* name = sqlite3_column_name(stmt_, column);
  return name ? name : "";
}

std::string Statement::DeclaredType(int column) const {
  const char* type = sqlite3_column_decltype(stmt_, column);
  return type ? type : "";
}

bool Statement::ReturnsRows() const { return sqlite3_column_count(stmt_) > 0; }

bool Statement::ReadOnly() const { return sqlite3_stmt_readonly(stmt_) != 0; }

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

Transaction::~Transaction() {
  if (open_) (void)db_.Exec("ROLLBACK");
}

Status Transaction::Begin() {
  Status status = db_.ExecCached("BEGIN IMMEDIATE");
  open_ = status.ok();
  return status;
}

Status Transaction::Commit() {
  Status status = db_.ExecCached("COMMIT");
  if (status.ok()) open_ = false;
  return status;
}

}  // namespace conveyor::store
