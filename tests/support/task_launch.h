#pragma once

#include <cstdint>
#include <string>

#include "engine/exec/executor.h"

namespace conveyor::testing {

// A try of task "t<id>" of run "r" of DAG "d", with its log, output and working folder in `dir`.
inline exec::TaskLaunch TestLaunch(std::uint64_t id, const std::string& operator_name,
                                   const std::string& dir) {
  exec::TaskLaunch launch;
  launch.id = id;
  launch.operator_name = operator_name;
  launch.runs_as_process = operator_name == "shell";  // as the built-in registry says
  launch.info.dag_id = "d";
  launch.info.run_id = "r";
  launch.info.task_id = "t" + std::to_string(id);
  launch.info.log_path = dir + "/t" + std::to_string(id) + ".log";
  launch.info.output_path = dir + "/t" + std::to_string(id) + ".out";
  launch.info.work_dir = dir;
  return launch;
}

}  // namespace conveyor::testing
