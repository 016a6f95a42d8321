#include "engine/scheduler/run_driver.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

namespace conveyor::scheduler {
namespace {

constexpr auto kLeaseStaleAfter = std::chrono::seconds(30);

bool IsTerminal(state::RunState s) {
  return s == state::RunState::kSuccess || s == state::RunState::kFailed;
}

}  // namespace

bool ProcessAlive(int pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

Result<state::RunState> DriveRun(store::StateStore& store, const exec::OperatorRegistry& registry,
                                 const graph::LoadedDag& dag, store::RunKey run,
                                 const RunLoopOptions& options,
                                 const std::function<void(const Transition&)>& observer) {
  while (true) {
    auto record = store.GetRun(run);
    if (!record.ok()) return record.error();
    if (IsTerminal(record->state)) return record->state;
    int previous = 0;
    const auto now = store::CurrentTime();
    auto acquired =
        store.AcquireLease(run, getpid(), now, now - kLeaseStaleAfter, &ProcessAlive, &previous);
    if (!acquired.ok()) return acquired.error();
    if (*acquired) {
      Status status;
      {
        RunLoop loop(store, registry, exec::SystemProcessRunner(), options, observer);
        status = loop.AddRun(dag, run);
        if (status.ok()) status = loop.Run();
      }
      (void)store.ReleaseLease(run, getpid());
      if (!status.ok()) return status.error();
      continue;  // read the final state
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace conveyor::scheduler
