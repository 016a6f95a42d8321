// The scheduler of `conveyor serve` with a fake clock: cron runs, catchup, max_active_runs, pause,
// restarts, runs queued by another process, hot reload. Real SQLite, real run loop.
#include "engine/serve/scheduler_service.h"

#include <gtest/gtest.h>

#include "engine/cli/command_context.h"
#include "engine/scheduler/run_factory.h"
#include "tests/support/fake_clock.h"
#include "tests/support/temp_dir.h"

namespace conveyor::serve {
namespace {

Instant At(const std::string& text) {
  auto parsed = ParseDateTime(text);
  EXPECT_TRUE(parsed.ok()) << text;
  return std::chrono::sys_seconds(parsed->local.time_since_epoch()) -
         parsed->utc_offset.value_or(std::chrono::seconds(0));
}

class SchedulerServiceTest : public ::testing::Test {
 protected:
  SchedulerServiceTest() : clock_(At("2026-01-01T00:00:00Z")) {}

  std::string Db() const { return dir_.path() + "/state.db"; }
  std::string DagPath(const std::string& id) const { return dir_.path() + "/dags/" + id + ".yaml"; }
  void WriteDag(const std::string& id, const std::string& head) {
    dir_.Write("dags/" + id + ".yaml", head + "tasks:\n  - id: t\n    operator: noop\n");
  }
  // Starts (or restarts) the service on the same database and folder.
  void StartService(bool paused_at_creation = false,
                    std::chrono::milliseconds prepare_runs_ahead = {}) {
    service_.reset();
    folder_.reset();
    store_ = std::move(store::OpenSqliteStore(Db())).value();
    folder_ = std::make_unique<graph::DagFolder>(dir_.path() + "/dags", cli::BuiltinRegistry());
    SchedulerOptions options;
    options.loop.log_dir = dir_.path() + "/logs";
    options.dags_are_paused_at_creation = paused_at_creation;
    options.prepare_runs_ahead = prepare_runs_ahead;
    service_ = std::make_unique<SchedulerService>(*store_, cli::BuiltinRegistry(),
                                                  exec::SystemProcessRunner(), *folder_, clock_,
                                                  options, nullptr, nullptr);
    ASSERT_TRUE(service_->Start().ok());
  }
  // One round at `now`, then every started run to its end.
  void TickAt(const std::string& now) {
    clock_.Set(At(now));
    auto next = service_->Tick();
    ASSERT_TRUE(next.ok()) << next.error().ToString();
    next_due_ = *next;
    ASSERT_TRUE(service_->RunUntilIdle().ok());
  }
  // "run_id:state" of a DAG's runs, oldest first.
  std::vector<std::string> Runs(const std::string& dag_id) {
    store::RunFilter filter;
    filter.dag_id = dag_id;
    filter.oldest_first = true;
    auto runs = store_->ListRuns(filter, nullptr);
    EXPECT_TRUE(runs.ok());
    std::vector<std::string> out;
    for (const auto& run : *runs)
      out.push_back(run.run_id + ":" + std::string(state::Name(run.state)));
    return out;
  }
  // Another process's connection (the CLI).
  std::unique_ptr<store::StateStore> OtherProcess() {
    return std::move(store::OpenSqliteStore(Db())).value();
  }
  void DatabaseChanged() { service_->FilesChanged({Db() + "-wal"}); }

