#include "engine/slurm/job_states.h"

#include <set>
#include <sstream>

namespace conveyor::slurm {

std::map<std::string, JobInfo> ParseJobLines(const std::string& text) {
  std::map<std::string, JobInfo> jobs;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::string id;
    JobInfo info;
    std::istringstream fields(line);
    std::string field;
    while (fields >> field) {
      const size_t eq = field.find('=');
      if (eq == std::string::npos) continue;
      const std::string key = field.substr(0, eq);
      const std::string value = field.substr(eq + 1);
      // First occurrence wins: values such as a job's name may hold "key=value" text later on.
      if (key == "JobId" && id.empty()) id = value;
      if (key == "JobState" && info.state.empty()) info.state = value;
      if (key == "ExitCode" && info.exit_code.empty()) info.exit_code = value;
      if (key == "Reason" && info.reason.empty()) info.reason = value;
      if (key == "BatchHost" && info.node.empty()) info.node = value;
    }
    if (!id.empty() && !info.state.empty()) jobs[id] = info;
  }
  return jobs;
}

bool IsFinalState(const std::string& state) {
  static const std::set<std::string> kFinal = {
      "COMPLETED", "FAILED",        "CANCELLED", "TIMEOUT",      "NODE_FAIL", "PREEMPTED",
      "BOOT_FAIL", "OUT_OF_MEMORY", "DEADLINE",  "SPECIAL_EXIT", "REVOKED"};
  return kFinal.count(state) > 0;
}

bool IsRunningState(const std::string& state) {
  return state == "RUNNING" || state == "COMPLETING" || state == "STAGE_OUT" ||
         state == "SIGNALING";
}

}  // namespace conveyor::slurm
