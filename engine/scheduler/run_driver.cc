#include "engine/scheduler/run_driver.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <thread>

#include "engine/store/lease.h"

namespace conveyor::scheduler {
namespace {

// How often a waiting process looks at runs others hold.
constexpr auto kWaitStep = std::chrono::milliseconds(50);

bool IsTerminal(state::RunState s) {
  return s == state::RunState::kSuccess || s == state::RunState::kFailed;
}

}  // namespace

bool ProcessAlive(int pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

int LiveScheduler(store::LeaseStore& store, const Clock& clock) {
  auto lease = store.GetSchedulerLease();
  if (!lease.ok()) return 0;
  const auto stale_before = clock.PreciseNow() - store::kLeaseStaleAfter;
  const bool other_live = store::WhoHolds(*lease, getpid(), stale_before, &ProcessAlive) ==
                          store::LeaseHolder::kOtherLive;
  return other_live ? (*lease)->pid : 0;
}

Result<std::vector<state::RunState>> DriveRuns(
    store::StateStore& store, const exec::OperatorRegistry& registry, const graph::LoadedDag& dag,
    const std::vector<store::RunKey>& runs, int max_active, const RunLoopOptions& options,
    const std::function<void(const Transition&)>& observer,
    const std::function<void(const store::DagRunRecord&)>& on_finished,
    std::optional<std::int64_t> show_events_after) {
  if (!show_events_after) {
    auto last = store.LastEventId();
    if (!last.ok()) return last.error();
    show_events_after = *last;
  }
  std::vector<state::RunState> outcomes(runs.size(), state::RunState::kQueued);
  std::set<size_t> pending;
  for (size_t i = 0; i < runs.size(); ++i) pending.insert(i);
  std::map<store::RunKey, size_t> mine;              // runs this process runs -> their index
  std::map<store::RunKey, std::int64_t> seen_event;  // runs run elsewhere -> last event shown
  std::unique_ptr<RunLoop> loop;
  auto last_look = std::chrono::steady_clock::time_point{};
  while (!pending.empty()) {
    const auto now_steady = std::chrono::steady_clock::now();
    if (mine.size() < pending.size() && now_steady - last_look >= kWaitStep) {
      last_look = now_steady;
      const bool serve_runs_them = LiveScheduler(store, *options.clock) != 0;
      for (auto it = pending.begin(); it != pending.end();) {
        const size_t i = *it;
        if (mine.count(runs[i]) != 0) {
          ++it;
          continue;
        }
        auto record = store.GetRun(runs[i]);
        if (!record.ok()) return record.error();
        // Another process runs it: show its transitions as they are committed.
        if (observer) {
          const std::int64_t seen =
              seen_event.try_emplace(runs[i], *show_events_after).first->second;
          auto events = store.ListEvents(runs[i], seen);
          if (!events.ok()) return events.error();
          for (const store::EventRecord& e : *events) {
            seen_event[runs[i]] = e.id;
            if (e.task_id.empty() || e.from_state == e.to_state) continue;
            observer({record->dag_id, record->run_id, e.task_id, e.try_number,
                      state::ParseTaskState(e.from_state).value_or(state::TaskState::kNone),
                      state::ParseTaskState(e.to_state).value_or(state::TaskState::kNone), e.note,
                      record->logical_date, std::nullopt});
          }
        }
        if (IsTerminal(record->state)) {
          outcomes[i] = record->state;
          if (on_finished) on_finished(*record);
          it = pending.erase(it);
          continue;
        }
        ++it;
        if (serve_runs_them || static_cast<int>(mine.size()) >= std::max(1, max_active)) continue;
        int previous = 0;
        const auto now = options.clock->PreciseNow();
        auto acquired = store.AcquireLease(runs[i], getpid(), now, now - store::kLeaseStaleAfter,
                                           &ProcessAlive, &previous);
        if (!acquired.ok()) return acquired.error();
        if (!*acquired) continue;
        if (!loop) {
          loop = std::make_unique<RunLoop>(store, registry, exec::SystemProcessRunner(), options,
                                           observer);
        }
        if (Status s = loop->AddRun(dag, runs[i]); !s.ok()) return s.error();
        mine[runs[i]] = i;
      }
    }
    if (pending.empty()) break;
    if (mine.empty()) {
      std::this_thread::sleep_for(kWaitStep);
      continue;
    }
    if (Status s = loop->Poll(options.clock->PreciseNow() + kWaitStep); !s.ok()) {
      return s.error();
    }
    for (const store::DagRunRecord& finished : loop->TakeFinishedRuns()) {
      (void)store.ReleaseLease(finished.id, getpid());
      const size_t i = mine.at(finished.id);
      mine.erase(finished.id);
      outcomes[i] = finished.state;
      pending.erase(i);
      if (on_finished) on_finished(finished);
      last_look = {};  // a slot is free: start the next run now
    }
  }
  return outcomes;
}

Result<state::RunState> DriveRun(store::StateStore& store, const exec::OperatorRegistry& registry,
                                 const graph::LoadedDag& dag, store::RunKey run,
                                 const RunLoopOptions& options,
                                 const std::function<void(const Transition&)>& observer,
                                 std::optional<std::int64_t> show_events_after) {
  auto outcomes =
      DriveRuns(store, registry, dag, {run}, 1, options, observer, nullptr, show_events_after);
  if (!outcomes.ok()) return outcomes.error();
  return outcomes->front();
}

}  // namespace conveyor::scheduler
