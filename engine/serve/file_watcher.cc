#include "engine/serve/file_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>

namespace conveyor::serve {
namespace {

constexpr uint32_t kTreeEvents =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF;
// How long a batch gathers changes after its first one, so a file being written is read once,
// whole. Bounded from the first change, so a steady stream of writes still gets reported.
constexpr auto kGatherFor = std::chrono::milliseconds(50);

}  // namespace

Result<std::unique_ptr<FileWatcher>> FileWatcher::Start(const std::vector<std::string>& trees,
                                                        const std::vector<std::string>& files,
                                                        Callback on_change) {
  const int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return IoError(std::string("inotify_init1: ") + std::strerror(errno));
  const int stop = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (stop < 0) {
    close(fd);
    return IoError(std::string("eventfd: ") + std::strerror(errno));
  }
  std::unique_ptr<FileWatcher> watcher(new FileWatcher(fd, stop, std::move(on_change)));
  for (const std::string& tree : trees) {
    if (Status s = watcher->AddTree(tree); !s.ok()) return s.error();
  }
  for (const std::string& file : files) {
    const std::string folder = std::filesystem::path(file).parent_path().string();
    const int wd = inotify_add_watch(fd, folder.c_str(), IN_MODIFY | IN_CLOSE_WRITE);
    if (wd < 0) return IoError("cannot watch '" + folder + "': " + std::strerror(errno));
    watcher->file_folders_[wd] = folder;
    watcher->files_.push_back(file);
  }
  watcher->thread_ = std::thread([w = watcher.get()] { w->Loop(); });
  return watcher;
}

FileWatcher::FileWatcher(int inotify_fd, int stop_fd, Callback on_change)
    : inotify_fd_(inotify_fd), stop_fd_(stop_fd), on_change_(std::move(on_change)) {}

FileWatcher::~FileWatcher() {
  const uint64_t one = 1;
  if (write(stop_fd_, &one, sizeof one) < 0) {
    // An eventfd write fails only on overflow, which one write cannot cause.
  }
  if (thread_.joinable()) thread_.join();
  close(inotify_fd_);
  close(stop_fd_);
}

Status FileWatcher::AddTree(const std::string& folder) {
  namespace fs = std::filesystem;
  const int wd = inotify_add_watch(inotify_fd_, folder.c_str(), kTreeEvents);
  if (wd < 0) return IoError("cannot watch '" + folder + "': " + std::strerror(errno));
  tree_watches_[wd] = folder;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.empty() && name[0] != '.' && entry.is_directory(ec)) {
      if (Status s = AddTree(entry.path().string()); !s.ok()) return s;
    }
  }
  return Status::Ok();
}

void FileWatcher::Loop() {
  std::set<std::string> pending;
  std::chrono::steady_clock::time_point report_at;
  while (true) {
    // While a batch gathers, the inotify queue is not read: the kernel merges repeated events
    // into the last one queued, so a burst of writes (a database's log during a busy round)
    // wakes this thread once, not once per write.
    const bool gathering = !pending.empty();
    int timeout = -1;
    if (gathering) {
      // Rounded up: a zero timeout for the last partial millisecond would spin.
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(
          report_at - std::chrono::steady_clock::now());
      timeout = static_cast<int>(std::max<std::int64_t>(0, left.count()));
    }
    pollfd fds[2] = {{inotify_fd_, static_cast<short>(gathering ? 0 : POLLIN), 0},
                     {stop_fd_, POLLIN, 0}};
    const int ready = poll(fds, 2, timeout);
    if (ready < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    if (gathering) {
      if (std::chrono::steady_clock::now() < report_at) continue;
      ReadEvents(pending);
      on_change_(std::vector<std::string>(pending.begin(), pending.end()));
      pending.clear();
      continue;
    }
    if (ready <= 0 || (fds[0].revents & POLLIN) == 0) continue;
    report_at = std::chrono::steady_clock::now() + kGatherFor;
    ReadEvents(pending);
  }
}

void FileWatcher::ReadEvents(std::set<std::string>& pending) {
  alignas(inotify_event) char buffer[16384];
  while (true) {
    const ssize_t n = read(inotify_fd_, buffer, sizeof buffer);
    if (n <= 0) return;
    for (ssize_t offset = 0; offset < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
      offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      const std::string name = event->len > 0 ? std::string(event->name) : std::string();
      if (auto tree = tree_watches_.find(event->wd); tree != tree_watches_.end()) {
        const std::string path = (std::filesystem::path(tree->second) / name).string();
        if ((event->mask & IN_ISDIR) != 0) {
          if ((event->mask & (IN_CREATE | IN_MOVED_TO)) != 0 && !name.empty() && name[0] != '.') {
            (void)AddTree(path);
          }
          pending.insert(path + "/");  // a folder appeared or went: rescan
        } else if ((event->mask & IN_CREATE) == 0 && !name.empty()) {
          pending.insert(path);
        }
      }
      if (auto folder = file_folders_.find(event->wd); folder != file_folders_.end()) {
        const std::string path = (std::filesystem::path(folder->second) / name).string();
        if (std::find(files_.begin(), files_.end(), path) != files_.end()) pending.insert(path);
      }
      if ((event->mask & IN_Q_OVERFLOW) != 0) pending.insert("/");  // lost events: rescan all
    }
  }
}

}  // namespace conveyor::serve
