#include "tests/support/fake_store.h"

#include <algorithm>
#include <set>

#include "engine/store/lease.h"

namespace conveyor::testing {

using store::DagRunRecord;
using store::RunKey;
using store::TaskInstanceRecord;

bool FakeStore::Exists(const DagRunRecord& run) const {
  for (const auto& [key, stored] : runs_) {
    const DagRunRecord& other = stored.record;
    if (other.dag_id != run.dag_id) continue;
    if (other.run_id == run.run_id) return true;
    // One scheduled or backfill run per logical date, as the SQLite store's unique key says.
    const auto automated = [](const DagRunRecord& r) { return r.run_type != "manual"; };
    if (automated(other) && automated(run) && other.logical_date &&
        other.logical_date == run.logical_date) {
      return true;
    }
  }
  return false;
}

RunKey FakeStore::Insert(DagRunRecord run, const std::vector<TaskInstanceRecord>& tasks,
                         std::optional<store::RunLease> lease) {
  if (run.id == 0) run.id = next_key_++;
  StoredRun& stored = runs_[run.id];
  stored.record = std::move(run);
  stored.lease = lease;
  for (TaskInstanceRecord ti : tasks) {
    ti.run = stored.record.id;
    stored.tis.push_back(std::move(ti));
  }
  return stored.record.id;
}

Result<RunKey> FakeStore::CreateRun(const DagRunRecord& run,
                                    const std::vector<TaskInstanceRecord>& tasks) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (Exists(run)) {
    return Error{ErrorCode::kAlreadyExists,
                 "DAG '" + run.dag_id + "' already has a run '" + run.run_id + "'",
                 {}};
  }
  DagRunRecord fresh = run;
  fresh.id = 0;
  return Insert(std::move(fresh), tasks, std::nullopt);
}

Result<RunKey> FakeStore::ReserveRunKeys(int n) {
  std::lock_guard<std::mutex> lock(mutex_);
  const RunKey first = next_key_;
  next_key_ += n;
  return first;
}

Result<std::vector<bool>> FakeStore::CreateRunsIfAbsent(const std::vector<store::NewRun>& runs,
                                                        int lease_pid, store::TimePoint now,
                                                        store::WriteBatch batch) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<bool> created;
  std::set<RunKey> existed;
  for (const store::NewRun& run : runs) {
    created.push_back(!Exists(run.run));
    if (created.back()) {
      Insert(run.run, run.tasks, store::RunLease{lease_pid, now});
    } else {
      existed.insert(run.run.id);
    }
  }
  batch.DropRuns(existed);
  if (Status s = Apply(batch); !s.ok()) return s.error();
  return created;
}

Result<std::optional<DagRunRecord>> FakeStore::FindRun(const std::string& dag_id,
                                                       const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [key, stored] : runs_) {
    if (stored.record.dag_id == dag_id && stored.record.run_id == run_id)
      return std::optional<DagRunRecord>(stored.record);
  }
  return std::optional<DagRunRecord>();
}

Result<DagRunRecord> FakeStore::GetRun(RunKey run) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = runs_.find(run);
  if (it == runs_.end()) return NotFound("no run with key " + std::to_string(run));
  return it->second.record;
}

Result<std::vector<DagRunRecord>> FakeStore::ListRuns(const store::RunFilter& filter, int* total) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<DagRunRecord> out;
  for (const auto& [key, stored] : runs_) {
    if (filter.dag_id && stored.record.dag_id != *filter.dag_id) continue;
    if (filter.state && stored.record.state != *filter.state) continue;
    out.push_back(stored.record);
  }
  std::stable_sort(out.begin(), out.end(), [&](const DagRunRecord& a, const DagRunRecord& b) {
    const auto ka = std::make_pair(a.logical_date.value_or(Instant{}), a.id);
    const auto kb = std::make_pair(b.logical_date.value_or(Instant{}), b.id);
    return filter.oldest_first ? ka < kb : kb < ka;
  });
  if (total != nullptr) *total = static_cast<int>(out.size());
  const size_t from = std::min(out.size(), static_cast<size_t>(filter.offset));
  const size_t to = std::min(out.size(), from + static_cast<size_t>(filter.limit));
  return std::vector<DagRunRecord>(out.begin() + static_cast<std::ptrdiff_t>(from),
                                   out.begin() + static_cast<std::ptrdiff_t>(to));
}

