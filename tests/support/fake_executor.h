#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/exec/executor.h"
#include "engine/graph/dag_bag.h"
#include "engine/scheduler/run_loop.h"
#include "tests/support/fake_clock.h"
#include "tests/support/fake_store.h"
#include "tests/support/temp_dir.h"

namespace conveyor::testing {

// What a fake try does: how it ends and how long it takes on the fake clock.
struct FakeOutcome {
  exec::OperatorResult result = exec::OperatorResult::Success();
  std::chrono::microseconds duration{0};

  static FakeOutcome Success(nlohmann::json outputs = nlohmann::json::object());
  static FakeOutcome Failure(std::string message = "exit code 1");
  static FakeOutcome Skipped(std::string message = "skipped");
  FakeOutcome Taking(std::chrono::microseconds how_long) const;
};

// The executor of scheduling tests, as ninja's FakeCommandRunner: a launch is recorded and its
// try runs until FinishRunning() ends it as `script` says, at the fake clock's time. No thread,
// no process. Launch is thread-safe (the commit pipeline's writer thread launches too).
class FakeExecutor final : public exec::Executor {
 public:
  using Script = std::function<FakeOutcome(const exec::TaskLaunch&)>;
  struct Started {
    std::string task_id;
    int try_number;
    PreciseInstant at;
    std::vector<std::string> running;  // every task running once it started, itself included
  };

  FakeExecutor(FakeClock& clock, Script script, std::function<void(exec::TaskEvent)> notify,
               std::function<void()> on_launch);

  void Launch(exec::TaskLaunch launch) override;
  void CancelAll() override;
  void StopStarting() override {}
  void Drain() override;
  void Adopt(exec::TaskLaunch launch, const std::string& external_id, bool started) override;

  // Ends every running try, in the order of their ends (start + duration, cut at the try's
  // execution_timeout as a timeout failure), moving the clock to each end. How many ended.
  size_t FinishRunning();
  size_t running() const;
  std::vector<Started> started() const;

 private:
  struct Running {
    exec::TaskLaunch launch;
    PreciseInstant started_at;
    FakeOutcome outcome;
  };

  FakeClock& clock_;
  Script script_;
  std::function<void(exec::TaskEvent)> notify_;
  std::function<void()> on_launch_;
  mutable std::mutex mutex_;
  std::vector<Running> running_;
  std::vector<Started> started_;
};

// A DAG run by the real run loop on a fake store, a fake clock and a fake executor: scheduling
// decisions without SQLite, processes or sleeps.
class FakeScheduling {
 public:
  static constexpr std::chrono::sys_seconds kStart{std::chrono::seconds(1767225600)};  // 2026-01-01

  // `yaml` may use "$DIR" for the fixture's folder.
  FakeScheduling(const std::string& yaml, FakeExecutor::Script script);
  ~FakeScheduling();

  // Creates a run and drives it to its end (Resume).
  store::DagRunRecord RunToEnd(scheduler::RunLoopOptions options = {});
  // Creates a run, queued, with its task instances in no state.
  store::DagRunRecord CreateRun();
  // Takes an existing run on as a new conveyor process would (recovering what an earlier one left
  // queued or running) and drives the loop until the run ends: each round steps the loop without
  // waiting, then ends the tries it started; with nothing running, lets the loop wait (the fake
  // clock jumps to its next due time).
  store::DagRunRecord Resume(const store::DagRunRecord& run,
                             scheduler::RunLoopOptions options = {});

  FakeClock& clock() { return clock_; }
  const FakeExecutor& executor() const { return *executor_; }
  FakeStore& store() { return store_; }
  std::map<std::string, std::string> States(const store::DagRunRecord& run);

 private:
  TempDir dir_;
  FakeClock clock_{kStart};
  FakeExecutor::Script script_;
  std::optional<graph::LoadedDag> loaded_;
  FakeStore store_;
  FakeExecutor* executor_ = nullptr;  // owned by the loop of the last Resume
  std::unique_ptr<scheduler::RunLoop> loop_;
  std::atomic<scheduler::RunLoop*> waking_{nullptr};  // loop_, while launches may wake it
  int runs_created_ = 0;
};

}  // namespace conveyor::testing
