#include <gtest/gtest.h>

#include <thread>

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

TaskInstanceRecord MakeTask(const std::string& task_id, const std::string& operator_name = "noop") {
  TaskInstanceRecord ti;
  ti.task_id = task_id;
  ti.operator_name = operator_name;
  return ti;
}

TEST(SqliteStoreTest, CreatesListsAndRejectsDuplicateRuns) {
  testing::TempDir dir;
  auto store = OpenSqliteStore(dir.path() + "/s.db");
  ASSERT_TRUE(store.ok()) << store.error().ToString();
  const TaskInstanceRecord ti = MakeTask("t");
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

// Each filter alone and both together, with their totals, in both orders and by pages.
TEST(SqliteStoreTest, ListsRunsByDagAndState) {
  testing::TempDir dir;
  auto store = std::move(OpenSqliteStore(dir.path() + "/s.db")).value();
  WriteBatch states;
  for (int day = 1; day <= 6; ++day) {
    DagRunRecord run = MakeRun("r" + std::to_string(day), day);
    run.dag_id = day % 2 == 0 ? "even" : "odd";
    run.id = *store->CreateRun(run, {MakeTask("t")});
    run.state = day <= 2 ? state::RunState::kSuccess : state::RunState::kRunning;
    states.PutRun(run, state::RunState::kQueued, "test");
  }
  ASSERT_TRUE(store->Commit(states).ok());
  const auto list = [&](std::optional<std::string> dag_id, std::optional<state::RunState> state,
                        bool oldest_first, int limit, int offset, int expected_total) {
    RunFilter filter;
    filter.dag_id = std::move(dag_id);
    filter.state = state;
    filter.oldest_first = oldest_first;
    filter.limit = limit;
    filter.offset = offset;
    int total = -1;
    auto runs = store->ListRuns(filter, &total);
    EXPECT_TRUE(runs.ok());
    EXPECT_EQ(total, expected_total);
    std::string ids;
    for (const auto& run : *runs) ids += run.run_id + " ";
    return ids;
  };
  const auto running = state::RunState::kRunning;
  EXPECT_EQ(list(std::nullopt, std::nullopt, false, 100, 0, 6), "r6 r5 r4 r3 r2 r1 ");
  EXPECT_EQ(list(std::nullopt, std::nullopt, true, 2, 1, 6), "r2 r3 ");
  EXPECT_EQ(list("even", std::nullopt, false, 100, 0, 3), "r6 r4 r2 ");
  EXPECT_EQ(list(std::nullopt, running, true, 100, 0, 4), "r3 r4 r5 r6 ");
  EXPECT_EQ(list("odd", running, false, 100, 0, 2), "r5 r3 ");
  EXPECT_EQ(list("odd", state::RunState::kSuccess, false, 100, 0, 1), "r1 ");
  EXPECT_EQ(list("none", running, false, 100, 0, 0), "");
}

TEST(SqliteStoreTest, BatchesWriteTransitionsOutputsAndEvents) {
  testing::TempDir dir;
  auto store = std::move(OpenSqliteStore(dir.path() + "/s.db")).value();
  TaskInstanceRecord ti = MakeTask("t", "shell");
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

TEST(SqliteStoreTest, CreatedRunsAndTheWritesMadeForThemCommitTogether) {
  testing::TempDir dir;
  auto store = std::move(OpenSqliteStore(dir.path() + "/s.db")).value();
  const TaskInstanceRecord ti = MakeTask("t");
  const RunKey old_key = *store->CreateRun(MakeRun("old", 1), {ti});
  const RunKey first = *store->ReserveRunKeys(2);
  std::vector<NewRun> runs = {{MakeRun("old", 1), {ti}}, {MakeRun("new", 2), {ti}}};
  runs[0].run.id = first;
  runs[1].run.id = first + 1;
  WriteBatch batch;
  for (const NewRun& run : runs) {
    TaskInstanceRecord queued = ti;
    queued.run = run.run.id;
    queued.state = state::TaskState::kQueued;
    queued.try_number = 1;
    batch.PutTaskInstance(queued, state::TaskState::kNone, "test");
    batch.PutTry({run.run.id, "t", 1, state::TaskState::kQueued, WallClock().PreciseNow(),
                  std::nullopt, std::nullopt, "t.log", ""});
  }
  auto created = store->CreateRunsIfAbsent(runs, 77, WallClock().PreciseNow(), std::move(batch));
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  EXPECT_EQ(*created, (std::vector<bool>{false, true}));  // "old" existed: left alone
  const auto tis = *store->ListTaskInstances(first + 1);
  ASSERT_EQ(tis.size(), 1u);  // the caller's write replaced the new row; one row per task
  EXPECT_EQ(tis[0].state, state::TaskState::kQueued);
  EXPECT_EQ(tis[0].try_number, 1);
  EXPECT_EQ(store->ListTries(first + 1, "t")->size(), 1u);
  EXPECT_EQ((*store->GetLease(first + 1))->pid, 77);
  // The writes made for the run that existed were dropped with it.
  EXPECT_EQ((*store->FindRun("d", "old"))->id, old_key);
  EXPECT_EQ(store->ListTaskInstances(old_key)->at(0).state, state::TaskState::kNone);
  EXPECT_TRUE(store->ListTries(old_key, "t")->empty());
  EXPECT_FALSE(store->GetRun(first).ok());

  // A write that fails undoes the runs created with it: a try of a run that does not exist
  // breaks its foreign key.
  std::vector<NewRun> more = {{MakeRun("doomed", 3), {ti}}};
  more[0].run.id = *store->ReserveRunKeys(1);
  WriteBatch broken;
  broken.PutTry({987654, "t", 1, state::TaskState::kQueued, WallClock().PreciseNow(), std::nullopt,
                 std::nullopt, "x.log", ""});
  auto failed = store->CreateRunsIfAbsent(more, 77, WallClock().PreciseNow(), std::move(broken));
  EXPECT_FALSE(failed.ok());
  EXPECT_FALSE(*store->FindRun("d", "doomed"));
}

// Keys reserved by one connection are never taken by another, nor by a run created meanwhile;
// a database from before the counter continues after its last run.
TEST(SqliteStoreTest, ReservedRunKeysAreNeverGivenToAnotherRun) {
  testing::TempDir dir;
  const std::string db = dir.path() + "/s.db";
  {
    auto store = std::move(OpenSqliteStore(db)).value();
    ASSERT_EQ(*store->CreateRun(MakeRun("r1", 1), {}), 1);
    ASSERT_EQ(*store->CreateRun(MakeRun("r2", 2), {}), 2);
  }
  // As before the counter: its migration undone, and a run written with a key of its own.
  ASSERT_EQ(testing::RunCommand("sqlite3 " + db +
                                " \"DROP TABLE run_keys; ALTER TABLE task_instances DROP COLUMN "
                                "note; DROP TABLE deadline_misses; DROP TABLE task_cache; "
                                "ALTER TABLE dag_runs DROP COLUMN no_cache; "
                                "ALTER TABLE task_instances DROP COLUMN cached_from; "
                                "PRAGMA user_version = 7; "
                                "UPDATE dag_runs SET id = 40 WHERE run_id = 'r2'\"")
                .exit_code,
            0);
  auto scheduler = std::move(OpenSqliteStore(db)).value();
  auto cli = std::move(OpenSqliteStore(db)).value();
  EXPECT_EQ(*scheduler->ReserveRunKeys(10), 41);
  EXPECT_EQ(*cli->CreateRun(MakeRun("r3", 3), {}), 51);
  EXPECT_EQ(*cli->ReserveRunKeys(1), 52);
  NewRun run{MakeRun("r4", 4), {MakeTask("t")}};
  run.run.id = 45;
  ASSERT_EQ(*scheduler->CreateRunsIfAbsent({run}, 1, WallClock().PreciseNow(), WriteBatch()),
            std::vector<bool>{true});
  EXPECT_EQ((*cli->FindRun("d", "r4"))->id, 45);
  EXPECT_EQ(*cli->CreateRun(MakeRun("r5", 5), {}), 53);

  // A run written outside conveyor, without the counter, takes the next rowid: the next
  // reservation starts after it.
  const auto insert = [&](const std::string& values) {
    return testing::RunCommand("sqlite3 " + db +
                               " \"INSERT INTO dag_runs (id, dag_id, run_id, run_type, state) "
                               "VALUES (" +
                               values + ")\"")
        .exit_code;
  };
  ASSERT_EQ(insert("NULL, 'd', 'shell1', 'manual', 'success'"), 0);
  EXPECT_EQ((*cli->FindRun("d", "shell1"))->id, 54);
  const RunKey reserved = *scheduler->ReserveRunKeys(2);
  EXPECT_EQ(reserved, 55);
  // One that takes a reserved key meanwhile: the run that was to have it is an error, not a
  // duplicate silently dropped.
  ASSERT_EQ(insert("56, 'd', 'shell2', 'manual', 'success'"), 0);
  NewRun lost{MakeRun("r6", 6), {}};
  lost.run.id = 56;
  auto failed = scheduler->CreateRunsIfAbsent({lost}, 1, WallClock().PreciseNow(), WriteBatch());
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message,
            "run key 56 for run 'r6' of DAG 'd' is taken by a run written outside conveyor");
  EXPECT_FALSE(*cli->FindRun("d", "r6"));
}

TEST(SqliteStoreTest, EventsOfABatchKeepTheirOrder) {
  testing::TempDir dir;
  auto store = std::move(OpenSqliteStore(dir.path() + "/s.db")).value();
  std::vector<TaskInstanceRecord> tasks;
  for (int i = 0; i < 23; ++i) tasks.push_back(MakeTask("t" + std::to_string(i)));
  const RunKey run = *store->CreateRun(MakeRun("r", 1), tasks);
  WriteBatch batch;
  std::vector<std::string> expected;
  for (TaskInstanceRecord& ti : tasks) {  // 46 events: more than one insert statement holds
    ti.run = run;
    ti.state = state::TaskState::kScheduled;
    batch.PutTaskInstance(ti, state::TaskState::kNone, "test");
    expected.push_back(ti.task_id + ":scheduled");
  }
  for (TaskInstanceRecord& ti : tasks) {
    ti.state = state::TaskState::kQueued;
    batch.PutTaskInstance(ti, state::TaskState::kScheduled, "test", "note " + ti.task_id);
    expected.push_back(ti.task_id + ":queued:note " + ti.task_id);
  }
  ASSERT_TRUE(store->Commit(batch).ok());
  const auto listed = store->ListEvents(run, 0);
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> events;
  for (const EventRecord& e : *listed) {
    if (e.task_id.empty()) continue;  // the run's creation
    events.push_back(e.task_id + ":" + e.to_state + (e.note.empty() ? "" : ":" + e.note));
  }
  EXPECT_EQ(events, expected);
}

// A reader follows the log from an event id on: it sees its run's later events, and no other's.
TEST(SqliteStoreTest, EventsAreReadFromAnEventIdOn) {
  testing::TempDir dir;
  auto store = std::move(OpenSqliteStore(dir.path() + "/s.db")).value();
  EXPECT_EQ(*store->LastEventId(), 0);
  TaskInstanceRecord a = MakeTask("a");
  const RunKey first = *store->CreateRun(MakeRun("first", 1), {a});
  const std::int64_t before = *store->LastEventId();
  EXPECT_EQ(before, 1);  // the first run's creation
  const RunKey second = *store->CreateRun(MakeRun("second", 2), {a});
  WriteBatch batch;
  for (const RunKey run : {first, second}) {
    a.run = run;
    a.state = state::TaskState::kScheduled;
    batch.PutTaskInstance(a, state::TaskState::kNone, "test");
  }
  ASSERT_TRUE(store->Commit(batch).ok());
  EXPECT_EQ(*store->LastEventId(), 4);
  const auto describe = [&](RunKey run, std::int64_t after) {
    const auto listed = store->ListEvents(run, after);
    EXPECT_TRUE(listed.ok());
    if (!listed.ok()) return std::string("error");
    std::string out;
    for (const EventRecord& e : *listed) {
      out += std::to_string(e.id) + ":" + e.task_id + ":" + e.to_state + " ";
    }
    return out;
  };
  EXPECT_EQ(describe(first, before), "3:a:scheduled ");
  EXPECT_EQ(describe(second, before), "2::run:queued 4:a:scheduled ");
  EXPECT_EQ(describe(first, 0), "1::run:queued 3:a:scheduled ");
  EXPECT_EQ(describe(second, 4), "");
}

// A group commit appends its wake-ups' batches into one: each task instance and try is written
// once, in its last state, and every event of every batch is kept, in order.
TEST(SqliteStoreTest, AppendedBatchesWriteTheLastStateAndEveryEvent) {
  testing::TempDir dir;
  auto store = std::move(OpenSqliteStore(dir.path() + "/s.db")).value();
  TaskInstanceRecord a = MakeTask("a");
  TaskInstanceRecord b = MakeTask("b");
  const RunKey run = *store->CreateRun(MakeRun("r", 1), {a, b});
  a.run = b.run = run;
  const auto at = [](int seconds) { return Instant(std::chrono::seconds(seconds)); };
  WriteBatch first;
  a.state = state::TaskState::kQueued;
  a.try_number = 1;
  first.PutTaskInstance(a, state::TaskState::kNone, "test");
  first.PutTry({run, "a", 1, state::TaskState::kQueued, std::nullopt, std::nullopt, std::nullopt,
                "a.log", ""});
  WriteBatch second;
  a.state = state::TaskState::kRunning;
  a.pid = 42;
  second.PutTaskInstance(a, state::TaskState::kQueued, "test");
  second.PutTry({run, "a", 1, state::TaskState::kRunning, at(10), std::nullopt, 42, "", ""});
  b.state = state::TaskState::kScheduled;
  second.PutTaskInstance(b, state::TaskState::kNone, "test");
  WriteBatch third;
  a.state = state::TaskState::kSuccess;
  third.PutTaskInstance(a, state::TaskState::kRunning, "test");
  third.PutTry({run, "a", 1, state::TaskState::kSuccess, std::nullopt, at(11), 42, "", "done"});
  first.Append(std::move(second));
  first.Append(std::move(third));
  EXPECT_EQ(first.task_instances().size(), 2u);
  EXPECT_EQ(first.tries().size(), 1u);
  ASSERT_TRUE(store->Commit(first).ok());

  const auto tis = *store->ListTaskInstances(run);
  ASSERT_EQ(tis.size(), 2u);
  EXPECT_EQ(tis[0].task_id, "a");
  EXPECT_EQ(tis[0].state, state::TaskState::kSuccess);
  EXPECT_EQ(*tis[0].pid, 42);
  EXPECT_EQ(tis[1].state, state::TaskState::kScheduled);
  const auto tries = *store->ListTries(run, "a");
  ASSERT_EQ(tries.size(), 1u);
  EXPECT_EQ(tries[0].state, state::TaskState::kSuccess);
  EXPECT_EQ(tries[0].start_date, at(10));  // from the second batch: the third left it empty
  EXPECT_EQ(tries[0].end_date, at(11));
  EXPECT_EQ(tries[0].log_path, "a.log");  // from the first
  EXPECT_EQ(tries[0].note, "done");
  const auto listed = store->ListEvents(run, 0);
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> events;
  for (const EventRecord& e : *listed) {
    if (!e.task_id.empty()) events.push_back(e.task_id + ":" + e.to_state);
  }
  EXPECT_EQ(events,
            (std::vector<std::string>{"a:queued", "a:running", "b:scheduled", "a:success"}));
}

// Tries go in by several rows per statement: 37 new tries (two full statements and a partial
// one), then a batch that ends 20 of them, with no start of its own, keeps each try's start.
TEST(SqliteStoreTest, ManyTriesInOneBatchAreEachWrittenAndUpdatedInPlace) {
  testing::TempDir dir;
  auto store = std::move(OpenSqliteStore(dir.path() + "/s.db")).value();
  std::vector<TaskInstanceRecord> tasks;
  for (int i = 0; i < 37; ++i) tasks.push_back(MakeTask("t" + std::to_string(i)));
  const RunKey run = *store->CreateRun(MakeRun("r", 1), tasks);
  const auto at = [](int seconds) { return Instant(std::chrono::seconds(seconds)); };
  WriteBatch started;
  for (int i = 0; i < 37; ++i) {
    started.PutTry({run, "t" + std::to_string(i), 1, state::TaskState::kRunning, at(i),
                    std::nullopt, 100 + i, "t" + std::to_string(i) + ".log", ""});
  }
  ASSERT_TRUE(store->Commit(started).ok());
  WriteBatch ended;
  for (int i = 0; i < 20; ++i) {
    ended.PutTry({run, "t" + std::to_string(i), 1, state::TaskState::kSuccess, std::nullopt,
                  at(1000 + i), 100 + i, "", "ok"});
  }
  ASSERT_TRUE(store->Commit(ended).ok());
  for (int i = 0; i < 37; ++i) {
    const auto tries = *store->ListTries(run, "t" + std::to_string(i));
    ASSERT_EQ(tries.size(), 1u) << i;
    EXPECT_EQ(tries[0].start_date, at(i)) << i;
    EXPECT_EQ(tries[0].pid, 100 + i) << i;
    EXPECT_EQ(tries[0].log_path, "t" + std::to_string(i) + ".log") << i;
    if (i < 20) {
      EXPECT_EQ(tries[0].state, state::TaskState::kSuccess) << i;
      EXPECT_EQ(tries[0].end_date, at(1000 + i)) << i;
      EXPECT_EQ(tries[0].note, "ok") << i;
    } else {
      EXPECT_EQ(tries[0].state, state::TaskState::kRunning) << i;
      EXPECT_FALSE(tries[0].end_date) << i;
    }
  }
}

TEST(SqliteStoreTest, ReopeningKeepsDataAndSchemaVersion) {
  testing::TempDir dir;
  {
    auto store = std::move(OpenSqliteStore(dir.path() + "/s.db")).value();
    ASSERT_TRUE(store->CreateRun(MakeRun("r", 1), {}).ok());
  }
  auto store = std::move(OpenSqliteStore(dir.path() + "/s.db", {.synchronous_full = true})).value();
  auto found = store->FindRun("d", "r");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->state, state::RunState::kQueued);
  auto result = testing::RunCommand(
      "sqlite3 " + dir.path() +
      "/s.db 'PRAGMA user_version; PRAGMA journal_mode; PRAGMA integrity_check'");
  EXPECT_EQ(result.output, "12\nwal\nok\n");
}

