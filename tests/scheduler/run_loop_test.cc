// The run loop end to end: real processes, a real SQLite file.
#include "engine/scheduler/run_loop.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/cli/command_context.h"
#include "engine/store/sqlite_db.h"
#include "engine/store/wal_coalescing_vfs.h"
#include "tests/support/dag_fixture.h"

namespace conveyor::scheduler {
namespace {

using testing::DagFixture;
using States = std::map<std::string, std::string>;

// True while `pid` exists and is not a zombie (a killed orphan may wait a while to be reaped).
bool Running(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_text, name, state;
  if (!(stat >> pid_text >> name >> state)) return false;
  return state != "Z" && state != "X";
}

// A diamond: a -> (b, c) -> d, with b failing, and d's trigger rule chosen per test; plus a
// fan-in e <- (a, b, c) with its own rule. The outcomes follow Airflow.
std::string Diamond(const std::string& d_rule, const std::string& e_rule) {
  return R"(tasks:
  - {id: a, command: "true"}
  - {id: b, command: "false", depends_on: [a]}
  - {id: c, command: "true", depends_on: [a]}
  - {id: d, operator: noop, depends_on: [b, c], trigger_rule: )" +
         d_rule + R"(}
  - {id: e, operator: noop, depends_on: [a, b, c], trigger_rule: )" +
         e_rule + "}\n";
}

struct RuleCase {
  std::string rule;
  std::string expected;  // d's (and e's) state when b fails and a, c succeed
};

class TriggerRuleRunTest : public ::testing::TestWithParam<RuleCase> {};

TEST_P(TriggerRuleRunTest, DiamondAndFanIn) {
  DagFixture fixture(Diamond(GetParam().rule, GetParam().rule));
  const auto run = fixture.RunToEnd();
  const States states = fixture.States(run);
  EXPECT_EQ(states.at("a"), "success");
  EXPECT_EQ(states.at("b"), "failed");
  EXPECT_EQ(states.at("c"), "success");
  EXPECT_EQ(states.at("d"), GetParam().expected);
  EXPECT_EQ(states.at("e"), GetParam().expected);
  // Airflow's leaf rule: d and e are the leaves.
  const bool leaf_failed = GetParam().expected == "upstream_failed";
  EXPECT_EQ(run.state, leaf_failed ? state::RunState::kFailed : state::RunState::kSuccess);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, TriggerRuleRunTest,
    ::testing::Values(RuleCase{"all_success", "upstream_failed"}, RuleCase{"all_failed", "skipped"},
                      RuleCase{"all_done", "success"}, RuleCase{"one_success", "success"},
                      RuleCase{"one_failed", "success"}, RuleCase{"none_failed", "upstream_failed"},
                      RuleCase{"none_skipped", "success"}, RuleCase{"always", "success"}),
    [](const auto& info) { return info.param.rule; });

TEST(RunLoopTest, SkipsAndUpstreamFailuresCascade) {
  DagFixture fixture(R"(tasks:
  - {id: root, command: "false"}
  - {id: only_if_failed, operator: noop, depends_on: [root], trigger_rule: all_failed}
  - {id: normal, operator: noop, depends_on: [root]}
  - {id: after_normal, operator: noop, depends_on: [normal]}
  - {id: after_all_failed_branch, operator: noop, depends_on: [only_if_failed]}
  - {id: cleanup, operator: noop, depends_on: [after_normal], trigger_rule: all_done}
)");
  const auto run = fixture.RunToEnd();
  EXPECT_EQ(fixture.States(run), (States{{"root", "failed"},
                                         {"only_if_failed", "success"},
                                         {"normal", "upstream_failed"},
                                         {"after_normal", "upstream_failed"},
                                         {"after_all_failed_branch", "success"},
                                         {"cleanup", "success"}}));
  EXPECT_EQ(run.state, state::RunState::kSuccess);  // every leaf succeeded
}

// A run of the fixture's DAG as `serve` plans it, without its key.
store::NewRun PlannedRun(const graph::LoadedDag& dag, const std::string& run_id,
                         const std::string& run_type) {
  store::NewRun run;
  run.run.dag_id = dag.dag.dag_id;
  run.run.run_id = run_id;
  run.run.run_type = run_type;
  run.run.state = state::RunState::kRunning;
  run.run.start_date = WallClock().PreciseNow();
  for (const dag::Task& task : dag.dag.tasks) {
    store::TaskInstanceRecord ti;
    ti.task_id = task.id;
    ti.max_tries = 1;
    ti.operator_name = task.operator_name;
    ti.pool = task.pool;
    run.tasks.push_back(ti);
  }
  return run;
}

// Creates a run of the fixture's DAG as `serve` does, its first tries queued in its creation's
// transaction by `loop`; `start` gets what to start once that is committed.
Status CreateAndAdmit(DagFixture& fixture, RunLoop& loop, const std::string& run_id,
                      const std::string& run_type, store::NewRun& run, CommitWork& start) {
  const std::shared_ptr<const graph::LoadedDag> dag(std::shared_ptr<void>(), &fixture.dag());
  run = PlannedRun(*dag, run_id, run_type);
  auto key = fixture.store().ReserveRunKeys(1);
  if (!key.ok()) return key.error();
  run.run.id = *key;
  for (auto& ti : run.tasks) ti.run = run.run.id;
  start = loop.AdmitCreated({dag}, {&run}, WallClock().PreciseNow());
  auto made = fixture.store().CreateRunsIfAbsent({run}, getpid(), WallClock().PreciseNow(),
                                                 std::move(start.batch));
  if (!made.ok()) return made.error();
  if (!(*made)[0]) return Error{ErrorCode::kAlreadyExists, "run '" + run_id + "' existed", {}};
  return Status::Ok();
}

// A run that another process created first, between the plan and the commit, is withdrawn from
// the loop with the tries it picked: nothing runs, and the run that exists is left as it was.
TEST(RunLoopTest, ARunThatExistedIsWithdrawnWithItsTries) {
  DagFixture fixture(R"(tasks:
  - {id: a, command: "touch $DIR/ran"}
  - {id: b, operator: noop}
)");
  store::StateStore& db = fixture.store();
  RunLoopOptions options;
  options.log_dir = fixture.dir() + "/logs";
  std::vector<std::string> observed;
  RunLoop loop(db, cli::BuiltinRegistry(), exec::SystemProcessRunner(), options,
               [&](const Transition& t) { observed.push_back(t.task_id); });
  store::DagRunRecord first;
  first.dag_id = fixture.dag().dag.dag_id;
  first.run_id = "twice";
  first.run_type = "manual";
  store::TaskInstanceRecord a, b;
  a.task_id = "a";
  b.task_id = "b";
  auto existing = db.CreateRun(first, {a, b});
  ASSERT_TRUE(existing.ok());
  store::NewRun run;
  CommitWork start;
  Status created = CreateAndAdmit(fixture, loop, "twice", "manual", run, start);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().message, "run 'twice' existed");
  ASSERT_EQ(start.launches.size(), 2u);  // picked before the commit found the run
  loop.StartCreated(std::move(start), {run.run.id});
  ASSERT_TRUE(loop.Run().ok());
  EXPECT_TRUE(loop.TakeFinishedRuns().empty());
  EXPECT_TRUE(observed.empty());
  EXPECT_FALSE(std::filesystem::exists(fixture.dir() + "/ran"));
  EXPECT_EQ(fixture.States(*db.GetRun(*existing)), (States{{"a", "none"}, {"b", "none"}}));
  EXPECT_EQ(db.GetRun(*existing)->state, state::RunState::kQueued);
  EXPECT_FALSE(db.GetRun(run.run.id).ok());
}

// Runs created by the loop's owner start in their creation's transaction; while commits are
// held, what the workers report is applied (their room is free) but written only at the release.
TEST(RunLoopTest, CreatedRunsStartInTheirTransactionAndHeldCommitsWaitForTheRelease) {
  DagFixture fixture(R"(tasks:
  - {id: a, operator: noop}
  - {id: b, operator: noop, depends_on: [a]}
)");
  store::StateStore& db = fixture.store();
  RunLoopOptions options;
  options.log_dir = fixture.dir() + "/logs";
  std::vector<std::string> observed;  // transitions, reported once committed
  RunLoop loop(db, cli::BuiltinRegistry(), exec::SystemProcessRunner(), options,
               [&](const Transition& t) {
                 observed.push_back(t.task_id + ":" + std::string(state::Name(t.to)));
               });
  store::NewRun run;
  CommitWork start;
  Status created = CreateAndAdmit(fixture, loop, "created", "scheduled", run, start);
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  ASSERT_EQ(start.launches.size(), 1u);
  // Committed with the run: a queued with its first try, b waiting.
  EXPECT_EQ(fixture.States(run.run), (States{{"a", "queued"}, {"b", "none"}}));
  ASSERT_EQ(db.ListTries(run.run.id, "a")->size(), 1u);

  loop.HoldCommits();
  loop.StartCreated(std::move(start));
  // a (a no-op) ends at once; the loop applies it and plans b, and writes nothing of either.
  const PreciseInstant until = WallClock().PreciseNow() + std::chrono::milliseconds(300);
  while (WallClock().PreciseNow() < until) ASSERT_TRUE(loop.Poll(until).ok());
  EXPECT_EQ(fixture.States(run.run), (States{{"a", "queued"}, {"b", "none"}}));
  EXPECT_EQ(observed, (std::vector<std::string>{"a:scheduled", "a:queued"}));  // the committed
  loop.ReleaseCommits();
  ASSERT_TRUE(loop.Run().ok());
  EXPECT_EQ(fixture.States(run.run), (States{{"a", "success"}, {"b", "success"}}));
  EXPECT_EQ(db.GetRun(run.run.id)->state, state::RunState::kSuccess);
  EXPECT_EQ(observed,
            (std::vector<std::string>{"a:scheduled", "a:queued", "a:running", "a:success",
                                      "b:scheduled", "b:queued", "b:running", "b:success"}));
}

// While the loop's own thread waits in Poll, the end of a shell try is applied on the worker that
// reported it: that worker commits it with the next task's queued state and starts the next
// process, with no thread woken in between. The loop's thread still sees the run end.
TEST(RunLoopTest, AWaitingLoopAppliesAShellTrysEndOnTheWorkerThatReportedIt) {
  DagFixture fixture(R"(tasks:
  - {id: a, command: "sleep 0.1"}
  - {id: b, command: "true", depends_on: [a]}
)");
  RunLoopOptions options;
  options.log_dir = fixture.dir() + "/logs";
  std::vector<std::pair<std::string, std::thread::id>> observed;
  RunLoop loop(fixture.store(), cli::BuiltinRegistry(), exec::SystemProcessRunner(), options,
               [&](const Transition& t) {
                 observed.emplace_back(t.task_id + ":" + std::string(state::Name(t.to)),
                                       std::this_thread::get_id());
               });
  store::NewRun run;
  CommitWork start;
  Status created = CreateAndAdmit(fixture, loop, "stepped", "manual", run, start);
  ASSERT_TRUE(created.ok()) << created.error().ToString();
  loop.StartCreated(std::move(start));
  ASSERT_TRUE(loop.Run().ok());
  EXPECT_EQ(fixture.States(run.run), (States{{"a", "success"}, {"b", "success"}}));
  EXPECT_EQ(fixture.store().GetRun(run.run.id)->state, state::RunState::kSuccess);
  std::vector<std::string> names;
  for (const auto& [name, thread] : observed) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"a:scheduled", "a:queued", "a:running", "a:success",
                                             "b:scheduled", "b:queued", "b:running", "b:success"}));
  ASSERT_EQ(observed.size(), 8u);
  EXPECT_EQ(observed[1].second, std::this_thread::get_id());  // a's start: this thread's Poll
  EXPECT_NE(observed[3].second, std::this_thread::get_id());  // a's end, b's start: a's worker
  EXPECT_EQ(observed[5].second, observed[3].second);
}

