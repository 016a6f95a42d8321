#pragma once

#include "engine/exec/executor.h"

namespace conveyor::scheduler {

// When a try starts, relative to the commit of its `queued` state. The one place that decides;
// docs/internals/execution.md gives the reasons.
enum class TryStart {
  // At once, while its state is being committed: an in-process try dies with conveyor, and if
  // conveyor dies first its task instance is still `scheduled` and runs again.
  kBeforeCommit,
  // Just before the commit, with its start journaled first (start_journal.h), so that whoever
  // takes the run over after a crash knows of it: a local process try whose batch is committed
  // on the step's thread, which a worker may be idle waiting for.
  kJournaledBeforeCommit,
  // Once the commit is written: the try's process or Slurm job outlives conveyor, so it is in the
  // database before it exists.
  kAfterCommit,
};

// How the batch that queues the try reaches the database.
enum class CommitPath {
  kHeld,      // held until RunLoop::ReleaseCommits, in order with a burst of new runs
  kCreating,  // with the runs it creates, in their transaction (RunStore::CreateRunsIfAbsent)
  kInline,    // committed at once on the thread running the step (a small urgent batch)
  kWriter,    // committed by the pipeline's writer thread
};

// `journal`: start journals are kept (not with synchronous=FULL, whose commits are synced to
// disk and the journal's lines are not).
inline TryStart StartOf(const exec::TaskLaunch& launch, CommitPath path, bool journal) {
  if (path == CommitPath::kHeld) return TryStart::kAfterCommit;
  // Also as its run is being created: if conveyor dies first, the run is created after the
  // restart and the try runs again; if another process created the run first, the run is
  // withdrawn and the try's end ignored, and that process runs the task.
  if (exec::RunsInProcess(launch)) return TryStart::kBeforeCommit;
  if (path == CommitPath::kCreating) return TryStart::kAfterCommit;
  if (path == CommitPath::kInline && journal && launch.executor == ExecutorKind::kLocal) {
    return TryStart::kJournaledBeforeCommit;
  }
  return TryStart::kAfterCommit;
}

}  // namespace conveyor::scheduler
