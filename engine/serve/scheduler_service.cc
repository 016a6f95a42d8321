#include "engine/serve/scheduler_service.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "engine/scheduler/cron_runs.h"
#include "engine/scheduler/run_driver.h"
#include "engine/store/lease.h"
#include "engine/store/records_json.h"

namespace conveyor::serve {
namespace {

constexpr std::size_t kErrorExcerptBytes = 2000;
// Runs created per transaction when many DAGs are due at once.
constexpr std::size_t kCreateInChunksOf = 25;
// Run keys reserved at once: one write to the database for this many runs created.
constexpr int kReserveRunKeys = 1024;

// The end of a try's log: what a person reading an alert wants first.
std::string LogTail(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  const std::streamoff start =
      std::max<std::streamoff>(0, size - static_cast<std::streamoff>(kErrorExcerptBytes));
  in.seekg(start);
  std::string text(static_cast<std::size_t>(size - start), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  return text;
}

}  // namespace

SchedulerService::SchedulerService(store::StateStore& store, const exec::OperatorRegistry& registry,
                                   exec::ProcessRunner& processes, graph::DagFolder& dags,
                                   const Clock& clock, SchedulerOptions options,
                                   std::function<void(const scheduler::Transition&)> observer,
                                   WebhookSender* webhooks)
    : store_(store),
      dags_(dags),
      clock_(clock),
      options_(std::move(options)),
      observer_(std::move(observer)),
      webhooks_(webhooks),
      deadlines_(store, webhooks, options_.metrics, options_.base_url, options_.loop.who) {
  options_.loop.clock = &clock_;
  loop_ = std::make_unique<scheduler::RunLoop>(
      store_, registry, processes, options_.loop,
      [this](const scheduler::Transition& t) { OnTransition(t); });
}

SchedulerService::~SchedulerService() = default;

Status SchedulerService::Start() {
  int previous = 0;
  const auto now = clock_.PreciseNow();
  auto acquired = store_.AcquireSchedulerLease(getpid(), now, now - store::kLeaseStaleAfter,
                                               &scheduler::ProcessAlive, &previous);
  if (!acquired.ok()) return acquired.error();
  if (!*acquired) {
    return Error{
        ErrorCode::kAlreadyExists,
        "another conveyor serve (pid " + std::to_string(previous) + ") is running on this database",
        {}};
  }
  last_heartbeat_ = now;
  dags_.ReloadAll();
  return Status::Ok();
}

void SchedulerService::RequestStop() {
  stop_ = true;
  loop_->Wake();
}

void SchedulerService::RequestReload() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    reload_all_ = true;
  }
  loop_->Wake();
}

void SchedulerService::FilesChanged(std::vector<std::string> paths) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::string& path : paths) {
      if (path.size() > 4 && path.compare(path.size() - 4, 4, "-wal") == 0) {
        // Every commit, this process's own included, touches the log: one wake-up until the
        // next round has looked is enough.
        wake = wake || !db_changed_;
        db_changed_ = true;
      } else if (!path.empty() && path.back() == '/') {
        reload_all_ = true;
        wake = true;
      } else {
        changed_files_.push_back(std::move(path));
        wake = true;
      }
    }
  }
  if (wake) loop_->Wake();
}

Status SchedulerService::SyncDagFiles() {
  std::vector<std::string> changed;
  bool all = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    changed.swap(changed_files_);
    all = reload_all_;
    reload_all_ = false;
  }
  if (all) {
    dags_.ReloadAll();
  } else if (!changed.empty()) {
    dags_.Reload(std::move(changed));
  }
  if (dags_.generation() == synced_generation_) return Status::Ok();
  synced_generation_ = dags_.generation();
  if (options_.shared_dags != nullptr) options_.shared_dags->Publish(MakeSnapshot(dags_));
  const auto now = clock_.PreciseNow();
  const auto files = dags_.Files();
  if (options_.metrics != nullptr) {
    options_.metrics->SetDagFiles(
        static_cast<int>(files.size()),
        static_cast<int>(std::count_if(files.begin(), files.end(),
                                       [](const auto& file) { return !file.error.empty(); })));
  }
  for (const graph::DagFolder::FileStatus& file : files) {
    if (Status s = store_.RecordDagParse(file.dag_id, file.path, file.error,
                                         options_.dags_are_paused_at_creation, now);
        !s.ok()) {
      return s;
    }
    if (!file.error.empty()) {
      spdlog::error("{}{}", file.error,
                    file.has_good_version ? " (the last good version stays scheduled)" : "");
    }
  }
  next_.clear();  // schedules may have changed: look at every DAG again
  runs_dirty_ = true;
  return ReadPausedFlags();
}

