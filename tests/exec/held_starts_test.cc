#include "engine/exec/held_starts.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

#include "engine/cli/command_context.h"
#include "tests/support/task_launch.h"
#include "tests/support/temp_dir.h"

namespace conveyor::exec {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// What a callback was notified of, for a test thread to wait on.
class Reports {
 public:
  std::function<void(TaskEvent)> Callback() {
    return [this](TaskEvent event) {
      std::lock_guard<std::mutex> lock(mutex_);
      events_.push_back(std::move(event));
      times_.push_back(steady_clock::now());
    };
  }
  // The events once there are `count` of them (or what came within five seconds).
  std::vector<TaskEvent> WaitFor(size_t count, std::vector<steady_clock::time_point>* times = {}) {
    const auto deadline = steady_clock::now() + std::chrono::seconds(5);
    while (true) {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        if (events_.size() >= count || steady_clock::now() > deadline) {
          if (times != nullptr) *times = times_;
          return events_;
        }
      }
      std::this_thread::sleep_for(milliseconds(1));
    }
  }

 private:
  std::mutex mutex_;
  std::vector<TaskEvent> events_;
  std::vector<steady_clock::time_point> times_;
};

TaskEvent Start(std::uint64_t id) {
  return TaskEvent{TaskEvent::Kind::kStarted, id, 0, {}, WallClock().PreciseNow()};
}

TEST(HeldStartsTest, AStartReleasedInTimeIsNeverReportedOnItsOwn) {
  Reports reports;
  HeldStarts held(reports.Callback(), std::chrono::hours(1));  // however slow the machine is
  held.Hold(Start(7));
  const auto start = held.Release(7);
  ASSERT_TRUE(start);
  EXPECT_EQ(start->id, 7u);
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_TRUE(reports.WaitFor(0).empty());
  EXPECT_FALSE(held.Release(7));
}

TEST(HeldStartsTest, AStartHeldLongerIsReportedOnItsOwnInOrderAndNotReleased) {
  Reports reports;
  HeldStarts held(reports.Callback());
  const auto before = steady_clock::now();
  held.Hold(Start(1));
  held.Hold(Start(2));
  std::vector<steady_clock::time_point> times;
  const auto events = reports.WaitFor(2, &times);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].id, 1u);
  EXPECT_EQ(events[1].id, 2u);
  EXPECT_EQ(events[0].kind, TaskEvent::Kind::kStarted);
  EXPECT_GE(times[0] - before, kReportStartAfter);
  EXPECT_FALSE(held.Release(1));
  EXPECT_FALSE(held.Release(2));
}

TaskLaunch InProcess(std::uint64_t id, const std::string& op, nlohmann::json args,
                     const std::string& dir) {
  TaskLaunch launch = testing::TestLaunch(id, op, dir);
  launch.args = std::move(args);
  return launch;
}

// A short in-process try reports its start with its end, in one event; a long one reports its
// start on its own while it runs.
TEST(HeldStartsTest, TheLocalExecutorReportsAShortTryInOneEventAndALongOneInTwo) {
  testing::TempDir dir;
  Reports reports;
  auto executor = MakeLocalExecutor(cli::BuiltinRegistry(), SystemProcessRunner(), 1, WallClock(),
                                    reports.Callback());
  // A noop ends within the moment its start is held, unless the machine stalls its worker that
  // long: of five, at least one must come as one event (every start came on its own before).
  for (std::uint64_t id = 1; id <= 5; ++id) {
    executor->Launch(InProcess(id, "noop", nlohmann::json::object(), dir.path()));
    executor->Drain();
  }
  auto events = reports.WaitFor(5);
  int in_one_event = 0;
  std::vector<std::uint64_t> finished;
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].kind == TaskEvent::Kind::kStarted) {
      ASSERT_LT(i + 1, events.size());  // its end follows
      EXPECT_EQ(events[i + 1].id, events[i].id);
      continue;
    }
    finished.push_back(events[i].id);
    if (!events[i].started_at) continue;
    ++in_one_event;
    EXPECT_LE(*events[i].started_at, events[i].at);
  }
  EXPECT_EQ(finished, (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_GE(in_one_event, 1);

  const size_t before = events.size();
  executor->Launch(InProcess(6, "sleep", {{"duration", "100ms"}}, dir.path()));
  events = reports.WaitFor(before + 1);
  ASSERT_EQ(events.size(), before + 1);
  EXPECT_EQ(events[before].kind, TaskEvent::Kind::kStarted);  // while it sleeps
  EXPECT_EQ(events[before].id, 6u);
  events = reports.WaitFor(before + 2);
  ASSERT_EQ(events.size(), before + 2);
  EXPECT_EQ(events[before + 1].kind, TaskEvent::Kind::kFinished);
  EXPECT_FALSE(events[before + 1].started_at);
  EXPECT_GE(events[before + 1].at - events[before].at, std::chrono::milliseconds(90));
  executor->Drain();
}

// A process try's start goes through the same hold: a short process reports it with its end, with
// its pid; a long one on its own, with its pid, while it runs.
TEST(HeldStartsTest, TheLocalExecutorHoldsAProcessStartTheSameWay) {
  testing::TempDir dir;
  Reports reports;
  auto executor = MakeLocalExecutor(cli::BuiltinRegistry(), SystemProcessRunner(), 1, WallClock(),
                                    reports.Callback());
  // A process takes a millisecond or so to spawn and reap, well within the hold: one at a time,
  // one of them must come as one event unless the machine stalls every one of two hundred.
  std::vector<TaskEvent> events;
  int finished = 0;
  bool in_one_event = false;
  for (std::uint64_t id = 1; id <= 200 && !in_one_event; ++id) {
    TaskLaunch launch = testing::TestLaunch(id, "shell", dir.path());
    launch.command = "/bin/true";
    executor->Launch(std::move(launch));
    executor->Drain();
    events = reports.WaitFor(events.size() + 1);
    const TaskEvent& last = events.back();
    ASSERT_EQ(last.kind, TaskEvent::Kind::kFinished);
    ASSERT_EQ(last.id, id);
    ++finished;
    EXPECT_EQ(last.result.outcome, OperatorResult::Outcome::kSuccess) << last.result.message;
    if (!last.started_at) continue;
    in_one_event = true;
    ASSERT_TRUE(last.pid);
    EXPECT_GT(*last.pid, 0);
  }
  EXPECT_TRUE(in_one_event) << "none of " << finished << " short processes came as one event";

  const size_t before = events.size();
  TaskLaunch slow = testing::TestLaunch(21, "shell", dir.path());
  slow.command = "sleep 0.1";
  executor->Launch(std::move(slow));
  events = reports.WaitFor(before + 1);
  ASSERT_EQ(events.size(), before + 1);
  EXPECT_EQ(events[before].kind, TaskEvent::Kind::kStarted);  // while it sleeps
  ASSERT_TRUE(events[before].pid);
  EXPECT_GT(*events[before].pid, 0);
  events = reports.WaitFor(before + 2);
  ASSERT_EQ(events.size(), before + 2);
  EXPECT_EQ(events[before + 1].kind, TaskEvent::Kind::kFinished);
  EXPECT_FALSE(events[before + 1].started_at);
  executor->Drain();
}

}  // namespace
}  // namespace conveyor::exec