// Counts its runs: a `noop` whose start the test can see.
class CountingNoop : public exec::Operator {
 public:
  explicit CountingNoop(std::atomic<int>& runs) : runs_(runs) {}
  exec::OperatorResult Execute(exec::OperatorContext&) override {
    ++runs_;
    return exec::OperatorResult::Success();
  }

 private:
  std::atomic<int>& runs_;
};

// The built-in operators, with `noop` counting its runs in `runs`.
exec::OperatorRegistry CountingNoopRegistry(std::atomic<int>& runs) {
  exec::OperatorRegistry registry = cli::BuiltinRegistry();
  registry.Register({"noop", "counts its runs", exec::CommandUse::kNone, {}, [&runs] {
                       return std::make_unique<CountingNoop>(runs);
                     }});
  return registry;
}

// An in-process try starts as soon as it is queued: it dies with conveyor, so nothing is left to
// reconcile if its queued state never commits. A shell try whose batch goes to the writer thread
// (here, behind the batches the lock holds up) starts only once that is committed.
TEST(RunLoopTest, InProcessTriesStartBeforeTheirQueuedStateCommitsShellTriesAfter) {
  DagFixture fixture(R"(tasks:
  - {id: a, operator: noop}
  - {id: b, operator: noop, depends_on: [a]}
  - {id: c, operator: noop, depends_on: [b]}
  - {id: sh, command: "touch $DIR/sh_started", depends_on: [c]}
)");
  std::atomic<int> noop_runs{0};
  exec::OperatorRegistry registry = CountingNoopRegistry(noop_runs);
  store::StateStore& db = fixture.store();
  RunLoopOptions options;
  options.log_dir = fixture.dir() + "/logs";
  RunLoop loop(db, registry, exec::SystemProcessRunner(), options, nullptr);
  store::NewRun run;
  CommitWork start;
  Status created = CreateAndAdmit(fixture, loop, "early", "manual", run, start);
  ASSERT_TRUE(created.ok()) << created.error().ToString();

  // Another connection holds the write lock: nothing the loop writes from now on commits.
  auto blocker = store::SqliteDb::Open(fixture.dir() + "/state.db");
  ASSERT_TRUE(blocker.ok());
  ASSERT_TRUE((*blocker)->Exec("BEGIN IMMEDIATE").ok());
  loop.StartCreated(std::move(start));
  // a ends; b starts and ends, then c; sh waits for the commit of its queued state.
  const PreciseInstant until = WallClock().PreciseNow() + std::chrono::seconds(5);
  while (noop_runs < 3 && WallClock().PreciseNow() < until) {
    ASSERT_TRUE(loop.Poll(until).ok());
  }
  EXPECT_EQ(noop_runs, 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(std::filesystem::exists(fixture.dir() + "/sh_started"));
  // Read through the lock's holder: the store's connection waits for the writer's commit.
  {
    store::CachedStatement states = (*blocker)->Cached(
        "SELECT group_concat(task_id || ':' || coalesce(state, 'none'), ' ') "
        "FROM (SELECT task_id, state FROM task_instances ORDER BY task_id)");
    ASSERT_TRUE(*states->Step());
    EXPECT_EQ(states->Text(0), "a:queued b:none c:none sh:none");
  }
  ASSERT_TRUE((*blocker)->Exec("ROLLBACK").ok());
  ASSERT_TRUE(loop.Run().ok());
  EXPECT_TRUE(std::filesystem::exists(fixture.dir() + "/sh_started"));
  EXPECT_EQ(fixture.States(run.run),
            (States{{"a", "success"}, {"b", "success"}, {"c", "success"}, {"sh", "success"}}));
  EXPECT_EQ(db.GetRun(run.run.id)->state, state::RunState::kSuccess);
  EXPECT_EQ(noop_runs, 3);
}

// A run being created (a cron round at its boundary): its in-process tries start before its
// transaction, which is written meanwhile; its shell tries once it is committed.
TEST(RunLoopTest, InProcessTriesOfACreatedRunStartBeforeItsTransaction) {
  DagFixture fixture(R"(tasks:
  - {id: a, operator: noop}
  - {id: sh, command: "touch $DIR/sh_started"}
)");
  std::atomic<int> noop_runs{0};
  exec::OperatorRegistry registry = CountingNoopRegistry(noop_runs);
  store::StateStore& db = fixture.store();
  RunLoopOptions options;
  options.log_dir = fixture.dir() + "/logs";
  RunLoop loop(db, registry, exec::SystemProcessRunner(), options, nullptr);
  const std::shared_ptr<const graph::LoadedDag> dag(std::shared_ptr<void>(), &fixture.dag());
  store::NewRun run = PlannedRun(*dag, "boundary", "scheduled");
  run.run.id = *db.ReserveRunKeys(1);
  for (auto& ti : run.tasks) ti.run = run.run.id;
  loop.HoldCommits();  // as serve does while it creates runs
  CommitWork start = loop.AdmitCreated({dag}, {&run}, WallClock().PreciseNow());
  ASSERT_EQ(start.launches.size(), 2u);
  loop.StartBeforeCreation(start);
  ASSERT_EQ(start.launches.size(), 1u);
  EXPECT_EQ(start.launches[0].info.task_id, "sh");
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (noop_runs == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(noop_runs, 1);  // ran, and its run does not exist yet
  EXPECT_FALSE(*db.FindRun(run.run.dag_id, "boundary"));
  EXPECT_FALSE(std::filesystem::exists(fixture.dir() + "/sh_started"));
  auto made =
      db.CreateRunsIfAbsent({run}, getpid(), WallClock().PreciseNow(), std::move(start.batch));
  ASSERT_TRUE(made.ok()) << made.error().ToString();
  loop.StartCreated(std::move(start));
  loop.ReleaseCommits();
  ASSERT_TRUE(loop.Run().ok());
  EXPECT_EQ(fixture.States(run.run), (States{{"a", "success"}, {"sh", "success"}}));
  EXPECT_EQ(db.GetRun(run.run.id)->state, state::RunState::kSuccess);
  EXPECT_TRUE(std::filesystem::exists(fixture.dir() + "/sh_started"));
  EXPECT_EQ(noop_runs, 1);
}

// What a second connection saw while it held the database's write lock from a's start until b's
// process had run (or for 500 ms): whether b's process ran, b's state, and b's journal line.
struct LockedView {
  bool b_ran = false;
  std::string b_state;
  std::string journal;
};

LockedView RunChainWhileLocked(DagFixture& fixture, RunLoopOptions options) {
  LockedView view;
  options.log_dir = fixture.dir() + "/logs";
  std::mutex mutex;
  std::vector<std::string> observed;
  RunLoop loop(fixture.store(), cli::BuiltinRegistry(), exec::SystemProcessRunner(), options,
               [&](const Transition& t) {
                 std::lock_guard<std::mutex> lock(mutex);
                 observed.push_back(t.task_id + ":" + std::string(state::Name(t.to)));
               });
  store::NewRun run;
  CommitWork start;
  Status created = CreateAndAdmit(fixture, loop, "locked", "manual", run, start);
  EXPECT_TRUE(created.ok()) << created.error().ToString();
  loop.StartCreated(std::move(start));
  const auto a_running = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    return std::find(observed.begin(), observed.end(), "a:running") != observed.end();
  };
  const auto until = std::chrono::system_clock::now() + std::chrono::seconds(5);
  while (!a_running() && std::chrono::system_clock::now() < until) {
    EXPECT_TRUE(loop.Poll(WallClock().PreciseNow() + std::chrono::milliseconds(5)).ok());
  }
  EXPECT_TRUE(a_running());
  // a sleeps 300 ms: the lock is held before its end is applied, and released once b has run.
  auto blocker = store::SqliteDb::Open(fixture.dir() + "/state.db");
  EXPECT_TRUE(blocker.ok());
  EXPECT_TRUE((*blocker)->Exec("BEGIN IMMEDIATE").ok());
  const std::string b_ran = fixture.dir() + "/b_ran";
  std::thread holder([&] {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(800);
    while (!std::filesystem::exists(b_ran) && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    view.b_ran = std::filesystem::exists(b_ran);
    store::CachedStatement state = (*blocker)->Cached(
        "SELECT coalesce(state, 'none') FROM task_instances WHERE task_id = 'b'");
    if (*state->Step()) view.b_state = state->Text(0);
    std::ifstream journal(StartJournalPath(options.log_dir, "fixture", "locked"));
    std::getline(journal, view.journal, '\0');
    EXPECT_TRUE((*blocker)->Exec("ROLLBACK").ok());
  });
  EXPECT_TRUE(loop.Run().ok());
  holder.join();
  EXPECT_EQ(fixture.States(run.run), (States{{"a", "success"}, {"b", "success"}}));
  const auto tries = *fixture.store().ListTries(run.run.id, "b");
  EXPECT_EQ(tries.size(), 1u);
  EXPECT_EQ(tries.empty() ? "?" : tries[0].note, "");
  return view;
}

constexpr char kSleepThenTouch[] = R"(tasks:
  - {id: a, command: "sleep 0.3"}
  - {id: b, command: "touch $DIR/b_ran", depends_on: [a]}
)";

// A chain's next shell try starts before the commit of its queued state (written on the same
// thread while it runs), once its start is in the run's start journal.
TEST(RunLoopTest, AChainsNextShellTryStartsBeforeItsQueuedStateCommitsWithItsStartJournaled) {
  DagFixture fixture(kSleepThenTouch);
  const LockedView view = RunChainWhileLocked(fixture, {});
  EXPECT_TRUE(view.b_ran);
  EXPECT_EQ(view.b_state, "none");
  EXPECT_EQ(view.journal, "1 b\n");
  // Once the run has finished, its journal is gone, and with it the run's folder, which the
  // journal alone had made (neither try wrote a log).
  EXPECT_FALSE(
      std::filesystem::exists(StartJournalPath(fixture.dir() + "/logs", "fixture", "locked")));
  EXPECT_FALSE(std::filesystem::exists(RunFolder(fixture.dir() + "/logs", "fixture", "locked")));
  EXPECT_TRUE(std::filesystem::exists(fixture.dir() + "/logs/dag_id=fixture"));
}

// With synchronous=FULL the journal (not synced) would be weaker than the commit: tries start
// after their commit and nothing is journaled.
TEST(RunLoopTest, WithoutStartsBeforeCommitAShellTryWaitsForItsQueuedState) {
  DagFixture fixture(kSleepThenTouch);
  RunLoopOptions options;
  options.start_before_commit = false;
  const LockedView view = RunChainWhileLocked(fixture, options);
  EXPECT_FALSE(view.b_ran);
  EXPECT_EQ(view.b_state, "none");
  EXPECT_EQ(view.journal, "");
  EXPECT_FALSE(
      std::filesystem::exists(StartJournalPath(fixture.dir() + "/logs", "fixture", "locked")));
}

TEST(RunLoopTest, RetryDelayFormula) {
  dag::RetryPolicy policy;
  policy.retry_delay = std::chrono::seconds(30);
  EXPECT_EQ(RetryDelay(policy, 3), std::chrono::seconds(30));
  policy.retry_exponential_backoff = true;
  EXPECT_EQ(RetryDelay(policy, 1), std::chrono::seconds(30));
  EXPECT_EQ(RetryDelay(policy, 3), std::chrono::seconds(120));
  policy.max_retry_delay = std::chrono::seconds(100);
  EXPECT_EQ(RetryDelay(policy, 3), std::chrono::seconds(100));
  EXPECT_EQ(RetryDelay(policy, 200), std::chrono::seconds(100));
}

TEST(RunLoopTest, TimeoutKillsTheWholeProcessTree) {
  DagFixture fixture(R"(tasks:
  - id: slow
    command: sleep 60 & echo $! > $DIR/child; sleep 60
    execution_timeout: 300ms
)");
  const auto started = std::chrono::steady_clock::now();
  const auto run = fixture.RunToEnd();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  EXPECT_EQ(run.state, state::RunState::kFailed);
  EXPECT_EQ(fixture.States(run).at("slow"), "failed");
  const int child = std::stoi(fixture.ReadFile("child"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(Running(child)) << "the background child " << child << " survived";
  const auto tries = *fixture.store().ListTries(run.id, "slow");
  ASSERT_EQ(tries.size(), 1u);
  std::ifstream log(tries[0].log_path);
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("conveyor: timed out: execution_timeout reached, process group killed"),
            std::string::npos)
      << text;
}

// A cancelled try leaves no process behind, even one its command started in the background
// before it ended on its own: a shell killed by someone else leaves its children running.
TEST(RunLoopTest, ACancelledTryLeavesNoProcessEvenWhenItsCommandEndedFirst) {
  testing::TempDir dir;
  const std::string pid_file = dir.path() + "/child.pid";
  std::atomic<bool> cancelled{true};
  exec::ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "sleep 300 & echo $! > " + pid_file};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.log_path = dir.path() + "/try.log";
  spec.cancelled = &cancelled;
  auto result = exec::SystemProcessRunner().Run(spec, exec::IgnoreProcessStart);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  std::ifstream in(pid_file);
  int child = 0;
  ASSERT_TRUE(in >> child);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Running(child) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(Running(child));
  if (Running(child)) kill(child, SIGKILL);
}

// Waiting for a process sleeps until it ends: the wait before the start is reported ends on a
// whole-millisecond boundary, and rounding its last millisecond down to a zero timeout spun the
// waiting thread for that millisecond. The spawn's own CPU (several hundred microseconds under
// the sanitizers, more on a busy machine) is measured on a process that ends at once and taken off.
TEST(RunLoopTest, WaitingForAProcessTakesNoCpu) {
  testing::TempDir dir;
  std::atomic<bool> cancelled{false};
  const auto spec_of = [&](std::vector<std::string> argv) {
    exec::ProcessSpec spec;
    spec.argv = std::move(argv);
    spec.env = {"PATH=/usr/bin:/bin"};
    spec.log_path = dir.path() + "/try.log";
    spec.cancelled = &cancelled;
    return spec;
  };
  const exec::ProcessSpec waiting = spec_of({"sleep", "0.05"});
  const exec::ProcessSpec at_once = spec_of({"true"});
  const auto thread_cpu = [] {
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
  };
  const auto cpu_of = [&](const exec::ProcessSpec& spec) {
    const auto before = thread_cpu();
    auto result = exec::SystemProcessRunner().Run(spec, exec::IgnoreProcessStart);
    EXPECT_TRUE(result.ok()) << result.error().ToString();
    return std::chrono::nanoseconds(thread_cpu() - before);
  };
  // The least of five, alternated: a busy machine only adds.
  auto least_waiting = std::chrono::nanoseconds::max();
  auto least_at_once = std::chrono::nanoseconds::max();
  for (int attempt = 0; attempt < 5; ++attempt) {
    least_at_once = std::min(least_at_once, cpu_of(at_once));
    least_waiting = std::min(least_waiting, cpu_of(waiting));
  }
  std::printf("least CPU of the waiting thread: %lld us for 50 ms, %lld us for none\n",
              static_cast<long long>(least_waiting.count() / 1000),
              static_cast<long long>(least_at_once.count() / 1000));
  EXPECT_LT(least_waiting - least_at_once, std::chrono::microseconds(500));
}

// A try's start precedes everything its process does. posix_spawn returns after the child's
// exec, and with vfork the parent may run again only once a short command has ended, so the start
// is read before the spawn: here `date` prints its own clock, which must not be earlier.
TEST(RunLoopTest, AProcessStartsNoEarlierThanItsRecordedStart) {
  testing::TempDir dir;
  for (int i = 0; i < 30; ++i) {
    exec::ProcessSpec spec;
    spec.argv = {"/bin/date", "+%s%N"};
    spec.log_path = dir.path() + "/date" + std::to_string(i) + ".log";
    std::chrono::system_clock::time_point started;
    auto result = exec::SystemProcessRunner().Run(
        spec, [&](int, std::chrono::system_clock::time_point at) { started = at; });
    ASSERT_TRUE(result.ok()) << result.error().ToString();
    std::ifstream log(spec.log_path);
    long long printed_ns = 0;
    ASSERT_TRUE(log >> printed_ns) << spec.log_path;
    const long long started_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(started.time_since_epoch()).count();
    EXPECT_LE(started_ns, printed_ns) << "run " << i;
  }
}

TEST(RunLoopTest, ALogIsWrittenOnlyForATaskThatPrints) {
  DagFixture fixture(R"(tasks:
  - {id: quiet, command: "true"}
  - {id: loud, command: [sh, -c, "echo out; echo err >&2; sleep 0.05; printf late"]}
)");
  const auto run = fixture.RunToEnd();
  EXPECT_EQ(run.state, state::RunState::kSuccess);
  for (const std::string task : {"quiet", "loud"}) {
    const auto tries = *fixture.store().ListTries(run.id, task);
    ASSERT_EQ(tries.size(), 1u);
    ASSERT_TRUE(tries[0].start_date && tries[0].end_date);
    EXPECT_LE(*tries[0].start_date, *tries[0].end_date);
    // Every try goes through running, whether its start was reported before its end or with it.
    EXPECT_EQ(*fixture.store().CountEvents(run.id, task, "running"), 1);
    if (task == "quiet") {
      EXPECT_FALSE(std::filesystem::exists(tries[0].log_path)) << tries[0].log_path;
      continue;
    }
    std::ifstream log(tries[0].log_path);
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, "out\nerr\nlate");
  }
}

