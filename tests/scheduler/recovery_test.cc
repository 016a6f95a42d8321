// Clearing and crash recovery, on real processes and a real SQLite file.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "engine/scheduler/clear.h"
#include "engine/scheduler/run_driver.h"
#include "engine/scheduler/run_factory.h"
#include "engine/scheduler/start_journal.h"
#include "engine/store/lease.h"
#include "tests/support/dag_fixture.h"

namespace conveyor::scheduler {
namespace {

using testing::DagFixture;
using States = std::map<std::string, std::string>;

constexpr char kChain[] = R"(tasks:
  - {id: a, command: "echo a >> $DIR/effects"}
  - {id: b, command: "echo b >> $DIR/effects", depends_on: [a]}
  - {id: c, command: "echo c >> $DIR/effects", depends_on: [b]}
  - {id: side, command: "echo side >> $DIR/effects"}
)";

TEST(ClearTest, ClearsTheTaskAndItsDownstreamAndRunsThemAgain) {
  DagFixture fixture(kChain);
  auto run = fixture.RunToEnd();
  ASSERT_EQ(run.state, state::RunState::kSuccess);
  auto cleared = ClearTasks(fixture.store(), fixture.dag(), run, {"b"}, true, "test",
                            WallClock().PreciseNow());
  ASSERT_TRUE(cleared.ok()) << cleared.error().ToString();
  EXPECT_EQ(*cleared, (std::vector<std::string>{"b", "c"}));
  run = *fixture.store().GetRun(run.id);
  EXPECT_EQ(run.state, state::RunState::kQueued);
  EXPECT_EQ(fixture.States(run),
            (States{{"a", "success"}, {"b", "none"}, {"c", "none"}, {"side", "success"}}));
  run = fixture.Resume(run);
  EXPECT_EQ(run.state, state::RunState::kSuccess);
  const std::string effects = fixture.ReadFile("effects");
  EXPECT_EQ(std::count(effects.begin(), effects.end(), 'b'), 2);
  EXPECT_EQ(std::count(effects.begin(), effects.end(), 'a'), 1);
  EXPECT_EQ(fixture.Ti(run, "b").try_number, 2);
  EXPECT_EQ(fixture.Ti(run, "b").max_tries, 2);

  auto unknown = ClearTasks(fixture.store(), fixture.dag(), run, {"sied"}, false, "test",
                            WallClock().PreciseNow());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().message, "DAG 'fixture' has no task 'sied', did you mean 'side'?");
}

TEST(ClearTest, ADryRunListsWhatAClearWouldClearAndWritesNothing) {
  DagFixture fixture(kChain);
  const auto run = fixture.RunToEnd();
  ASSERT_EQ(run.state, state::RunState::kSuccess);
  auto would = ClearTasks(fixture.store(), fixture.dag(), run, {"b"}, true, "test",
                          WallClock().PreciseNow(), true);
  ASSERT_TRUE(would.ok()) << would.error().ToString();
  EXPECT_EQ(*would, (std::vector<std::string>{"b", "c"}));
  would = ClearTasks(fixture.store(), fixture.dag(), run, {}, false, "test",
                     WallClock().PreciseNow(), true);
  ASSERT_TRUE(would.ok()) << would.error().ToString();
  EXPECT_EQ(*would, (std::vector<std::string>{"a", "b", "c", "side"}));
  EXPECT_EQ(fixture.store().GetRun(run.id)->state, state::RunState::kSuccess);
  EXPECT_EQ(fixture.States(run),
            (States{{"a", "success"}, {"b", "success"}, {"c", "success"}, {"side", "success"}}));
}

