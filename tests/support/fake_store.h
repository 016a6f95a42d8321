#pragma once

#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "engine/store/lease_store.h"
#include "engine/store/run_store.h"

namespace conveyor::testing {

// The runs and leases of a scheduler held in memory, as ninja's tests fake their disk: the run
// loop and recovery are tested against it without SQLite. It keeps what the SQLite store keeps
// (rows written as last written, tries merged, events appended) and checks nothing the SQLite
// store would not: a duplicate run is an error, a batch is applied whole. Thread-safe.
class FakeStore : public store::RunStore, public store::LeaseStore {
 public:
  Result<store::RunKey> CreateRun(const store::DagRunRecord& run,
                                  const std::vector<store::TaskInstanceRecord>& tasks) override;
  Result<store::RunKey> ReserveRunKeys(int n) override;
  Result<std::vector<bool>> CreateRunsIfAbsent(const std::vector<store::NewRun>& runs,
                                               int lease_pid, store::TimePoint now,
                                               store::WriteBatch batch) override;
  Result<std::optional<store::DagRunRecord>> FindRun(const std::string& dag_id,
                                                     const std::string& run_id) override;
  Result<store::DagRunRecord> GetRun(store::RunKey run) override;
  Result<std::vector<store::DagRunRecord>> ListRuns(const store::RunFilter& filter,
                                                    int* total) override;
  Result<std::vector<store::TaskInstanceRecord>> ListTaskInstances(store::RunKey run) override;
  Result<std::vector<store::TryRecord>> ListTries(store::RunKey run,
                                                  const std::string& task_id) override;
  Result<nlohmann::json> ReadOutputs(store::RunKey run) override;
  Result<std::optional<store::CachedTry>> FindCachedTry(const std::string& key) override;
  Result<std::vector<store::DagRunRecord>> FindRunsAt(const std::string& dag_id,
                                                      Instant logical_date) override;
  Result<std::optional<store::DagRunRecord>> PreviousRun(const std::string& dag_id,
                                                         Instant logical_date) override;
  Result<std::optional<Instant>> LatestAutomatedRun(const std::string& dag_id) override;
  Status Commit(const store::WriteBatch& batch) override;

  Result<bool> AcquireLease(store::RunKey run, int pid, store::TimePoint now,
                            store::TimePoint stale_before, bool (*is_alive)(int pid),
                            int* previous) override;
  Status Heartbeat(store::RunKey run, int pid, store::TimePoint now) override;
  Status ReleaseLease(store::RunKey run, int pid) override;
  Result<std::optional<store::RunLease>> GetLease(store::RunKey run) override;
  Result<bool> AcquireSchedulerLease(int pid, store::TimePoint now, store::TimePoint stale_before,
                                     bool (*is_alive)(int pid), int* previous) override;
  Status SchedulerHeartbeat(int pid, store::TimePoint now) override;
  Status ReleaseSchedulerLease(int pid) override;
  Result<std::optional<store::RunLease>> GetSchedulerLease() override;

  // Every task instance event, in order: "task try from->to" and ": note" when it has one.
  std::vector<std::string> TaskEvents() const;
  // How many batches were committed.
  int commits() const;
  // Makes the next Commit fail with this error, once.
  void FailNextCommit(Error error);

 private:
  struct StoredRun {
    store::DagRunRecord record;
    std::vector<store::TaskInstanceRecord> tis;  // in the order created
    std::map<std::pair<std::string, int>, store::TryRecord> tries;
    nlohmann::json outputs = nlohmann::json::object();
    std::optional<store::RunLease> lease;
  };
  bool Exists(const store::DagRunRecord& run) const;  // with mutex_ held
  store::RunKey Insert(store::DagRunRecord run, const std::vector<store::TaskInstanceRecord>& tasks,
                       std::optional<store::RunLease> lease);  // with mutex_ held
  Status Apply(const store::WriteBatch& batch);                // with mutex_ held

  mutable std::mutex mutex_;
  std::map<store::RunKey, StoredRun> runs_;         // GUARDED_BY(mutex_)
  store::RunKey next_key_ = 1;                      // GUARDED_BY(mutex_)
  std::vector<std::string> events_;                 // GUARDED_BY(mutex_)
  int commits_ = 0;                                 // GUARDED_BY(mutex_)
  std::optional<Error> fail_next_;                  // GUARDED_BY(mutex_)
  std::optional<store::RunLease> scheduler_lease_;  // GUARDED_BY(mutex_)
};

}  // namespace conveyor::testing