Status SchedulerService::ReadPausedFlags() {
  auto records = store_.ListDags();
  if (!records.ok()) return records.error();
  for (const store::DagRecord& record : *records) {
    auto [it, inserted] = paused_.try_emplace(record.dag_id, record.is_paused);
    if (!inserted && it->second != record.is_paused) {
      it->second = record.is_paused;
      next_.erase(record.dag_id);  // unpaused: catch up now
      spdlog::info("DAG {} {}", record.dag_id, record.is_paused ? "paused" : "unpaused");
    }
  }
  return Status::Ok();
}

Status SchedulerService::CreateDueRuns(Instant now, std::optional<Instant>& next_due,
                                       std::optional<Instant> commit_at) {
  // The runs first: what else the loop writes meanwhile waits until they are all created.
  loop_->HoldCommits();
  CreatedRuns created;
  Status status = CreateDueRunsHeld(now, next_due, commit_at, created);
  loop_->ReleaseCommits();
  for (const auto& [run_id, dag_id] : created) spdlog::info("created run {} of {}", run_id, dag_id);
  return status;
}

Status SchedulerService::CreateDueRunsHeld(Instant now, std::optional<Instant>& next_due,
                                           std::optional<PreciseInstant> commit_at,
                                           CreatedRuns& created) {
  std::optional<std::map<std::string, int>> active;  // dag_id -> queued or running runs
  std::vector<store::NewRun> planned;
  std::vector<std::shared_ptr<const graph::LoadedDag>> planned_dags;
  scheduler::DueIntervalsMemo memo;  // DAGs on the same schedule share the cron arithmetic
  for (const auto& dag : dags_.Dags()) {
    const std::string& id = dag->dag.dag_id;
    if (dag->dag.timetable.schedule().kind() == cron::Schedule::Kind::kNone) continue;
    if (auto paused = paused_.find(id); paused == paused_.end() || paused->second) continue;
    if (auto it = next_.find(id); it != next_.end()) {
      if (!it->second) continue;  // nothing ever due again
      if (*it->second > now) {
        if (!next_due || *it->second < *next_due) next_due = *it->second;
        continue;
      }
    }
    if (!active) {
      active.emplace();
      for (const auto run_state : {state::RunState::kQueued, state::RunState::kRunning}) {
        store::RunFilter filter;
        filter.state = run_state;
        filter.limit = 1000000;
        auto runs = store_.ListRuns(filter, nullptr);
        if (!runs.ok()) return runs.error();
        for (const auto& run : *runs) ++(*active)[run.dag_id];
      }
    }
    // Airflow creates runs only while the DAG has room for them under max_active_runs.
    const int room = dag->dag.max_active_runs - (*active)[id];
    std::optional<std::optional<Instant>> latest;
    if (auto known = latest_.find(id); known != latest_.end()) latest = known->second;
    auto plan = scheduler::PlanDueRuns(store_, *dag, now, room, latest, &memo);
    if (!plan.ok()) return plan.error();
    std::optional<Instant>& newest = latest_[id];
    if (latest) newest = *latest;
    for (store::NewRun& run : plan->runs) {
      if (!newest || *run.run.logical_date > *newest) newest = run.run.logical_date;
      planned.push_back(std::move(run));
      planned_dags.push_back(dag);
    }
    next_[id] = plan->next_due;
    if (static_cast<int>(plan->runs.size()) >= room) {
      limited_.insert(id);
    } else {
      limited_.erase(id);
    }
    if (plan->next_due && (!next_due || *plan->next_due < *next_due)) next_due = plan->next_due;
    // Many DAGs due at once: start the first ones' tasks while the rest are being planned; if
    // they are prepared ahead, all in one transaction unless their time has come meanwhile.
    if (planned.size() >= kCreateInChunksOf && (!commit_at || clock_.PreciseNow() >= *commit_at)) {
      if (Status s = CreatePlannedRuns(planned, planned_dags, commit_at, created); !s.ok()) {
        return s;
      }
    }
  }
  return CreatePlannedRuns(planned, planned_dags, commit_at, created);
}