  testing::TempDir dir_;
  testing::FakeClock clock_;
  std::unique_ptr<store::StateStore> store_;
  std::unique_ptr<graph::DagFolder> folder_;
  std::unique_ptr<SchedulerService> service_;
  std::optional<Instant> next_due_;
};

TEST_F(SchedulerServiceTest, CreatesAndRunsEachIntervalWhenItEnds) {
  WriteDag("h", "schedule: '@hourly'\nstart_date: 2026-01-01\n");
  StartService();
  TickAt("2026-01-01T00:59:59Z");
  EXPECT_EQ(Runs("h"), std::vector<std::string>{});
  EXPECT_EQ(next_due_, At("2026-01-01T01:00:00Z"));
  TickAt("2026-01-01T01:00:00Z");
  EXPECT_EQ(Runs("h"), (std::vector<std::string>{"scheduled__2026-01-01T00:00:00+00:00:success"}));
  EXPECT_EQ(next_due_, At("2026-01-01T02:00:00Z"));
}

// More DAGs due at once than one creation chunk: each run is written running by its creation,
// its first task scheduled and queued in the same transaction, and every transition is in the
// event log in order.
TEST_F(SchedulerServiceTest, ManyDagsDueAtOnceStartInTheirCreationTransaction) {
  constexpr int kDags = 60;
  for (int i = 0; i < kDags; ++i) {
    dir_.Write("dags/m" + std::to_string(100 + i) + ".yaml",
               "schedule: '@hourly'\nstart_date: 2026-01-01\ntasks:\n  - id: a\n"
               "    operator: noop\n  - id: b\n    operator: noop\n    depends_on: [a]\n");
  }
  StartService();
  TickAt("2026-01-01T01:00:00Z");
  for (int i = 0; i < kDags; ++i) {
    const std::string dag_id = "m" + std::to_string(100 + i);
    ASSERT_EQ(Runs(dag_id),
              (std::vector<std::string>{"scheduled__2026-01-01T00:00:00+00:00:success"}));
    const auto run = store_->FindRun(dag_id, "scheduled__2026-01-01T00:00:00+00:00");
    ASSERT_TRUE(run.ok() && *run);
    const auto listed = store_->ListEvents((*run)->id, 0);
    ASSERT_TRUE(listed.ok());
    std::vector<std::string> events;
    for (const store::EventRecord& e : *listed) {
      events.push_back((e.task_id.empty() ? "" : e.task_id + ":") + e.to_state +
                       (e.who == "create" ? " (create)" : ""));
    }
    EXPECT_EQ(events, (std::vector<std::string>{"run:running (create)", "a:scheduled", "a:queued",
                                                "a:running", "a:success", "b:scheduled", "b:queued",
                                                "b:running", "b:success", "run:success"}))
        << dag_id;
  }
}

// A round prepared ahead: not before its time, then written ahead and committed when the interval
// ends (the clock is slept on until then), with nothing of it recorded earlier. The dates are in
// the future so that the fake clock, not the wall clock, is the later of the two.
TEST_F(SchedulerServiceTest, RunsPreparedAheadTakeEffectWhenTheIntervalEnds) {
  WriteDag("m", "schedule: '* * * * *'\nstart_date: 2026-01-01\n");
  StartService(false, std::chrono::milliseconds(50));
  TickAt("2099-01-01T10:00:30Z");  // the latest interval that has ended, at once
  EXPECT_EQ(Runs("m"), (std::vector<std::string>{"scheduled__2099-01-01T09:59:00+00:00:success"}));
  EXPECT_EQ(next_due_, At("2099-01-01T10:01:00Z"));
  const auto ends = At("2099-01-01T10:01:00Z");
  clock_.Set(ends - std::chrono::milliseconds(60));  // too early to prepare
  ASSERT_TRUE(service_->Tick().ok());
  EXPECT_EQ(Runs("m").size(), 1u);
  EXPECT_EQ(clock_.PreciseNow(), ends - std::chrono::milliseconds(60));
  clock_.Set(ends - std::chrono::milliseconds(40));
  auto next = service_->Tick();
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, At("2099-01-01T10:02:00Z"));
  EXPECT_EQ(clock_.PreciseNow(), ends);  // the commit waited for the interval's end
  const auto run = store_->FindRun("m", "scheduled__2099-01-01T10:00:00+00:00");
  ASSERT_TRUE(run.ok() && *run);
  EXPECT_EQ((*run)->state, state::RunState::kRunning);
  EXPECT_EQ((*run)->queued_at, ends);
  EXPECT_EQ((*run)->start_date, ends);
  const auto events = store_->ListEvents((*run)->id, 0);
  ASSERT_TRUE(events.ok());
  // Those of its creation (what the worker records is stamped by it, on the wall clock).
  ASSERT_GE(events->size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ((*events)[i].to_state,
              (std::vector<std::string>{"run:running", "scheduled", "queued"})[i]);
    EXPECT_EQ((*events)[i].at, ends) << (*events)[i].to_state;
  }
  ASSERT_TRUE(service_->RunUntilIdle().ok());
  EXPECT_EQ(Runs("m")[1], "scheduled__2099-01-01T10:00:00+00:00:success");
}

TEST_F(SchedulerServiceTest, CatchupRespectsMaxActiveRunsAndRestartsCreateNoDuplicates) {
  WriteDag("d", "schedule: '@daily'\nstart_date: 2026-01-01\ncatchup: true\nmax_active_runs: 2\n");
  StartService();
  clock_.Set(At("2026-01-06T00:00:00Z"));
  ASSERT_TRUE(service_->Tick().ok());
  // Five intervals have ended; two may be active at once, so two exist and run.
  EXPECT_EQ(Runs("d").size(), 2u);
  EXPECT_EQ(service_->active_runs(), 2);
  ASSERT_TRUE(service_->RunUntilIdle().ok());
  TickAt("2026-01-06T00:00:00Z");
  TickAt("2026-01-06T00:00:00Z");
  EXPECT_EQ(Runs("d"), (std::vector<std::string>{"scheduled__2026-01-01T00:00:00+00:00:success",
                                                 "scheduled__2026-01-02T00:00:00+00:00:success",
                                                 "scheduled__2026-01-03T00:00:00+00:00:success",
                                                 "scheduled__2026-01-04T00:00:00+00:00:success",
                                                 "scheduled__2026-01-05T00:00:00+00:00:success"}));
  // A restart at the same instant and a day later: exactly one run per interval.
  StartService();
  TickAt("2026-01-06T00:00:00Z");
  EXPECT_EQ(Runs("d").size(), 5u);
  StartService();
  TickAt("2026-01-07T00:00:01Z");
  EXPECT_EQ(Runs("d").size(), 6u);
  EXPECT_EQ(Runs("d").back(), "scheduled__2026-01-06T00:00:00+00:00:success");
}

TEST_F(SchedulerServiceTest, QueuedRunsBeyondMaxActiveRunsWait) {
  WriteDag("m", "max_active_runs: 1\n");
  StartService();
  auto cli = OtherProcess();
  const auto dag = folder_->Find("m");
  for (const char* id : {"one", "two"}) {
    scheduler::RunRequest request;
    request.run_id = id;
    ASSERT_TRUE(scheduler::CreateRun(*cli, *dag, request, clock_.Now()).ok());
  }
  DatabaseChanged();
  ASSERT_TRUE(service_->Tick().ok());
  EXPECT_EQ(service_->active_runs(), 1);
  // The run's start commits on the loop's writer thread; its task, in-process, has not waited
  // for that (nor is its end applied before the next tick).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (Runs("m").front() == "one:queued" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(Runs("m"), (std::vector<std::string>{"one:running", "two:queued"}));
  ASSERT_TRUE(service_->RunUntilIdle().ok());
  TickAt("2026-01-01T00:00:00Z");
  EXPECT_EQ(Runs("m"), (std::vector<std::string>{"one:success", "two:success"}));
}

TEST_F(SchedulerServiceTest, PauseStopsOnlyCronRunsAndWorksFromAnotherProcess) {
  WriteDag("p", "schedule: '@hourly'\nstart_date: 2026-01-01\n");
  StartService(/*paused_at_creation=*/true);
  TickAt("2026-01-01T03:00:00Z");
  EXPECT_EQ(Runs("p"), std::vector<std::string>{});
  auto cli = OtherProcess();
  ASSERT_TRUE(cli->SetPaused("p", false).ok());
  DatabaseChanged();
  TickAt("2026-01-01T03:00:01Z");
  EXPECT_EQ(Runs("p"), (std::vector<std::string>{"scheduled__2026-01-01T02:00:00+00:00:success"}));
  ASSERT_TRUE(cli->SetPaused("p", true).ok());
  DatabaseChanged();
  TickAt("2026-01-01T05:00:00Z");
  EXPECT_EQ(Runs("p").size(), 1u);
  // A paused DAG still runs what is triggered explicitly.
  scheduler::RunRequest request;
  request.run_id = "by_hand";
  ASSERT_TRUE(scheduler::CreateRun(*cli, *folder_->Find("p"), request, clock_.Now()).ok());
  DatabaseChanged();
  TickAt("2026-01-01T05:00:01Z");
  EXPECT_EQ(Runs("p").back(), "by_hand:success");
  EXPECT_EQ(Runs("p").size(), 2u);
}

TEST_F(SchedulerServiceTest, NewDagsStartPausedByDefault) {
  WriteDag("n", "schedule: '@hourly'\nstart_date: 2026-01-01\n");
  StartService(/*paused_at_creation=*/true);
  TickAt("2026-01-01T00:00:01Z");
  auto record = store_->GetDag("n");
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_TRUE((*record)->is_paused);
  EXPECT_EQ((*record)->fileloc, DagPath("n"));
  EXPECT_EQ((*record)->import_error, "");
}

TEST_F(SchedulerServiceTest, EditedFilesAreReloadedAndBrokenOnesKeepTheirLastGoodVersion) {
  WriteDag("e", "schedule: '@hourly'\nstart_date: 2026-01-01\n");
  StartService();
  TickAt("2026-01-01T01:00:00Z");
  EXPECT_EQ(Runs("e").size(), 1u);
  // Broken: the error is recorded, the last good version goes on being scheduled.
  dir_.Write("dags/e.yaml", "schedule: '@hourly'\nstart_date: 2026-01-01\ntasks: [{id: t}]\n");
  service_->FilesChanged({DagPath("e")});
  TickAt("2026-01-01T02:00:00Z");
  EXPECT_EQ(Runs("e").size(), 2u);
  auto record = store_->GetDag("e");
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ((*record)->import_error, DagPath("e") + ":3:14: task 't' is missing 'operator'");
  // Fixed, with a daily schedule now: no run at 03:00, the error is gone.
  WriteDag("e", "schedule: '@daily'\nstart_date: 2026-01-01\n");
  service_->FilesChanged({DagPath("e")});
  TickAt("2026-01-01T03:00:00Z");
  EXPECT_EQ(Runs("e").size(), 2u);
  EXPECT_EQ(next_due_, At("2026-01-02T00:00:00Z"));
  record = store_->GetDag("e");
  EXPECT_EQ((*record)->import_error, "");
  // Deleted: no longer scheduled.
  std::filesystem::remove(DagPath("e"));
  service_->FilesChanged({DagPath("e")});
  TickAt("2026-01-03T00:00:00Z");
  EXPECT_EQ(Runs("e").size(), 2u);
}

TEST_F(SchedulerServiceTest, SecondServeOnTheSameDatabaseIsRefused) {
  WriteDag("x", "");
  StartService();
  auto other_store = OtherProcess();
  graph::DagFolder folder(dir_.path() + "/dags", cli::BuiltinRegistry());
  // Same pid here, so fake another holder: a live process (pid 1) with a fresh heartbeat.
  ASSERT_TRUE(other_store->ReleaseSchedulerLease(getpid()).ok());
  int previous = 0;
  ASSERT_TRUE(*other_store->AcquireSchedulerLease(
      1, WallClock().PreciseNow(), WallClock().PreciseNow(), [](int) { return true; }, &previous));
  SchedulerService second(*other_store, cli::BuiltinRegistry(), exec::SystemProcessRunner(), folder,
                          clock_, {}, nullptr, nullptr);
  Status status = second.Start();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message, "another conveyor serve (pid 1) is running on this database");
}

}  // namespace
}  // namespace conveyor::serve