// A parsed DAG is found only for the same path, build and source text; saving replaces it.
TEST(SqliteStoreTest, AParsedDagIsFoundForItsPathBuildAndSourceOnly) {
  testing::TempDir dir;
  auto store = std::move(OpenSqliteStore(dir.path() + "/s.db")).value();
  const std::string binary("\x01\x00\xff", 3);
  ASSERT_TRUE(store->SaveParsedDag("/d/a.yaml", "b1", "text", binary).ok());
  EXPECT_EQ(store->FindParsedDag("/d/a.yaml", "b1", "text").value(), binary);
  EXPECT_EQ(store->FindParsedDag("/d/a.yaml", "b2", "text").value(), std::nullopt);
  EXPECT_EQ(store->FindParsedDag("/d/a.yaml", "b1", "text2").value(), std::nullopt);
  EXPECT_EQ(store->FindParsedDag("/d/b.yaml", "b1", "text").value(), std::nullopt);
  ASSERT_TRUE(store->SaveParsedDag("/d/a.yaml", "b2", "new", "enc").ok());
  EXPECT_EQ(store->FindParsedDag("/d/a.yaml", "b1", "text").value(), std::nullopt);
  EXPECT_EQ(store->FindParsedDag("/d/a.yaml", "b2", "new").value(), "enc");
  auto rows = testing::RunCommand("sqlite3 " + dir.path() +
                                  "/s.db 'SELECT count(*), typeof(dag) FROM parsed_dag_files'");
  EXPECT_EQ(rows.output, "1|blob\n");
  // An empty file's text is an empty blob, found again however its view was made.
  ASSERT_TRUE(store->SaveParsedDag("/d/e.yaml", "b1", std::string_view(), "e").ok());
  EXPECT_EQ(store->FindParsedDag("/d/e.yaml", "b1", "").value(), "e");
}

