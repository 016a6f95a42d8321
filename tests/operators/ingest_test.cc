// The ingest operator on real files and a real data database: RFC 4180 parsing, type inference,
// checks, exact located errors, and all-or-nothing writes.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <latch>
#include <thread>

#include "engine/data/data_access.h"
#include "engine/exec/process_runner.h"
#include "operators/ingest_operator.h"
#include "tests/support/temp_dir.h"

namespace conveyor::operators {
namespace {

class IngestTest : public ::testing::Test {
 protected:
  // Runs ingest with `args` (source relative to the temp folder).
  exec::OperatorResult Ingest(const nlohmann::json& args) {
    info_.work_dir = dir_.path();
    info_.log_path = dir_.path() + "/try.log";
    exec::OperatorContext context{info_,
                                  args,
                                  command_,
                                  env_,
                                  deadline_,
                                  cancelled_,
                                  exec::SystemProcessRunner(),
                                  exec::IgnoreProcessStart,
                                  data::MakeDataAccess(Db(), "", "")};
    return IngestOperator().Execute(context);
  }
  std::string Db() const { return dir_.path() + "/data.db"; }
  std::string Query(const std::string& sql) const {
    return testing::RunCommand("sqlite3 -separator '|' " + Db() + " \"" + sql + "\"").output;
  }
  std::string Csv(const std::string& content) const { return dir_.Write("in.csv", content); }

