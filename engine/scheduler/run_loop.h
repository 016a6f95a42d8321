#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/common/clock.h"
#include "engine/common/error.h"
#include "engine/exec/executor.h"
#include "engine/graph/dag_bag.h"
#include "engine/scheduler/commit_pipeline.h"
#include "engine/scheduler/ready_queue.h"
#include "engine/scheduler/resource_ledger.h"
#include "engine/scheduler/run_files.h"
#include "engine/scheduler/run_plan.h"
#include "engine/scheduler/start_journal.h"
#include "engine/scheduler/step_ownership.h"
#include "engine/scheduler/transition.h"
#include "engine/slurm/slurm_executor.h"
#include "engine/store/state_store.h"

namespace conveyor::scheduler {

struct RunLoopOptions {
  int workers = 4;  // tasks running at once
  // Tasks handed to the workers beyond those running (state queued), per worker, so that a
  // worker never waits for the scheduler, each commit carries many transitions, and the next
  // wake-up's tasks are planned while this one's commit is written. With 2 workers or more,
  // enough for a burst of cron runs to fill the default pool's 128 slots in one commit.
  int queue_ahead = 64;
  // While the workers have tasks queued ahead, their reports are taken every half queue (or this
  // long after the loop went to sleep) rather than one by one: one wake-up and one commit for
  // many tasks, before the workers run short.
  std::chrono::milliseconds gather_reports_for{5};
  std::map<std::string, int> pools = {{"default", 128}};
  std::string log_dir = "logs";
  // A chain's next shell try starts before the commit of its `queued` state, written while it
  // runs, with its start journaled first (start_journal.h). Off with synchronous=FULL, whose
  // commits are synced to disk and the journal's lines are not: tries start after their commit.
  bool start_before_commit = true;
  exec::DataAccess data;         // the ML operators' data database, registry and artifacts
  std::string who = "conveyor";  // recorded in the event log
  std::chrono::milliseconds heartbeat_every{2000};
  // Where tasks run that do not choose (`executor:` in the DAG), and how Slurm is used.
  ExecutorKind default_executor = ExecutorKind::kLocal;
  slurm::SlurmSettings slurm;
  // Values of {{ secrets.NAME }} in tasks' env: (config `secrets:`).
  std::map<std::string, std::string> secrets;
  // What this machine offers the local executor's tries that ask for `resources:` (config
  // `resources:`); tries that ask for none are bound by workers and pools alone.
  dag::MachineResources machine;
  // Cached tasks of every run of this loop run instead of reusing a cached try (backfill
  // --no-cache); a run triggered with --no-cache says so itself.
  bool no_cache = false;
  // What the loop stamps and waits on; outlives the loop.
  const Clock* clock = &WallClock();
  // Makes the local executor instead of the worker pool (tests pass a fake), given the function
  // it reports through.
  std::function<std::unique_ptr<exec::Executor>(std::function<void(exec::TaskEvent)>)>
      make_local_executor;
};

// The scheduler's event loop (ninja's Builder): one thread at a time runs its step over every
// run's state (the owner, or a worker the owner lent the step to while it waits: StepOwnership);
// a step starts as many ready tasks as workers, pools and max_active_tasks allow, then the owner
// sleeps until a worker reports or a retry falls due. Each wake-up's transitions commit in one
// transaction, through a CommitPipeline that starts its shell tries once committed (in-process
// ones start at once). Not thread-safe: AddRun and Run are called from the owner's thread.
class RunLoop {
 public:
  // The loop reads and writes runs through `runs` and heartbeats their leases through `leases`.
  RunLoop(store::RunStore& runs, store::LeaseStore& leases, const exec::OperatorRegistry& registry,
          exec::ProcessRunner& processes, RunLoopOptions options,
          std::function<void(const Transition&)> observer);
  RunLoop(store::StateStore& store, const exec::OperatorRegistry& registry,
          exec::ProcessRunner& processes, RunLoopOptions options,
          std::function<void(const Transition&)> observer)
      : RunLoop(store, store, registry, processes, std::move(options), std::move(observer)) {}
  ~RunLoop();

  // Takes on a run whose lease this process holds. Tries left queued or running by a process
  // that died are noted as interrupted, their leftover processes killed, and their task
  // instances go back to scheduled without using up a retry. The run keeps the DAG version it
  // was added with.
  Status AddRun(std::shared_ptr<const graph::LoadedDag> dag, store::RunKey run);
  // For a caller that keeps `dag` alive until the run ends.
  Status AddRun(const graph::LoadedDag& dag, store::RunKey run);
  // The writes of AddRun commit with the next Poll's, in one transaction.

