#pragma once

#include <optional>

#include "engine/common/error.h"
#include "engine/store/lease.h"
#include "engine/store/records.h"

namespace conveyor::store {

// Leases: which process runs a run, and which `serve` schedules the whole database. Who holds one
// is decided by store/lease.h's rules, here as the lease is taken and by everyone who looks.
class LeaseStore {
 public:
  virtual ~LeaseStore() = default;

  // Takes the run's lease for `pid` unless another live process holds it: a holder is live when
  // `is_alive(holder pid)` and its heartbeat is newer than `stale_before`. Returns whether the
  // lease is now ours, and the previous holder's pid (0 if none) in `previous`.
  virtual Result<bool> AcquireLease(RunKey run, int pid, TimePoint now, TimePoint stale_before,
                                    bool (*is_alive)(int pid), int* previous) = 0;
  virtual Status Heartbeat(RunKey run, int pid, TimePoint now) = 0;
  virtual Status ReleaseLease(RunKey run, int pid) = 0;
  virtual Result<std::optional<RunLease>> GetLease(RunKey run) = 0;

  // The scheduler's lease on the whole database: which `serve` runs queued runs. Same rules as a
  // run's lease.
  virtual Result<bool> AcquireSchedulerLease(int pid, TimePoint now, TimePoint stale_before,
                                             bool (*is_alive)(int pid), int* previous) = 0;
  virtual Status SchedulerHeartbeat(int pid, TimePoint now) = 0;
  virtual Status ReleaseSchedulerLease(int pid) = 0;
  virtual Result<std::optional<RunLease>> GetSchedulerLease() = 0;
};

}  // namespace conveyor::store
