#pragma once

#include <atomic>
#include <chrono>
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
#include "engine/graph/dag_folder.h"
#include "engine/scheduler/run_loop.h"
#include "engine/serve/dag_snapshot.h"
#include "engine/serve/deadline_watch.h"
#include "engine/serve/metrics.h"
#include "engine/serve/webhook_sender.h"
#include "engine/store/state_store.h"

namespace conveyor::serve {

struct SchedulerOptions {
  scheduler::RunLoopOptions loop;
  bool dags_are_paused_at_creation = true;
  // On stop: how long running tries may go on before they are stopped and noted as interrupted.
  std::chrono::milliseconds shutdown_grace{30000};
  // Base of the log links sent to webhooks, e.g. "http://127.0.0.1:8080".
  std::string base_url = "http://127.0.0.1:8080";
  // Where the DAGs are published for the HTTP threads, and the metrics; either may be null.
  SharedDags* shared_dags = nullptr;
  Metrics* metrics = nullptr;
  // How long before a schedule interval ends its runs are prepared: written in one transaction
  // that commits when the interval ends, so that their first tasks start then, not a round of
  // database work later. Zero: created when the interval ends. The clock says when to prepare,
  // and the commit sleeps on it.
  std::chrono::milliseconds prepare_runs_ahead{0};
};

// The long-running scheduler of `conveyor serve` (Airflow's scheduler job): it keeps the DAG
// folder loaded, creates a run for every schedule interval that ends, starts queued runs within
// max_active_runs, runs them on one RunLoop, resumes runs interrupted by a crash, and calls the
// webhooks of failures, successes and retries. It sleeps until the next interval ends or
// something happens: a task ends, a DAG file changes, another process writes the database.
class SchedulerService {
 public:
  SchedulerService(store::StateStore& store, const exec::OperatorRegistry& registry,
                   exec::ProcessRunner& processes, graph::DagFolder& dags, const Clock& clock,
                   SchedulerOptions options,
                   std::function<void(const scheduler::Transition&)> observer,
                   WebhookSender* webhooks);
  ~SchedulerService();

  // Takes the database's scheduler lease (refused while another live serve holds it) and loads
  // the DAG folder.
  Status Start();
  // One round: reloads changed files, creates the runs that are due, starts queued and
  // interrupted runs. Returns when the next schedule interval ends, if any does.
  Result<std::optional<Instant>> Tick();
  // Rounds until RequestStop(), then the clean shutdown; releases the lease.
  Status Run();
  // Polls the run loop until no run is active (tests drive Tick and this with a fake clock).
  Status RunUntilIdle();

  // Thread-safe notifications.
  void RequestStop();
  void RequestReload();
  // Paths from the file watcher: DAG files, or the database's write-ahead log.
  void FilesChanged(std::vector<std::string> paths);

  // The runs this process is running now.
  int active_runs() const { return static_cast<int>(active_.size()); }

 private:
  Status SyncDagFiles();
  Status ReadPausedFlags();
  // With `commit_at`, the runs due at `now` are being prepared ahead and take effect then.
  Status CreateDueRuns(Instant now, std::optional<Instant>& next_due,
                       std::optional<Instant> commit_at);
  // `created` receives each new run (run id, DAG id), logged once the burst is over.
  using CreatedRuns = std::vector<std::pair<std::string, std::string>>;
  Status CreateDueRunsHeld(Instant now, std::optional<Instant>& next_due,
                           std::optional<PreciseInstant> commit_at, CreatedRuns& created);
  Status CreatePlannedRuns(std::vector<store::NewRun>& planned,
                           std::vector<std::shared_ptr<const graph::LoadedDag>>& planned_dags,
                           std::optional<PreciseInstant> commit_at, CreatedRuns& created);
  // The first of `n` run keys reserved for this process (store::RunStore::ReserveRunKeys), taken
  // from the database a block at a time.
  Result<store::RunKey> TakeRunKeys(int n);
  Status StartRuns();
  void OnTransition(const scheduler::Transition& transition);
  void OnRunFinished(const store::DagRunRecord& run);
  void CallWebhooks(const std::vector<dag::Callback>& callbacks, nlohmann::json payload);

  store::StateStore& store_;
  graph::DagFolder& dags_;
  const Clock& clock_;
  SchedulerOptions options_;
  std::function<void(const scheduler::Transition&)> observer_;
  WebhookSender* webhooks_;
  std::unique_ptr<scheduler::RunLoop> loop_;
  DeadlineWatch deadlines_;
  std::optional<PreciseInstant> next_deadline_;  // of an unfinished run, when one is known

  std::map<store::RunKey, std::string> active_;  // runs held here -> dag_id
  store::RunKey next_key_ = 0;  // run keys reserved and not yet used: next_key_ on,
  int reserved_keys_ = 0;       // this many
  std::map<std::string, std::optional<Instant>> next_;  // dag_id -> next cron check; absent: now
  std::map<std::string, bool> paused_;
  // dag_id -> logical date of its latest scheduled or backfill run, as far as this process knows.
  std::map<std::string, std::optional<Instant>> latest_;
  std::uint64_t synced_generation_ = ~0ull;
  std::int64_t data_version_ = -1;
  bool runs_dirty_ = true;         // queued or interrupted runs may be waiting
  int runs_waiting_ = 0;           // queued runs the last StartRuns left waiting
  std::set<std::string> limited_;  // DAGs whose due runs were capped by max_active_runs
  PreciseInstant last_heartbeat_;
  std::optional<Instant> upcoming_;  // when the next schedule interval ends

  std::mutex mutex_;
  std::vector<std::string> changed_files_;  // GUARDED_BY(mutex_)
  bool reload_all_ = false;                 // GUARDED_BY(mutex_)
  bool db_changed_ = false;                 // GUARDED_BY(mutex_)
  std::atomic<bool> stop_{false};
};

}  // namespace conveyor::serve
