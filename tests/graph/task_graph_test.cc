#include "engine/graph/task_graph.h"

#include <gtest/gtest.h>

namespace conveyor::graph {
namespace {

dag::Dag MakeDag(const std::vector<std::pair<std::string, std::vector<std::string>>>& tasks) {
  dag::Dag dag;
  for (const auto& [id, deps] : tasks) {
    dag::Task task;
    task.id = id;
    task.depends_on = deps;
    task.location = Location{"d.yaml", static_cast<int>(dag.tasks.size()) + 1, 3};
    dag.tasks.push_back(task);
  }
  return dag;
}

std::vector<std::string> Names(const dag::Dag& dag, const std::vector<int>& indices) {
  std::vector<std::string> out;
  for (int i : indices) out.push_back(dag.tasks[i].id);
  return out;
}

using Names_ = std::vector<std::string>;

TEST(TaskGraphTest, DiamondOrderRootsLeavesAndNeighbours) {
  // report depends on left and right, which both depend on extract; audit stands alone.
  const dag::Dag dag = MakeDag({{"report", {"left", "right"}},
                                {"right", {"extract"}},
                                {"audit", {}},
                                {"left", {"extract"}},
                                {"extract", {}}});
  auto graph = TaskGraph::Build(dag);
  ASSERT_TRUE(graph.ok());
  EXPECT_EQ(Names(dag, graph->TopologicalOrder()),
            (Names_{"audit", "extract", "right", "left", "report"}));
  EXPECT_EQ(Names(dag, graph->Roots()), (Names_{"audit", "extract"}));
  EXPECT_EQ(Names(dag, graph->Leaves()), (Names_{"report", "audit"}));
  EXPECT_EQ(Names(dag, graph->Upstream(0)), (Names_{"right", "left"}));
  EXPECT_EQ(Names(dag, graph->Downstream(4)), (Names_{"right", "left"}));
  EXPECT_EQ(Names(dag, graph->AllUpstream(0)), (Names_{"extract", "right", "left"}));
  EXPECT_EQ(Names(dag, graph->AllDownstream(4)), (Names_{"right", "left", "report"}));
  EXPECT_TRUE(graph->AllDownstream(0).empty());
  EXPECT_TRUE(graph->AllUpstream(2).empty());
  EXPECT_EQ(graph->size(), 5);
}

TEST(TaskGraphTest, RepeatedDependencyIsOneEdge) {
  const dag::Dag dag = MakeDag({{"a", {}}, {"b", {"a", "a"}}});
  auto graph = TaskGraph::Build(dag);
  ASSERT_TRUE(graph.ok());
  EXPECT_EQ(graph->Upstream(1), (std::vector<int>{0}));
}

TEST(TaskGraphTest, CycleErrorListsTheWholeCycle) {
  const dag::Dag dag = MakeDag({{"start", {}}, {"a", {"start", "c"}}, {"b", {"a"}}, {"c", {"b"}}});
  auto graph = TaskGraph::Build(dag);
  ASSERT_FALSE(graph.ok());
  EXPECT_EQ(graph.error().ToString(), "d.yaml:2:3: cycle in task dependencies: a -> b -> c -> a");
}

TEST(TaskGraphTest, LongChainAndWideFanout) {
  std::vector<std::pair<std::string, std::vector<std::string>>> tasks;
  tasks.push_back({"root", {}});
  for (int i = 0; i < 1000; ++i) tasks.push_back({"t" + std::to_string(i), {"root"}});
  std::vector<std::string> all;
  for (int i = 0; i < 1000; ++i) all.push_back("t" + std::to_string(i));
  tasks.push_back({"join", all});
  const dag::Dag dag = MakeDag(tasks);
  auto graph = TaskGraph::Build(dag);
  ASSERT_TRUE(graph.ok());
  EXPECT_EQ(graph->TopologicalOrder().front(), 0);
  EXPECT_EQ(graph->TopologicalOrder().back(), 1001);
  EXPECT_EQ(graph->AllDownstream(0).size(), 1001u);
  EXPECT_EQ(graph->AllUpstream(1001).size(), 1001u);
}

}  // namespace
}  // namespace conveyor::graph