Status SchedulerService::CreatePlannedRuns(
    std::vector<store::NewRun>& planned,
    std::vector<std::shared_ptr<const graph::LoadedDag>>& planned_dags,
    std::optional<PreciseInstant> commit_at, CreatedRuns& created) {
  if (planned.empty()) return Status::Ok();
  // One transaction for the chunk: the runs, leased to this process and written running, and the
  // start of their first tasks, which the workers get as soon as it commits.
  // A round prepared ahead is written as of the time it commits, when its interval ends.
  const store::TimePoint now = std::max(clock_.PreciseNow(), commit_at.value_or(PreciseInstant{}));
  for (store::NewRun& run : planned) {
    run.run.state = state::RunState::kRunning;
    run.run.start_date = now;
  }
  auto first_key = TakeRunKeys(static_cast<int>(planned.size()));
  if (!first_key.ok()) return first_key.error();
  std::vector<const store::NewRun*> runs;
  for (size_t i = 0; i < planned.size(); ++i) {
    store::NewRun& run = planned[i];
    run.run.id = *first_key + static_cast<store::RunKey>(i);
    for (auto& ti : run.tasks) ti.run = run.run.id;
    runs.push_back(&run);
  }
  scheduler::CommitWork start = loop_->AdmitCreated(planned_dags, runs, now);
  // A round prepared ahead is committed when its interval ends, and nobody sees it before.
  if (commit_at) clock_.SleepUntil(*commit_at);
  loop_->StartBeforeCreation(start);
  auto made = store_.CreateRunsIfAbsent(planned, getpid(), now, std::move(start.batch));
  if (!made.ok()) {
    std::set<store::RunKey> admitted;  // none was created: the loop forgets them all
    for (const store::NewRun& run : planned) admitted.insert(run.run.id);
    loop_->StartCreated(std::move(start), admitted);
    return made.error();
  }
  std::set<store::RunKey> existed;  // another process made them first
  for (size_t i = 0; i < planned.size(); ++i) {
    const store::NewRun& run = planned[i];
    if (!(*made)[i]) {
      existed.insert(run.run.id);
      continue;
    }
    active_[run.run.id] = run.run.dag_id;
    created.emplace_back(run.run.run_id, run.run.dag_id);
  }
  loop_->StartCreated(std::move(start), existed);
  planned.clear();
  planned_dags.clear();
  // What the workers reported meanwhile frees their room, if the next chunk's tasks need it.
  if (loop_->HasRoomFor(static_cast<int>(kCreateInChunksOf))) return Status::Ok();
  return loop_->Poll(PreciseInstant{});
}

Result<store::RunKey> SchedulerService::TakeRunKeys(int n) {
  if (reserved_keys_ < n) {
    const int block = std::max(n, kReserveRunKeys);
    auto first = store_.ReserveRunKeys(block);
    if (!first.ok()) return first.error();
    next_key_ = *first;
    reserved_keys_ = block;
  }
  const store::RunKey first = next_key_;
  next_key_ += n;
  reserved_keys_ -= n;
  return first;
}

Status SchedulerService::StartRuns() {
  runs_dirty_ = false;
  std::map<std::string, int> running;  // dag_id -> runs running, here or elsewhere
  std::vector<store::DagRunRecord> candidates;
  for (const auto run_state : {state::RunState::kRunning, state::RunState::kQueued}) {
    store::RunFilter filter;
    filter.state = run_state;
    filter.oldest_first = true;
    filter.limit = 100000;
    auto runs = store_.ListRuns(filter, nullptr);
    if (!runs.ok()) return runs.error();
    for (const store::DagRunRecord& run : *runs) {
      if (run_state == state::RunState::kRunning) ++running[run.dag_id];
      if (active_.count(run.id) == 0) candidates.push_back(run);
    }
  }
  const auto now = clock_.PreciseNow();
  runs_waiting_ = 0;
  int added = 0;
  for (const store::DagRunRecord& run : candidates) {
    auto dag = dags_.Find(run.dag_id);
    if (!dag) continue;  // its file is gone or never loaded: the run waits
    const bool queued = run.state == state::RunState::kQueued;
    if (queued && running[run.dag_id] >= dag->dag.max_active_runs) {
      ++runs_waiting_;
      continue;
    }
    int previous = 0;
    auto acquired = store_.AcquireLease(run.id, getpid(), now, now - store::kLeaseStaleAfter,
                                        &scheduler::ProcessAlive, &previous);
    if (!acquired.ok()) return acquired.error();
    if (!*acquired) continue;  // a CLI runs it
    if (Status s = loop_->AddRun(dag, run.id); !s.ok()) {
      (void)store_.ReleaseLease(run.id, getpid());
      return s;
    }
    active_[run.id] = run.dag_id;
    if (queued) ++running[run.dag_id];
    ++added;
    spdlog::info("{} run {} of {}", queued ? "started" : "resumed", run.run_id, run.dag_id);
  }
  // Commit and hand the first tasks to the workers now, without waiting.
  return added > 0 ? loop_->Poll(PreciseInstant{}) : Status::Ok();
}

