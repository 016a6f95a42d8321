#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/error.h"
#include "engine/store/records.h"
#include "engine/store/write_batch.h"

namespace conveyor::store {

struct RunFilter {
  std::optional<std::string> dag_id;
  std::optional<state::RunState> state;
  int limit = 100;
  int offset = 0;
  bool oldest_first = false;  // by logical date; newest first otherwise
};

// Runs, their task instances, tries and outputs: what the scheduler reads to take a run on and
// writes, one WriteBatch per transaction, as it runs it.
class RunStore {
 public:
  virtual ~RunStore() = default;

  // Creates a run and its task instances in one transaction; a duplicate (dag_id, run_id) is an
  // kAlreadyExists error. Returns the run's key.
  virtual Result<RunKey> CreateRun(const DagRunRecord& run,
                                   const std::vector<TaskInstanceRecord>& tasks) = 0;
  // The first of `n` consecutive run keys that no writer of the database will use but the
  // caller: it writes for runs before they exist, then creates them with these keys.
  virtual Result<RunKey> ReserveRunKeys(int n) = 0;
  // Creates every run not already there (same run id, or a scheduled/backfill run for the same
  // logical date) in one transaction, each with its reserved key (`run.id`) and its lease held by
  // `lease_pid`, and commits `batch`, the writes made for them, in the same transaction (its task
  // instance rows replace the new ones). The writes for a run that existed are dropped with it.
  // Events are stamped `now`. Returns whether each run was created.
  virtual Result<std::vector<bool>> CreateRunsIfAbsent(const std::vector<NewRun>& runs,
                                                       int lease_pid, TimePoint now,
                                                       WriteBatch batch) = 0;
  virtual Result<std::optional<DagRunRecord>> FindRun(const std::string& dag_id,
                                                      const std::string& run_id) = 0;
  virtual Result<DagRunRecord> GetRun(RunKey run) = 0;
  // Newest logical date first. `total` (if given) receives the count before limit/offset.
  virtual Result<std::vector<DagRunRecord>> ListRuns(const RunFilter& filter, int* total) = 0;
  virtual Result<std::vector<TaskInstanceRecord>> ListTaskInstances(RunKey run) = 0;
  virtual Result<std::vector<TryRecord>> ListTries(RunKey run, const std::string& task_id) = 0;
  // {"task_id": {"key": "value", ...}, ...} for a run.
  virtual Result<nlohmann::json> ReadOutputs(RunKey run) = 0;
  // The cached result written under `key` (a task's `cache:`), if any.
  virtual Result<std::optional<CachedTry>> FindCachedTry(const std::string& key) = 0;

  // Runs of a DAG whose logical date is `logical_date`, any type.
  virtual Result<std::vector<DagRunRecord>> FindRunsAt(const std::string& dag_id,
                                                       Instant logical_date) = 0;
  // The run of a DAG with the latest logical date before `logical_date`, any type: the run
  // before, for depends_on_past.
  virtual Result<std::optional<DagRunRecord>> PreviousRun(const std::string& dag_id,
                                                          Instant logical_date) = 0;
  // The latest logical date of a scheduled or backfill run (Airflow's last automated run).
  virtual Result<std::optional<Instant>> LatestAutomatedRun(const std::string& dag_id) = 0;

  // Commits every write of the batch in one transaction.
  virtual Status Commit(const WriteBatch& batch) = 0;
};

}  // namespace conveyor::store
