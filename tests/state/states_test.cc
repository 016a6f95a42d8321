#include "engine/state/states.h"

#include <gtest/gtest.h>

namespace conveyor::state {
namespace {

TEST(StatesTest, NamesRoundTrip) {
  for (TaskState s : {TaskState::kNone, TaskState::kScheduled, TaskState::kQueued,
                      TaskState::kRunning, TaskState::kSuccess, TaskState::kFailed,
                      TaskState::kUpForRetry, TaskState::kUpstreamFailed, TaskState::kSkipped}) {
    EXPECT_EQ(ParseTaskState(Name(s)), s);
  }
  EXPECT_EQ(Name(TaskState::kUpForRetry), "up_for_retry");
  EXPECT_EQ(Name(RunState::kSuccess), "success");
  EXPECT_EQ(ParseRunState("running"), RunState::kRunning);
  EXPECT_EQ(ParseTaskState("done"), std::nullopt);
}

TEST(StatesTest, TransitionsFollowTheLifecycle) {
  EXPECT_TRUE(CanTransition(TaskState::kNone, TaskState::kScheduled));
  EXPECT_TRUE(CanTransition(TaskState::kScheduled, TaskState::kQueued));
  EXPECT_TRUE(CanTransition(TaskState::kQueued, TaskState::kRunning));
  EXPECT_TRUE(CanTransition(TaskState::kRunning, TaskState::kUpForRetry));
  EXPECT_TRUE(CanTransition(TaskState::kUpForRetry, TaskState::kScheduled));
  EXPECT_TRUE(CanTransition(TaskState::kRunning, TaskState::kScheduled));  // crash recovery
  EXPECT_TRUE(CanTransition(TaskState::kQueued, TaskState::kUpForRetry));  // did not render
  EXPECT_TRUE(CanTransition(TaskState::kSuccess, TaskState::kNone));       // clear
  EXPECT_FALSE(CanTransition(TaskState::kSuccess, TaskState::kFailed));
  EXPECT_FALSE(CanTransition(TaskState::kNone, TaskState::kRunning));
  EXPECT_FALSE(CanTransition(TaskState::kFailed, TaskState::kScheduled));
}

TEST(StatesTest, FinishedAndFailure) {
  EXPECT_TRUE(IsFinished(TaskState::kSkipped));
  EXPECT_FALSE(IsFinished(TaskState::kUpForRetry));
  EXPECT_TRUE(IsFailure(TaskState::kUpstreamFailed));
  EXPECT_FALSE(IsFailure(TaskState::kSkipped));
}

}  // namespace
}  // namespace conveyor::state
