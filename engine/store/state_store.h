#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "engine/common/error.h"
#include "engine/store/records.h"

namespace conveyor::store {

// Writes that commit together (the scheduler's group commit). A task instance or try written
// several times in one batch is stored once, as last written; every change of a task
// instance's state (and every write with a note) still appends its own event.
class WriteBatch {
 public:
  void PutRun(const DagRunRecord& run, std::optional<state::RunState> from, std::string who);
  // `from` is the state the caller believes the row holds; the store checks it as it writes.
  void PutTaskInstance(const TaskInstanceRecord& ti, state::TaskState from, std::string who,
                       std::string note = "");
  // A task instance of a run being created: a new row, and no event.
  void AddTaskInstance(const TaskInstanceRecord& ti);
  // Fields left empty (start_date, log_path, note) keep what an earlier write gave them.
  void PutTry(const TryRecord& attempt);
  void PutOutputs(RunKey run, const std::string& task_id, const nlohmann::json& outputs);
  // Adds a later batch's writes, as if they had been put here after this batch's own: a task
  // instance or try both write is written once, in its last state; every event is kept, in order.
  void Append(WriteBatch&& later);
  bool empty() const {
    return runs_.empty() && tis_.empty() && tries_.empty() && outputs_.empty() && events_.empty();
  }

  struct RunWrite {
    DagRunRecord run;
    std::optional<state::RunState> from;
    std::string who;
  };
  struct Event {
    RunKey run;
    std::string task_id;
    int try_number;
    state::TaskState from;
    state::TaskState to;
    std::string who;
    std::string note;
  };
  struct OutputWrite {
    RunKey run;
    std::string task_id;
    nlohmann::json outputs;
  };
  const std::vector<RunWrite>& runs() const { return runs_; }
  const std::vector<TaskInstanceRecord>& task_instances() const { return tis_; }
  // For each of task_instances(), the state its row holds before the batch as the batch's first
  // write of it believed; nothing for a row the batch creates.
  const std::vector<std::optional<state::TaskState>>& task_instances_before() const {
    return ti_before_;
  }
  const std::vector<Event>& events() const { return events_; }
  const std::vector<TryRecord>& tries() const { return tries_; }
  const std::vector<OutputWrite>& outputs() const { return outputs_; }

 private:
  // Its row in the batch: the record's latest write replaces any earlier one of the task.
  void PutTaskInstanceRow(TaskInstanceRecord ti, std::optional<state::TaskState> before);

  // A task's try (try_number), or its task instance (0). Hashed: a group commit merges tens of
  // thousands of rows, and a tree of strings costs a few comparisons of them per row.
  struct RowKey {
    RunKey run;
    std::string task_id;
    int try_number;
    bool operator==(const RowKey&) const = default;
  };
  struct RowKeyHash {
    size_t operator()(const RowKey& key) const;
  };

  std::vector<RunWrite> runs_;
  std::vector<TaskInstanceRecord> tis_;
  std::vector<std::optional<state::TaskState>> ti_before_;
  std::unordered_map<RowKey, size_t, RowKeyHash> ti_index_;
  std::vector<Event> events_;
  std::vector<TryRecord> tries_;
  std::unordered_map<RowKey, size_t, RowKeyHash> try_index_;
  std::vector<OutputWrite> outputs_;
};

// A page of the whole event log (Airflow's event logs), newest first unless `oldest_first`.
struct EventLogFilter {
  std::optional<std::string> event;   // to_state, or an audit action such as api.patch_dag
  std::optional<std::string> dag_id;  // the run's DAG, or the DAG an audit event names
  std::optional<std::string> run_id;
  std::optional<std::string> task_id;
  std::optional<std::string> owner;
  int limit = 100;
  int offset = 0;
  bool oldest_first = false;
};

// One row of the event log with its run's ids (empty for events of no run).
struct EventLogEntry {
  EventRecord event;
  std::string dag_id;
  std::string run_id;
  std::optional<Instant> logical_date;
};

struct RunFilter {
  std::optional<std::string> dag_id;
  std::optional<state::RunState> state;
  int limit = 100;
  int offset = 0;
  bool oldest_first = false;  // by logical date; newest first otherwise
};

// conveyor's durable state: DAG runs, task instances, tries, outputs, the event log and run
// leases. A store is safe for concurrent use from several threads: its calls take turns. Several
// processes may open the same database (WAL mode, BEGIN IMMEDIATE, busy timeout).
class StateStore {
 public:
  virtual ~StateStore() = default;