// Runs created at a moment given (a cron round prepared ahead, committed when its interval
// ends): what is recorded for them (start, events) is stamped with it.
TEST(SqliteStoreTest, RunsCreatedAtAGivenMomentAreStampedWithIt) {
  testing::TempDir dir;
  const std::string db = dir.path() + "/s.db";
  auto store = std::move(OpenSqliteStore(db)).value();
  const TimePoint at = WallClock().PreciseNow() + std::chrono::milliseconds(300);
  DagRunRecord run = MakeRun("ahead", 1);
  run.id = *store->ReserveRunKeys(1);
  run.state = state::RunState::kRunning;
  run.start_date = at;
  TaskInstanceRecord ti = MakeTask("t");
  ti.run = run.id;
  ti.state = state::TaskState::kScheduled;
  WriteBatch batch;
  batch.PutTaskInstance(ti, state::TaskState::kNone, "test");
  auto created = store->CreateRunsIfAbsent({{run, {MakeTask("t")}}}, 77, at, std::move(batch));
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  ASSERT_EQ(*created, std::vector<bool>{true});
  EXPECT_EQ(store->GetRun(run.id)->start_date, at);
  const std::string micros = std::to_string(at.time_since_epoch().count());
  EXPECT_EQ(testing::RunCommand("sqlite3 " + db +
                                " \"SELECT count(*) FROM events WHERE to_state IN "
                                "('scheduled', 'run:running') AND at = " +
                                micros + "\"")
                .output,
            "2\n");
}

