#include "engine/scheduler/start_policy.h"

#include <gtest/gtest.h>

namespace conveyor::scheduler {
namespace {

exec::TaskLaunch Launch(bool process, ExecutorKind executor) {
  exec::TaskLaunch launch;
  launch.runs_as_process = process;
  launch.executor = executor;
  return launch;
}

TEST(StartPolicyTest, EachTryStartsWhereItsCrashCanBeAccountedFor) {
  const auto in_process = Launch(false, ExecutorKind::kLocal);
  const auto shell = Launch(true, ExecutorKind::kLocal);
  const auto on_slurm = Launch(true, ExecutorKind::kSlurm);
  const auto in_process_on_slurm = Launch(false, ExecutorKind::kSlurm);
  for (CommitPath path : {CommitPath::kInline, CommitPath::kWriter}) {
    EXPECT_EQ(StartOf(in_process, path, true), TryStart::kBeforeCommit);
    EXPECT_EQ(StartOf(in_process, path, false), TryStart::kBeforeCommit);
    EXPECT_EQ(StartOf(on_slurm, path, true), TryStart::kAfterCommit);
    EXPECT_EQ(StartOf(in_process_on_slurm, path, true), TryStart::kAfterCommit);
  }
  EXPECT_EQ(StartOf(shell, CommitPath::kInline, true), TryStart::kJournaledBeforeCommit);
  EXPECT_EQ(StartOf(shell, CommitPath::kInline, false), TryStart::kAfterCommit);
  EXPECT_EQ(StartOf(shell, CommitPath::kWriter, true), TryStart::kAfterCommit);
  // A held batch waits for its turn: nothing of it starts before it is written.
  for (const auto& launch : {in_process, shell, on_slurm}) {
    EXPECT_EQ(StartOf(launch, CommitPath::kHeld, true), TryStart::kAfterCommit);
  }
  // As its run is created: an in-process try at once, anything else once the run exists.
  EXPECT_EQ(StartOf(in_process, CommitPath::kCreating, false), TryStart::kBeforeCommit);
  for (const auto& launch : {shell, on_slurm, in_process_on_slurm}) {
    EXPECT_EQ(StartOf(launch, CommitPath::kCreating, true), TryStart::kAfterCommit);
  }
}

}  // namespace
}  // namespace conveyor::scheduler
