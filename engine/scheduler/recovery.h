#pragma once

#include <string>

#include "engine/common/error.h"
#include "engine/store/run_store.h"

namespace conveyor::scheduler {

// A try left queued or running by a conveyor process that died: kills what is left of it, notes
// on the try that it was interrupted, and allows the task instance one more try (the
// interruption does not use up a retry); the caller puts it back to scheduled. Adds the try's
// writes to `batch` and returns the note.
Result<std::string> RecoverInterruptedTry(store::RunStore& store, const store::DagRunRecord& run,
                                          store::TaskInstanceRecord& ti, store::TimePoint now,
                                          store::WriteBatch& batch);

// The note an interrupted try gets: "try N interrupted: <cause>", then how many of its processes
// were still there and killed, if any.
std::string InterruptedTryNote(int try_number, const std::string& cause, int killed);

}  // namespace conveyor::scheduler
