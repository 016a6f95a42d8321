#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "engine/graph/dag_folder.h"

namespace conveyor::serve {

// The DAGs as the scheduler last loaded them, immutable once published: what the HTTP threads
// read while the scheduler thread goes on reloading files.
struct DagSnapshot {
  std::vector<std::shared_ptr<const graph::LoadedDag>> dags;  // last good versions, by dag_id
  std::vector<graph::DagFolder::FileStatus> files;            // by path
  std::shared_ptr<const graph::LoadedDag> Find(std::string_view dag_id) const;
  // The file that defines (or would define) a DAG, or null.
  const graph::DagFolder::FileStatus* FileOf(std::string_view dag_id) const;
};

std::shared_ptr<const DagSnapshot> MakeSnapshot(const graph::DagFolder& folder);

// Where the scheduler publishes snapshots and readers take the latest. Thread-safe.
class SharedDags {
 public:
  void Publish(std::shared_ptr<const DagSnapshot> snapshot);
  std::shared_ptr<const DagSnapshot> Get() const;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const DagSnapshot> snapshot_ = std::make_shared<DagSnapshot>();
};

}  // namespace conveyor::serve
