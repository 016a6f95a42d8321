#include "engine/scheduler/run_files.h"

namespace conveyor::scheduler {
namespace {

std::string TaskPrefix(const std::string& log_dir, const std::string& dag_id,
                       const std::string& run_id, const std::string& task_id) {
  return RunFolder(log_dir, dag_id, run_id).append("/task_id=").append(task_id);
}

}  // namespace

std::string RunFolder(const std::string& log_dir, const std::string& dag_id,
                      const std::string& run_id) {
  std::string path = log_dir;
  if (!path.empty() && path.back() != '/') path += '/';
  return path.append("dag_id=").append(dag_id).append("/run_id=").append(run_id);
}

std::string TryFile(const std::string& log_dir, const std::string& dag_id,
                    const std::string& run_id, const std::string& task_id, int try_number,
                    const std::string& extension) {
  return TaskPrefix(log_dir, dag_id, run_id, task_id)
      .append("/attempt=")
      .append(std::to_string(try_number))
      .append(extension);
}

std::string TryOutputFile(const std::string& log_dir, const std::string& dag_id,
                          const std::string& run_id, const std::string& task_id, int try_number) {
  return TaskPrefix(log_dir, dag_id, run_id, task_id)
      .append(".attempt=")
      .append(std::to_string(try_number))
      .append(".output");
}

std::string StartJournalPath(const std::string& log_dir, const std::string& dag_id,
                             const std::string& run_id) {
  return RunFolder(log_dir, dag_id, run_id).append("/started-tries");
}

}  // namespace conveyor::scheduler