  testing::TempDir dir_;
  exec::TaskRunInfo info_;
  std::optional<nlohmann::json> command_;
  std::map<std::string, std::string> env_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  std::atomic<bool> cancelled_{false};
};

TEST_F(IngestTest, InfersTypesAndReadsRfc4180) {
  Csv("id,score,ratio,day,name,empty\r\n"
      "1,10,0.5,2026-01-01,\"Smith, J\",\r\n"
      "2,,1e3,2026-01-02T10:00:00,\"say \"\"hi\"\"\",\r\n"
      "3,-7,2,2026-01-03,\"two\nlines\",\r\n");
  const auto result = Ingest({{"source", "in.csv"}, {"table", "t"}});
  ASSERT_EQ(result.outcome, exec::OperatorResult::Outcome::kSuccess) << result.message;
  EXPECT_EQ(result.outputs, (nlohmann::json{{"rows", 3}, {"table", "t"}}));
  EXPECT_EQ(Query("SELECT name, type FROM pragma_table_info('t')"),
            "id|INTEGER\nscore|INTEGER\nratio|REAL\nday|TIMESTAMP\nname|TEXT\nempty|TEXT\n");
  EXPECT_EQ(Query("SELECT id, score IS NULL, ratio, day, name, typeof(empty) FROM t"),
            "1|0|0.5|2026-01-01|Smith, J|null\n"
            "2|1|1000.0|2026-01-02T10:00:00|say \"hi\"|null\n"
            "3|0|2.0|2026-01-03|two\nlines|null\n");
}

TEST_F(IngestTest, DeclaredTypesDelimiterAndAppend) {
  Csv("code;amount\n007;5\n008;6\n");
  nlohmann::json args = {{"source", "in.csv"},
                         {"table", "t"},
                         {"delimiter", ";"},
                         {"columns", {{"code", "text"}, {"amount", "real"}}}};
  ASSERT_EQ(Ingest(args).outcome, exec::OperatorResult::Outcome::kSuccess);
  args["mode"] = "append";
  ASSERT_EQ(Ingest(args).outcome, exec::OperatorResult::Outcome::kSuccess);
  EXPECT_EQ(Query("SELECT code, typeof(amount), count(*) FROM t GROUP BY code"),
            "007|real|2\n008|real|2\n");
  // Appending rows whose columns differ is refused.
  Csv("code;other\n1;2\n");
  args.erase("columns");
  const auto refused = Ingest(args);
  EXPECT_EQ(refused.message,
            "cannot append to table 't': its columns are (code text, amount real), the new rows' "
            "are (code integer, other integer)");
}

TEST_F(IngestTest, BadInputIsLocatedAndWritesNothing) {
  Csv("id,v\n1,a\n");
  ASSERT_EQ(Ingest({{"source", "in.csv"}, {"table", "t"}}).outcome,
            exec::OperatorResult::Outcome::kSuccess);
  const std::string file = dir_.path() + "/in.csv";
  struct Case {
    std::string csv;
    nlohmann::json extra;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"id,v\n1,x\n2,\"open\n", {}, file + ":3:3: unterminated quoted field"},
      {"id,v\n1,x\n2\n", {}, file + ":3:1: this row has 1 fields, the header has 2"},
      {"id,v\n1,x\nz,y\n",
       {{"columns", {{"id", "integer"}}}},
       file + ":3:1: column 'id' is integer, got 'z'"},
      {"id,v\n1,x\n2,\n",
       {{"not_null", {"v"}}},
       file + ":3:3: column 'v' is empty (it is in not_null)"},
      {"id,v\n1,x\n2,y\n1,z\n",
       {{"unique_key", {"id"}}},
       file + ":4:1: duplicate unique_key, first seen on line 2"},
      {"id,value\n1,x\n",
       {{"required_columns", {"valeu"}}},
       file + ":1:1: required_columns names column 'valeu', which the header lacks, did you mean "
              "'value'?"},
      {"id,v\n1,x\n", {{"min_rows", 5}}, file + ": 1 rows, fewer than min_rows 5"},
      {"id,id\n1,2\n", {}, file + ":1:4: column 'id' appears twice in the header"},
  };
  for (const Case& c : cases) {
    Csv(c.csv);
    nlohmann::json args = {{"source", "in.csv"}, {"table", "t"}};
    for (const auto& item : c.extra.items()) args[item.key()] = item.value();
    const auto result = Ingest(args);
    EXPECT_EQ(result.outcome, exec::OperatorResult::Outcome::kFailed) << c.csv;
    EXPECT_EQ(result.message, c.error) << c.csv;
    // The table from before is intact: nothing was half-written.
    EXPECT_EQ(Query("SELECT id, v FROM t"), "1|a\n") << c.csv;
  }
}

// Two tries of one run (ingest of two tables, as the drift DAGs do) opening a data database that
// does not exist yet, at the same moment: both write their table. Switching the new database to
// WAL made one of them fail with "database is locked" about one time in four.
TEST_F(IngestTest, TwoTriesCreatingTheDataDatabaseAtOnceBothWrite) {
  for (int round = 0; round < 40; ++round) {
    const std::string db = dir_.path() + "/new" + std::to_string(round) + ".db";
    std::latch opening(2);
    Status results[2];
    auto write = [&](int table) {
      opening.arrive_and_wait();
      auto data = data::MakeDataAccess(db, "", "").open_data({});
      if (!data.ok()) {
        results[table] = data.error();
        return;
      }
      auto writer = (*data)->WriteTable("t" + std::to_string(table),
                                        {{"x", exec::ColumnType::kInteger}}, true);
      if (!writer.ok()) {
        results[table] = writer.error();
        return;
      }
      if (Status s = (*writer)->Append({std::int64_t{table}}); !s.ok()) {
        results[table] = s;
        return;
      }
      results[table] = (*writer)->Commit();
    };
    std::thread other(write, 1);
    write(0);
    other.join();
    for (const Status& result : results) {
      ASSERT_TRUE(result.ok()) << "round " << round << ": " << result.error().message;
    }
  }
}

// Another connection holds the data database's write lock (as a long ingest does for its whole
// transaction). A try waits for it as long as it may run: it gives up at its deadline or when it
// is cancelled, not after a fixed timeout, and goes on once the lock is free.
TEST_F(IngestTest, WaitsForAnotherWriterUntilItsDeadlineOrCancellation) {
  Csv("id\n1\n2\n");
  ASSERT_EQ(Ingest({{"source", "in.csv"}, {"table", "t"}}).outcome,
            exec::OperatorResult::Outcome::kSuccess);
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(Db().c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  using Clock = std::chrono::steady_clock;
  const auto seconds_since = [](Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
  };

  auto start = Clock::now();
  deadline_ = start + std::chrono::milliseconds(300);
  auto result = Ingest({{"source", "in.csv"}, {"table", "u"}});
  EXPECT_EQ(result.outcome, exec::OperatorResult::Outcome::kFailed);
  EXPECT_EQ(result.message, "database '" + Db() + "': database is locked");
  EXPECT_GE(seconds_since(start), 0.3);
  EXPECT_LT(seconds_since(start), 5.0);  // a fixed 10 s timeout would take longer

  deadline_.reset();
  start = Clock::now();
  std::thread cancel([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancelled_ = true;
  });
  result = Ingest({{"source", "in.csv"}, {"table", "u"}});
  cancel.join();
  EXPECT_EQ(result.outcome, exec::OperatorResult::Outcome::kFailed);
  EXPECT_LT(seconds_since(start), 5.0);

  cancelled_ = false;
  std::thread release([other] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr);
  });
  result = Ingest({{"source", "in.csv"}, {"table", "u"}});
  release.join();
  sqlite3_close(other);
  EXPECT_EQ(result.outcome, exec::OperatorResult::Outcome::kSuccess) << result.message;
  EXPECT_EQ(Query("SELECT count(*) FROM u"), "2\n");
}

}  // namespace
}  // namespace conveyor::operators