  // Creates a run and its task instances in one transaction; a duplicate (dag_id, run_id) is an
  // kAlreadyExists error. Returns the run's key.
  virtual Result<RunKey> CreateRun(const DagRunRecord& run,
                                   const std::vector<TaskInstanceRecord>& tasks) = 0;
  // Fills a batch of writes for runs just created (each one's key, or nothing for a run that
  // existed), to be committed in the transaction that creates them.
  using CreatedRunsWrites =
      std::function<void(const std::vector<std::optional<RunKey>>& keys, WriteBatch& batch)>;
  // Creates every run not already there (same run id, or a scheduled/backfill run for the same
  // logical date) in one transaction, with its lease held by `lease_pid`, and writes in the same
  // transaction what `then` (if set) adds for them. Returns each run's key, or nothing for one
  // that existed. `before_commit` (if set) is called once everything is written, before the
  // commit: a transaction written ahead of its time waits there, and nobody sees it before.
  virtual Result<std::vector<std::optional<RunKey>>> CreateRunsIfAbsent(
      const std::vector<NewRun>& runs, int lease_pid, TimePoint now, const CreatedRunsWrites& then,
      const std::function<void()>& before_commit) = 0;
  virtual Result<std::optional<DagRunRecord>> FindRun(const std::string& dag_id,
                                                      const std::string& run_id) = 0;
  virtual Result<DagRunRecord> GetRun(RunKey run) = 0;
  // Newest logical date first. `total` (if given) receives the count before limit/offset.
  virtual Result<std::vector<DagRunRecord>> ListRuns(const RunFilter& filter, int* total) = 0;
  virtual Result<std::vector<TaskInstanceRecord>> ListTaskInstances(RunKey run) = 0;
  virtual Result<std::vector<TryRecord>> ListTries(RunKey run, const std::string& task_id) = 0;
  // {"task_id": {"key": "value", ...}, ...} for a run.
  virtual Result<nlohmann::json> ReadOutputs(RunKey run) = 0;
  // The run's events with an id above `after_id`, oldest first. Reads every event logged after
  // `after_id` (the log has no index by run): a reader follows the log from LastEventId() on.
  virtual Result<std::vector<EventRecord>> ListEvents(RunKey run, std::int64_t after_id) = 0;
  // The id of the latest event logged, or 0; every later event has a greater id.
  virtual Result<std::int64_t> LastEventId() = 0;
  // Reads the whole log: for tests and tools.
  virtual Result<int> CountEvents(RunKey run, const std::string& task_id,
                                  const std::string& to_state) = 0;

  // Appends an event of no run (run 0), such as an API write's audit record: `event` goes to
  // to_state, `who` to who, `note` is free text (an audit's JSON extra).
  virtual Status AppendEvent(const std::string& event, const std::string& who,
                             const std::string& note) = 0;
  // The event log, filtered and paged; `total` (if given) receives the count before paging.
  virtual Result<std::vector<EventLogEntry>> ListEventLog(const EventLogFilter& filter,
                                                          int* total) = 0;

  // Commits every write of the batch in one transaction.
  virtual Status Commit(const WriteBatch& batch) = 0;

  // Takes the run's lease for `pid` unless another live process holds it: a holder is live when
  // `is_alive(holder pid)` and its heartbeat is newer than `stale_before`. Returns whether the
  // lease is now ours, and the previous holder's pid (0 if none) in `previous`.
  virtual Result<bool> AcquireLease(RunKey run, int pid, TimePoint now, TimePoint stale_before,
                                    bool (*is_alive)(int pid), int* previous) = 0;
  virtual Status Heartbeat(RunKey run, int pid, TimePoint now) = 0;
  virtual Status ReleaseLease(RunKey run, int pid) = 0;
  virtual Result<std::optional<RunLease>> GetLease(RunKey run) = 0;