TEST(RunLoopTest, PriorityOrdersStartsAndPoolsBoundConcurrency) {
  DagFixture fixture(R"(tasks:
  - {id: low, command: "echo low >> $DIR/order", priority_weight: 1}
  - {id: high, command: "echo high >> $DIR/order", priority_weight: 10}
  - {id: mid, command: "echo mid >> $DIR/order", priority_weight: 5}
  - {id: p1, command: "echo start >> $DIR/pool; sleep 0.2; echo end >> $DIR/pool", pool: single, depends_on: [low, high, mid]}
  - {id: p2, command: "echo start >> $DIR/pool; sleep 0.2; echo end >> $DIR/pool", pool: single, depends_on: [low, high, mid]}
  - {id: p3, command: "echo start >> $DIR/pool; sleep 0.2; echo end >> $DIR/pool", pool: single, depends_on: [low, high, mid]}
)");
  RunLoopOptions one_worker;
  one_worker.workers = 1;
  one_worker.pools = {{"default", 128}, {"single", 1}};
  auto run = fixture.RunToEnd(nlohmann::json::object(), one_worker);
  EXPECT_EQ(run.state, state::RunState::kSuccess);
  EXPECT_EQ(fixture.ReadFile("order"), "high\nmid\nlow\n");
  EXPECT_EQ(fixture.ReadFile("pool"), "start\nend\nstart\nend\nstart\nend\n");

  // With 4 workers the pool still runs one at a time.
  std::filesystem::remove(fixture.dir() + "/pool");
  RunLoopOptions four_workers = one_worker;
  four_workers.workers = 4;
  run = fixture.RunToEnd(nlohmann::json::object(), four_workers);
  EXPECT_EQ(fixture.ReadFile("pool"), "start\nend\nstart\nend\nstart\nend\n");
}

