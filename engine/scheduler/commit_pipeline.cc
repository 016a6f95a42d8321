#include "engine/scheduler/commit_pipeline.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "engine/scheduler/start_policy.h"

namespace conveyor::scheduler {
namespace {

// Up to this many transitions, a batch with nothing queued ahead of it commits on the caller's
// thread: handing it over would cost a thread wake-up on the path from one task's end to the
// next one's start, and there is little to overlap with.
constexpr size_t kInlineTransitions = 32;
// Wake-ups committed in one transaction by the writer, at most.
constexpr size_t kGroupAtMost = 256;

}  // namespace

CommitPipeline::CommitPipeline(store::RunStore& store, std::function<void(exec::TaskLaunch)> launch,
                               std::function<void()> committed, JournalStarts journal_starts)
    : store_(store),
      launch_(std::move(launch)),
      committed_(std::move(committed)),
      journal_starts_(std::move(journal_starts)) {
  writer_ = std::thread([this] { WriterLoop(); });
}

CommitPipeline::~CommitPipeline() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_one();
  writer_.join();
}

void CommitPipeline::Submit(CommitWork work, bool urgent) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!error_.ok()) return;  // a batch after a failed one would break the order of writes
    if (!urgent || writing_ || !queue_.empty() || work.transitions.size() > kInlineTransitions) {
      queue_.push_back(std::move(work));
      lock.unlock();
      work_ready_.notify_one();
      return;
    }
    writing_ = true;
  }
  std::vector<CommitWork> group;
  group.push_back(std::move(work));
  StartBeforeCommit(group.front());
  Commit(group);
  std::lock_guard<std::mutex> lock(mutex_);
  writing_ = false;
  drained_.notify_all();
}

void CommitPipeline::Committed(CommitWork work) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_transitions_.insert(done_transitions_.end(),
                             std::make_move_iterator(work.transitions.begin()),
                             std::make_move_iterator(work.transitions.end()));
    done_finished_.insert(done_finished_.end(), std::make_move_iterator(work.finished.begin()),
                          std::make_move_iterator(work.finished.end()));
  }
  for (auto& launch : work.launches) launch_(std::move(launch));
}

void CommitPipeline::StartBeforeCommit(CommitWork& work) {
  if (!journal_starts_) return;
  // Tries on Slurm are left to start after the commit: a job submitted and then forgotten by a
  // crash is not this machine's process, which the journal's reader can stop (start_policy.h).
  const auto local = std::stable_partition(
      work.launches.begin(), work.launches.end(), [](const exec::TaskLaunch& launch) {
        return StartOf(launch, CommitPath::kInline, true) != TryStart::kJournaledBeforeCommit;
      });
  if (local == work.launches.end()) return;
  std::vector<exec::TaskLaunch> now(std::make_move_iterator(local),
                                    std::make_move_iterator(work.launches.end()));
  work.launches.erase(local, work.launches.end());
  if (!journal_starts_(now)) {
    work.launches.insert(work.launches.end(), std::make_move_iterator(now.begin()),
                         std::make_move_iterator(now.end()));
    return;
  }
  for (exec::TaskLaunch& launch : now) launch_(std::move(launch));
}

void CommitPipeline::Commit(std::vector<CommitWork>& group) {
  // One batch for the group: a task instance that several of its wake-ups wrote (queued,
  // running, success) is written once, in its last state.
  store::WriteBatch& merged = group.front().batch;
  for (size_t i = 1; i < group.size(); ++i) merged.Append(std::move(group[i].batch));
  if (Status status = store_.Commit(merged); !status.ok()) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::move(status);
    return;
  }
  for (CommitWork& work : group) Committed(std::move(work));
}

void CommitPipeline::WriterLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    work_ready_.wait(lock, [this] { return stopping_ || (!queue_.empty() && !writing_); });
    if (queue_.empty()) return;  // stopping, with everything committed
    if (!error_.ok()) {
      queue_.clear();
      continue;
    }
    // Group commit: everything queued while the last transaction was written goes in this one.
    std::vector<CommitWork> group;
    while (!queue_.empty() && group.size() < kGroupAtMost) {
      group.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    writing_ = true;
    lock.unlock();
    Commit(group);
    lock.lock();
    // Nothing is pending for this commit once the loop is woken: a loop that wakes and finds
    // itself idle is, and does not wait for another wake-up.
    writing_ = false;
    notifying_ = true;
    lock.unlock();
    committed_();
    lock.lock();
    notifying_ = false;
    drained_.notify_all();
  }
}

Status CommitPipeline::TakeCommitted(std::vector<Transition>& transitions,
                                     std::vector<store::DagRunRecord>& finished) {
  std::lock_guard<std::mutex> lock(mutex_);
  transitions.insert(transitions.end(), std::make_move_iterator(done_transitions_.begin()),
                     std::make_move_iterator(done_transitions_.end()));
  done_transitions_.clear();
  finished.insert(finished.end(), std::make_move_iterator(done_finished_.begin()),
                  std::make_move_iterator(done_finished_.end()));
  done_finished_.clear();
  return error_;
}

bool CommitPipeline::Pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return error_.ok() &&
         (writing_ || !queue_.empty() || !done_transitions_.empty() || !done_finished_.empty());
}

void CommitPipeline::Wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  drained_.wait(lock,
                [this] { return (queue_.empty() || !error_.ok()) && !writing_ && !notifying_; });
}

}  // namespace conveyor::scheduler
