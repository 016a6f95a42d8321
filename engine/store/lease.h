#pragma once

// Who holds a lease (a run's, or the scheduler's on the whole database), decided the same way by
// the store as it takes one and by everyone who only looks.

#include <chrono>
#include <optional>

#include "engine/store/records.h"

namespace conveyor::store {

// How long a lease lives without a heartbeat.
inline constexpr auto kLeaseStaleAfter = std::chrono::seconds(30);

// Whether a lease's holder wrote its heartbeat recently enough to be taken as live.
inline bool LeaseFresh(const RunLease& lease, TimePoint now) {
  return lease.heartbeat >= now - kLeaseStaleAfter;
}

enum class LeaseHolder {
  kNobody,     // no lease, or one left by a dead process or with a stale heartbeat
  kSelf,       // the process asking, whatever its heartbeat
  kOtherLive,  // another process, alive and with a heartbeat no older than `stale_before`
};

// Who holds `lease`, seen from the process `self_pid`: another holder counts when
// `is_alive(its pid)` and its heartbeat is at or after `stale_before` (usually
// now - kLeaseStaleAfter).
inline LeaseHolder WhoHolds(const std::optional<RunLease>& lease, int self_pid,
                            TimePoint stale_before, bool (*is_alive)(int pid)) {
  if (!lease) return LeaseHolder::kNobody;
  if (lease->pid == self_pid) return LeaseHolder::kSelf;
  if (lease->heartbeat >= stale_before && is_alive(lease->pid)) return LeaseHolder::kOtherLive;
  return LeaseHolder::kNobody;
}

}  // namespace conveyor::store