// While the worker has tasks queued ahead, the loop takes their reports half a queue at a time:
// one wake-up and one commit for many tasks rather than one each.
TEST(RunLoopTest, ReportsOfTasksQueuedAheadAreCommittedTogether) {
  std::string yaml = "tasks:\n";
  for (int i = 0; i < 60; ++i) {
    yaml += "  - {id: t" + std::to_string(i) + ", operator: sleep, args: {duration: 1ms}}\n";
  }
  DagFixture fixture(yaml);
  RunLoopOptions options;
  options.workers = 1;
  options.gather_reports_for = std::chrono::seconds(30);  // the count of reports alone decides
  const std::uint64_t before = store::CountWalWrites().issued;
  auto run = fixture.RunToEnd(nlohmann::json::object(), options);
  const std::uint64_t commits = store::CountWalWrites().issued - before;
  std::printf("commits for 60 tasks: %llu\n", static_cast<unsigned long long>(commits));
  EXPECT_EQ(run.state, state::RunState::kSuccess);
  for (const auto& [task, state] : fixture.States(run)) EXPECT_EQ(state, "success") << task;
  // Every transition is still reported, each task's in order.
  std::map<std::string, std::string> path;
  for (const Transition& t : fixture.transitions) {
    path[t.task_id] +=
        std::string(state::Name(t.from)) + ">" + std::string(state::Name(t.to)) + " ";
  }
  ASSERT_EQ(path.size(), 60u);
  for (const auto& [task, steps] : path) {
    EXPECT_EQ(steps, "none>scheduled scheduled>queued queued>running running>success ") << task;
  }
  // One commit per task's end would be 60 and more; half a queue (12 reports) at a time, and
  // fewer as the queue empties at the end, about 15.
  EXPECT_LT(commits, 30u);
  EXPECT_GT(commits, 4u);
}