TEST(ClearTest, OnlyAFreshLeaseOfALiveProcessBlocksAClear) {
  DagFixture fixture(kChain);
  RunRequest request;
  request.run_id = "left";
  auto run = CreateRun(fixture.store(), fixture.dag(), request, Instant(std::chrono::seconds(0)));
  ASSERT_TRUE(run.ok());
  const PreciseInstant now{std::chrono::seconds(1767225600)};
  int previous = 0;
  // A fresh heartbeat, but from a process that no longer exists.
  ASSERT_TRUE(*fixture.store().AcquireLease(run->id, 999999, now, now, &ProcessAlive, &previous));
  auto cleared = ClearTasks(fixture.store(), fixture.dag(), *run, {"c"}, false, "test", now);
  ASSERT_TRUE(cleared.ok()) << cleared.error().ToString();
  EXPECT_EQ(*cleared, (std::vector<std::string>{"c"}));
  // A live process (our parent) whose heartbeat is stale.
  const auto stale = now - store::kLeaseStaleAfter - std::chrono::seconds(1);
  ASSERT_TRUE(
      *fixture.store().AcquireLease(run->id, getppid(), stale, stale, &ProcessAlive, &previous));
  EXPECT_EQ(previous, 999999);
  cleared = ClearTasks(fixture.store(), fixture.dag(), *run, {"c"}, false, "test", now);
  ASSERT_TRUE(cleared.ok()) << cleared.error().ToString();
  // The same process with a fresh heartbeat.
  ASSERT_TRUE(fixture.store().Heartbeat(run->id, getppid(), now).ok());
  cleared = ClearTasks(fixture.store(), fixture.dag(), *run, {"c"}, false, "test", now);
  ASSERT_FALSE(cleared.ok());
  EXPECT_EQ(cleared.error().message, "run 'left' is being run by process " +
                                         std::to_string(getppid()) + "; clear it once that ends");
  // A dry run only tells what a clear would clear.
  cleared = ClearTasks(fixture.store(), fixture.dag(), *run, {"c"}, false, "test", now, true);
  ASSERT_TRUE(cleared.ok()) << cleared.error().ToString();
  EXPECT_EQ(*cleared, (std::vector<std::string>{"c"}));
  // The same heartbeat, once it is older than a lease lives: stale.
  cleared = ClearTasks(fixture.store(), fixture.dag(), *run, {"c"}, false, "test",
                       now + store::kLeaseStaleAfter + std::chrono::microseconds(1));
  ASSERT_TRUE(cleared.ok()) << cleared.error().ToString();
}

