#include "engine/graph/dag_bag.h"

#include <algorithm>
#include <filesystem>

#include "engine/dag/dag_loader.h"

namespace conveyor::graph {
namespace {

Diagnostics CheckOutputReferences(const dag::Dag& dag, const TaskGraph& graph) {
  Diagnostics errors;
  for (int i = 0; i < static_cast<int>(dag.tasks.size()); ++i) {
    if (dag.tasks[i].output_references.empty()) continue;
    const auto upstream = graph.AllUpstream(i);
    for (const dag::OutputReference& ref : dag.tasks[i].output_references) {
      const int source = dag.TaskIndex(ref.task_id);
      if (source >= 0 && std::find(upstream.begin(), upstream.end(), source) == upstream.end()) {
        errors.push_back(InvalidArgument("task '" + dag.tasks[i].id + "' reads the outputs of '" +
                                             ref.task_id + "', which is not upstream of it",
                                         ref.location));
      }
    }
  }
  return errors;
}

}  // namespace

bool IsDagFile(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  return ext == ".yaml" || ext == ".yml";
}

std::vector<std::string> ListDagFiles(const std::string& folder, std::error_code& ec) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  for (auto it = fs::recursive_directory_iterator(folder, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec) && IsDagFile(it->path().string())) {
      files.push_back(it->path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

Result<LoadedDag> LoadAndBuild(const std::string& path, const dag::OperatorCatalog& catalog,
                               Diagnostics* errors) {
  dag::DagFile file = dag::LoadDagFile(path, catalog);
  if (!file.ok()) {
    *errors = std::move(file.errors);
    return errors->front();
  }
  auto graph = TaskGraph::Build(*file.dag);
  if (!graph.ok()) {
    errors->push_back(graph.error());
    return graph.error();
  }
  *errors = CheckOutputReferences(*file.dag, *graph);
  if (!errors->empty()) return errors->front();
  return LoadedDag{std::move(*file.dag), std::move(graph).value()};
}

void DagBag::Add(const std::string& path, const dag::OperatorCatalog& catalog) {
  Diagnostics errors;
  auto loaded = LoadAndBuild(path, catalog, &errors);
  const std::string stem = std::filesystem::path(path).stem().string();
  if (!loaded.ok()) {
    broken_.push_back({path, stem, std::move(errors)});
    return;
  }
  const std::string id = loaded->dag.dag_id;
  if (auto it = paths_by_id_.find(id); it != paths_by_id_.end()) {
    broken_.push_back({path,
                       id,
                       {InvalidArgument("dag_id '" + id + "' is already defined in " + it->second,
                                        Location{path, 0, 0})}});
    return;
  }
  paths_by_id_[id] = path;
  dags_.push_back(std::move(loaded).value());
}

void DagBag::Finish() {
  std::sort(dags_.begin(), dags_.end(),
            [](const LoadedDag& a, const LoadedDag& b) { return a.dag.dag_id < b.dag.dag_id; });
}

DagBag DagBag::LoadFolder(const std::string& folder, const dag::OperatorCatalog& catalog) {
  namespace fs = std::filesystem;
  DagBag bag;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    bag.broken_.push_back(
        {folder, "", {IoError("DAG folder '" + folder + "' does not exist or is not a folder")}});
    return bag;
  }
  for (const std::string& file : ListDagFiles(folder, ec)) bag.Add(file, catalog);
  bag.Finish();
  return bag;
}

DagBag DagBag::LoadFiles(const std::vector<std::string>& files,
                         const dag::OperatorCatalog& catalog) {
  DagBag bag;
  for (const std::string& file : files) bag.Add(file, catalog);
  bag.Finish();
  return bag;
}

const LoadedDag* DagBag::Find(std::string_view dag_id) const {
  for (const LoadedDag& loaded : dags_) {
    if (loaded.dag.dag_id == dag_id) return &loaded;
  }
  return nullptr;
}

}  // namespace conveyor::graph