Result<std::optional<Instant>> SchedulerService::Tick() {
  if (Status s = SyncDagFiles(); !s.ok()) return s.error();
  bool db_changed = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    db_changed = db_changed_;
    db_changed_ = false;
  }
  if (db_changed || data_version_ < 0) {
    auto version = store_.DataVersion();
    if (!version.ok()) return version.error();
    if (*version != data_version_) {
      data_version_ = *version;
      runs_dirty_ = true;
      latest_.clear();  // a backfill elsewhere may have added runs
      if (Status s = ReadPausedFlags(); !s.ok()) return s.error();
    }
  }
  for (const store::DagRunRecord& finished : loop_->TakeFinishedRuns()) OnRunFinished(finished);
  std::optional<Instant> next_due;
  if (!stop_) {
    std::optional<Instant> prepare_for;
    if (options_.prepare_runs_ahead.count() > 0 && upcoming_) {
      const PreciseInstant now = clock_.PreciseNow();
      if (now < *upcoming_ && now >= *upcoming_ - options_.prepare_runs_ahead) {
        prepare_for = upcoming_;
      }
    }
    if (Status s = CreateDueRuns(prepare_for.value_or(clock_.Now()), next_due, prepare_for);
        !s.ok()) {
      return s.error();
    }
    upcoming_ = next_due;
    if (runs_dirty_) {
      if (Status s = StartRuns(); !s.ok()) return s.error();
    }
    auto deadline = deadlines_.Check(dags_.Dags(), clock_.PreciseNow());
    if (!deadline.ok()) return deadline.error();
    next_deadline_ = *deadline;
  }
  return next_due;
}

void SchedulerService::OnRunFinished(const store::DagRunRecord& run) {
  // The run's final write released its lease.
  active_.erase(run.id);
  // A slot is free under max_active_runs: for runs the schedule held back, and queued ones.
  if (limited_.count(run.dag_id) != 0) next_.erase(run.dag_id);
  if (runs_waiting_ > 0) runs_dirty_ = true;
  spdlog::info("run {} of {}: {}", run.run_id, run.dag_id, state::Name(run.state));
  const auto dag = dags_.Find(run.dag_id);
  if (!dag) return;
  const bool success = run.state == state::RunState::kSuccess;
  nlohmann::json payload = {
      {"event", success ? "on_success" : "on_failure"},
      {"dag_id", run.dag_id},
      {"dag_run_id", run.run_id},
      {"task_id", nullptr},
      {"state", std::string(state::Name(run.state))},
      {"logical_date", store::DateToJson(run.logical_date)},
      {"url", options_.base_url + "/api/v1/dags/" + run.dag_id + "/dagRuns/" + run.run_id}};
  if (!success) {
    std::vector<std::string> failed;
    if (auto tis = store_.ListTaskInstances(run.id); tis.ok()) {
      for (const auto& ti : *tis) {
        if (state::IsFailure(ti.state)) failed.push_back(ti.task_id);
      }
    }
    payload["failed_tasks"] = failed;
  }
  CallWebhooks(success ? dag->dag.callbacks.on_success : dag->dag.callbacks.on_failure,
               std::move(payload));
}

void SchedulerService::OnTransition(const scheduler::Transition& t) {
  if (observer_) observer_(t);
  if (options_.metrics != nullptr && t.duration_seconds) {
    options_.metrics->ObserveTaskDuration(t.dag_id, t.task_id, *t.duration_seconds);
  }
  const char* event = nullptr;
  const dag::Callbacks* callbacks = nullptr;
  const auto dag = dags_.Find(t.dag_id);
  if (!dag) return;
  const int index = dag->dag.TaskIndex(t.task_id);
  if (index < 0) return;
  callbacks = &dag->dag.tasks[index].callbacks;
  const std::vector<dag::Callback>* targets = nullptr;
  if (t.to == state::TaskState::kFailed) {
    event = "on_failure";
    targets = &callbacks->on_failure;
  } else if (t.to == state::TaskState::kUpForRetry) {
    event = "on_retry";
    targets = &callbacks->on_retry;
  } else if (t.to == state::TaskState::kSuccess) {
    event = "on_success";
    targets = &callbacks->on_success;
  }
  if (targets == nullptr || targets->empty()) return;
  const std::string log_path = scheduler::TryFile(options_.loop.log_dir, t.dag_id, t.run_id,
                                                  t.task_id, t.try_number, ".log");
  std::string error;
  if (t.to != state::TaskState::kSuccess) {
    error = LogTail(log_path);
    if (error.empty()) error = t.message;
  }
  CallWebhooks(*targets, {{"event", event},
                          {"dag_id", t.dag_id},
                          {"dag_run_id", t.run_id},
                          {"task_id", t.task_id},
                          {"state", std::string(state::Name(t.to))},
                          {"try_number", t.try_number},
                          {"logical_date", store::DateToJson(t.logical_date)},
                          {"log_url", options_.base_url + "/api/v1/dags/" + t.dag_id + "/dagRuns/" +
                                          t.run_id + "/taskInstances/" + t.task_id + "/logs/" +
                                          std::to_string(t.try_number)},
                          {"message", t.message},
                          {"error", error}});
}