TEST(RecoveryTest, InterruptedTryGoesBackToScheduledWithoutUsingARetry) {
  DagFixture fixture(kChain);
  RunRequest request;
  request.run_id = "crashed";
  auto run = CreateRun(fixture.store(), fixture.dag(), request, Instant(std::chrono::seconds(0)));
  ASSERT_TRUE(run.ok());
  // Pretend a dead conveyor left `a` running with a process that is still alive.
  const pid_t leftover = fork();
  if (leftover == 0) {
    setpgid(0, 0);
    execl("/bin/sleep", "sleep", "60", static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(leftover, leftover);
  store::WriteBatch batch;
  auto tis = *fixture.store().ListTaskInstances(run->id);
  store::TaskInstanceRecord a = tis[0];
  a.state = state::TaskState::kRunning;
  a.try_number = 1;
  a.pid = leftover;
  batch.PutTaskInstance(a, state::TaskState::kNone, "test");
  batch.PutTry({run->id, "a", 1, state::TaskState::kRunning, std::nullopt, std::nullopt, leftover,
                fixture.dir() + "/a.log", ""});
  ASSERT_TRUE(fixture.store().Commit(batch).ok());
  int previous = 0;
  const auto now =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  // The lease of a process that no longer exists.
  ASSERT_TRUE(*fixture.store().AcquireLease(run->id, 999999, now, now, &ProcessAlive, &previous));

  const auto done = fixture.Resume(*run);
  EXPECT_EQ(done.state, state::RunState::kSuccess);
  int status = 0;
  EXPECT_EQ(waitpid(leftover, &status, 0), leftover);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  const auto a_after = fixture.Ti(done, "a");
  EXPECT_EQ(a_after.try_number, 2);
  EXPECT_EQ(a_after.max_tries, 2);  // one more allowed: the interruption is not a retry
  const auto tries = *fixture.store().ListTries(done.id, "a");
  ASSERT_EQ(tries.size(), 2u);
  EXPECT_EQ(tries[0].note,
            "try 1 interrupted: the conveyor process running it died; 1 leftover process(es) "
            "killed");
  EXPECT_EQ(tries[1].state, state::TaskState::kSuccess);
  EXPECT_EQ(*fixture.store().CountEvents(done.id, "a", "success"), 1);
  EXPECT_FALSE(*fixture.store().GetLease(done.id));
}

TEST(RecoveryTest, ATryJournaledButNotRecordedIsRecordedAsInterrupted) {
  DagFixture fixture(kChain);
  RunRequest request;
  request.run_id = "crashed";
  auto run = CreateRun(fixture.store(), fixture.dag(), request, Instant(std::chrono::seconds(0)));
  ASSERT_TRUE(run.ok());
  // A dead conveyor committed `a`'s success, started `b` before committing its queued state, and
  // was killed while it wrote `c`'s line: the journal names tries 1 of a and b, then a cut line.
  const pid_t leftover = fork();
  if (leftover == 0) {
    setpgid(0, 0);
    setenv("CONVEYOR_DAG_ID", "fixture", 1);
    setenv("CONVEYOR_RUN_ID", "crashed", 1);
    setenv("CONVEYOR_TASK_ID", "b", 1);
    execl("/bin/sleep", "sleep", "60", static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(leftover, leftover);
  store::WriteBatch batch;
  store::TaskInstanceRecord a = fixture.Ti(*run, "a");
  a.state = state::TaskState::kSuccess;
  a.try_number = 1;
  batch.PutTaskInstance(a, state::TaskState::kNone, "test");
  batch.PutTry({run->id, "a", 1, state::TaskState::kSuccess, std::nullopt, std::nullopt,
                std::nullopt, fixture.dir() + "/a.log", ""});
  ASSERT_TRUE(fixture.store().Commit(batch).ok());
  ASSERT_TRUE(AppendStartJournal(StartJournalPath(fixture.dir() + "/logs", "fixture", "crashed"),
                                 "1 a\n1 b\n1 c")
                  .ok());
  // Wait until the leftover runs `sleep` with the environment the reaper looks for.
  const auto command_of = [](pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(in, name);
    return name;
  };
  for (int i = 0; i < 500 && command_of(leftover) != "sleep"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }

  const auto done = fixture.Resume(*run);
  EXPECT_EQ(done.state, state::RunState::kSuccess);
  int status = 0;
  EXPECT_EQ(waitpid(leftover, &status, 0), leftover);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  std::vector<std::string> effects;
  std::istringstream lines(fixture.ReadFile("effects"));
  for (std::string line; std::getline(lines, line);) effects.push_back(line);
  std::sort(effects.begin(), effects.end());
  EXPECT_EQ(effects, (std::vector<std::string>{"b", "c", "side"}));  // a is not run again
  const auto b_tries = *fixture.store().ListTries(done.id, "b");
  ASSERT_EQ(b_tries.size(), 2u);
  EXPECT_EQ(b_tries[0].try_number, 1);
  EXPECT_EQ(b_tries[0].note,
            "try 1 interrupted: the conveyor process starting it died before its start was "
            "recorded; 1 leftover process(es) killed");
  EXPECT_EQ(b_tries[1].try_number, 2);
  EXPECT_EQ(b_tries[1].state, state::TaskState::kSuccess);
  EXPECT_EQ(fixture.Ti(done, "b").max_tries, 2);  // the interruption is not a retry
  EXPECT_EQ(fixture.store().ListTries(done.id, "a")->size(), 1u);  // committed: left alone
  EXPECT_EQ(fixture.Ti(done, "c").try_number, 1);                  // its line was cut short
}

TEST(RecoveryTest, ALiveLeaseHolderIsNeverJoined) {
  DagFixture fixture(kChain);
  RunRequest request;
  request.run_id = "held";
  auto run = CreateRun(fixture.store(), fixture.dag(), request, Instant(std::chrono::seconds(0)));
  ASSERT_TRUE(run.ok());
  const auto now =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  int previous = 0;
  // Our parent process stands in for another live conveyor holding the run.
  ASSERT_TRUE(
      *fixture.store().AcquireLease(run->id, getppid(), now, now, &ProcessAlive, &previous));
  EXPECT_FALSE(*fixture.store().AcquireLease(run->id, getpid(), now, now - std::chrono::seconds(30),
                                             &ProcessAlive, &previous));
  EXPECT_EQ(previous, getppid());
  auto clear =
      ClearTasks(fixture.store(), fixture.dag(), *run, {}, false, "test", WallClock().PreciseNow());
  ASSERT_FALSE(clear.ok());
  EXPECT_EQ(clear.error().message, "run 'held' is being run by process " +
                                       std::to_string(getppid()) + "; clear it once that ends");
  // A stale heartbeat frees the lease even when the pid is alive.
  EXPECT_TRUE(*fixture.store().AcquireLease(run->id, getpid(), now + std::chrono::seconds(60),
                                            now + std::chrono::seconds(30), &ProcessAlive,
                                            &previous));
}

}  // namespace
}  // namespace conveyor::scheduler