Result<std::vector<TaskInstanceRecord>> FakeStore::ListTaskInstances(RunKey run) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = runs_.find(run);
  if (it == runs_.end()) return std::vector<TaskInstanceRecord>();
  return it->second.tis;
}

Result<std::vector<store::TryRecord>> FakeStore::ListTries(RunKey run, const std::string& task_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<store::TryRecord> out;
  auto it = runs_.find(run);
  if (it == runs_.end()) return out;
  for (const auto& [key, attempt] : it->second.tries) {
    if (key.first == task_id) out.push_back(attempt);
  }
  return out;
}

Result<std::optional<store::CachedTry>> FakeStore::FindCachedTry(const std::string& key) {
  (void)key;  // the scheduling tests that use this store cache nothing
  return std::optional<store::CachedTry>();
}

Result<nlohmann::json> FakeStore::ReadOutputs(RunKey run) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = runs_.find(run);
  if (it == runs_.end()) return nlohmann::json::object();
  return it->second.outputs;
}

Result<std::vector<DagRunRecord>> FakeStore::FindRunsAt(const std::string& dag_id,
                                                        Instant logical_date) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<DagRunRecord> out;
  for (const auto& [key, stored] : runs_) {
    if (stored.record.dag_id == dag_id && stored.record.logical_date == logical_date) {
      out.push_back(stored.record);
    }
  }
  return out;
}

Result<std::optional<store::DagRunRecord>> FakeStore::PreviousRun(const std::string& dag_id,
                                                                  Instant logical_date) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::optional<store::DagRunRecord> previous;
  for (const auto& [key, stored] : runs_) {
    const store::DagRunRecord& run = stored.record;
    if (run.dag_id != dag_id || !run.logical_date || *run.logical_date >= logical_date) continue;
    if (!previous || *run.logical_date >= *previous->logical_date) previous = run;
  }
  return previous;
}

Result<std::optional<Instant>> FakeStore::LatestAutomatedRun(const std::string& dag_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::optional<Instant> latest;
  for (const auto& [key, stored] : runs_) {
    const store::DagRunRecord& run = stored.record;
    if (run.dag_id != dag_id || run.run_type == "manual" || !run.logical_date) continue;
    if (!latest || *run.logical_date > *latest) latest = run.logical_date;
  }
  return latest;
}

Status FakeStore::Commit(const store::WriteBatch& batch) {
  std::lock_guard<std::mutex> lock(mutex_);
  return Apply(batch);
}

Status FakeStore::Apply(const store::WriteBatch& batch) {
  if (fail_next_) {
    Error error = std::move(*fail_next_);
    fail_next_.reset();
    return error;
  }
  // Checked first, so that a batch is applied whole or not at all.
  const auto known = [this](RunKey run) { return runs_.count(run) > 0; };
  for (const auto& write : batch.runs()) {
    if (!known(write.run.id)) return NotFound("no run with key " + std::to_string(write.run.id));
  }
  for (const TaskInstanceRecord& ti : batch.task_instances()) {
    if (!known(ti.run)) return NotFound("no run with key " + std::to_string(ti.run));
  }
  for (const store::TryRecord& attempt : batch.tries()) {
    if (!known(attempt.run)) return NotFound("no run with key " + std::to_string(attempt.run));
  }
  for (const auto& write : batch.runs()) {
    DagRunRecord& record = runs_.at(write.run.id).record;
    record = write.run;
  }
  for (const TaskInstanceRecord& ti : batch.task_instances()) {
    auto& tis = runs_.at(ti.run).tis;
    auto it = std::find_if(tis.begin(), tis.end(), [&](const TaskInstanceRecord& row) {
      return row.task_id == ti.task_id;
    });
    if (it == tis.end()) {
      tis.push_back(ti);
    } else {
      *it = ti;
    }
  }
  for (const store::TryRecord& attempt : batch.tries()) {
    auto [it, inserted] =
        runs_.at(attempt.run)
            .tries.try_emplace(std::make_pair(attempt.task_id, attempt.try_number), attempt);
    if (inserted) continue;
    // As the SQLite store's upsert: a start, log and pid once written stay.
    store::TryRecord merged = attempt;
    if (!merged.start_date) merged.start_date = it->second.start_date;
    if (merged.log_path.empty()) merged.log_path = it->second.log_path;
    it->second = merged;
  }
  for (const auto& output : batch.outputs()) {
    for (const auto& item : output.outputs.items()) {
      runs_.at(output.run).outputs[output.task_id][item.key()] = item.value();
    }
  }
  for (const auto& event : batch.events()) {
    std::string line = event.task_id + " " + std::to_string(event.try_number) + " " +
                       std::string(state::Name(event.from)) + "->" +
                       std::string(state::Name(event.to));
    if (!event.note.empty()) line += ": " + event.note;
    events_.push_back(std::move(line));
  }
  ++commits_;
  return Status::Ok();
}

