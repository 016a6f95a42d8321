#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "engine/dag/resources.h"
#include "engine/dag/slurm_options.h"

namespace conveyor::scheduler {

// Scheduled task instances waiting for a worker, grouped by what can hold them back: their run,
// their pool, their executor and the resources they ask for. A pick goes through the groups that
// are open, so a full pool or a DAG at its max_active_tasks costs one check per group, not one per
// waiting task.
class ReadyQueue {
 public:
  // Highest priority first, then upstream first.
  struct Key {
    int neg_priority;
    int position;
    size_t run;
    int task;
    auto operator<=>(const Key&) const = default;
  };
  struct Gate {
    size_t run;
    std::string pool;
    ExecutorKind executor;
    dag::Resources need;  // what each try holds on the local executor
    auto operator<=>(const Gate&) const = default;
  };

  void Insert(const Gate& gate, const Key& key);
  // Does nothing when the key is not there.
  void Erase(const Gate& gate, const Key& key);
  size_t size() const { return size_; }

  // Takes ready tasks in key order, from the groups `open` accepts (of `only_runs` when given),
  // while `more` holds. `open` is asked again before each task of a group, as taking one may
  // close it; a group it refuses is passed over until the next pick. `take` gets a task already
  // removed from the queue.
  void Pick(const std::function<bool()>& more, const std::function<bool(const Gate&)>& open,
            const std::set<size_t>* only_runs,
            const std::function<void(const Gate&, const Key&)>& take);

 private:
  std::map<Gate, std::set<Key>> groups_;
  size_t size_ = 0;
};

}  // namespace conveyor::scheduler
