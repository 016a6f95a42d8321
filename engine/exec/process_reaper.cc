#include "engine/exec/process_reaper.h"

#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace conveyor::exec {
namespace {

bool EnvironmentNames(int pid, const std::string& dag_id, const std::string& run_id,
                      const std::string& task_id) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  if (!in) return false;
  const std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto has = [&](const std::string& entry) {
    const std::string needle = entry + '\0';
    return env.rfind(entry + '\0', 0) == 0 || env.find('\0' + needle) != std::string::npos;
  };
  return has("CONVEYOR_DAG_ID=" + dag_id) && has("CONVEYOR_RUN_ID=" + run_id) &&
         has("CONVEYOR_TASK_ID=" + task_id);
}

int KillGroupOf(int pid) {
  const pid_t group = getpgid(pid);
  if (group > 0 && group != getpgrp()) return kill(-group, SIGKILL) == 0 ? 1 : 0;
  return kill(pid, SIGKILL) == 0 ? 1 : 0;
}

}  // namespace

int KillTaskProcesses(const std::string& dag_id, const std::string& run_id,
                      const std::string& task_id, std::optional<int> pid) {
  int killed = 0;
  if (pid && *pid > 0 && getpgid(*pid) == *pid) killed += kill(-*pid, SIGKILL) == 0 ? 1 : 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    const int other = std::stoi(name);
    if (other == getpid()) continue;
    if (EnvironmentNames(other, dag_id, run_id, task_id)) killed += KillGroupOf(other);
  }
  return killed;
}

}  // namespace conveyor::exec