  // Runs this process is about to create with their reserved keys and its lease: admits them
  // (nothing to read back or recover) and picks what the workers and pools have room for among
  // their tasks. The caller commits the returned work's batch with the runs
  // (store::RunStore::CreateRunsIfAbsent), then StartCreated starts its tries; if that
  // transaction fails, StartCreated with every key withdraws them all.
  CommitWork AdmitCreated(const std::vector<std::shared_ptr<const graph::LoadedDag>>& dags,
                          const std::vector<const store::NewRun*>& runs, store::TimePoint at);
  // Starts the tries of `work` that start before their runs' transaction commits (StartOf,
  // CommitPath::kCreating): in-process ones, once the runs' time has come.
  void StartBeforeCreation(CommitWork& work);
  // `existed`: the keys of the runs AdmitCreated admitted that were there already, and so not
  // created; they are withdrawn, with their tries.
  void StartCreated(CommitWork work, const std::set<store::RunKey>& existed = {});
  // While held, each wake-up's writes, and the tries that start once they are committed, wait
  // in order and go to the pipeline at ReleaseCommits: a burst of new runs is created without
  // other writes between its chunks. Tasks that end meanwhile still free their room at once.
  void HoldCommits() { holding_ = true; }
  // Whether the local workers have room for `tasks` more tries without first applying what they
  // have reported.
  bool HasRoomFor(int tasks) const;
  void ReleaseCommits();

  // Runs until every added run has finished and its state is committed.
  Status Run();

  // One round: applies what the workers reported, starts what is ready, commits; then sleeps
  // until a worker reports, Wake() is called, a retry falls due or `until` passes.
  Status Poll(std::optional<PreciseInstant> until);
  // Ends a Poll early. Thread-safe.
  void Wake();
  // Runs added and not finished, or tries still out with the workers.
  bool Busy() const;
  // Task instances ready and waiting for a worker or a slot.
  int ready_count() const { return static_cast<int>(ready_.size()); }
  const std::map<std::string, int>& pool_used() const { return pool_used_; }
  // The machine's resources and what the running local tries hold of them.
  const ResourceLedger& resources() const { return resources_; }
  // Runs finished since the last call, as committed; the loop forgets them.
  std::vector<store::DagRunRecord> TakeFinishedRuns();
  // Clean shutdown: starts nothing more and lets running tries finish for up to `grace`; then
  // stops the rest (TERM, then KILL). A try cut short this way is not a failure: it gets a note
  // and its task instance goes back to scheduled without using up a retry, so the run resumes
  // where it stopped. Jobs already on Slurm are left running, for the next start to adopt.
  // Returns the runs left unfinished.
  Result<std::vector<store::RunKey>> Shutdown(std::chrono::milliseconds grace);

 private:
  struct ActiveRun {
    size_t index;
    std::shared_ptr<const graph::LoadedDag> dag;
    store::DagRunRecord record;
    RunPlan plan;
    nlohmann::json outputs;
    bool done = false;
    bool has_slurm_tasks = false;
    std::string work_dir{};               // its tries' working folder: the DAG file's
    std::vector<bool> runs_as_process{};  // per task: its operator's, asked once at Admit
  };
  struct InFlight {
    size_t run;
    int task;
    std::string pool;
    ExecutorKind executor;
    dag::Resources held;               // of resources_
    std::vector<std::string> gpu_ids;  // the GPUs given, as CUDA_VISIBLE_DEVICES names them
    std::string cache_key{};           // a cached task's: its success is recorded under it
    std::string reused_from{};         // the cached try it reused instead of running
  };

