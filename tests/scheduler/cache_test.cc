// Cached results (`cache:`): a task's successful try is reused instead of running again when
// every part of its key is the same, and runs again when any one part changes. Real processes,
// real SQLite.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <thread>

#include "engine/data/data_access.h"
#include "engine/scheduler/run_factory.h"
#include "tests/support/dag_fixture.h"

namespace conveyor::scheduler {
namespace {

using testing::DagFixture;

// `up` gives an output that `t` reads; `t` counts its own runs in $DIR/ran.
std::string Dag(const std::string& cache) {
  return R"(params: {n: 1, e: one, v: a}
tasks:
  - id: up
    command: echo "v={{ params.v }}" >> "$CONVEYOR_OUTPUT"
  - id: t
    depends_on: [up]
    cache: )" +
         cache + R"(
    env: {E: "{{ params.e }}"}
    command: echo "n={{ params.n }} v={{ outputs.up.v }} E=$E" >> $DIR/ran; echo "x=$$" >> "$CONVEYOR_OUTPUT"
)";
}

int Lines(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

TEST(CacheTest, ATryIsReusedWhileItsKeyHoldsAndRunsWhenAnyPartChanges) {
  DagFixture fixture(Dag("true"));
  const auto first = fixture.RunToEnd();
  ASSERT_EQ(first.state, state::RunState::kSuccess);
  EXPECT_EQ(fixture.ReadFile("ran"), "n=1 v=a E=one\n");
  EXPECT_EQ(fixture.Ti(first, "t").cached_from, "");
  const nlohmann::json first_outputs = fixture.store().ReadOutputs(first.id)->at("t");

  // The same inputs: reused, with the outputs of the try it reused and a log line saying so.
  const auto second = fixture.RunToEnd();
  ASSERT_EQ(second.state, state::RunState::kSuccess);
  EXPECT_EQ(Lines(fixture.ReadFile("ran")), 1);
  const auto reused = fixture.Ti(second, "t");
  EXPECT_EQ(reused.state, state::TaskState::kSuccess);
  EXPECT_EQ(reused.cached_from, "fixture/run_1/t/try 1");
  EXPECT_EQ(fixture.store().ReadOutputs(second.id)->at("t"), first_outputs);
  EXPECT_EQ(fixture.ReadFile("logs/dag_id=fixture/run_id=run_2/task_id=t/attempt=1.log"),
            "conveyor: reused fixture/run_1/t/try 1\n");
  EXPECT_EQ(fixture.Ti(second, "up").cached_from, "");  // not cached: it ran

  // Each part of the key, changed alone, makes it run: a value rendered into the command, one
  // rendered into its env, an upstream output it reads.
  int runs = 1;
  for (const nlohmann::json& conf :
       {nlohmann::json{{"n", 2}}, nlohmann::json{{"e", "two"}}, nlohmann::json{{"v", "b"}}}) {
    const auto run = fixture.RunToEnd(conf);
    EXPECT_EQ(Lines(fixture.ReadFile("ran")), ++runs) << conf.dump();
    EXPECT_EQ(fixture.Ti(run, "t").cached_from, "") << conf.dump();
    // ... and the same change again is a hit.
    const auto again = fixture.RunToEnd(conf);
    EXPECT_EQ(Lines(fixture.ReadFile("ran")), runs) << conf.dump();
    EXPECT_NE(fixture.Ti(again, "t").cached_from, "") << conf.dump();
  }

  // cache.version, and what key_extra renders.
  fixture.Reload(Dag("{version: \"2\"}"));
  fixture.RunToEnd();
  EXPECT_EQ(Lines(fixture.ReadFile("ran")), ++runs);
  fixture.RunToEnd();
  EXPECT_EQ(Lines(fixture.ReadFile("ran")), runs);
  fixture.Reload(Dag("{version: \"2\", key_extra: [\"{{ conf.day }}\"]}"));
  fixture.RunToEnd({{"day", "mon"}});
  EXPECT_EQ(Lines(fixture.ReadFile("ran")), ++runs);
  fixture.RunToEnd({{"day", "mon"}});
  EXPECT_EQ(Lines(fixture.ReadFile("ran")), runs);
  fixture.RunToEnd({{"day", "tue"}});
  EXPECT_EQ(Lines(fixture.ReadFile("ran")), ++runs);

  // A run triggered with --no-cache runs it, and writes the cache: the next run reuses its try.
  scheduler::RunRequest request;
  request.run_id = "uncached";
  request.conf = {{"day", "tue"}};
  request.no_cache = true;
  auto uncached = CreateRun(fixture.store(), fixture.dag(), request, WallClock().PreciseNow());
  ASSERT_TRUE(uncached.ok()) << uncached.error().ToString();
  EXPECT_TRUE(uncached->no_cache);
  fixture.Resume(*uncached);
  EXPECT_EQ(Lines(fixture.ReadFile("ran")), ++runs);
  const auto after = fixture.RunToEnd({{"day", "tue"}});
  EXPECT_EQ(fixture.Ti(after, "t").cached_from, "fixture/uncached/t/try 1");
  EXPECT_EQ(Lines(fixture.ReadFile("ran")), runs);

  // The loop's own --no-cache (backfill's) as well.
  RunLoopOptions no_cache;
  no_cache.no_cache = true;
  fixture.RunToEnd({{"day", "tue"}}, no_cache);
  EXPECT_EQ(Lines(fixture.ReadFile("ran")), ++runs);
}

TEST(CacheTest, ACachedTryOlderThanItsTtlRunsAgainAndAFailureIsNeverCached) {
  DagFixture fixture(R"(tasks:
  - id: t
    cache: {ttl: 400ms}
    command: echo ran >> $DIR/ran
  - id: fails
    cache: true
    command: echo ran >> $DIR/failed; exit 1
)");
  fixture.RunToEnd();
  fixture.RunToEnd();
  EXPECT_EQ(fixture.ReadFile("ran"), "ran\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  fixture.RunToEnd();
  EXPECT_EQ(fixture.ReadFile("ran"), "ran\nran\n");
  EXPECT_EQ(fixture.ReadFile("failed"), "ran\nran\nran\n");
}

// A file an ingest reads and a table a train reads count by their content: the same bytes
// written again (a new modification time), or a table rewritten with the same rows, still hit;
// one changed byte misses, and so does the table an ingest of it rewrites.
TEST(CacheTest, InputsCountByTheirContent) {
  DagFixture fixture(R"(tasks:
  - id: load
    operator: ingest
    args: {source: data.csv, table: rows}
  - id: load_cached
    operator: ingest
    cache: true
    args: {source: data.csv, table: copy}
  - id: fit
    operator: train
    depends_on: [load]
    cache: true
    args: {table: rows, label: y, num_boost_round: 2}
)");
  std::string csv = "a,b,y\n";
  for (int i = 0; i < 60; ++i) {
    csv += std::to_string(i) + "," + std::to_string(i % 7) + "," + std::to_string(i % 2) + "\n";
  }
  const auto write = [&](const std::string& text) {
    std::ofstream(fixture.dir() + "/dags/data.csv") << text;
  };
  write(csv);
  RunLoopOptions options;
  options.data = data::MakeDataAccess(fixture.dir() + "/data.db", fixture.dir() + "/state.db",
                                      fixture.dir() + "/artifacts");
  const auto cached_from = [&](const store::DagRunRecord& run) {
    EXPECT_EQ(run.state, state::RunState::kSuccess) << fixture.ReadFile(
        "logs/dag_id=fixture/run_id=" + run.run_id + "/task_id=fit/attempt=1.log");
    return fixture.Ti(run, "load_cached").cached_from + " | " + fixture.Ti(run, "fit").cached_from;
  };
  EXPECT_EQ(cached_from(fixture.RunToEnd(nlohmann::json::object(), options)), " | ");
  // `load` ran again and wrote the same rows: `fit` reads the same table.
  EXPECT_EQ(cached_from(fixture.RunToEnd(nlohmann::json::object(), options)),
            "fixture/run_1/load_cached/try 1 | fixture/run_1/fit/try 1");
  write(csv);  // the same bytes, a new modification time
  EXPECT_EQ(cached_from(fixture.RunToEnd(nlohmann::json::object(), options)),
            "fixture/run_1/load_cached/try 1 | fixture/run_1/fit/try 1");
  write(csv + "60,4,0\n");
  EXPECT_EQ(cached_from(fixture.RunToEnd(nlohmann::json::object(), options)), " | ");
}

}  // namespace
}  // namespace conveyor::scheduler
