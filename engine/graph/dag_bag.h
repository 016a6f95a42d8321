#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "engine/common/error.h"
#include "engine/dag/dag.h"
#include "engine/dag/operator_catalog.h"
#include "engine/graph/task_graph.h"

namespace conveyor::graph {

// Parses of DAG files kept between processes (Airflow's serialized DAGs): a file whose path and
// bytes are unchanged since this build of conveyor parsed it is decoded (dag_codec.h) instead of
// parsed again, which for a file of a few thousand lines is 20 times quicker than yaml-cpp.
// Files load on several threads at once, so both calls must be safe to make concurrently.
class ParsedDagCache {
 public:
  virtual ~ParsedDagCache() = default;
  // The encoded DAG stored for `path` when it was parsed from exactly `source`.
  virtual std::optional<std::string> Find(const std::string& path, std::string_view source) = 0;
  virtual Status Save(const std::string& path, std::string_view source,
                      const std::string& encoded) = 0;
};

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
  // With a `cache`, unchanged files are decoded from it and clean parses are stored in it.
  static DagBag LoadFolder(const std::string& folder, const dag::OperatorCatalog& catalog,
                           ParsedDagCache* cache = nullptr);
  static DagBag LoadFiles(const std::vector<std::string>& files,
                          const dag::OperatorCatalog& catalog, ParsedDagCache* cache = nullptr);

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
// reads an upstream task. Errors are returned in the order found. A file that loads cleanly is
// stored in `cache`; one the cache holds unchanged is decoded from it.
Result<LoadedDag> LoadAndBuild(const std::string& path, const dag::OperatorCatalog& catalog,
                               Diagnostics* errors, ParsedDagCache* cache = nullptr);

// LoadAndBuild of each file, on as many threads as there are cores; results in `paths` order.
std::vector<BuiltDagFile> LoadAndBuildAll(const std::vector<std::string>& paths,
                                          const dag::OperatorCatalog& catalog,
                                          ParsedDagCache* cache = nullptr);

}  // namespace conveyor::graph
