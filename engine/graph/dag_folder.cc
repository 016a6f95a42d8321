#include "engine/graph/dag_folder.h"

#include <algorithm>
#include <filesystem>

namespace conveyor::graph {

DagFolder::DagFolder(std::string folder, const dag::OperatorCatalog& catalog, ParsedDagCache* cache)
    : folder_(std::move(folder)), catalog_(catalog), cache_(cache) {}

void DagFolder::ReloadAll() {
  std::error_code ec;
  std::vector<std::string> paths = ListDagFiles(folder_, ec);
  for (const auto& [path, entry] : files_) paths.push_back(path);  // to drop the missing ones
  Reload(std::move(paths));
}

void DagFolder::Reload(std::vector<std::string> paths) {
  // Each file once, in path order: a full reload names the known files twice (listed and
  // known), and a burst of edits may name one file several times.
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  std::vector<std::string> present;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (!IsDagFile(path)) continue;
    if (std::filesystem::is_regular_file(path, ec)) {
      present.push_back(path);
    } else if (files_.erase(path) > 0) {
      ++generation_;
    }
  }
  std::vector<BuiltDagFile> built = LoadAndBuildAll(present, catalog_, cache_);
  for (size_t i = 0; i < present.size(); ++i) {
    Apply(present[i], std::move(built[i].loaded));
    ++generation_;
  }
}

void DagFolder::Apply(const std::string& path, Result<LoadedDag> built) {
  Entry& entry = files_[path];
  if (!built.ok()) {
    entry.error = built.error().ToString();
    if (!entry.good) entry.dag_id = std::filesystem::path(path).stem().string();
    return;
  }
  auto loaded = std::make_shared<const LoadedDag>(std::move(built).value());
  const std::string& id = loaded->dag.dag_id;
  for (const auto& [other_path, other] : files_) {
    if (other_path != path && other.good && other.dag_id == id) {
      entry.error = path + ": dag_id '" + id + "' is already defined in " + other_path;
      if (!entry.good) entry.dag_id = id;
      return;
    }
  }
  entry.dag_id = id;
  entry.error.clear();
  entry.good = std::move(loaded);
}

void DagFolder::Index() const {
  if (indexed_generation_ == generation_) return;
  by_id_.clear();
  for (const auto& [path, entry] : files_) {
    if (entry.good) by_id_.emplace(entry.dag_id, entry.good);
  }
  sorted_.clear();
  for (const auto& [id, dag] : by_id_) sorted_.push_back(dag);
  indexed_generation_ = generation_;
}

std::shared_ptr<const LoadedDag> DagFolder::Find(std::string_view dag_id) const {
  Index();
  auto it = by_id_.find(dag_id);
  return it == by_id_.end() ? nullptr : it->second;
}

const std::vector<std::shared_ptr<const LoadedDag>>& DagFolder::Dags() const {
  Index();
  return sorted_;
}

std::vector<DagFolder::FileStatus> DagFolder::Files() const {
  std::vector<FileStatus> out;
  for (const auto& [path, entry] : files_) {
    out.push_back({path, entry.dag_id, entry.error, entry.good != nullptr});
  }
  return out;
}

}  // namespace conveyor::graph
