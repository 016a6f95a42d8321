#pragma once

#include <string>

namespace conveyor::scheduler {

// The files a run keeps under the log folder, all in <log_dir>/dag_id=D/run_id=R. Built by plain
// concatenation: they are made for every try, on the scheduler's thread.
std::string RunFolder(const std::string& log_dir, const std::string& dag_id,
                      const std::string& run_id);

// Where a try's files live: <run folder>/task_id=T/attempt=N<extension>.
std::string TryFile(const std::string& log_dir, const std::string& dag_id,
                    const std::string& run_id, const std::string& task_id, int try_number,
                    const std::string& extension);

// Where a shell try writes its outputs ($CONVEYOR_OUTPUT): <run folder>/task_id=T.attempt=N.output,
// so that a try that writes no log and no outputs needs no folder of its own.
std::string TryOutputFile(const std::string& log_dir, const std::string& dag_id,
                          const std::string& run_id, const std::string& task_id, int try_number);

// The run's start journal (start_journal.h): <run folder>/started-tries.
std::string StartJournalPath(const std::string& log_dir, const std::string& dag_id,
                             const std::string& run_id);

}  // namespace conveyor::scheduler
