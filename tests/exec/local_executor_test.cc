// The local executor with real processes: where a shell try's process is started.
#include <gtest/gtest.h>

#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "engine/cli/command_context.h"
#include "engine/exec/executor.h"
#include "tests/support/task_launch.h"
#include "tests/support/temp_dir.h"

namespace conveyor::exec {
namespace {

// The system's runner, noting on which thread each process was started.
class ThreadNotingRunner : public ProcessRunner {
 public:
  Result<std::unique_ptr<StartedProcess>> Start(const ProcessSpec& spec) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      threads_.push_back(std::this_thread::get_id());
    }
    return SystemProcessRunner().Start(spec);
  }
  std::vector<std::thread::id> threads() {
    std::lock_guard<std::mutex> lock(mutex_);
    return threads_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::thread::id> threads_;
};

TaskLaunch Shell(std::uint64_t id, const std::string& command, const std::string& dir) {
  TaskLaunch launch = testing::TestLaunch(id, "shell", dir);
  launch.command = command;
  return launch;
}

// With a worker idle, a shell try's process is started by Launch itself, on the caller's thread
// (the worker then only waits for it). With none idle, it waits in the queue and a worker starts
// it once free. Either way the try runs once and reports its end.
TEST(LocalExecutorTest, AShellTryStartsOnTheLaunchingThreadWhileAWorkerIsIdle) {
  testing::TempDir dir;
  ThreadNotingRunner runner;
  std::mutex mutex;
  std::vector<TaskEvent> finished;
  std::map<std::uint64_t, std::chrono::system_clock::time_point> started;
  auto executor =
      MakeLocalExecutor(cli::BuiltinRegistry(), runner, 1, WallClock(), [&](TaskEvent event) {
        std::lock_guard<std::mutex> lock(mutex);
        // A short try's start comes with its end; a long one's on its own, first.
        if (event.kind == TaskEvent::Kind::kStarted) started[event.id] = event.at;
        if (event.kind != TaskEvent::Kind::kFinished) return;
        if (event.started_at) started[event.id] = *event.started_at;
        finished.push_back(std::move(event));
      });
  executor->Launch(Shell(1, "sleep 0.2", dir.path()));
  // Started before Launch returned, on this thread.
  ASSERT_EQ(runner.threads().size(), 1u);
  EXPECT_EQ(runner.threads()[0], std::this_thread::get_id());
  // The only worker waits for the first: the second is started by that worker, after it.
  executor->Launch(Shell(2, "echo second", dir.path()));
  EXPECT_EQ(runner.threads().size(), 1u);
  executor->Drain();
  ASSERT_EQ(runner.threads().size(), 2u);
  EXPECT_NE(runner.threads()[1], std::this_thread::get_id());
  ASSERT_EQ(finished.size(), 2u);
  EXPECT_EQ(finished[0].id, 1u);
  EXPECT_EQ(finished[1].id, 2u);
  for (const TaskEvent& event : finished) {
    EXPECT_EQ(event.result.outcome, OperatorResult::Outcome::kSuccess) << event.result.message;
  }
  ASSERT_EQ(started.size(), 2u);
  EXPECT_GE(started[2], finished[0].at);
  std::ifstream log(dir.path() + "/t2.log");
  std::stringstream text;
  text << log.rdbuf();
  EXPECT_EQ(text.str(), "second\n");
}

// A try launched by the worker that reports an end (the scheduler steps there) is started at once
// on that worker, even though no other worker is idle: that worker waits for it next.
TEST(LocalExecutorTest, AShellTryLaunchedOnAWorkerStartsThereAtOnce) {
  testing::TempDir dir;
  ThreadNotingRunner runner;
  std::mutex mutex;
  std::vector<std::pair<std::uint64_t, std::thread::id>> finished;
  size_t started_within_callback = 0;
  Executor* self = nullptr;
  auto executor =
      MakeLocalExecutor(cli::BuiltinRegistry(), runner, 1, WallClock(), [&](TaskEvent event) {
        if (event.kind != TaskEvent::Kind::kFinished) return;
        if (event.id == 1) {
          self->Launch(Shell(2, "true", dir.path()));
          started_within_callback = runner.threads().size();
        }
        std::lock_guard<std::mutex> lock(mutex);
        finished.emplace_back(event.id, std::this_thread::get_id());
      });
  self = executor.get();
  executor->Launch(Shell(1, "true", dir.path()));
  executor->Drain();
  EXPECT_EQ(started_within_callback, 2u);
  const auto threads = runner.threads();
  ASSERT_EQ(threads.size(), 2u);
  ASSERT_EQ(finished.size(), 2u);
  EXPECT_EQ(finished[0].first, 1u);
  EXPECT_EQ(threads[1], finished[0].second);          // started on the worker that reported 1's end
  EXPECT_EQ(finished[1].second, finished[0].second);  // and waited for there
}

// A process that cannot start, started on the launching thread, fails its try with the reason,
// reported by the worker like any end.
TEST(LocalExecutorTest, AStartFailureOnTheLaunchingThreadFailsTheTry) {
  testing::TempDir dir;
  std::mutex mutex;
  std::vector<TaskEvent> finished;
  auto executor = MakeLocalExecutor(cli::BuiltinRegistry(), SystemProcessRunner(), 1, WallClock(),
                                    [&](TaskEvent event) {
                                      if (event.kind != TaskEvent::Kind::kFinished) return;
                                      std::lock_guard<std::mutex> lock(mutex);
                                      finished.push_back(std::move(event));
                                    });
  executor->Launch(Shell(1, dir.path() + "/missing-program", dir.path()));
  executor->Drain();
  ASSERT_EQ(finished.size(), 1u);
  EXPECT_EQ(finished[0].result.outcome, OperatorResult::Outcome::kFailed);
  EXPECT_EQ(finished[0].result.message,
            "cannot start '" + dir.path() + "/missing-program': No such file or directory");
}

// A worker that offers its thread with a try's end while another thread launches the next try
// (the scheduler's own thread, not lent the step) must take that try: a chain whose every next try
// is launched from another thread, as the offering worker returns, runs to its end.
TEST(LocalExecutorTest, ATryLaunchedAsTheOfferingWorkerReturnsIsNeverLeftInTheQueue) {
  testing::TempDir dir;
  constexpr std::uint64_t kChain = 150;
  std::mutex mutex;
  std::condition_variable done;
  std::uint64_t finished = 0;
  int offered = 0;
  std::vector<std::thread> launchers;
  std::unique_ptr<Executor> executor;
  executor = MakeLocalExecutor(cli::BuiltinRegistry(), SystemProcessRunner(), 2, WallClock(),
                               [&](TaskEvent event) {
                                 if (event.kind != TaskEvent::Kind::kFinished) return;
                                 {
                                   std::lock_guard<std::mutex> lock(mutex);
                                   ++finished;
                                   if (event.notifier_may_step) ++offered;
                                   if (event.id < kChain) {
                                     launchers.emplace_back([&executor, &dir, next = event.id + 1] {
                                       executor->Launch(Shell(next, "/bin/true", dir.path()));
                                     });
                                   }
                                   done.notify_all();
                                 }
                                 // The launch takes the offer while this report has not returned
                                 // yet.
                                 std::this_thread::sleep_for(std::chrono::microseconds(300));
                               });
  executor->Launch(Shell(1, "/bin/true", dir.path()));
  {
    std::unique_lock<std::mutex> lock(mutex);
    EXPECT_TRUE(done.wait_for(lock, std::chrono::seconds(30), [&] { return finished == kChain; }))
        << "stopped after " << finished << " tries";
  }
  for (std::thread& launcher : launchers) launcher.join();
  executor->Drain();
  EXPECT_EQ(finished, kChain);
  EXPECT_GT(offered, 0);  // the workers did offer their threads
}

}  // namespace
}  // namespace conveyor::exec