// "state=n " for each state with rows, in the order of the state names.
std::string Counted(const Result<std::map<std::string, long>>& counts) {
  std::string text;
  for (const auto& [state, n] : *counts) {
    if (n != 0) text += state + "=" + std::to_string(n) + " ";
  }
  return text;
}

std::string CountedBySqlite(const std::string& db, const std::string& select) {
  auto result = testing::RunCommand("sqlite3 -separator = " + db + " \"" + select +
                                    " GROUP BY 1 ORDER BY 1\" | tr '\\n' ' '");
  return result.output;
}

// The counts /metrics reads are kept by the store's writes alone (no trigger counts them a second
// time): they match a full count after its writes, another connection's, a stale write, and a
// migration from a database without them.
TEST(SqliteStoreTest, StateCountsMatchAFullCount) {
  testing::TempDir dir;
  const std::string db = dir.path() + "/s.db";
  const auto runs_by_state = [&] {
    return CountedBySqlite(db, "SELECT state, count(*) FROM dag_runs");
  };
  const auto tis_by_state = [&] {
    return CountedBySqlite(db, "SELECT coalesce(state, 'none'), count(*) FROM task_instances");
  };
  {
    auto store = std::move(OpenSqliteStore(db)).value();
    ASSERT_TRUE(store->CreateRun(MakeRun("before", 1), {MakeTask("a"), MakeTask("b")}).ok());
  }
  // A database from before the counts: the migration counts what it holds.
  const std::string drop =
      "DROP TABLE state_counts; DROP TABLE parsed_dag_files; DROP TABLE run_keys; "
      "ALTER TABLE task_instances DROP COLUMN note; DROP TABLE deadline_misses; "
      "DROP TABLE task_cache; ALTER TABLE dag_runs DROP COLUMN no_cache; "
      "ALTER TABLE task_instances DROP COLUMN cached_from; PRAGMA user_version = 4;";
  ASSERT_EQ(testing::RunCommand("sqlite3 " + db + " '" + drop + "'").exit_code, 0);
  auto store = std::move(OpenSqliteStore(db)).value();
  EXPECT_EQ(Counted(store->CountRunsByState()), "queued=1 ");
  EXPECT_EQ(Counted(store->CountTaskInstancesByState()), "none=2 ");
  EXPECT_EQ(testing::RunCommand("sqlite3 " + db +
                                " \"SELECT count(*) FROM sqlite_master WHERE type = "
                                "'trigger'\"")
                .output,
            "0\n");

  DagRunRecord run = MakeRun("r", 2);
  run.id = *store->CreateRun(run, {MakeTask("a"), MakeTask("b"), MakeTask("c")});
  WriteBatch batch;
  run.state = state::RunState::kRunning;
  batch.PutRun(run, state::RunState::kQueued, "test");
  TaskInstanceRecord a = MakeTask("a");
  a.run = run.id;
  a.state = state::TaskState::kSuccess;
  batch.PutTaskInstance(a, state::TaskState::kNone, "test");
  TaskInstanceRecord b = MakeTask("b");
  b.run = run.id;
  b.state = state::TaskState::kRunning;
  batch.PutTaskInstance(b, state::TaskState::kNone, "test");
  b.state = state::TaskState::kFailed;  // the same task again in the batch: written once
  batch.PutTaskInstance(b, state::TaskState::kRunning, "test");
  ASSERT_TRUE(store->Commit(batch).ok());
  EXPECT_EQ(Counted(store->CountRunsByState()), "queued=1 running=1 ");
  EXPECT_EQ(Counted(store->CountTaskInstancesByState()), "failed=1 none=3 success=1 ");
  EXPECT_EQ(Counted(store->CountRunsByState()), runs_by_state());
  EXPECT_EQ(Counted(store->CountTaskInstancesByState()), tis_by_state());

  // Another conveyor process's write, through its own connection.
  {
    auto other = std::move(OpenSqliteStore(db)).value();
    WriteBatch skip;
    TaskInstanceRecord c = MakeTask("c");
    c.run = run.id;
    c.state = state::TaskState::kSkipped;
    skip.PutTaskInstance(c, state::TaskState::kNone, "test");
    ASSERT_TRUE(other->Commit(skip).ok());
  }
  EXPECT_EQ(Counted(store->CountRunsByState()), "queued=1 running=1 ");
  EXPECT_EQ(Counted(store->CountTaskInstancesByState()), "failed=1 none=2 skipped=1 success=1 ");
  EXPECT_EQ(Counted(store->CountTaskInstancesByState()), tis_by_state());

  // A write whose idea of the row's state is stale (c is skipped now, not none): counted from
  // what the row holds.
  WriteBatch stale;
  TaskInstanceRecord c = MakeTask("c");
  c.run = run.id;
  c.state = state::TaskState::kQueued;
  stale.PutTaskInstance(c, state::TaskState::kNone, "test");
  ASSERT_TRUE(store->Commit(stale).ok());
  EXPECT_EQ(Counted(store->CountTaskInstancesByState()), "failed=1 none=2 queued=1 success=1 ");
  EXPECT_EQ(Counted(store->CountTaskInstancesByState()), tis_by_state());
}

