#include "engine/scheduler/start_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/exec/operator.h"

namespace conveyor::scheduler {

std::string StartJournalPath(const std::string& log_dir, const std::string& dag_id,
                             const std::string& run_id) {
  std::string path = log_dir;
  if (!path.empty() && path.back() != '/') path += '/';
  return path.append("dag_id=")
      .append(dag_id)
      .append("/run_id=")
      .append(run_id)
      .append("/started-tries");
}

Status AppendStartJournal(const std::string& path, const std::string& lines) {
  const int fd = exec::OpenForAppend(path);
  if (fd < 0) return IoError("cannot open " + path + ": " + std::strerror(errno));
  if (!exec::WriteFully(fd, lines.data(), lines.size())) {
    const int error = errno;
    close(fd);
    return IoError("cannot write " + path + ": " + std::strerror(error));
  }
  close(fd);
  return Status::Ok();
}

Result<std::vector<StartedTry>> ReadStartJournal(const std::string& path) {
  std::vector<StartedTry> tries;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return tries;
    return IoError("cannot read " + path + ": " + std::strerror(errno));
  }
  std::stringstream text;
  text << in.rdbuf();
  const std::string all = text.str();
  size_t at = 0;
  while (true) {
    const size_t end = all.find('\n', at);
    if (end == std::string::npos) break;  // the rest, if any, was cut short
    const std::string line = all.substr(at, end - at);
    at = end + 1;
    const size_t space = line.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 == line.size()) continue;
    StartedTry started;
    try {
      size_t used = 0;
      started.try_number = std::stoi(line.substr(0, space), &used);
      if (used != space || started.try_number < 1) continue;
    } catch (const std::exception&) {
      continue;
    }
    started.task_id = line.substr(space + 1);
    tries.push_back(std::move(started));
  }
  return tries;
}

}  // namespace conveyor::scheduler