  // Runs of a DAG whose logical date is `logical_date`, any type.
  virtual Result<std::vector<DagRunRecord>> FindRunsAt(const std::string& dag_id,
                                                       Instant logical_date) = 0;
  // The latest logical date of a scheduled or backfill run (Airflow's last automated run).
  virtual Result<std::optional<Instant>> LatestAutomatedRun(const std::string& dag_id) = 0;

  // The DAG table. RecordDagParse creates a row (paused as `paused_if_new` says) or updates the
  // file and error of an existing one, leaving its paused flag alone.
  virtual Status RecordDagParse(const std::string& dag_id, const std::string& fileloc,
                                const std::string& import_error, bool paused_if_new,
                                TimePoint now) = 0;
  virtual Status SetPaused(const std::string& dag_id, bool paused) = 0;
  virtual Result<std::optional<DagRecord>> GetDag(const std::string& dag_id) = 0;
  virtual Result<std::vector<DagRecord>> ListDags() = 0;

  // Parsed DAG files (graph::ParsedDagCache): the encoded DAG that `build` of conveyor stored for
  // `path` when it parsed exactly `source`, and storing one (replacing what the path had).
  virtual Result<std::optional<std::string>> FindParsedDag(const std::string& path,
                                                           const std::string& build,
                                                           std::string_view source) = 0;
  virtual Status SaveParsedDag(const std::string& path, const std::string& build,
                               std::string_view source, std::string_view encoded) = 0;

  // The scheduler's lease on the whole database: which `serve` runs queued runs. Same rules as a
  // run's lease.
  virtual Result<bool> AcquireSchedulerLease(int pid, TimePoint now, TimePoint stale_before,
                                             bool (*is_alive)(int pid), int* previous) = 0;
  virtual Status SchedulerHeartbeat(int pid, TimePoint now) = 0;
  virtual Status ReleaseSchedulerLease(int pid) = 0;
  virtual Result<std::optional<RunLease>> GetSchedulerLease() = 0;

  // Copies what was committed since the last checkpoint from the write-ahead log into the
  // database without waiting for readers (SQLite's passive checkpoint), once enough has been
  // written to be worth it. The scheduler calls it when idle, so that the checkpoint SQLite would
  // otherwise run inside a busy commit is done off the hot path. Not after every small write:
  // the first commit after a checkpoint restarts the log and syncs it, and that commit should
  // not be the next burst's first. Returns whether a checkpoint ran.
  virtual Result<bool> CheckpointIfWritten() = 0;

  // How many runs and task instances are in each state ("none" for task instances without one).
  virtual Result<std::map<std::string, long>> CountRunsByState() = 0;
  virtual Result<std::map<std::string, long>> CountTaskInstancesByState() = 0;

  // Changes whenever another connection commits (SQLite's data_version): how a long-running
  // process notices a CLI's trigger or pause without re-reading everything.
  virtual Result<std::int64_t> DataVersion() = 0;
};

// The run `run_id` of DAG `dag_id`, or a kNotFound error naming both.
inline Result<DagRunRecord> RequireRun(StateStore& store, const std::string& dag_id,
                                       const std::string& run_id) {
  auto found = store.FindRun(dag_id, run_id);
  if (!found.ok()) return found.error();
  if (!*found) return NotFound("DAG '" + dag_id + "' has no run '" + run_id + "'");
  return **found;
}

struct SqliteStoreOptions {
  const Clock* clock = &WallClock();  // stamps events; outlives the store
  bool synchronous_full = false;      // synchronous=FULL instead of NORMAL
  // The page cache, in MiB; 0 keeps SQLite's default (2 MiB). The connection that creates and
  // runs runs wants one that holds the index pages a round of cron runs writes (a few hundred
  // DAGs each write into their own part of dag_runs' per-DAG indexes); readers do not.
  int cache_mib = 0;
};

// Opens (creating and migrating) the SQLite database at `path`.
Result<std::unique_ptr<StateStore>> OpenSqliteStore(const std::string& path,
                                                    const SqliteStoreOptions& options = {});

}  // namespace conveyor::store