// A task instance read from the database is written straight to its row; a row that holds
// another task (a stale cache after a VACUUM) is never written over.
TEST(SqliteStoreTest, TaskInstancesAreWrittenToTheirOwnRows) {
  testing::TempDir dir;
  auto store = std::move(OpenSqliteStore(dir.path() + "/s.db")).value();
  const RunKey run = *store->CreateRun(MakeRun("r", 1), {MakeTask("a"), MakeTask("b")});
  auto read = *store->ListTaskInstances(run);
  ASSERT_EQ(read.size(), 2u);
  EXPECT_NE(read[0].row, 0);
  EXPECT_NE(read[0].row, read[1].row);
  std::swap(read[0].row, read[1].row);
  WriteBatch batch;
  read[0].state = state::TaskState::kScheduled;
  batch.PutTaskInstance(read[0], state::TaskState::kNone, "test");
  read[1].state = state::TaskState::kQueued;
  read[1].pool = "other";
  batch.PutTaskInstance(read[1], state::TaskState::kNone, "test");
  ASSERT_TRUE(store->Commit(batch).ok());
  const auto after = *store->ListTaskInstances(run);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].task_id + ":" + std::string(state::Name(after[0].state)), "a:scheduled");
  EXPECT_EQ(after[1].task_id + ":" + std::string(state::Name(after[1].state)), "b:queued");
  EXPECT_EQ(Counted(store->CountTaskInstancesByState()), "queued=1 scheduled=1 ");
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
