#include "engine/common/private_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace conveyor {

void MakePrivateFolders(const std::string& folder) {
  if (folder.empty()) return;
  // Usually there already: one system call on the path from one task to the next.
  if (mkdir(folder.c_str(), 0700) == 0) {
    chmod(folder.c_str(), 0700);
    return;
  }
  if (errno != ENOENT) return;
  const std::string parent = std::filesystem::path(folder).parent_path().string();
  if (parent == folder) return;
  MakePrivateFolders(parent);
  if (mkdir(folder.c_str(), 0700) == 0) chmod(folder.c_str(), 0700);
}

void MakePrivateParent(const std::string& path) {
  MakePrivateFolders(std::filesystem::path(path).parent_path().string());
}

int OpenPrivate(const std::string& path, int flags) {
  // Mode 0600, which the umask can only narrow: private whatever the umask, in one system call
  // (a try's log, and each start journal line, open a file on the path between two tasks).
  // Never through a symbolic link someone planted where conveyor writes.
  flags |= O_CREAT | O_CLOEXEC | O_NOFOLLOW;
  int fd = open(path.c_str(), flags, 0600);
  if (fd < 0 && errno == ENOENT) {  // the first file of its folder
    MakePrivateParent(path);
    fd = open(path.c_str(), flags, 0600);
  }
  return fd;
}

Status TouchPrivate(const std::string& path) {
  const int fd = OpenPrivate(path, O_WRONLY);
  if (fd < 0) return IoError("cannot create " + path + ": " + std::strerror(errno));
  close(fd);
  return Status::Ok();
}

Status WritePrivateFile(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp." + std::to_string(getpid());
  unlink(temporary.c_str());
  const int fd = OpenPrivate(temporary, O_WRONLY | O_TRUNC);
  if (fd < 0) return IoError("cannot write " + temporary + ": " + std::strerror(errno));
  const char* data = text.data();
  size_t left = text.size();
  while (left > 0) {
    const ssize_t n = write(fd, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string error = std::strerror(errno);
      close(fd);
      return IoError("cannot write " + temporary + ": " + error);
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  close(fd);
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    return IoError("cannot rename " + temporary + " to " + path + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

void MakePrivate(const std::string& path) { chmod(path.c_str(), 0600); }

}  // namespace conveyor
