#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/common/error.h"
#include "engine/dag/dag.h"

namespace conveyor::graph {

// The tasks of a DAG as a Boost.Graph adjacency_list, edges running upstream -> downstream.
// Vertex i is dag.tasks[i]. Immutable once built; safe to share between threads.
class TaskGraph {
 public:
  // Builds the graph; a dependency cycle is an error that lists it ("a -> b -> c -> a"), located
  // at the first task of the cycle. Unknown dependencies must have been rejected by the loader.
  static Result<TaskGraph> Build(const dag::Dag& dag);

  TaskGraph(TaskGraph&&) noexcept;
  TaskGraph& operator=(TaskGraph&&) noexcept;
  ~TaskGraph();

  int size() const;
  // Every task, upstream before downstream; ties in file order.
  const std::vector<int>& TopologicalOrder() const { return topological_order_; }
  // Tasks with no upstream / no downstream, in file order.
  std::vector<int> Roots() const;
  std::vector<int> Leaves() const;
  // Direct neighbours, in file order.
  const std::vector<int>& Upstream(int task) const { return upstream_[task]; }
  const std::vector<int>& Downstream(int task) const { return downstream_[task]; }
  // Transitive closures, excluding `task` itself, in topological order.
  std::vector<int> AllUpstream(int task) const;
  std::vector<int> AllDownstream(int task) const;

 private:
  struct Impl;
  TaskGraph();
  std::vector<int> Reachable(int task, bool downstream) const;

  std::unique_ptr<Impl> impl_;
  std::vector<int> topological_order_;
  std::vector<std::vector<int>> upstream_;
  std::vector<std::vector<int>> downstream_;
};

}  // namespace conveyor::graph
