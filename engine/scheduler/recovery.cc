#include "engine/scheduler/recovery.h"

#include "engine/exec/process_reaper.h"

namespace conveyor::scheduler {

Result<std::string> RecoverInterruptedTry(store::RunStore& store, const store::DagRunRecord& run,
                                          store::TaskInstanceRecord& ti, store::TimePoint now,
                                          store::WriteBatch& batch) {
  const int killed = exec::KillTaskProcesses(run.dag_id, run.run_id, ti.task_id, ti.pid);
  auto tries = store.ListTries(ti.run, ti.task_id);
  if (!tries.ok()) return tries.error();
  const std::string note =
      InterruptedTryNote(ti.try_number, "the conveyor process running it died", killed);
  for (store::TryRecord attempt : *tries) {
    if (attempt.try_number != ti.try_number) continue;
    attempt.note = note;
    attempt.end_date = now;
    batch.PutTry(attempt);
  }
  ti.max_tries += 1;
  ti.pid.reset();
  return note;
}

std::string InterruptedTryNote(int try_number, const std::string& cause, int killed) {
  std::string note = "try " + std::to_string(try_number) + " interrupted: " + cause;
  if (killed > 0) note += "; " + std::to_string(killed) + " leftover process(es) killed";
  return note;
}

}  // namespace conveyor::scheduler
