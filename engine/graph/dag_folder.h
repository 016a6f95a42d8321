#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/graph/dag_bag.h"

namespace conveyor::graph {

// The DAGs of a folder as a long-running process sees them while people edit the files: a file
// that becomes broken keeps its last good version in use (and reports its error), a deleted file
// drops its DAG, and each version is shared, so a run keeps the one it started with.
class DagFolder {
 public:
  // With a `cache`, an unchanged file is decoded from it rather than parsed, and what is parsed
  // is stored in it (dag_bag.h).
  DagFolder(std::string folder, const dag::OperatorCatalog& catalog,
            ParsedDagCache* cache = nullptr);

  // Re-reads every file; files that are gone are dropped.
  void ReloadAll();
  // Re-reads these files, whether changed, created or deleted, each once and in path order.
  // Other paths are ignored.
  void Reload(std::vector<std::string> paths);

  std::shared_ptr<const LoadedDag> Find(std::string_view dag_id) const;
  // The DAGs in use (last good versions), sorted by dag_id.
  const std::vector<std::shared_ptr<const LoadedDag>>& Dags() const;

  struct FileStatus {
    std::string path;
    std::string dag_id;
    std::string error;  // the file's first error as file:line:column: message; empty when clean
    bool has_good_version = false;
  };
  std::vector<FileStatus> Files() const;
  const std::string& folder() const { return folder_; }
  // Grows on every reload that changed something.
  std::uint64_t generation() const { return generation_; }

 private:
  struct Entry {
    std::string dag_id;
    std::shared_ptr<const LoadedDag> good;
    std::string error;
  };
  // A file's new version: its DAG, or the first error that kept it from loading.
  void Apply(const std::string& path, Result<LoadedDag> built);
  void Index() const;

  std::string folder_;
  const dag::OperatorCatalog& catalog_;
  ParsedDagCache* cache_;
  std::map<std::string, Entry> files_;  // by path
  std::uint64_t generation_ = 0;
  // Find's index, rebuilt when the generation moves on. Not thread-safe, like the rest.
  mutable std::map<std::string, std::shared_ptr<const LoadedDag>, std::less<>> by_id_;
  mutable std::vector<std::shared_ptr<const LoadedDag>> sorted_;  // by_id_'s values
  mutable std::uint64_t indexed_generation_ = ~0ull;
};

}  // namespace conveyor::graph