  Status Step(store::WriteBatch& batch, std::vector<Transition>& transitions);
  void Admit(std::unique_ptr<ActiveRun> run, store::TimePoint at, store::WriteBatch& batch,
             std::vector<Transition>& transitions);
  // Takes back runs admitted by AdmitCreated, and their launches and transitions in `work`.
  void Withdraw(const std::set<store::RunKey>& runs, CommitWork& work);
  void ApplyEvent(const exec::TaskEvent& event, store::WriteBatch& batch,
                  std::vector<Transition>& transitions);
  // A cached task's try: the key its success is recorded under, or the try it reused.
  struct CacheUse {
    std::string key;
    std::string reused_from;
  };
  void Finish(ActiveRun& run, int task, const exec::OperatorResult& result, store::TimePoint at,
              store::WriteBatch& batch, std::vector<Transition>& transitions,
              const CacheUse& cache = {});
  // For a task with `cache:`: computes the try's cache key and, unless the run was triggered with
  // --no-cache, reuses a fresh cached try under it: its outputs become this try's, which ends
  // `success` without running. False when the try must run.
  bool ReuseCachedTry(ActiveRun& run, int task_index, const exec::TaskLaunch& launch,
                      std::optional<nlohmann::json>& context, store::TimePoint at);
  void Interrupt(ActiveRun& run, int task, const std::string& why, store::TimePoint at,
                 store::WriteBatch& batch, std::vector<Transition>& transitions);
  void Settle(ActiveRun& run, store::WriteBatch& batch, std::vector<Transition>& transitions);
  // Records a task its upstream states (or a branch) just decided, with the reason as its note.
  void RecordDecided(ActiveRun& run, int task, state::TaskState from, store::WriteBatch& batch,
                     std::vector<Transition>& transitions);
  // Applies again what the run's branch and short-circuit tasks decided before it was resumed,
  // from their stored outputs.
  void RestoreDecisions(ActiveRun& run);
  void PromoteDueRetries(store::TimePoint now, store::WriteBatch& batch,
                         std::vector<Transition>& transitions);
  // depends_on_past: notes the run's tasks newly held on their past, to be checked.
  void TakeHeldOnPast(ActiveRun& run);
  // Releases the held tasks whose past is done, when a task ended since the last look or a
  // second has passed (the run before may be run by another process); notes why the others wait.
  void CheckPast(store::TimePoint now, store::WriteBatch& batch,
                 std::vector<Transition>& transitions);
  // Why `task` of `run` still waits for the run before (its note), or nullopt when it may run.
  std::string PastBlocker(const ActiveRun& run, int task);
  // Starts ready tasks while there is room; only those of `only_runs` when it is given.
  std::vector<exec::TaskLaunch> PickLaunches(store::TimePoint at, store::WriteBatch& batch,
                                             std::vector<Transition>& transitions,
                                             const std::set<size_t>* only_runs = nullptr);
  // A launch of the task's current try, not yet rendered; counted in flight from now on.
  exec::TaskLaunch NewLaunch(ActiveRun& run, int task, ExecutorKind executor);
  ExecutorKind ExecutorFor(const dag::Task& task) const;
  bool HasRoom(ExecutorKind executor) const;
  exec::Executor& ExecutorOf(ExecutorKind executor);
  std::vector<store::DagRunRecord> FinishRuns(store::TimePoint now, store::WriteBatch& batch);
  // Hands on what the pipeline has committed: transitions to the observer, finished runs to
  // TakeFinishedRuns.
  Status ReportCommitted();
  // Where the task waits while it is ready.
  ReadyQueue::Gate GateOf(const ActiveRun& run, int task) const;
  ReadyQueue::Key ReadyKeyOf(const ActiveRun& run, int task) const;
  void Record(ActiveRun& run, int task, state::TaskState from, store::WriteBatch& batch,
              std::vector<Transition>& transitions, const std::string& message = "");
  std::optional<store::TimePoint> NextDue() const;
  void Heartbeat();
  int MaxInFlight() const;
  // Whether a worker may be idle until a commit that starts `launching` tries is written: then
  // it is written at once, on this thread.
  bool WorkerMayWait(size_t launching) const;
  // Local tries handed out and not yet ended.
  size_t LocalInFlight() const;
  // Those beyond one per worker: work the workers have before they need more.
  size_t QueuedAhead() const;
  bool WaitsForAtShutdown() const;
  void Notify(exec::TaskEvent event);
  // Writes the launches' lines in their runs' start journals; whether every one was written.
  bool JournalStarts(const std::vector<exec::TaskLaunch>& launches);
  // Records, for a run being taken over, the tries its start journal names and the database
  // does not know, as interrupted; stops their processes first.
  Status RecoverJournaledStarts(ActiveRun& run);

  store::RunStore& store_;
  store::LeaseStore& leases_;
  const exec::OperatorRegistry& registry_;
  exec::ProcessRunner& processes_;
  RunLoopOptions options_;
  std::function<void(const Transition&)> observer_;
  std::map<size_t, std::unique_ptr<ActiveRun>> runs_;
  size_t next_run_index_ = 0;
  std::vector<store::DagRunRecord> finished_;
  bool stopping_ = false;      // Shutdown: start nothing more
  bool interrupting_ = false;  // Shutdown's grace is over: failures now are interruptions
  store::WriteBatch staged_;   // from AddRun, committed by the next Poll
  std::vector<Transition> staged_transitions_;
  std::map<std::uint64_t, InFlight> in_flight_;
  ReadyQueue ready_;
  std::multimap<store::TimePoint, std::pair<size_t, int>> retries_;  // due -> (run, task)
  std::vector<std::pair<size_t, int>> past_waits_;  // (run, task) held on depends_on_past
  store::TimePoint next_past_check_{};
  bool task_ended_since_past_check_ = false;
  std::map<std::string, int> pool_used_;
  ResourceLedger resources_;
  std::map<std::string, int> dag_running_;
  std::uint64_t next_launch_id_ = 1;
  std::string hostname_;
  const Clock& clock_;
  store::TimePoint last_heartbeat_;

  // Who runs the step: this loop's owner, or a worker reporting a try's end (step_ownership.h).
  StepOwnership ownership_;
  std::unique_ptr<exec::Executor> executor_;
  std::unique_ptr<exec::Executor> slurm_executor_;  // made when a task first needs it
  std::map<ExecutorKind, int> in_flight_by_executor_;
  int runs_with_slurm_tasks_ = 0;             // while 0, a full local pool ends PickLaunches' scan
  std::unique_ptr<CommitPipeline> pipeline_;  // launches into the executors above
  bool holding_ = false;
  std::vector<CommitWork> held_;
};

// The delay before the try after `failed_try` (1-based): retry_delay, doubled for each earlier
// try when retry_exponential_backoff is set, capped by max_retry_delay.
Duration RetryDelay(const dag::RetryPolicy& policy, int failed_try);

}  // namespace conveyor::scheduler
