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
  std::filesystem::path path;
  for (const auto& part : std::filesystem::path(folder)) {
    path /= part;
    if (mkdir(path.c_str(), 0700) == 0) chmod(path.c_str(), 0700);
  }
}

void MakePrivateParent(const std::string& path) {
  MakePrivateFolders(std::filesystem::path(path).parent_path().string());
}

int OpenPrivate(const std::string& path, int flags) {
  // Never through a symbolic link someone planted where conveyor writes.
  flags |= O_CREAT | O_CLOEXEC | O_NOFOLLOW;
  int fd = open(path.c_str(), flags | O_EXCL, 0600);
  if (fd < 0 && errno == ENOENT) {  // the first file of its folder
    MakePrivateParent(path);
    fd = open(path.c_str(), flags | O_EXCL, 0600);
  }
  if (fd >= 0) {
    fchmod(fd, 0600);  // created here: the umask may have taken bits away, or left some
    return fd;
  }
  if (errno != EEXIST) return -1;
  fd = open(path.c_str(), flags, 0600);
  if (fd >= 0) fchmod(fd, 0600);  // a file an older build or another tool left readable
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
