#include "engine/scheduler/commit_pipeline.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "engine/store/state_store.h"
#include "tests/support/temp_dir.h"

namespace conveyor::scheduler {
namespace {

using state::TaskState;

class CommitPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(store::OpenSqliteStore(dir_.path() + "/s.db")).value();
    store::DagRunRecord run;
    run.dag_id = "d";
    run.run_id = "r";
    run.run_type = "manual";
    std::vector<store::TaskInstanceRecord> tis;
    for (int i = 0; i < kTasks; ++i) {
      store::TaskInstanceRecord ti;
      ti.task_id = "t" + std::to_string(i);
      ti.operator_name = "noop";
      tis.push_back(ti);
    }
    run_ = *store_->CreateRun(run, tis);
  }

  // A batch that moves every task to `to` (with `try_number`), and launches `launches` tries.
  CommitWork Work(TaskState to, int try_number, int launches) {
    CommitWork work;
    for (int i = 0; i < kTasks; ++i) {
      store::TaskInstanceRecord ti;
      ti.run = run_;
      ti.task_id = "t" + std::to_string(i);
      ti.operator_name = "noop";
      ti.state = to;
      ti.try_number = try_number;
      work.batch.PutTaskInstance(ti, TaskState::kNone, "test");
      Transition t;
      t.task_id = ti.task_id;
      t.try_number = try_number;
      t.to = to;
      work.transitions.push_back(t);
    }
    for (int i = 0; i < launches; ++i) {
      exec::TaskLaunch launch;
      launch.id = static_cast<std::uint64_t>(try_number * 1000 + i);
      work.launches.push_back(std::move(launch));
    }
    return work;
  }

  // What the database says of task t0, read when a launch starts.
  std::vector<std::pair<std::uint64_t, TaskState>> Launched() {
    std::lock_guard<std::mutex> lock(mutex_);
    return launched_;
  }

  std::function<void(exec::TaskLaunch)> Recorder() {
    return [this](exec::TaskLaunch launch) {
      auto tis = store_->ListTaskInstances(run_);
      ASSERT_TRUE(tis.ok());
      std::lock_guard<std::mutex> lock(mutex_);
      launched_.emplace_back(launch.id, tis->front().state);
    };
  }

  static constexpr int kTasks = 40;  // more transitions than a batch committed inline
  testing::TempDir dir_;
  std::unique_ptr<store::StateStore> store_;
  store::RunKey run_ = 0;
  std::mutex mutex_;
  std::vector<std::pair<std::uint64_t, TaskState>> launched_;
};

TEST_F(CommitPipelineTest, CommitsInOrderAndLaunchesOnlyWhatIsCommitted) {
  std::atomic<int> wakes{0};
  CommitPipeline pipeline(*store_, Recorder(), [&] { ++wakes; });
  pipeline.Submit(Work(TaskState::kQueued, 1, 2), false);
  pipeline.Submit(Work(TaskState::kRunning, 2, 1), false);
  pipeline.Submit(Work(TaskState::kSuccess, 3, 0), false);
  pipeline.Wait();
  std::vector<Transition> transitions;
  std::vector<store::DagRunRecord> finished;
  ASSERT_TRUE(pipeline.TakeCommitted(transitions, finished).ok());
  EXPECT_FALSE(pipeline.Pending());
  ASSERT_EQ(transitions.size(), 3u * kTasks);
  EXPECT_EQ(transitions.front().to, TaskState::kQueued);
  EXPECT_EQ(transitions.back().to, TaskState::kSuccess);
  // Each launch saw its own batch committed (or, committed in the same transaction, a later one),
  // never an earlier one.
  const auto launched = Launched();
  ASSERT_EQ(launched.size(), 3u);
  for (const auto& [id, seen] : launched) {
    EXPECT_GE(static_cast<int>(seen),
              static_cast<int>(id < 2000 ? TaskState::kQueued : TaskState::kRunning))
        << id;
  }
  EXPECT_GE(wakes.load(), 1);  // through the writer thread, in one to three transactions
  EXPECT_LE(wakes.load(), 3);
  auto tis = store_->ListTaskInstances(run_);
  ASSERT_TRUE(tis.ok());
  EXPECT_EQ(tis->back().state, TaskState::kSuccess);
  EXPECT_EQ(tis->back().try_number, 3);
  auto events = store_->CountEvents(run_, "t0", "queued");
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(*events, 1);
}

TEST_F(CommitPipelineTest, BatchesQueuedWhileTheWriterWritesShareItsNextTransaction) {
  constexpr int kBatches = 100;
  std::atomic<int> commits{0};
  CommitPipeline pipeline(*store_, Recorder(), [&] { ++commits; });
  for (int i = 0; i < kBatches; ++i) {
    pipeline.Submit(Work(i % 2 == 0 ? TaskState::kQueued : TaskState::kRunning, i + 1, 0), false);
  }
  pipeline.Wait();
  std::vector<Transition> transitions;
  std::vector<store::DagRunRecord> finished;
  ASSERT_TRUE(pipeline.TakeCommitted(transitions, finished).ok());
  EXPECT_EQ(transitions.size(), static_cast<size_t>(kBatches * kTasks));
  // Submitting takes microseconds, writing forty rows and their events far longer.
  EXPECT_LT(commits.load(), kBatches);
  EXPECT_GE(commits.load(), 1);
  auto tis = store_->ListTaskInstances(run_);
  ASSERT_TRUE(tis.ok());
  EXPECT_EQ(tis->back().state, TaskState::kRunning);  // the last batch's, in order
  EXPECT_EQ(tis->back().try_number, kBatches);
}

