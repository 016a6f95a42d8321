#include "tests/support/fake_executor.h"

#include <algorithm>
#include <stdexcept>

#include "engine/cli/command_context.h"
#include "engine/scheduler/run_factory.h"
#include "tests/support/dag_fixture.h"

namespace conveyor::testing {

FakeOutcome FakeOutcome::Success(nlohmann::json outputs) {
  return {exec::OperatorResult::Success(std::move(outputs))};
}
FakeOutcome FakeOutcome::Failure(std::string message) {
  return {exec::OperatorResult::Failure(std::move(message))};
}
FakeOutcome FakeOutcome::Skipped(std::string message) {
  return {exec::OperatorResult::Skipped(std::move(message))};
}
FakeOutcome FakeOutcome::Taking(std::chrono::microseconds how_long) const {
  FakeOutcome out = *this;
  out.duration = how_long;
  return out;
}

FakeExecutor::FakeExecutor(FakeClock& clock, Script script,
                           std::function<void(exec::TaskEvent)> notify,
                           std::function<void()> on_launch)
    : clock_(clock),
      script_(std::move(script)),
      notify_(std::move(notify)),
      on_launch_(std::move(on_launch)) {}

void FakeExecutor::Launch(exec::TaskLaunch launch) {
  FakeOutcome outcome = script_(launch);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const PreciseInstant now = clock_.PreciseNow();
    started_.push_back({launch.info.task_id, launch.info.try_number, now, {}});
    running_.push_back({std::move(launch), now, std::move(outcome)});
    for (const Running& r : running_) started_.back().running.push_back(r.launch.info.task_id);
  }
  if (on_launch_) on_launch_();
}

void FakeExecutor::Adopt(exec::TaskLaunch launch, const std::string&, bool) {
  Launch(std::move(launch));
}

void FakeExecutor::CancelAll() {
  std::vector<Running> cancelled;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    cancelled.swap(running_);
  }
  for (Running& r : cancelled) {
    exec::TaskEvent event{exec::TaskEvent::Kind::kFinished, r.launch.id, std::nullopt,
                          exec::OperatorResult::Failure("cancelled"), clock_.PreciseNow()};
    event.started_at = r.started_at;
    notify_(std::move(event));
  }
}

void FakeExecutor::Drain() { FinishRunning(); }

size_t FakeExecutor::FinishRunning() {
  std::vector<Running> ending;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ending.swap(running_);
  }
  struct End {
    PreciseInstant at;
    Running* running;
  };
  std::vector<End> ends;
  for (Running& r : ending) {
    auto took = r.outcome.duration;
    const auto& timeout = r.launch.execution_timeout;
    if (timeout && took > *timeout) {
      took = std::chrono::duration_cast<std::chrono::microseconds>(*timeout);
      r.outcome.result = exec::OperatorResult::Failure("timed out: execution_timeout reached");
    }
    ends.push_back({r.started_at + took, &r});
  }
  std::stable_sort(ends.begin(), ends.end(),
                   [](const End& a, const End& b) { return a.at < b.at; });
  for (const End& end : ends) {
    if (end.at > clock_.PreciseNow()) clock_.Set(end.at);
    exec::TaskEvent event{exec::TaskEvent::Kind::kFinished, end.running->launch.id, std::nullopt,
                          end.running->outcome.result, clock_.PreciseNow()};
    event.started_at = end.running->started_at;
    notify_(std::move(event));
  }
  return ends.size();
}

size_t FakeExecutor::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_.size();
}

std::vector<FakeExecutor::Started> FakeExecutor::started() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return started_;
}

FakeScheduling::FakeScheduling(const std::string& yaml, FakeExecutor::Script script)
    : script_(std::move(script)) {
  loaded_.emplace(LoadFixtureDag(dir_, yaml));
}

FakeScheduling::~FakeScheduling() {
  waking_ = nullptr;
  loop_.reset();
}

store::DagRunRecord FakeScheduling::RunToEnd(scheduler::RunLoopOptions options) {
  return Resume(CreateRun(), std::move(options));
}

store::DagRunRecord FakeScheduling::CreateRun() {
  scheduler::RunRequest request;
  request.logical_date = Instant(kStart);
  request.run_id = "run_" + std::to_string(++runs_created_);
  auto run = scheduler::CreateRun(store_, *loaded_, request, clock_.PreciseNow());
  if (!run.ok()) throw std::runtime_error(run.error().ToString());
  return *run;
}

store::DagRunRecord FakeScheduling::Resume(const store::DagRunRecord& run,
                                           scheduler::RunLoopOptions options) {
  options.clock = &clock_;
  if (options.log_dir == "logs") options.log_dir = dir_.path() + "/logs";
  waking_ = nullptr;
  loop_.reset();
  options.make_local_executor = [this](std::function<void(exec::TaskEvent)> notify) {
    // A launch after a commit, on the pipeline's thread, ends the driver's wait below. The loop
    // launches nothing before it is polled.
    auto fake = std::make_unique<FakeExecutor>(clock_, script_, std::move(notify), [this] {
      if (auto* loop = waking_.load()) loop->Wake();
    });
    executor_ = fake.get();
    return fake;
  };
  loop_ = std::make_unique<scheduler::RunLoop>(store_, store_, cli::BuiltinRegistry(),
                                               exec::SystemProcessRunner(), options, nullptr);
  waking_ = loop_.get();
  if (Status s = loop_->AddRun(*loaded_, run.id); !s.ok()) {
    throw std::runtime_error(s.error().ToString());
  }
  std::vector<store::DagRunRecord> finished;
  for (int round = 0; finished.empty(); ++round) {
    if (round > 100000) throw std::runtime_error("the run did not end");
    if (Status s = loop_->Poll(clock_.PreciseNow()); !s.ok()) {
      throw std::runtime_error(s.error().ToString());
    }
    finished = loop_->TakeFinishedRuns();
    if (!finished.empty()) break;
    if (executor_->FinishRunning() > 0) continue;
    // Nothing running: a commit is being written, or the loop waits for a retry to fall due.
    if (Status s = loop_->Poll(std::nullopt); !s.ok()) {
      throw std::runtime_error(s.error().ToString());
    }
    finished = loop_->TakeFinishedRuns();
  }
  return finished.front();
}

std::map<std::string, std::string> FakeScheduling::States(const store::DagRunRecord& run) {
  std::map<std::string, std::string> out;
  const auto tis = store_.ListTaskInstances(run.id);
  for (const auto& ti : tis.value()) {
    out[ti.task_id] = std::string(state::Name(ti.state));
  }
  return out;
}

}  // namespace conveyor::testing
