#include "engine/scheduler/ready_queue.h"

#include <queue>
#include <utility>
#include <vector>

namespace conveyor::scheduler {

void ReadyQueue::Insert(const Gate& gate, const Key& key) {
  if (groups_[gate].insert(key).second) ++size_;
}

void ReadyQueue::Erase(const Gate& gate, const Key& key) {
  auto group = groups_.find(gate);
  if (group == groups_.end() || group->second.erase(key) == 0) return;
  --size_;
  if (group->second.empty()) groups_.erase(group);
}

void ReadyQueue::Pick(const std::function<bool()>& more,
                      const std::function<bool(const Gate&)>& open,
                      const std::set<size_t>* only_runs,
                      const std::function<void(const Gate&, const Key&)>& take) {
  if (!more()) return;
  // The head of every group that may take a task, best first.
  using Head = std::pair<Key, Gate>;
  std::priority_queue<Head, std::vector<Head>, std::greater<Head>> heads;
  const auto consider = [&](const Gate& gate, const std::set<Key>& keys) {
    if (open(gate)) heads.push({*keys.begin(), gate});
  };
  if (only_runs == nullptr) {
    for (const auto& [gate, keys] : groups_) consider(gate, keys);
  } else {
    // Groups are ordered by run first: each run's are found by a seek, not by walking every
    // other run's (runs created by the hundred when many DAGs are due at once).
    for (const size_t run : *only_runs) {
      for (auto it = groups_.lower_bound(
               Gate{run, std::string(), ExecutorKind::kDefault, dag::Resources{}});
           it != groups_.end() && it->first.run == run; ++it) {
        consider(it->first, it->second);
      }
    }
  }
  while (!heads.empty() && more()) {
    Head head = heads.top();
    heads.pop();
    if (!open(head.second)) continue;
    Erase(head.second, head.first);
    take(head.second, head.first);
    // Looked up again: `take` may have added to the group or emptied it.
    auto group = groups_.find(head.second);
    if (group != groups_.end()) heads.push({*group->second.begin(), head.second});
  }
}

}  // namespace conveyor::scheduler
