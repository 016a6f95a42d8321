#include "engine/graph/task_graph.h"

#include <algorithm>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/depth_first_search.hpp>
#include <boost/graph/reverse_graph.hpp>
#include <queue>

namespace conveyor::graph {

using BoostGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS>;
using Vertex = boost::graph_traits<BoostGraph>::vertex_descriptor;

struct TaskGraph::Impl {
  BoostGraph graph;
};

namespace {

// Records the first back edge of a depth-first search and the tree edges leading to it.
class CycleFinder : public boost::default_dfs_visitor {
 public:
  CycleFinder(std::vector<int>& parent, std::vector<int>& cycle) : parent_(parent), cycle_(cycle) {}

  void tree_edge(boost::graph_traits<BoostGraph>::edge_descriptor e, const BoostGraph& g) {
    parent_[boost::target(e, g)] = static_cast<int>(boost::source(e, g));
  }
  void back_edge(boost::graph_traits<BoostGraph>::edge_descriptor e, const BoostGraph& g) {
    if (!cycle_.empty()) return;
    const int from = static_cast<int>(boost::source(e, g));
    const int to = static_cast<int>(boost::target(e, g));
    for (int v = from; v != to; v = parent_[v]) cycle_.push_back(v);
    cycle_.push_back(to);
    std::reverse(cycle_.begin(), cycle_.end());
  }

 private:
  std::vector<int>& parent_;
  std::vector<int>& cycle_;
};

// Collects vertices reached by a breadth-first search.
class ReachRecorder : public boost::default_bfs_visitor {
 public:
  explicit ReachRecorder(std::vector<bool>& reached) : reached_(reached) {}
  template <typename G>
  void discover_vertex(typename boost::graph_traits<G>::vertex_descriptor v, const G&) {
    reached_[v] = true;
  }

 private:
  std::vector<bool>& reached_;
};

}  // namespace

TaskGraph::TaskGraph() : impl_(std::make_unique<Impl>()) {}
TaskGraph::TaskGraph(TaskGraph&&) noexcept = default;
TaskGraph& TaskGraph::operator=(TaskGraph&&) noexcept = default;
TaskGraph::~TaskGraph() = default;

Result<TaskGraph> TaskGraph::Build(const dag::Dag& dag) {
  const int n = static_cast<int>(dag.tasks.size());
  TaskGraph built;
  built.impl_->graph = BoostGraph(static_cast<size_t>(n));
  built.upstream_.resize(static_cast<size_t>(n));
  built.downstream_.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    for (const std::string& dep : dag.tasks[i].depends_on) {
      const int from = dag.TaskIndex(dep);
      if (from < 0) continue;
      if (std::find(built.upstream_[i].begin(), built.upstream_[i].end(), from) !=
          built.upstream_[i].end()) {
        continue;
      }
      boost::add_edge(static_cast<Vertex>(from), static_cast<Vertex>(i), built.impl_->graph);
      built.upstream_[i].push_back(from);
      built.downstream_[from].push_back(i);
    }
  }
  for (auto& list : built.upstream_) std::sort(list.begin(), list.end());
  for (auto& list : built.downstream_) std::sort(list.begin(), list.end());

  std::vector<int> parent(static_cast<size_t>(n), -1);
  std::vector<int> cycle;
  boost::depth_first_search(built.impl_->graph, boost::visitor(CycleFinder(parent, cycle)));
  if (!cycle.empty()) {
    std::string text;
    for (int v : cycle) text += dag.tasks[v].id + " -> ";
    text += dag.tasks[cycle.front()].id;
    return InvalidArgument("cycle in task dependencies: " + text,
                           dag.tasks[cycle.front()].location);
  }

  // Kahn's algorithm with a min-heap keeps file order among ready tasks.
  std::vector<int> pending(static_cast<size_t>(n));
  std::priority_queue<int, std::vector<int>, std::greater<>> ready;
  for (int i = 0; i < n; ++i) {
    pending[i] = static_cast<int>(built.upstream_[i].size());
    if (pending[i] == 0) ready.push(i);
  }
  while (!ready.empty()) {
    const int task = ready.top();
    ready.pop();
    built.topological_order_.push_back(task);
    for (int next : built.downstream_[task]) {
      if (--pending[next] == 0) ready.push(next);
    }
  }
  return built;
}

int TaskGraph::size() const { return static_cast<int>(upstream_.size()); }

std::vector<int> TaskGraph::Roots() const {
  std::vector<int> out;
  for (int i = 0; i < size(); ++i) {
    if (upstream_[i].empty()) out.push_back(i);
  }
  return out;
}

std::vector<int> TaskGraph::Leaves() const {
  std::vector<int> out;
  for (int i = 0; i < size(); ++i) {
    if (downstream_[i].empty()) out.push_back(i);
  }
  return out;
}

std::vector<int> TaskGraph::Reachable(int task, bool downstream) const {
  std::vector<bool> reached(static_cast<size_t>(size()), false);
  const auto start = static_cast<Vertex>(task);
  if (downstream) {
    boost::breadth_first_search(impl_->graph, start, boost::visitor(ReachRecorder(reached)));
  } else {
    boost::breadth_first_search(boost::make_reverse_graph(impl_->graph), start,
                                boost::visitor(ReachRecorder(reached)));
  }
  std::vector<int> out;
  for (int v : topological_order_) {
    if (reached[v] && v != task) out.push_back(v);
  }
  return out;
}

std::vector<int> TaskGraph::AllUpstream(int task) const { return Reachable(task, false); }
std::vector<int> TaskGraph::AllDownstream(int task) const { return Reachable(task, true); }

}  // namespace conveyor::graph
