#pragma once

#include <optional>
#include <string>

namespace conveyor::exec {

// Kills (SIGKILL, whole process group) what is left of a task's try after the conveyor process
// that ran it died: the process group of `pid` when it still leads one, and any process whose
// environment names this dag, run and task (which covers a process that started before its pid
// was recorded). Returns how many processes were signalled.
int KillTaskProcesses(const std::string& dag_id, const std::string& run_id,
                      const std::string& task_id, std::optional<int> pid);

}  // namespace conveyor::exec
