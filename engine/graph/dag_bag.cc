#include "engine/graph/dag_bag.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <optional>
#include <thread>

#include "engine/dag/dag_codec.h"
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

namespace {

// The file decoded from the cache when it holds this very text (`*decoded` set), else parsed.
// `source` is the text read, empty when the file was not read here.
dag::DagFile ParseOrDecode(const std::string& path, const dag::OperatorCatalog& catalog,
                           ParsedDagCache* cache, std::string* source, bool* decoded) {
  if (!cache) return dag::LoadDagFile(path, catalog);
  auto text = dag::ReadDagFileText(path);
  if (!text) return dag::LoadDagFile(path, catalog);  // which reports it
  *source = std::move(*text);
  if (auto encoded = cache->Find(path, *source)) {
    // A record this build cannot decode (damaged, say) is parsed again and overwritten.
    if (auto dag = dag::DecodeDag(*encoded)) {
      *decoded = true;
      return dag::DagFile{path, std::move(dag), {}};
    }
  }
  return dag::ParseDagText(*source, path, catalog);
}

}  // namespace

Result<LoadedDag> LoadAndBuild(const std::string& path, const dag::OperatorCatalog& catalog,
                               Diagnostics* errors, ParsedDagCache* cache) {
  std::string source;
  bool decoded = false;
  dag::DagFile file = ParseOrDecode(path, catalog, cache, &source, &decoded);
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
  if (cache && !decoded) {
    // A cache that cannot be written costs only the next process's parse, so the load goes on.
    (void)cache->Save(path, source, dag::EncodeDag(*file.dag));
  }
  *errors = catalog.CheckPlacement(*file.dag);
  if (!errors->empty()) return errors->front();
  return LoadedDag{std::move(*file.dag), std::move(graph).value()};
}

std::vector<BuiltDagFile> LoadAndBuildAll(const std::vector<std::string>& paths,
                                          const dag::OperatorCatalog& catalog,
                                          ParsedDagCache* cache) {
  // Parsing YAML is most of the work, and files do not depend on each other.
  std::vector<std::optional<BuiltDagFile>> built(paths.size());
  std::atomic<size_t> next{0};
  const auto work = [&] {
    for (size_t i = next++; i < paths.size(); i = next++) {
      Diagnostics errors;
      auto loaded = LoadAndBuild(paths[i], catalog, &errors, cache);
      built[i].emplace(BuiltDagFile{std::move(loaded), std::move(errors)});
    }
  };
  const size_t threads =
      std::min<size_t>(paths.size(), std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; ++t) helpers.emplace_back(work);
  work();
  for (std::thread& helper : helpers) helper.join();
  std::vector<BuiltDagFile> out;
  out.reserve(built.size());
  for (auto& file : built) out.push_back(std::move(*file));
  return out;
}

void DagBag::Add(const std::string& path, BuiltDagFile built) {
  Result<LoadedDag>& loaded = built.loaded;
  const std::string stem = std::filesystem::path(path).stem().string();
  if (!loaded.ok()) {
    broken_.push_back({path, stem, std::move(built.errors)});
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

DagBag DagBag::LoadFolder(const std::string& folder, const dag::OperatorCatalog& catalog,
                          ParsedDagCache* cache) {
  namespace fs = std::filesystem;
  DagBag bag;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    bag.broken_.push_back(
        {folder, "", {IoError("DAG folder '" + folder + "' does not exist or is not a folder")}});
    return bag;
  }
  return LoadFiles(ListDagFiles(folder, ec), catalog, cache);
}

DagBag DagBag::LoadFiles(const std::vector<std::string>& paths, const dag::OperatorCatalog& catalog,
                         ParsedDagCache* cache) {
  DagBag bag;
  std::vector<BuiltDagFile> built = LoadAndBuildAll(paths, catalog, cache);
  for (size_t i = 0; i < paths.size(); ++i) bag.Add(paths[i], std::move(built[i]));
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