TEST_F(CommitPipelineTest, ASmallBatchWithNothingAheadCommitsOnTheCallersThread) {
  std::atomic<int> wakes{0};
  CommitPipeline pipeline(*store_, Recorder(), [&] { ++wakes; });
  CommitWork small;
  store::TaskInstanceRecord ti;
  ti.run = run_;
  ti.task_id = "t0";
  ti.operator_name = "noop";
  ti.state = TaskState::kQueued;
  small.batch.PutTaskInstance(ti, TaskState::kNone, "test");
  Transition t;
  t.task_id = "t0";
  t.to = TaskState::kQueued;
  small.transitions.push_back(t);
  exec::TaskLaunch launch;
  launch.id = 7;
  small.launches.push_back(std::move(launch));
  pipeline.Submit(std::move(small), true);
  // Committed and launched before Submit returned.
  EXPECT_EQ(Launched(),
            (std::vector<std::pair<std::uint64_t, TaskState>>{{7, TaskState::kQueued}}));
  EXPECT_EQ(wakes.load(), 0);
  std::vector<Transition> transitions;
  std::vector<store::DagRunRecord> finished;
  ASSERT_TRUE(pipeline.TakeCommitted(transitions, finished).ok());
  EXPECT_EQ(transitions.size(), 1u);
}

// The small batch of ASmallBatchWithNothingAheadCommitsOnTheCallersThread, with a local shell try
// (7) and one on Slurm (8).
CommitWork SmallBatch(store::RunKey run) {
  CommitWork small;
  store::TaskInstanceRecord ti;
  ti.run = run;
  ti.task_id = "t0";
  ti.operator_name = "noop";
  ti.state = TaskState::kQueued;
  small.batch.PutTaskInstance(ti, TaskState::kNone, "test");
  Transition t;
  t.task_id = "t0";
  t.to = TaskState::kQueued;
  small.transitions.push_back(t);
  exec::TaskLaunch local;
  local.id = 7;
  local.runs_as_process = true;  // a shell try: in-process ones start in the loop's step
  exec::TaskLaunch on_slurm;
  on_slurm.id = 8;
  on_slurm.executor = ExecutorKind::kSlurm;
  small.launches.push_back(std::move(on_slurm));
  small.launches.push_back(std::move(local));
  return small;
}

TEST_F(CommitPipelineTest, JournaledLocalTriesOfASmallBatchStartBeforeItsCommit) {
  std::vector<std::uint64_t> journaled;
  CommitPipeline pipeline(
      *store_, Recorder(), [] {},
      [&](const std::vector<exec::TaskLaunch>& launches) {
        for (const auto& launch : launches) journaled.push_back(launch.id);
        return true;
      });
  pipeline.Submit(SmallBatch(run_), true);
  EXPECT_EQ(journaled, (std::vector<std::uint64_t>{7}));
  // The local try saw nothing committed yet; the one on Slurm started after the commit.
  EXPECT_EQ(Launched(), (std::vector<std::pair<std::uint64_t, TaskState>>{
                            {7, TaskState::kNone}, {8, TaskState::kQueued}}));
  std::vector<Transition> transitions;
  std::vector<store::DagRunRecord> finished;
  ASSERT_TRUE(pipeline.TakeCommitted(transitions, finished).ok());
  EXPECT_EQ(transitions.size(), 1u);
}

TEST_F(CommitPipelineTest, TriesWhoseStartCouldNotBeJournaledStartAfterTheCommit) {
  CommitPipeline pipeline(
      *store_, Recorder(), [] {}, [](const std::vector<exec::TaskLaunch>&) { return false; });
  pipeline.Submit(SmallBatch(run_), true);
  EXPECT_EQ(Launched(), (std::vector<std::pair<std::uint64_t, TaskState>>{
                            {8, TaskState::kQueued}, {7, TaskState::kQueued}}));
}

TEST_F(CommitPipelineTest, AFailedCommitStopsEveryLaterBatchAndItsLaunches) {
  CommitPipeline pipeline(*store_, Recorder(), [] {});
  pipeline.Submit(Work(TaskState::kQueued, 1, 1), false);
  pipeline.Wait();  // committed alone: a failure fails the whole transaction it shares
  CommitWork broken = Work(TaskState::kRunning, 2, 1);
  store::TaskInstanceRecord orphan;
  orphan.run = run_ + 100;  // no such run: the foreign key fails the whole transaction
  orphan.task_id = "x";
  orphan.operator_name = "noop";
  broken.batch.PutTaskInstance(orphan, TaskState::kNone, "test");
  pipeline.Submit(std::move(broken), false);
  pipeline.Submit(Work(TaskState::kSuccess, 3, 1), false);
  pipeline.Wait();
  std::vector<Transition> transitions;
  std::vector<store::DagRunRecord> finished;
  Status status = pipeline.TakeCommitted(transitions, finished);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("FOREIGN KEY constraint failed"), std::string::npos)
      << status.error().message;
  EXPECT_EQ(transitions.size(), static_cast<size_t>(kTasks));  // the first batch only
  EXPECT_EQ(Launched(),
            (std::vector<std::pair<std::uint64_t, TaskState>>{{1000, TaskState::kQueued}}));
  auto tis = store_->ListTaskInstances(run_);
  ASSERT_TRUE(tis.ok());
  EXPECT_EQ(tis->front().state, TaskState::kQueued);
  EXPECT_FALSE(pipeline.Pending());
}

}  // namespace
}  // namespace conveyor::scheduler
