#include "engine/scheduler/start_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/exec/operator.h"

namespace conveyor::scheduler {

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

void RemoveStartJournal(const std::string& path) {
  if (unlink(path.c_str()) != 0) return;
  // Fails, as it should, unless the folder is empty.
  rmdir(std::filesystem::path(path).parent_path().c_str());
}

Result<std::vector<StartedTry>> ReadStartJournal(const std::string& path) {
  std::vector<StartedTry> tries;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return tries;
    return IoError("cannot read " + path + ": " + std::strerror(errno));
  }
  std::string line;
  // getline also returns a last line without its newline: eof() tells it was cut short.
  while (std::getline(in, line) && !in.eof()) {
    const size_t space = line.find(' ');
    if (space == std::string::npos || space + 1 == line.size()) continue;
    StartedTry started;
    const char* end = line.data() + space;
    const auto [stop, error] = std::from_chars(line.data(), end, started.try_number);
    if (error != std::errc() || stop != end || started.try_number < 1) continue;
    started.task_id = line.substr(space + 1);
    tries.push_back(std::move(started));
  }
  if (in.bad()) return IoError("cannot read " + path + ": " + std::strerror(errno));
  return tries;
}

}  // namespace conveyor::scheduler