void SchedulerService::CallWebhooks(const std::vector<dag::Callback>& callbacks,
                                    nlohmann::json payload) {
  if (webhooks_ == nullptr) return;
  for (const dag::Callback& callback : callbacks) webhooks_->Post(callback.webhook, payload);
}

Status SchedulerService::Run() {
  while (!stop_) {
    const auto round_started = std::chrono::steady_clock::now();
    auto next_due = Tick();
    if (options_.metrics != nullptr) {
      options_.metrics->ObserveSchedulerLoop(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - round_started).count());
      options_.metrics->SetQueueDepth(loop_->ready_count());
      options_.metrics->SetPoolSlots(loop_->pool_used(), options_.loop.pools);
      options_.metrics->SetResources(loop_->resources().capacity(), loop_->resources().in_use());
      options_.metrics->SetSchedulerHeartbeat(
          std::chrono::duration<double>(clock_.PreciseNow().time_since_epoch()).count());
    }
    if (!next_due.ok()) return next_due.error();
    std::optional<PreciseInstant> until = clock_.PreciseNow() + options_.loop.heartbeat_every;
    if (*next_due) {
      until = std::min<PreciseInstant>(*until, **next_due - options_.prepare_runs_ahead);
    }
    if (next_deadline_) until = std::min(*until, *next_deadline_);
    {
      // A change seen while this round ran, whose wake-up a Poll inside the round took.
      std::lock_guard<std::mutex> lock(mutex_);
      if (db_changed_ || reload_all_ || !changed_files_.empty()) {
        until = PreciseInstant{};
      }
    }
    if (stop_) break;
    if (!loop_->Busy()) {
      auto checkpointed = store_.CheckpointIfWritten();
      if (!checkpointed.ok()) return checkpointed.error();
      // The log restarts, and is synced, at the next commit: this heartbeat's, now, rather than
      // the first of the next burst of runs.
      if (*checkpointed) last_heartbeat_ = PreciseInstant{};
    }
    if (const PreciseInstant now = clock_.PreciseNow();
        now - last_heartbeat_ >= options_.loop.heartbeat_every) {
      last_heartbeat_ = now;
      (void)store_.SchedulerHeartbeat(getpid(), now);
      runs_dirty_ = true;  // a CLI that ran a run may have died: take it over
    }
    if (Status s = loop_->Poll(until); !s.ok()) return s;
  }
  spdlog::info("stopping: no new tasks start; running ones have {} ms to finish",
               options_.shutdown_grace.count());
  auto unfinished = loop_->Shutdown(options_.shutdown_grace);
  if (!unfinished.ok()) return unfinished.error();
  for (const store::DagRunRecord& finished : loop_->TakeFinishedRuns()) OnRunFinished(finished);
  for (store::RunKey run : *unfinished) (void)store_.ReleaseLease(run, getpid());
  if (!unfinished->empty()) {
    spdlog::info("{} unfinished run(s) will resume when conveyor serve starts again",
                 unfinished->size());
  }
  return store_.ReleaseSchedulerLease(getpid());
}

Status SchedulerService::RunUntilIdle() {
  while (true) {
    for (const store::DagRunRecord& finished : loop_->TakeFinishedRuns()) {
      OnRunFinished(finished);
    }
    if (!loop_->Busy()) return Status::Ok();
    // Without a deadline: a poll whose step leaves nothing to do returns instead of waiting.
    if (Status s = loop_->Poll(std::nullopt); !s.ok()) return s;
  }
}

}  // namespace conveyor::serve