TEST(RunLoopTest, UnknownPoolFailsTheTry) {
  DagFixture fixture("tasks:\n  - {id: t, operator: noop, pool: nowhere}\n");
  const auto run = fixture.RunToEnd();
  EXPECT_EQ(fixture.States(run).at("t"), "failed");
  ASSERT_FALSE(fixture.transitions.empty());
  EXPECT_EQ(fixture.transitions.back().message, "unknown pool 'nowhere'");
}

TEST(RunLoopTest, OutputsTemplatesConfAndParams) {
  DagFixture fixture(R"(params: {who: default_person, greeting: hello}
tasks:
  - id: produce
    command: printf 'rows=42\nname=table one\n' >> "$CONVEYOR_OUTPUT"
  - id: consume
    depends_on: [produce]
    command: [sh, -c, 'echo "$1|$2|$3|$4|$5" > $DIR/result', sh, "{{ outputs.produce.rows }}", "{{ outputs.produce.name }}", "{{ params.who }}", "{{ params.greeting }}", "{{ ds }} {{ ds_nodash }} {{ run_id }} {{ task_id }} {{ try_number }}"]
  - id: env
    depends_on: [produce]
    env: {WHO: "{{ conf.who }}", ROWS: "{{ outputs.produce.rows }}"}
    command: echo "$WHO:$ROWS:$CONVEYOR_DAG_ID:$CONVEYOR_TASK_ID:$CONVEYOR_LOGICAL_DATE" > $DIR/env
)");
  const auto run = fixture.RunToEnd({{"who", "x'; rm -rf / #"}});
  EXPECT_EQ(run.state, state::RunState::kSuccess);
  EXPECT_EQ(fixture.ReadFile("result"),
            "42|table one|x'; rm -rf / #|hello|2026-01-01 20260101 " + run.run_id + " consume 1\n");
  EXPECT_EQ(fixture.ReadFile("env"), "x'; rm -rf / #:42:fixture:env:2026-01-01T00:00:00Z\n");
  EXPECT_EQ(*fixture.store().ReadOutputs(run.id),
            nlohmann::json({{"produce", {{"rows", "42"}, {"name", "table one"}}}}));
}

