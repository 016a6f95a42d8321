#pragma once

#include <map>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "engine/common/error.h"
#include "engine/dag/dag.h"
#include "engine/dag/operator_catalog.h"
#include "engine/graph/task_graph.h"

namespace conveyor::graph {

// A DAG that loaded cleanly, with its graph.
struct LoadedDag {
  dag::Dag dag;
  TaskGraph graph;
};

// One file's LoadAndBuild (below): its DAG, or every problem found in it.
struct BuiltDagFile {
  Result<LoadedDag> loaded;
  Diagnostics errors;
};

// A file that did not load, with every problem found in it.
struct BrokenDagFile {
  std::string path;
  std::string dag_id;  // the dag_id it would have had (its file stem when unreadable)
  Diagnostics errors;
};

// The DAGs of a folder or a list of files (Airflow's DagBag). One broken file never stops the
// others from loading; a dag_id defined by two files makes the later one broken.
class DagBag {
 public:
  // Loads every *.yaml and *.yml file under `folder`, recursively, skipping hidden entries, in
  // path order. A missing folder is reported as one broken entry.
  static DagBag LoadFolder(const std::string& folder, const dag::OperatorCatalog& catalog);
  static DagBag LoadFiles(const std::vector<std::string>& files,
                          const dag::OperatorCatalog& catalog);

  // Clean DAGs, sorted by dag_id.
  const std::vector<LoadedDag>& dags() const { return dags_; }
  // Broken files, in path order.
  const std::vector<BrokenDagFile>& broken() const { return broken_; }
  const LoadedDag* Find(std::string_view dag_id) const;

 private:
  void Add(const std::string& path, BuiltDagFile built);
  void Finish();

  std::vector<LoadedDag> dags_;
  std::vector<BrokenDagFile> broken_;
  std::map<std::string, std::string> paths_by_id_;
};

// The *.yaml and *.yml files under `folder`, recursively, skipping hidden entries, in path
// order. `ec` is set when the folder cannot be read.
std::vector<std::string> ListDagFiles(const std::string& folder, std::error_code& ec);
bool IsDagFile(const std::string& path);

// Loads one file and checks what needs its graph: cycles, and that every {{ outputs.T.K }}
// reads an upstream task. Errors are returned in the order found.
Result<LoadedDag> LoadAndBuild(const std::string& path, const dag::OperatorCatalog& catalog,
                               Diagnostics* errors);

// LoadAndBuild of each file, on as many threads as there are cores; results in `paths` order.
std::vector<BuiltDagFile> LoadAndBuildAll(const std::vector<std::string>& paths,
                                          const dag::OperatorCatalog& catalog);

}  // namespace conveyor::graph
