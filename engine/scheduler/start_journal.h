#pragma once

#include <string>
#include <vector>

#include "engine/common/error.h"

namespace conveyor::scheduler {

// The shell tries of a run whose processes were started before their `queued` state was
// committed: one line "TRY_NUMBER TASK_ID" each, in the file StartJournalPath (run_files.h) names.
// A line is written before its process starts, and the commit follows while the process runs.
// Should conveyor die in between, the database does not know the try (its task instance's try
// number is lower): whoever takes the run over reads the journal, stops the try's processes and
// records the try as interrupted, so that no side effect happens without a recorded try.

// Appends `lines` (complete lines) to the journal at `path` in one write, making its folder the
// first time. The file is not kept open: `serve` runs many runs at once, and a descriptor held for
// each would count against the process's limit of open files.
Status AppendStartJournal(const std::string& path, const std::string& lines);

struct StartedTry {
  int try_number = 0;
  std::string task_id;
};

// Removes a finished run's journal at `path`: its tries are all committed, and it has nothing
// left to tell. Its folder, the run's, goes too when the journal was all it held (its tries wrote
// no log).
void RemoveStartJournal(const std::string& path);

// The journal's complete lines, in the order written; nothing when there is no journal. A last
// line cut short by a crash is left out: its process had not been started.
Result<std::vector<StartedTry>> ReadStartJournal(const std::string& path);

}  // namespace conveyor::scheduler
