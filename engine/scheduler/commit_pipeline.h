#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/common/error.h"
#include "engine/exec/executor.h"
#include "engine/scheduler/transition.h"
#include "engine/store/run_store.h"

namespace conveyor::scheduler {

// One wake-up of the run loop on its way to the database: its writes, the tries that start once
// they are committed, and what the loop reports once they are.
struct CommitWork {
  store::WriteBatch batch;
  std::vector<exec::TaskLaunch> launches;
  std::vector<Transition> transitions;
  std::vector<store::DagRunRecord> finished;  // runs whose final state is in `batch`
};

// Commits the run loop's batches in order and starts each batch's tries once it is committed.
// An urgent small batch with nothing ahead of it (a worker waits for it: a chain's next task)
// commits at once on the caller's thread; the others go to a writer thread, which commits
// everything queued while it wrote the last transaction in the next one (group commit), while
// the loop plans its next wake-up. Submit, TakeCommitted, Pending and Wait are called by the
// thread running the loop's step (its own, or a worker's while its own waits), one at a time.
class CommitPipeline {
 public:
  // `launch` starts a committed try; it is called from either thread. `committed` is called on
  // the writer thread after each of its commits, to wake the loop. `journal_starts`, when set,
  // lets a batch committed on the caller's thread start its local tries before its commit, while
  // the commit is written: it records the tries in the runs' start journals (start_journal.h)
  // and returns whether it did; when it did not, they start after the commit, as the others.
  using JournalStarts = std::function<bool(const std::vector<exec::TaskLaunch>& launches)>;
  CommitPipeline(store::RunStore& store, std::function<void(exec::TaskLaunch)> launch,
                 std::function<void()> committed, JournalStarts journal_starts = nullptr);
  // Commits what is queued, then stops the writer.
  ~CommitPipeline();
  CommitPipeline(const CommitPipeline&) = delete;
  CommitPipeline& operator=(const CommitPipeline&) = delete;

  void Submit(CommitWork work, bool urgent);
  // Work the caller committed in a transaction of its own, one that wrote no row a batch still
  // queued here writes (the first writes of runs being created): its tries start now and its
  // transitions are reported with the others.
  void Committed(CommitWork work);
  // Moves out what has been committed since the last call. After a failed commit, returns its
  // error; that batch and every later one are neither committed nor launched.
  Status TakeCommitted(std::vector<Transition>& transitions,
                       std::vector<store::DagRunRecord>& finished);
  // Work queued, being committed, or committed and not yet taken.
  bool Pending() const;
  // Blocks until nothing is pending and the writer has reported its last commit.
  void Wait();

 private:
  void Commit(std::vector<CommitWork>& group);  // in one transaction, with mutex_ not held
  // Starts the work's local tries now if their starts are journaled; takes them out of `work`.
  void StartBeforeCommit(CommitWork& work);
  void WriterLoop();

  store::RunStore& store_;
  std::function<void(exec::TaskLaunch)> launch_;
  std::function<void()> committed_;
  JournalStarts journal_starts_;

  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable drained_;
  std::deque<CommitWork> queue_;  // GUARDED_BY(mutex_)
  bool writing_ = false;          // GUARDED_BY(mutex_)
  bool notifying_ = false;  // GUARDED_BY(mutex_): the writer calls `committed` for its last commit
  bool stopping_ = false;   // GUARDED_BY(mutex_)
  Status error_ = Status::Ok();                     // GUARDED_BY(mutex_)
  std::vector<Transition> done_transitions_;        // GUARDED_BY(mutex_)
  std::vector<store::DagRunRecord> done_finished_;  // GUARDED_BY(mutex_)
  std::thread writer_;
};

}  // namespace conveyor::scheduler