Result<bool> FakeStore::AcquireLease(RunKey run, int pid, store::TimePoint now,
                                     store::TimePoint stale_before, bool (*is_alive)(int),
                                     int* previous) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = runs_.find(run);
  if (it == runs_.end()) return NotFound("no run with key " + std::to_string(run));
  std::optional<store::RunLease>& lease = it->second.lease;
  *previous = lease ? lease->pid : 0;
  if (store::WhoHolds(lease, pid, stale_before, is_alive) == store::LeaseHolder::kOtherLive) {
    return false;
  }
  lease = store::RunLease{pid, now};
  return true;
}

Status FakeStore::Heartbeat(RunKey run, int pid, store::TimePoint now) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = runs_.find(run);
  if (it != runs_.end() && it->second.lease && it->second.lease->pid == pid) {
    it->second.lease->heartbeat = now;
  }
  return Status::Ok();
}

Status FakeStore::ReleaseLease(RunKey run, int pid) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = runs_.find(run);
  if (it != runs_.end() && it->second.lease && it->second.lease->pid == pid) {
    it->second.lease.reset();
  }
  return Status::Ok();
}

Result<std::optional<store::RunLease>> FakeStore::GetLease(RunKey run) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = runs_.find(run);
  if (it == runs_.end()) return std::optional<store::RunLease>();
  return it->second.lease;
}

Result<bool> FakeStore::AcquireSchedulerLease(int pid, store::TimePoint now,
                                              store::TimePoint stale_before, bool (*is_alive)(int),
                                              int* previous) {
  std::lock_guard<std::mutex> lock(mutex_);
  *previous = scheduler_lease_ ? scheduler_lease_->pid : 0;
  if (store::WhoHolds(scheduler_lease_, pid, stale_before, is_alive) ==
      store::LeaseHolder::kOtherLive) {
    return false;
  }
  scheduler_lease_ = store::RunLease{pid, now};
  return true;
}

Status FakeStore::SchedulerHeartbeat(int pid, store::TimePoint now) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (scheduler_lease_ && scheduler_lease_->pid == pid) scheduler_lease_->heartbeat = now;
  return Status::Ok();
}

Status FakeStore::ReleaseSchedulerLease(int pid) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (scheduler_lease_ && scheduler_lease_->pid == pid) scheduler_lease_.reset();
  return Status::Ok();
}

Result<std::optional<store::RunLease>> FakeStore::GetSchedulerLease() {
  std::lock_guard<std::mutex> lock(mutex_);
  return scheduler_lease_;
}

std::vector<std::string> FakeStore::TaskEvents() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return events_;
}

int FakeStore::commits() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return commits_;
}

void FakeStore::FailNextCommit(Error error) {
  std::lock_guard<std::mutex> lock(mutex_);
  fail_next_ = std::move(error);
}

}  // namespace conveyor::testing
