#include "engine/scheduler/run_loop.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <utility>

#include "engine/exec/input_fingerprints.h"
#include "engine/exec/process_reaper.h"
#include "engine/scheduler/cache_key.h"
#include "engine/scheduler/recovery.h"
#include "engine/scheduler/start_policy.h"
#include "engine/scheduler/task_render.h"

namespace conveyor::scheduler {

using state::TaskState;

namespace {

const nlohmann::json kNoOutputs = nlohmann::json::object();

void AppendLog(const std::string& path, const std::string& line) {
  exec::EnsureParentFolder(path);
  std::ofstream(path, std::ios::app) << line << "\n";
}

}  // namespace

Duration RetryDelay(const dag::RetryPolicy& policy, int failed_try) {
  Duration delay = policy.retry_delay;
  if (policy.retry_exponential_backoff) {
    for (int i = 1; i < failed_try && delay < std::chrono::hours(24 * 365); ++i) delay *= 2;
  }
  if (policy.max_retry_delay) delay = std::min(delay, *policy.max_retry_delay);
  return delay;
}

RunLoop::RunLoop(store::RunStore& runs, store::LeaseStore& leases,
                 const exec::OperatorRegistry& registry, exec::ProcessRunner& processes,
                 RunLoopOptions options, std::function<void(const Transition&)> observer)
    : store_(runs),
      leases_(leases),
      registry_(registry),
      processes_(processes),
      options_(std::move(options)),
      observer_(std::move(observer)),
      resources_(options_.machine),
      clock_(*options_.clock),
      last_heartbeat_(clock_.PreciseNow()) {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  hostname_ = host;
  auto notify = [this](exec::TaskEvent event) { Notify(std::move(event)); };
  executor_ =
      options_.make_local_executor
          ? options_.make_local_executor(notify)
          : exec::MakeLocalExecutor(registry_, processes_, options_.workers, clock_, notify);
  // The Slurm executor, when a launch needs it, is made on this thread before the launch is
  // submitted: the pipeline's lock orders that before the writer thread reads the pointer.
  pipeline_ = std::make_unique<CommitPipeline>(
      store_,
      [this](exec::TaskLaunch launch) {
        exec::Executor& executor =
            launch.executor == ExecutorKind::kSlurm ? *slurm_executor_ : *executor_;
        executor.Launch(std::move(launch));
      },
      [this] { ownership_.CommitsReady(); },
      options_.start_before_commit
          ? CommitPipeline::JournalStarts([this](const std::vector<exec::TaskLaunch>& launches) {
              return JournalStarts(launches);
            })
          : nullptr);
}

RunLoop::~RunLoop() {
  pipeline_.reset();  // commits and launches what is queued while the executors still exist
  executor_->CancelAll();
  executor_.reset();  // joins the workers before the queue they post to goes away
  if (slurm_executor_) slurm_executor_->CancelAll();
  slurm_executor_.reset();
}

ExecutorKind RunLoop::ExecutorFor(const dag::Task& task) const {
  return task.executor == ExecutorKind::kDefault ? options_.default_executor : task.executor;
}

bool RunLoop::HasRoomFor(int tasks) const {
  auto it = in_flight_by_executor_.find(ExecutorKind::kLocal);
  const int used = it == in_flight_by_executor_.end() ? 0 : it->second;
  return used + tasks <= MaxInFlight();
}

bool RunLoop::HasRoom(ExecutorKind executor) const {
  auto it = in_flight_by_executor_.find(executor);
  const int used = it == in_flight_by_executor_.end() ? 0 : it->second;
  return used < (executor == ExecutorKind::kSlurm ? options_.slurm.max_jobs : MaxInFlight());
}

exec::Executor& RunLoop::ExecutorOf(ExecutorKind executor) {
  if (executor != ExecutorKind::kSlurm) return *executor_;
  if (!slurm_executor_) {
    slurm_executor_ = slurm::MakeSlurmExecutor(
        options_.slurm, clock_, [this](exec::TaskEvent event) { Notify(std::move(event)); });
  }
  return *slurm_executor_;
}

void RunLoop::Notify(exec::TaskEvent event) {
  if (!ownership_.Report(std::move(event))) return;
  // Lent the step (step_ownership.h): this worker runs it.
  store::WriteBatch batch;
  std::vector<Transition> transitions;
  Status status = Step(batch, transitions);
  ownership_.EndLentStep(std::move(status), !finished_.empty() || !Busy(), QueuedAhead() / 2 > 1,
                         NextDue());
}

int RunLoop::MaxInFlight() const { return options_.workers * (1 + options_.queue_ahead); }

Status RunLoop::AddRun(const graph::LoadedDag& dag, store::RunKey key) {
  // Not owned: the caller keeps the DAG alive.
  return AddRun(std::shared_ptr<const graph::LoadedDag>(std::shared_ptr<void>(), &dag), key);
}

Status RunLoop::AddRun(std::shared_ptr<const graph::LoadedDag> dag, store::RunKey key) {
  auto record = store_.GetRun(key);
  if (!record.ok()) return record.error();
  auto tis = store_.ListTaskInstances(key);
  if (!tis.ok()) return tis.error();
  auto outputs = store_.ReadOutputs(key);
  if (!outputs.ok()) return outputs.error();
  const graph::LoadedDag& version = *dag;
  auto run = std::make_unique<ActiveRun>(
      ActiveRun{next_run_index_++, std::move(dag), *record, RunPlan(version, key, *tis), *outputs});
  std::vector<int> adopted;  // tries still out on Slurm: followed, not run again
  for (int task = 0; task < run->plan.size(); ++task) {
    store::TaskInstanceRecord& ti = run->plan.ti(task);
    if (ti.state != TaskState::kQueued && ti.state != TaskState::kRunning) continue;
    if (ti.external_executor_id.rfind("slurm:", 0) == 0) {
      adopted.push_back(task);
      continue;
    }
    const TaskState from = ti.state;
    auto note = RecoverInterruptedTry(store_, run->record, ti, clock_.PreciseNow(), staged_);
    if (!note.ok()) return note.error();
    run->plan.SetState(task, TaskState::kScheduled);
    Record(*run, task, from, staged_, staged_transitions_, *note);
  }
  if (Status s = RecoverJournaledStarts(*run); !s.ok()) return s;
  ActiveRun& admitted = *run;
  Admit(std::move(run), clock_.PreciseNow(), staged_, staged_transitions_);
  for (int task : adopted) {
    store::TaskInstanceRecord& ti = admitted.plan.ti(task);
    exec::TaskLaunch launch = NewLaunch(admitted, task, ExecutorKind::kSlurm);
    ExecutorOf(ExecutorKind::kSlurm)
        .Adopt(std::move(launch), ti.external_executor_id, ti.state == TaskState::kRunning);
    staged_.PutTaskInstance(ti, ti.state, options_.who,
                            "adopted " + ti.external_executor_id + " after a restart");
  }
  return Status::Ok();
}

CommitWork RunLoop::AdmitCreated(const std::vector<std::shared_ptr<const graph::LoadedDag>>& dags,
                                 const std::vector<const store::NewRun*>& runs,
                                 store::TimePoint at) {
  CommitWork work;
  std::set<size_t> admitted;
  for (size_t i = 0; i < runs.size(); ++i) {
    const store::NewRun& created = *runs[i];
    admitted.insert(next_run_index_);
    Admit(std::make_unique<ActiveRun>(ActiveRun{next_run_index_++, dags[i], created.run,
                                                RunPlan(*dags[i], created.run.id, created.tasks),
                                                nlohmann::json::object()}),
          at, work.batch, work.transitions);
  }
  // Only the new runs' tasks: another run's may have writes still queued in the pipeline, which
  // must commit before this transaction writes that run's rows.
  work.launches = PickLaunches(at, work.batch, work.transitions, &admitted);
  return work;
}

void RunLoop::StartBeforeCreation(CommitWork& work) {
  const auto before = std::stable_partition(
      work.launches.begin(), work.launches.end(), [](const exec::TaskLaunch& launch) {
        return StartOf(launch, CommitPath::kCreating, false) != TryStart::kBeforeCommit;
      });
  for (auto launch = before; launch != work.launches.end(); ++launch) {
    ExecutorOf(launch->executor).Launch(std::move(*launch));
  }
  work.launches.erase(before, work.launches.end());
}

void RunLoop::StartCreated(CommitWork work, const std::set<store::RunKey>& existed) {
  if (!existed.empty()) Withdraw(existed, work);
  pipeline_->Committed(std::move(work));
}

void RunLoop::Withdraw(const std::set<store::RunKey>& keys, CommitWork& work) {
  std::set<std::pair<std::string, std::string>> names;  // (dag_id, run_id)
  for (auto it = runs_.begin(); it != runs_.end();) {
    ActiveRun& run = *it->second;
    if (keys.count(run.record.id) == 0) {
      ++it;
      continue;
    }
    names.emplace(run.record.dag_id, run.record.run_id);
    for (int task = 0; task < run.plan.size(); ++task) {
      if (run.plan.ti(task).state == TaskState::kScheduled) {
        ready_.Erase(GateOf(run, task), ReadyKeyOf(run, task));
      }
    }
    std::erase_if(retries_, [&](const auto& due) { return due.second.first == run.index; });
    for (auto flight = in_flight_.begin(); flight != in_flight_.end();) {
      if (flight->second.run != run.index) {
        ++flight;
        continue;
      }
      --pool_used_[flight->second.pool];
      resources_.Give(flight->second.held, flight->second.gpu_ids);
      --dag_running_[run.record.dag_id];
      --in_flight_by_executor_[flight->second.executor];
      flight = in_flight_.erase(flight);
    }
    if (run.has_slurm_tasks) --runs_with_slurm_tasks_;
    it = runs_.erase(it);
  }
  const auto withdrawn = [&names](const std::string& dag_id, const std::string& run_id) {
    return names.count({dag_id, run_id}) > 0;
  };
  std::erase_if(work.launches, [&](const exec::TaskLaunch& launch) {
    return withdrawn(launch.info.dag_id, launch.info.run_id);
  });
  std::erase_if(work.transitions,
                [&](const Transition& t) { return withdrawn(t.dag_id, t.run_id); });
}

void RunLoop::Admit(std::unique_ptr<ActiveRun> run, store::TimePoint at, store::WriteBatch& batch,
                    std::vector<Transition>& transitions) {
  bool decides_flow = false;
  bool latest_only = false;
  for (const dag::Task& task : run->plan.dag().dag.tasks) {
    if (ExecutorFor(task) == ExecutorKind::kSlurm) run->has_slurm_tasks = true;
    const exec::OperatorSpec* spec = registry_.Find(task.operator_name);
    run->runs_as_process.push_back(spec != nullptr && spec->runs_as_process);
    decides_flow = decides_flow || task.flow.branch || task.flow.short_circuit;
    latest_only = latest_only || task.flow.latest_only;
  }
  if (latest_only) {
    if (auto reason = NotLatestReason(run->plan.dag().dag, run->record, clock_.Now())) {
      run->plan.SkipLatestOnly(std::move(*reason));
    }
  }
  if (decides_flow) RestoreDecisions(*run);
  if (run->has_slurm_tasks) ++runs_with_slurm_tasks_;
  run->work_dir = std::filesystem::path(run->plan.dag().dag.file).parent_path().string();
  for (int task = 0; task < run->plan.size(); ++task) {
    const store::TaskInstanceRecord& ti = run->plan.ti(task);
    if (ti.state == TaskState::kScheduled) {
      ready_.Insert(GateOf(*run, task), ReadyKeyOf(*run, task));
    } else if (ti.state == TaskState::kUpForRetry) {
      retries_.emplace(ti.next_try_at.value_or(store::TimePoint{}),
                       std::make_pair(run->index, task));
    }
  }
  Settle(*run, batch, transitions);
  if (run->record.state != state::RunState::kRunning) {
    const auto from = run->record.state;
    run->record.state = state::RunState::kRunning;
    // It starts once settled (for a large DAG, a measurable while after `at`), or at `at` when
    // that is later: the time a run created ahead of its round commits at.
    run->record.start_date = run->record.start_date.value_or(std::max(at, clock_.PreciseNow()));
    run->record.end_date.reset();
    batch.PutRun(run->record, from, options_.who);
  }
  runs_.emplace(run->index, std::move(run));
}

ReadyQueue::Gate RunLoop::GateOf(const ActiveRun& run, int task) const {
  const dag::Task& spec = run.plan.dag().dag.tasks[task];
  const ExecutorKind executor = ExecutorFor(spec);
  const bool holds = executor == ExecutorKind::kLocal && spec.resources.has_value();
  return {run.index, spec.pool, executor, holds ? *spec.resources : dag::Resources{}};
}

ReadyQueue::Key RunLoop::ReadyKeyOf(const ActiveRun& run, int task) const {
  return {-run.plan.ti(task).priority_weight, run.plan.Position(task), run.index, task};
}

void RunLoop::Record(ActiveRun& run, int task, TaskState from, store::WriteBatch& batch,
                     std::vector<Transition>& transitions, const std::string& message) {
  const store::TaskInstanceRecord& ti = run.plan.ti(task);
  if (from != ti.state && !state::CanTransition(from, ti.state)) {
    // A programmer error: the loop broke the state machine of engine/state.
    std::fprintf(stderr, "conveyor: bug: task %s moved %s -> %s\n", ti.task_id.c_str(),
                 std::string(state::Name(from)).c_str(),
                 std::string(state::Name(ti.state)).c_str());
    std::abort();
  }
  if (from == TaskState::kScheduled) ready_.Erase(GateOf(run, task), ReadyKeyOf(run, task));
  if (ti.state == TaskState::kScheduled) ready_.Insert(GateOf(run, task), ReadyKeyOf(run, task));
  if (ti.state == TaskState::kUpForRetry) {
    retries_.emplace(ti.next_try_at.value_or(store::TimePoint{}), std::make_pair(run.index, task));
  }
  batch.PutTaskInstance(ti, from, options_.who, message);
  transitions.push_back({run.record.dag_id, run.record.run_id, ti.task_id, ti.try_number, from,
                         ti.state, message, run.record.logical_date, std::nullopt});
}

void RunLoop::Settle(ActiveRun& run, store::WriteBatch& batch,
                     std::vector<Transition>& transitions) {
  for (const auto& [task, from] : run.plan.Settle()) {
    RecordDecided(run, task, from, batch, transitions);
  }
  TakeHeldOnPast(run);
}

void RunLoop::TakeHeldOnPast(ActiveRun& run) {
  for (int task : run.plan.TakeHeldOnPast()) past_waits_.emplace_back(run.index, task);
}

void RunLoop::CheckPast(store::TimePoint now, store::WriteBatch& batch,
                        std::vector<Transition>& transitions) {
  if (past_waits_.empty() || (!task_ended_since_past_check_ && now < next_past_check_)) return;
  task_ended_since_past_check_ = false;
  next_past_check_ = now + std::chrono::seconds(1);
  std::vector<std::pair<size_t, int>> waits = std::exchange(past_waits_, {});
  for (const auto& [index, task] : waits) {
    auto found = runs_.find(index);
    if (found == runs_.end() || found->second->done) continue;
    ActiveRun& run = *found->second;
    store::TaskInstanceRecord& ti = run.plan.ti(task);
    if (ti.state != TaskState::kNone) continue;
    std::string blocker = PastBlocker(run, task);
    if (blocker.empty()) {
      for (const auto& [changed, before] : run.plan.ReleasePast(task)) {
        RecordDecided(run, changed, before, batch, transitions);
      }
      TakeHeldOnPast(run);
      continue;
    }
    past_waits_.emplace_back(index, task);
    if (ti.note != blocker) {
      ti.note = std::move(blocker);
      Record(run, task, TaskState::kNone, batch, transitions, ti.note);
    }
  }
}

std::string RunLoop::PastBlocker(const ActiveRun& run, int task) {
  const dag::Task& spec = run.plan.dag().dag.tasks[task];
  if (!run.record.logical_date) return "";
  auto previous = store_.PreviousRun(run.record.dag_id, *run.record.logical_date);
  if (!previous.ok()) return "waiting: cannot read the run before: " + previous.error().message;
  if (!*previous) return "";  // the first run
  // The run before, as this loop holds it when it runs it here, else as committed.
  const ActiveRun* live = nullptr;
  for (const auto& [index, other] : runs_) {
    if (other->record.id == (*previous)->id && !other->done) live = other.get();
  }
  std::map<std::string, TaskState> states;
  if (live != nullptr) {
    for (int i = 0; i < live->plan.size(); ++i) {
      states[live->plan.ti(i).task_id] = live->plan.ti(i).state;
    }
  } else {
    auto tis = store_.ListTaskInstances((*previous)->id);
    if (!tis.ok()) return "waiting: cannot read the run before: " + tis.error().message;
    for (const auto& ti : *tis) states[ti.task_id] = ti.state;
  }
  const std::string where =
      run.record.dag_id + "/" +
      ((*previous)->logical_date ? FormatUtc(*(*previous)->logical_date) : (*previous)->run_id) +
      "/";
  const auto blocks = [&](const std::string& task_id) {
    auto found = states.find(task_id);
    // A task the run before did not have does not hold this one (Airflow's
    // ignore_first_depends_on_past).
    return found != states.end() && found->second != TaskState::kSuccess &&
           found->second != TaskState::kSkipped;
  };
  if (blocks(spec.id)) {
    return "waiting for " + where + spec.id + ", which is " +
           std::string(state::Name(states[spec.id])) + " (depends_on_past)";
  }
  if (spec.flow.wait_for_downstream) {
    for (int down : run.plan.dag().graph.Downstream(task)) {
      const std::string& id = run.plan.dag().dag.tasks[down].id;
      if (blocks(id)) {
        return "waiting for " + where + id + ", which is " + std::string(state::Name(states[id])) +
               " (wait_for_downstream)";
      }
    }
  }
  return "";
}

void RunLoop::RecordDecided(ActiveRun& run, int task, TaskState from, store::WriteBatch& batch,
                            std::vector<Transition>& transitions) {
  store::TaskInstanceRecord& ti = run.plan.ti(task);
  ti.note = run.plan.SkipReason(task);
  Record(run, task, from, batch, transitions, ti.note);
}

void RunLoop::RestoreDecisions(ActiveRun& run) {
  const graph::LoadedDag& dag = run.plan.dag();
  for (int task = 0; task < run.plan.size(); ++task) {
    const dag::Task& spec = dag.dag.tasks[task];
    if (!(spec.flow.branch || spec.flow.short_circuit)) continue;
    if (run.plan.ti(task).state != TaskState::kSuccess) continue;
    const nlohmann::json& outputs =
        run.outputs.contains(spec.id) ? run.outputs[spec.id] : kNoOutputs;
    // It was checked before the task was let succeed; a row edited since is not trusted to skip.
    if (auto decision = DecideFlow(dag, task, outputs); decision.ok()) run.plan.Apply(*decision);
  }
}

void RunLoop::PromoteDueRetries(store::TimePoint now, store::WriteBatch& batch,
                                std::vector<Transition>& transitions) {
  while (!retries_.empty() && retries_.begin()->first <= now) {
    const auto [run_index, task] = retries_.begin()->second;
    retries_.erase(retries_.begin());
    ActiveRun& run = *runs_.at(run_index);
    store::TaskInstanceRecord& ti = run.plan.ti(task);
    if (ti.state != TaskState::kUpForRetry) continue;
    run.plan.SetState(task, TaskState::kScheduled);
    ti.next_try_at.reset();
    Record(run, task, TaskState::kUpForRetry, batch, transitions);
  }
}

std::vector<exec::TaskLaunch> RunLoop::PickLaunches(store::TimePoint at, store::WriteBatch& batch,
                                                    std::vector<Transition>& transitions,
                                                    const std::set<size_t>* only_runs) {
  std::vector<exec::TaskLaunch> launches;
  if (stopping_) return launches;
  const auto room = [this] {
    return HasRoom(ExecutorKind::kLocal) ||
           (runs_with_slurm_tasks_ > 0 && HasRoom(ExecutorKind::kSlurm));
  };
  const auto open = [this](const ReadyQueue::Gate& gate) {
    if (!HasRoom(gate.executor)) return false;
    const dag::Dag& dag = runs_.at(gate.run)->plan.dag().dag;
    if (dag_running_[dag.dag_id] >= dag.max_active_tasks) return false;
    auto pool = options_.pools.find(gate.pool);
    if (pool != options_.pools.end() && pool_used_[gate.pool] >= pool->second) return false;
    // A try that could never fit is taken, to fail.
    return resources_.Fits(gate.need) || !resources_.CanEverFit(gate.need);
  };
  ready_.Pick(room, open, only_runs, [&](const ReadyQueue::Gate& gate, const ReadyQueue::Key& c) {
    ActiveRun& run = *runs_.at(c.run);
    const dag::Dag& dag = run.plan.dag().dag;
    const dag::Task& task = dag.tasks[c.task];
    store::TaskInstanceRecord& ti = run.plan.ti(c.task);
    run.plan.SetState(c.task, TaskState::kQueued);
    ti.try_number += 1;
    ti.start_date = at;
    ti.end_date.reset();
    ti.pid.reset();
    ti.hostname = hostname_;
    ti.external_executor_id.clear();
    ti.cached_from.clear();
    Record(run, c.task, TaskState::kScheduled, batch, transitions);

    exec::TaskLaunch launch = NewLaunch(run, c.task, gate.executor);
    batch.PutTry({ti.run, ti.task_id, ti.try_number, TaskState::kQueued, ti.start_date,
                  std::nullopt, std::nullopt, launch.info.log_path, ""});

    // A try that cannot start fails at once, through the same path as any other failure.
    if (options_.pools.count(task.pool) == 0) {
      Notify({exec::TaskEvent::Kind::kFinished, launch.id, std::nullopt,
              exec::OperatorResult::Failure("unknown pool '" + task.pool + "'"), at});
      return;
    }
    if (!gate.need.empty() && !resources_.CanEverFit(gate.need)) {
      Notify({exec::TaskEvent::Kind::kFinished, launch.id, std::nullopt,
              exec::OperatorResult::Failure(
                  "the task asks for " + dag::Describe(gate.need) + " and this machine offers " +
                  dag::Describe(resources_.capacity()) + " (config 'resources')"),
              at});
      return;
    }
    std::optional<nlohmann::json> context;
    if (!task.has_templates) {
      launch.args = task.args;
      launch.command = task.command;
      launch.env = task.env;
    } else {
      context = TemplateContext(dag, run.record, task.id, ti.try_number, run.outputs);
      auto rendered = RenderTask(task, *context, options_.secrets);
      if (!rendered.ok()) {
        Notify({exec::TaskEvent::Kind::kFinished, launch.id, std::nullopt,
                exec::OperatorResult::Failure(rendered.error().message), at});
        return;
      }
      launch.args = std::move(rendered->args);
      launch.command = std::move(rendered->command);
      launch.env = std::move(rendered->env);
    }
    if (task.cache.enabled && ReuseCachedTry(run, c.task, launch, context, at)) return;
    if (!gate.need.empty()) {
      InFlight& flight = in_flight_.at(launch.id);
      flight.held = gate.need;
      flight.gpu_ids = resources_.Take(gate.need);
      // A try that asked for resources sees only the GPUs it was given (none when it asked for
      // none); others see what the server's environment passes through.
      std::string visible;
      for (const std::string& id : flight.gpu_ids) visible += (visible.empty() ? "" : ",") + id;
      launch.env["CUDA_VISIBLE_DEVICES"] = visible;
    }
    launches.push_back(std::move(launch));
  });
  return launches;
}

bool RunLoop::ReuseCachedTry(ActiveRun& run, int task_index, const exec::TaskLaunch& launch,
                             std::optional<nlohmann::json>& context, store::TimePoint at) {
  const dag::Dag& dag = run.plan.dag().dag;
  const dag::Task& task = dag.tasks[task_index];
  nlohmann::json outputs_read = nlohmann::json::object();
  for (const dag::OutputReference& reference : task.output_references) {
    const nlohmann::json* outputs =
        run.outputs.contains(reference.task_id) ? &run.outputs.at(reference.task_id) : nullptr;
    outputs_read[reference.task_id][reference.key] =
        outputs != nullptr && outputs->contains(reference.key) ? outputs->at(reference.key)
                                                               : nlohmann::json(nullptr);
  }
  nlohmann::json inputs = nlohmann::json::object();
  if (const exec::OperatorSpec* spec = registry_.Find(task.operator_name)) {
    auto fingerprints = exec::FingerprintInputs(*spec, launch.args, run.work_dir, options_.data);
    // An input without a fingerprint (a table conveyor did not write): the try runs, uncached.
    if (!fingerprints.ok()) return false;
    inputs = std::move(fingerprints).value();
  }
  if (!context && !task.cache.key_extra.empty()) {
    context = TemplateContext(dag, run.record, task.id, launch.info.try_number, run.outputs);
  }
  auto key =
      CacheKey(task, launch, outputs_read, inputs, context ? *context : nlohmann::json::object());
  if (!key.ok()) {
    Notify({exec::TaskEvent::Kind::kFinished, launch.id, std::nullopt,
            exec::OperatorResult::Failure(key.error().message), at});
    return true;
  }
  InFlight& flight = in_flight_.at(launch.id);
  flight.cache_key = *key;
  if (run.record.no_cache || options_.no_cache) return false;
  auto cached = store_.FindCachedTry(*key);
  if (!cached.ok() || !cached->has_value()) return false;
  const store::CachedTry& hit = **cached;
  if (task.cache.ttl &&
      hit.created_at + std::chrono::duration_cast<std::chrono::microseconds>(*task.cache.ttl) <
          clock_.PreciseNow()) {
    return false;
  }
  flight.reused_from = hit.Name();
  // It starts and ends at once (queued, running, success), as a try that did its work.
  exec::TaskEvent reused{exec::TaskEvent::Kind::kFinished, launch.id, std::nullopt,
                         exec::OperatorResult::Success(hit.outputs), at};
  reused.started_at = at;
  Notify(std::move(reused));
  return true;
}

Status RunLoop::RecoverJournaledStarts(ActiveRun& run) {
  const std::string& dag_id = run.record.dag_id;
  const std::string& run_id = run.record.run_id;
  auto started = ReadStartJournal(StartJournalPath(options_.log_dir, dag_id, run_id));
  if (!started.ok()) return started.error();
  for (const StartedTry& start : *started) {
    const int task = run.plan.dag().dag.TaskIndex(start.task_id);
    if (task < 0) continue;
    store::TaskInstanceRecord& ti = run.plan.ti(task);
    if (ti.try_number >= start.try_number) continue;  // its queued state was committed
    const int killed = exec::KillTaskProcesses(dag_id, run_id, start.task_id, std::nullopt);
    const std::string note = InterruptedTryNote(
        start.try_number, "the conveyor process starting it died before its start was recorded",
        killed);
    const store::TimePoint now = clock_.PreciseNow();
    staged_.PutTry(
        {ti.run, ti.task_id, start.try_number, TaskState::kQueued, now, now, std::nullopt,
         TryFile(options_.log_dir, dag_id, run_id, ti.task_id, start.try_number, ".log"), note});
    ti.try_number = start.try_number;
    ti.max_tries += 1;  // as for any interrupted try: no retry used up
    staged_.PutTaskInstance(ti, ti.state, options_.who, note);
  }
  return Status::Ok();
}

bool RunLoop::JournalStarts(const std::vector<exec::TaskLaunch>& launches) {
  // Usually one run: the lines of each run's launches go in one write.
  std::string lines;
  ActiveRun* run = nullptr;
  const auto flush = [&]() {
    if (run == nullptr || lines.empty()) return true;
    const Status written = AppendStartJournal(
        StartJournalPath(options_.log_dir, run->record.dag_id, run->record.run_id), lines);
    lines.clear();
    return written.ok();
  };
  for (const exec::TaskLaunch& launch : launches) {
    auto in_flight = in_flight_.find(launch.id);
    if (in_flight == in_flight_.end()) return false;
    ActiveRun* of = runs_.at(in_flight->second.run).get();
    if (of != run && !flush()) return false;
    run = of;
    lines.append(std::to_string(launch.info.try_number)).append(" ");
    lines.append(launch.info.task_id).append("\n");
  }
  return flush();
}

exec::TaskLaunch RunLoop::NewLaunch(ActiveRun& run, int task_index, ExecutorKind executor) {
  const dag::Dag& dag = run.plan.dag().dag;
  const dag::Task& task = dag.tasks[task_index];
  const store::TaskInstanceRecord& ti = run.plan.ti(task_index);
  exec::TaskLaunch launch;
  launch.id = next_launch_id_++;
  launch.operator_name = task.operator_name;
  launch.runs_as_process = run.runs_as_process[task_index];
  launch.info.dag_id = dag.dag_id;
  launch.info.run_id = run.record.run_id;
  launch.info.task_id = task.id;
  launch.info.try_number = ti.try_number;
  launch.info.logical_date = run.record.logical_date.value_or(Instant{});
  launch.info.work_dir = run.work_dir;
  // The folders are made off this thread: by whoever writes the log first, and for the outputs
  // by the shell operator.
  launch.info.log_path =
      TryFile(options_.log_dir, dag.dag_id, run.record.run_id, task.id, ti.try_number, ".log");
  launch.info.output_path =
      TryOutputFile(options_.log_dir, dag.dag_id, run.record.run_id, task.id, ti.try_number);
  launch.execution_timeout = task.retry.execution_timeout;
  launch.data = options_.data;
  launch.executor = executor;
  launch.slurm = task.resources ? WithResources(task.slurm, *task.resources) : task.slurm;
  ExecutorOf(executor);  // made here, on the loop's thread
  in_flight_[launch.id] = {run.index, task_index, task.pool, executor, {}, {}, {}, {}};
  ++in_flight_by_executor_[executor];
  ++pool_used_[task.pool];
  ++dag_running_[dag.dag_id];
  return launch;
}

void RunLoop::ApplyEvent(const exec::TaskEvent& event, store::WriteBatch& batch,
                         std::vector<Transition>& transitions) {
  auto it = in_flight_.find(event.id);
  if (it == in_flight_.end()) return;
  ActiveRun& run = *runs_.at(it->second.run);
  const int task = it->second.task;
  store::TaskInstanceRecord& ti = run.plan.ti(task);
  const store::TimePoint at = event.at;
  if (event.kind == exec::TaskEvent::Kind::kSubmitted) {
    ti.external_executor_id = event.external_id;
    batch.PutTaskInstance(ti, ti.state, options_.who, "submitted as " + event.external_id);
    return;
  }
  if (event.kind == exec::TaskEvent::Kind::kStarted) {
    run.plan.SetState(task, TaskState::kRunning);
    ti.start_date = at;
    if (event.pid && *event.pid > 0) ti.pid = *event.pid;
    if (!event.hostname.empty()) ti.hostname = event.hostname;
    batch.PutTry(
        {ti.run, ti.task_id, ti.try_number, TaskState::kRunning, at, std::nullopt, ti.pid, "", ""});
    Record(run, task, TaskState::kQueued, batch, transitions);
    return;
  }
  if (event.started_at) {
    exec::TaskEvent start{
        exec::TaskEvent::Kind::kStarted, event.id, event.pid, {}, *event.started_at};
    ApplyEvent(start, batch, transitions);
  }
  --pool_used_[it->second.pool];
  resources_.Give(it->second.held, it->second.gpu_ids);
  --dag_running_[run.record.dag_id];
  --in_flight_by_executor_[it->second.executor];
  const CacheUse cache{std::move(it->second.cache_key), std::move(it->second.reused_from)};
  in_flight_.erase(it);
  if (event.not_started) {
    Interrupt(run, task, "conveyor stopped before the try began", at, batch, transitions);
  } else if (interrupting_ && event.result.outcome == exec::OperatorResult::Outcome::kFailed) {
    Interrupt(run, task, "conveyor shut down and stopped it after the grace period", at, batch,
              transitions);
  } else {
    Finish(run, task, event.result, at, batch, transitions, cache);
  }
}

void RunLoop::Interrupt(ActiveRun& run, int task, const std::string& why, store::TimePoint at,
                        store::WriteBatch& batch, std::vector<Transition>& transitions) {
  store::TaskInstanceRecord& ti = run.plan.ti(task);
  const TaskState from = ti.state;
  const std::string note = InterruptedTryNote(ti.try_number, why, 0);
  batch.PutTry({ti.run, ti.task_id, ti.try_number, from, ti.start_date, at, ti.pid, "", note});
  ti.max_tries += 1;  // the interruption does not use up a retry
  ti.pid.reset();
  run.plan.SetState(task, TaskState::kScheduled);
  Record(run, task, from, batch, transitions, note);
}

void RunLoop::Finish(ActiveRun& run, int task, const exec::OperatorResult& result,
                     store::TimePoint at, store::WriteBatch& batch,
                     std::vector<Transition>& transitions, const CacheUse& cache) {
  store::TaskInstanceRecord& ti = run.plan.ti(task);
  const dag::Task& spec = run.plan.dag().dag.tasks[task];
  const TaskState from = ti.state;
  ti.end_date = at;
  TaskState next = TaskState::kSuccess;
  std::string message = result.message;
  auto outcome = result.outcome;
  const nlohmann::json* outputs = &result.outputs;
  nlohmann::json short_circuited;
  const auto& skip_codes = spec.flow.skip_on_exit_code;
  if (outcome == exec::OperatorResult::Outcome::kFailed && result.exit_code &&
      std::find(skip_codes.begin(), skip_codes.end(), *result.exit_code) != skip_codes.end()) {
    const std::string code = std::to_string(*result.exit_code);
    if (spec.flow.short_circuit) {
      // The short-circuit itself succeeds; its condition, stored, skips what follows.
      outcome = exec::OperatorResult::Outcome::kSuccess;
      short_circuited = {{kConditionOutput, false}};
      outputs = &short_circuited;
      message = "short-circuit: the command exited with code " + code + "; downstream skipped";
    } else {
      outcome = exec::OperatorResult::Outcome::kSkipped;
      message = "skipped: the command exited with code " + code + " (skip_on_exit_code)";
    }
  }
  // A branch or short-circuit decides from this try's outputs; a choice it cannot make fails
  // the try like any failure.
  std::optional<FlowDecision> decision;
  if (outcome == exec::OperatorResult::Outcome::kSuccess &&
      (spec.flow.branch || spec.flow.short_circuit)) {
    auto decided = DecideFlow(run.plan.dag(), task, *outputs);
    if (decided.ok()) {
      decision = std::move(decided).value();
    } else {
      outcome = exec::OperatorResult::Outcome::kFailed;
      message = decided.error().message;
    }
  }
  switch (outcome) {
    case exec::OperatorResult::Outcome::kSuccess:
      next = TaskState::kSuccess;
      if (!cache.reused_from.empty()) {
        ti.cached_from = cache.reused_from;
        message = "reused " + cache.reused_from;
      } else if (!cache.key.empty()) {
        batch.PutCachedTry(ti.run, {cache.key, run.record.dag_id, run.record.run_id, ti.task_id,
                                    ti.try_number, *outputs, at});
      }
      if (!outputs->empty()) {
        batch.PutOutputs(ti.run, ti.task_id, *outputs);
        for (const auto& item : outputs->items()) {
          run.outputs[ti.task_id][item.key()] = item.value();
        }
      }
      break;
    case exec::OperatorResult::Outcome::kSkipped:
      next = TaskState::kSkipped;
      ti.note = message;
      break;
    case exec::OperatorResult::Outcome::kFailed:
      if (ti.try_number < ti.max_tries) {
        next = TaskState::kUpForRetry;
        ti.next_try_at = *ti.end_date + std::chrono::duration_cast<std::chrono::microseconds>(
                                            RetryDelay(spec.retry, ti.try_number));
      } else {
        next = TaskState::kFailed;
      }
      break;
  }
  if (decision) run.plan.Apply(*decision);
  run.plan.SetState(task, next);
  batch.PutTry({ti.run, ti.task_id, ti.try_number,
                ti.state == TaskState::kUpForRetry ? TaskState::kFailed : ti.state, ti.start_date,
                ti.end_date, ti.pid, "", ""});
  if (!message.empty()) {
    AppendLog(TryFile(options_.log_dir, run.record.dag_id, run.record.run_id, ti.task_id,
                      ti.try_number, ".log"),
              "conveyor: " + message);
  }
  Record(run, task, from, batch, transitions, message);
  if (ti.start_date && ti.end_date) {
    transitions.back().duration_seconds =
        std::chrono::duration<double>(*ti.end_date - *ti.start_date).count();
  }
  for (const auto& [changed, before] : run.plan.SettleDownstreamOf(task)) {
    RecordDecided(run, changed, before, batch, transitions);
  }
  TakeHeldOnPast(run);
  task_ended_since_past_check_ = true;
}

std::vector<store::DagRunRecord> RunLoop::FinishRuns(store::TimePoint now,
                                                     store::WriteBatch& batch) {
  std::vector<store::DagRunRecord> finished;
  for (auto& [index, run] : runs_) {
    if (run->done || !run->plan.Finished()) continue;
    const auto from = run->record.state;
    run->record.state = run->plan.Outcome();
    run->record.end_date = now;
    batch.PutRun(run->record, from, options_.who);
    run->done = true;
    finished.push_back(run->record);
  }
  return finished;
}

std::optional<store::TimePoint> RunLoop::NextDue() const {
  std::optional<store::TimePoint> due;
  if (!retries_.empty()) due = retries_.begin()->first;
  if (!past_waits_.empty() && (!due || next_past_check_ < *due)) due = next_past_check_;
  return due;
}

void RunLoop::Heartbeat() {
  const store::TimePoint now = clock_.PreciseNow();
  if (now - last_heartbeat_ < options_.heartbeat_every) return;
  last_heartbeat_ = now;
  for (const auto& [index, run] : runs_) {
    if (!run->done) (void)leases_.Heartbeat(run->record.id, getpid(), now);
  }
}

Status RunLoop::Step(store::WriteBatch& batch, std::vector<Transition>& transitions) {
  for (const auto& event : ownership_.TakeReports()) ApplyEvent(event, batch, transitions);
  const store::TimePoint now = clock_.PreciseNow();
  PromoteDueRetries(now, batch, transitions);
  CheckPast(now, batch, transitions);
  std::vector<exec::TaskLaunch> launches = PickLaunches(now, batch, transitions);
  std::vector<store::DagRunRecord> finished = FinishRuns(now, batch);
  // A finished run has no task left in flight, ready or waiting for a retry: forget it. It is
  // reported once its final state is committed.
  for (auto it = runs_.begin(); it != runs_.end();) {
    if (!it->second->done) {
      ++it;
      continue;
    }
    if (it->second->has_slurm_tasks) --runs_with_slurm_tasks_;
    it = runs_.erase(it);
  }
  // The group commit: every transition of this wake-up in one transaction, before any shell task
  // of it starts. Each transition, launch and finished run has its write in the batch.
  if (!batch.empty()) {
    // In-process tries start without waiting for the commit, except while commits are held (the
    // wake-up's time has not come). They die with this process, so a crash before the commit
    // leaves nothing behind to reconcile: the task instance is still `scheduled` in the database
    // and runs again. Their ends come in later wake-ups, whose batches commit after this one.
    // Whatever the batch's path to the database, a try that starts before its commit does so
    // now (start_policy.h); the pipeline starts the others.
    const CommitPath path = holding_ ? CommitPath::kHeld : CommitPath::kWriter;
    const auto now_part = std::stable_partition(
        launches.begin(), launches.end(), [&](const exec::TaskLaunch& launch) {
          return StartOf(launch, path, false) != TryStart::kBeforeCommit;
        });
    std::vector<exec::TaskLaunch> in_process_now(std::make_move_iterator(now_part),
                                                 std::make_move_iterator(launches.end()));
    launches.erase(now_part, launches.end());
    for (exec::TaskLaunch& launch : in_process_now) executor_->Launch(std::move(launch));
    CommitWork work{std::move(batch), std::move(launches), std::move(transitions),
                    std::move(finished)};
    if (holding_) {
      held_.push_back(std::move(work));
    } else {
      // Commits on this thread when a worker would otherwise wait for it to start a try.
      const bool urgent = !work.launches.empty() && WorkerMayWait(work.launches.size());
      pipeline_->Submit(std::move(work), urgent);
    }
  }
  return ReportCommitted();
}

size_t RunLoop::LocalInFlight() const {
  auto local = in_flight_by_executor_.find(ExecutorKind::kLocal);
  return local == in_flight_by_executor_.end() ? 0 : static_cast<size_t>(local->second);
}

size_t RunLoop::QueuedAhead() const {
  const auto workers = static_cast<size_t>(options_.workers);
  const size_t in_flight = LocalInFlight();
  return in_flight > workers ? in_flight - workers : 0;
}

bool RunLoop::WorkerMayWait(size_t launching) const {
  // Tries handed out earlier and not yet ended keep the workers busy meanwhile; fewer than
  // there are workers, and one may be idle until this commit starts its next try.
  return LocalInFlight() < launching + static_cast<size_t>(options_.workers);
}

void RunLoop::ReleaseCommits() {
  holding_ = false;
  for (CommitWork& work : held_) pipeline_->Submit(std::move(work), false);
  held_.clear();
}

Status RunLoop::ReportCommitted() {
  std::vector<Transition> transitions;
  std::vector<store::DagRunRecord> finished;
  Status status = pipeline_->TakeCommitted(transitions, finished);
  if (observer_) {
    for (const auto& t : transitions) observer_(t);
  }
  if (options_.start_before_commit) {
    for (const auto& run : finished) {
      RemoveStartJournal(StartJournalPath(options_.log_dir, run.dag_id, run.run_id));
    }
  }
  finished_.insert(finished_.end(), std::make_move_iterator(finished.begin()),
                   std::make_move_iterator(finished.end()));
  return status;
}

Status RunLoop::Poll(std::optional<PreciseInstant> until) {
  store::WriteBatch batch = std::exchange(staged_, {});
  std::vector<Transition> transitions = std::exchange(staged_transitions_, {});
  if (Status s = Step(batch, transitions); !s.ok()) return s;
  Heartbeat();
  if ((!until && !Busy()) || !finished_.empty()) return Status::Ok();
  if (auto woken = ownership_.TakeWake()) return *woken;
  const PreciseInstant now = clock_.PreciseNow();
  PreciseInstant wake_at = now + options_.heartbeat_every;
  if (auto due = NextDue(); due && *due < wake_at) wake_at = *due;
  if (until && *until < wake_at) wake_at = *until;
  // The workers' reports are gathered while they have tries queued ahead (options_).
  const size_t gather = std::max<size_t>(1, QueuedAhead() / 2);
  if (gather > 1 && now + options_.gather_reports_for < wake_at) {
    wake_at = now + options_.gather_reports_for;
  }
  // Tries in flight or commits pending end the wait; otherwise only the clock or Wake() do.
  const bool others_may_act = !in_flight_.empty() || pipeline_->Pending();
  return ownership_.Park(wake_at, clock_.WaitDeadline(wake_at, others_may_act), gather);
}

void RunLoop::Wake() { ownership_.Wake(); }

bool RunLoop::Busy() const {
  return !runs_.empty() || !in_flight_.empty() || !held_.empty() || pipeline_->Pending();
}

std::vector<store::DagRunRecord> RunLoop::TakeFinishedRuns() {
  std::vector<store::DagRunRecord> out;
  out.swap(finished_);
  return out;
}

Status RunLoop::Run() {
  while (true) {
    if (Status s = Poll(std::nullopt); !s.ok()) return s;
    if (!Busy()) return Status::Ok();
  }
}

bool RunLoop::WaitsForAtShutdown() const {
  for (const auto& [id, flight] : in_flight_) {
    if (flight.executor != ExecutorKind::kSlurm) return true;
    // A Slurm job not yet submitted still reports (it ends as not started).
    if (runs_.at(flight.run)->plan.ti(flight.task).external_executor_id.empty()) return true;
  }
  return false;
}

Result<std::vector<store::RunKey>> RunLoop::Shutdown(std::chrono::milliseconds grace) {
  stopping_ = true;
  executor_->StopStarting();
  if (slurm_executor_) slurm_executor_->StopStarting();
  const PreciseInstant deadline = clock_.PreciseNow() + grace;
  while (WaitsForAtShutdown()) {
    if (!interrupting_ && clock_.PreciseNow() >= deadline) {
      interrupting_ = true;
      executor_->CancelAll();
    }
    if (Status s = Poll(interrupting_ ? std::nullopt : std::optional(deadline)); !s.ok()) {
      return s.error();
    }
  }
  pipeline_->Wait();
  if (Status s = ReportCommitted(); !s.ok()) return s.error();
  // Jobs on Slurm go on without conveyor: their task instances keep their state and job ids,
  // and the next start adopts them. The executor stops following them without cancelling.
  slurm_executor_.reset();
  std::vector<store::RunKey> unfinished;
  for (const auto& [index, run] : runs_) unfinished.push_back(run->record.id);
  return unfinished;
}

}  // namespace conveyor::scheduler