// A shell task inherits conveyor's environment; its env replaces an inherited variable (one
// entry of that name reaches the process), and may even replace a CONVEYOR_* one.
TEST(RunLoopTest, TheTaskEnvReplacesInheritedVariablesOnce) {
  DagFixture fixture(R"yaml(tasks:
  - id: env
    env: {HOME: /elsewhere, CONVEYOR_TRY_NUMBER: "7"}
    command: sh -c 'echo "$HOME|$PATH|$CONVEYOR_TRY_NUMBER|$(env | grep -c ^HOME=)" > $DIR/env'
)yaml");
  const auto run = fixture.RunToEnd();
  EXPECT_EQ(run.state, state::RunState::kSuccess);
  EXPECT_EQ(fixture.ReadFile("env"), "/elsewhere|" + std::string(getenv("PATH")) + "|7|1\n");
}

TEST(RunLoopTest, UnknownConfNameFailsTheTryAtRenderTime) {
  DagFixture fixture(
      "tasks:\n  - {id: t, command: 'echo {{ conf.missing }}', retries: 1, retry_delay: 10ms}\n");
  const auto run = fixture.RunToEnd();
  EXPECT_EQ(fixture.States(run).at("t"), "failed");
  EXPECT_EQ(fixture.Ti(run, "t").try_number, 2);  // queued -> up_for_retry, then queued -> failed
  EXPECT_EQ(fixture.transitions.back().message,
            "cannot render command: unknown template name 'conf.missing'");
}

}  // namespace
}  // namespace conveyor::scheduler
