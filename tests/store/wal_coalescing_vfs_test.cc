// The WAL-coalescing VFS under the store's connections: a commit's frames go out in one write,
// other processes see every commit at once, and a failed write of the frames fails the commit
// and leaves the database as it was.
#include "engine/store/wal_coalescing_vfs.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "engine/store/sqlite_db.h"
#include "tests/support/temp_dir.h"

namespace conveyor::store {
namespace {

// As the store opens it: no sync at commit, so nothing but the commit frame flushes the log.
Result<std::unique_ptr<SqliteDb>> Open(const std::string& path) {
  auto db = SqliteDb::Open(path);
  if (!db.ok()) return db.error();
  if (Status s = (*db)->Exec("PRAGMA synchronous = NORMAL"); !s.ok()) return s.error();
  return db;
}

std::unique_ptr<SqliteDb> OpenOrDie(const std::string& path) {
  auto db = Open(path);
  if (!db.ok()) ADD_FAILURE() << db.error().message;
  return db.ok() ? std::move(db).value() : nullptr;
}

// Inserts `rows` rows of 1 KB in one transaction.
Status InsertRows(SqliteDb& db, int first, int rows) {
  if (Status s = db.Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  for (int i = first; i < first + rows; ++i) {
    if (Status s = db.Exec("INSERT INTO t VALUES (" + std::to_string(i) + ", randomblob(1000))");
        !s.ok()) {
      (void)db.Exec("ROLLBACK");
      return s;
    }
  }
  return db.Exec("COMMIT");
}

std::string Sqlite3(const std::string& db, const std::string& sql) {
  return testing::RunCommand("sqlite3 " + db + " '" + sql + "'").output;
}

TEST(WalCoalescingVfsTest, ACommitsFramesGoOutInOneWriteAndOthersSeeThem) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/c.db";
  auto db = OpenOrDie(path);
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB)").ok());
  for (int round = 0; round < 5; ++round) {
    const WalWriteCounts before = CountWalWrites();
    ASSERT_TRUE(InsertRows(*db, round * 40, 40).ok());  // about 12 pages
    const WalWriteCounts after = CountWalWrites();
    // Two writes per frame asked for (header, page), one issued.
    EXPECT_GE(after.requested - before.requested, 20u) << "round " << round;
    EXPECT_EQ(after.issued - before.issued, 1u) << "round " << round;
    // Another process (the sqlite3 shell, default VFS) sees the commit.
    EXPECT_EQ(Sqlite3(path, "SELECT count(*), sum(length(payload)) FROM t"),
              std::to_string((round + 1) * 40) + "|" + std::to_string((round + 1) * 40000) + "\n");
  }
  // A checkpoint (reads the log back) and a restarted log (its header written again at 0).
  ASSERT_TRUE(db->Exec("PRAGMA wal_checkpoint(RESTART)").ok());
  ASSERT_TRUE(InsertRows(*db, 1000, 3).ok());
  db.reset();
  EXPECT_EQ(Sqlite3(path, "PRAGMA integrity_check; SELECT count(*) FROM t"), "ok\n203\n");
}

// A transaction larger than the page cache writes frames before its commit, then rewrites some
// of them in place and SQLite rewrites their headers' checksums: the log a crash would leave
// behind (copied while the connection is open, recovered by another process from the file alone,
// checksums checked) holds every committed transaction.
TEST(WalCoalescingVfsTest, ALogLeftByACrashRecoversAfterSpilledTransactions) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/s.db";
  auto db = OpenOrDie(path);
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("PRAGMA cache_size = 5").ok());
  ASSERT_TRUE(db->Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB)").ok());
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(db->Exec("BEGIN IMMEDIATE").ok());
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(db->Exec("INSERT INTO t VALUES (NULL, zeroblob(1000))").ok());
    }
    ASSERT_TRUE(db->Exec("UPDATE t SET payload = randomblob(1000)").ok());
    ASSERT_TRUE(db->Exec("DELETE FROM t WHERE id % 7 = 0").ok());
    ASSERT_TRUE(db->Exec("COMMIT").ok());
    const std::string copy = dir.path() + "/copy" + std::to_string(round);
    ASSERT_EQ(testing::RunCommand("mkdir " + copy + " && cp " + path + " " + copy + "/s.db && cp " +
                                  path + "-wal " + copy + "/s.db-wal")
                  .exit_code,
              0);
    const int rows = (round + 1) * 100 - (round + 1) * 100 / 7;
    EXPECT_EQ(Sqlite3(copy + "/s.db",
                      "PRAGMA integrity_check; SELECT count(*), count(DISTINCT "
                      "payload), sum(length(payload)) FROM t"),
              "ok\n" + std::to_string(rows) + "|" + std::to_string(rows) + "|" +
                  std::to_string(rows * 1000) + "\n")
        << "round " << round;
  }
}

TEST(WalCoalescingVfsTest, AFrameWriteThatFailsFailsTheCommitAndLosesNothing) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/f.db";
  {
    auto db = OpenOrDie(path);
    ASSERT_NE(db, nullptr);
    ASSERT_TRUE(db->Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, payload BLOB)").ok());
    ASSERT_TRUE(InsertRows(*db, 0, 10).ok());
  }
  const std::string log = path + "-wal";
  const off_t log_size = [&] {
    struct stat st {};
    return ::stat(log.c_str(), &st) == 0 ? st.st_size : 0;
  }();
  // In a child: files may not grow more than 40 KB past the log's size (the shared-memory file
  // takes 32 KB), so the frames of an 80 KB transaction, gathered for one write at its commit
  // frame, cannot be written; the commit must
  // fail with the write's error (disk full or I/O error, as the default VFS reports them).
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    const rlim_t limit = static_cast<rlim_t>(log_size) + 40 * 1024;
    struct rlimit fsize {
      limit, limit
    };
    setrlimit(RLIMIT_FSIZE, &fsize);
    auto db = Open(path);
    if (!db.ok()) _exit(3);
    const Status s = InsertRows(**db, 100, 80);
    _exit(s.ok() ? 0 : (s.error().message.find("disk") != std::string::npos ? 1 : 2));
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_EQ(Sqlite3(path, "PRAGMA integrity_check; SELECT count(*), max(id) FROM t"), "ok\n10|9\n");
  auto db = OpenOrDie(path);
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(InsertRows(*db, 10, 5).ok());
  db.reset();
  EXPECT_EQ(Sqlite3(path, "SELECT count(*) FROM t"), "15\n");
}

}  // namespace
}  // namespace conveyor::store
