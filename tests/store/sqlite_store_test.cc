#include <gtest/gtest.h>

#include "engine/store/state_store.h"
#include "tests/support/temp_dir.h"

namespace conveyor::store {
namespace {

DagRunRecord MakeRun(const std::string& run_id, int day) {
  DagRunRecord run;
  run.dag_id = "d";
  run.run_id = run_id;
  run.run_type = "manual";
  run.logical_date = Instant(std::chrono::seconds(86400LL * day));
  run.conf = {{"k", "v"}};
  return run;
}

TEST(SqliteStoreTest, CreatesListsAndRejectsDuplicateRuns) {
  testing::TempDir dir;
  auto store = OpenSqliteStore(dir.path() + "/s.db");
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  TaskInstanceRecord ti;
  ti.task_id = "t";
  ti.operator_name = "noop";
  auto first = (*store)->CreateRun(MakeRun("r1", 1), {ti});
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE((*store)->CreateRun(MakeRun("r2", 2), {ti}).ok());
  auto duplicate = (*store)->CreateRun(MakeRun("r1", 3), {ti});
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(duplicate.error().message, "DAG 'd' already has a run 'r1'");
  int total = 0;
  auto runs = (*store)->ListRuns({}, &total);
  ASSERT_TRUE(runs.ok());
  EXPECT_EQ(total, 2);
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[0].run_id, "r2");  // newest logical date first
  EXPECT_EQ((*runs)[1].conf, nlohmann::json({{"k", "v"}}));
  RunFilter failed;
  failed.state = state::RunState::kFailed;
  EXPECT_TRUE((*store)->ListRuns(failed, &total)->empty());
  EXPECT_EQ(total, 0);
}

TEST(SqliteStoreTest, BatchesWriteTransitionsOutputsAndEvents) {
  testing::TempDir dir;
  auto store = std::move(OpenSqliteStore(dir.path() + "/s.db")).value();
  TaskInstanceRecord ti;
  ti.task_id = "t";
  ti.operator_name = "shell";
  const RunKey run = *store->CreateRun(MakeRun("r", 1), {ti});
  ti.run = run;
  WriteBatch batch;
  ti.state = state::TaskState::kScheduled;
  batch.PutTaskInstance(ti, state::TaskState::kNone, "test");
  ti.state = state::TaskState::kSuccess;
  ti.try_number = 1;
  ti.pid = 1234;
  batch.PutTaskInstance(ti, state::TaskState::kScheduled, "test");
  batch.PutOutputs(run, "t", {{"rows", "42"}, {"n", 3}});
  ASSERT_TRUE(store->Commit(batch).ok());
  const auto tis = *store->ListTaskInstances(run);
  ASSERT_EQ(tis.size(), 1u);
  EXPECT_EQ(tis[0].state, state::TaskState::kSuccess);
  EXPECT_EQ(*tis[0].pid, 1234);
  EXPECT_EQ(*store->ReadOutputs(run), nlohmann::json({{"t", {{"rows", "42"}, {"n", "3"}}}}));
  EXPECT_EQ(*store->CountEvents(run, "t", "success"), 1);
  EXPECT_EQ(*store->CountEvents(run, "t", "scheduled"), 1);
}

TEST(SqliteStoreTest, ReopeningKeepsDataAndSchemaVersion) {
  testing::TempDir dir;
  {
    auto store = std::move(OpenSqliteStore(dir.path() + "/s.db")).value();
    ASSERT_TRUE(store->CreateRun(MakeRun("r", 1), {}).ok());
  }
  auto store = std::move(OpenSqliteStore(dir.path() + "/s.db", true)).value();
  auto found = store->FindRun("d", "r");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->state, state::RunState::kQueued);
  auto result = testing::RunCommand(
      "sqlite3 " + dir.path() +
      "/s.db 'PRAGMA user_version; PRAGMA journal_mode; PRAGMA integrity_check'");
  EXPECT_EQ(result.output, "4\nwal\nok\n");
}

TEST(SqliteStoreTest, UnopenableDatabaseIsAnError) {
  auto store = OpenSqliteStore("/nonexistent/dir/s.db");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kIo);
  EXPECT_NE(store.error().message.find("cannot open database '/nonexistent/dir/s.db'"),
            std::string::npos);
}

}  // namespace
}  // namespace conveyor::store
