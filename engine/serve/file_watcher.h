#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/common/error.h"

namespace conveyor::serve {

// Watches a folder tree and single files with inotify on its own thread, and reports changed
// paths in batches, a short quiet moment after the last change (so a file being written is read
// once, whole). Subfolders created later are watched too.
class FileWatcher {
 public:
  using Callback = std::function<void(std::vector<std::string> paths)>;

  // `trees`: folders watched recursively for files written, moved or deleted. `files`: files
  // whose every write counts (e.g. a database's write-ahead log); their folder is watched, so they
  // need not exist yet. `on_change` runs on the watcher's thread.
  static Result<std::unique_ptr<FileWatcher>> Start(const std::vector<std::string>& trees,
                                                    const std::vector<std::string>& files,
                                                    Callback on_change);
  ~FileWatcher();
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

 private:
  FileWatcher(int inotify_fd, int stop_fd, Callback on_change);
  Status AddTree(const std::string& folder);
  void Loop();
  // Reads every queued event into `pending` (paths reported next).
  void ReadEvents(std::set<std::string>& pending);

  int inotify_fd_;
  int stop_fd_;
  Callback on_change_;
  std::map<int, std::string> tree_watches_;  // watch descriptor -> folder
  std::map<int, std::string> file_folders_;  // watch descriptor -> folder of watched files
  std::vector<std::string> files_;
  std::thread thread_;
};

}  // namespace conveyor::serve
