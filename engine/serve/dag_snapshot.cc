#include "engine/serve/dag_snapshot.h"

#include <algorithm>

namespace conveyor::serve {

std::shared_ptr<const graph::LoadedDag> DagSnapshot::Find(std::string_view dag_id) const {
  auto it =
      std::lower_bound(dags.begin(), dags.end(), dag_id,
                       [](const auto& dag, std::string_view id) { return dag->dag.dag_id < id; });
  if (it == dags.end() || (*it)->dag.dag_id != dag_id) return nullptr;
  return *it;
}

const graph::DagFolder::FileStatus* DagSnapshot::FileOf(std::string_view dag_id) const {
  for (const auto& file : files) {
    if (file.dag_id == dag_id) return &file;
  }
  return nullptr;
}

std::shared_ptr<const DagSnapshot> MakeSnapshot(const graph::DagFolder& folder) {
  auto snapshot = std::make_shared<DagSnapshot>();
  snapshot->dags = folder.Dags();
  snapshot->files = folder.Files();
  return snapshot;
}

void SharedDags::Publish(std::shared_ptr<const DagSnapshot> snapshot) {
  std::lock_guard<std::mutex> lock(mutex_);
  snapshot_ = std::move(snapshot);
}

std::shared_ptr<const DagSnapshot> SharedDags::Get() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return snapshot_;
}

}  // namespace conveyor::serve
