#include "engine/scheduler/flow_decision.h"

#include <gtest/gtest.h>

#include "engine/scheduler/run_plan.h"
#include "tests/support/dag_fixture.h"

namespace conveyor::scheduler {
namespace {

using state::TaskState;

std::vector<std::string> Ids(const graph::LoadedDag& dag, const std::vector<int>& tasks) {
  std::vector<std::string> ids;
  for (int task : tasks) ids.push_back(dag.dag.tasks[task].id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

TEST(FlowDecisionTest, ABranchSkipsTheDirectDownstreamTasksItDidNotChoose) {
  testing::TempDir dir;
  const auto dag = testing::LoadFixtureDag(dir, R"(tasks:
  - {id: pick, operator: branch, args: {choose: a}}
  - {id: a, operator: noop, depends_on: [pick]}
  - {id: b, operator: noop, depends_on: [pick]}
  - {id: c, operator: noop, depends_on: [pick]}
  - {id: join, operator: noop, depends_on: [pick, a]}
)");
  const int pick = dag.dag.TaskIndex("pick");
  auto one = DecideFlow(dag, pick, {{"branch", "a"}});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(Ids(dag, one->skipped), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(one->reason, "skipped: branch 'pick' chose a");
  auto listed = DecideFlow(dag, pick, {{"branch", R"(["b", "c"])"}});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(Ids(dag, listed->skipped), (std::vector<std::string>{"a", "join"}));
  auto none = DecideFlow(dag, pick, {{"branch", ""}});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(Ids(dag, none->skipped), (std::vector<std::string>{"a", "b", "c", "join"}));
  EXPECT_EQ(none->reason, "skipped: branch 'pick' chose no task");
  auto far = DecideFlow(dag, dag.dag.TaskIndex("pick"), {{"branch", nlohmann::json::array({"x"})}});
  ASSERT_FALSE(far.ok());
  EXPECT_EQ(far.error().message,
            "branch task 'pick' chose 'x', which is not a task directly downstream of it (those "
            "are: a, b, c, join)");
}

TEST(FlowDecisionTest, TruthIsPythons) {
  for (const nlohmann::json& value :
       {nlohmann::json(false), nlohmann::json(nullptr), nlohmann::json(0), nlohmann::json(""),
        nlohmann::json("0"), nlohmann::json("False"), nlohmann::json("NO"), nlohmann::json("None"),
        nlohmann::json::array()}) {
    EXPECT_FALSE(Truthy(value)) << value.dump();
  }
  for (const nlohmann::json& value : {nlohmann::json(true), nlohmann::json(2), nlohmann::json("x"),
                                      nlohmann::json("true"), nlohmann::json::array({0})}) {
    EXPECT_TRUE(Truthy(value)) << value.dump();
  }
}

TEST(FlowDecisionTest, ADecisionSkipsATaskWhateverItsRuleWhileItWaits) {
  testing::TempDir dir;
  const auto dag = testing::LoadFixtureDag(dir, R"(tasks:
  - {id: gate, operator: short_circuit, args: {condition: "no"}}
  - {id: next, operator: noop, depends_on: [gate]}
  - {id: cleanup, operator: noop, depends_on: [next], trigger_rule: always}
)");
  RunPlan plan(dag, 1, {});
  const int gate = dag.dag.TaskIndex("gate");
  plan.SetState(gate, TaskState::kSuccess);
  auto decision = DecideFlow(dag, gate, {{"condition", "no"}});
  ASSERT_TRUE(decision.ok());
  plan.Apply(*decision);
  plan.Settle();
  EXPECT_EQ(plan.ti(dag.dag.TaskIndex("cleanup")).state, TaskState::kSkipped);
  EXPECT_EQ(plan.SkipReason(dag.dag.TaskIndex("cleanup")),
            "skipped: short-circuit 'gate' was false");
  EXPECT_TRUE(plan.Finished());
  EXPECT_EQ(plan.Outcome(), state::RunState::kSuccess);
}

TEST(FlowDecisionTest, OnlyTheLatestScheduledIntervalIsLatest) {
  testing::TempDir dir;
  const auto dag = testing::LoadFixtureDag(dir, R"(schedule: "0 * * * *"
start_date: "2026-01-01"
tasks:
  - {id: a, operator: noop, latest_only: true}
)");
  store::DagRunRecord run;
  run.run_id = "scheduled__2026-03-01T10:00:00+00:00";
  run.run_type = "scheduled";
  run.data_interval_start =
      Instant(std::chrono::sys_days(std::chrono::March / 1 / 2026)) + std::chrono::hours(10);
  run.data_interval_end = *run.data_interval_start + std::chrono::hours(1);
  const Instant end = *run.data_interval_end;
  // The next interval is [11:00, 12:00): the run is the latest from just after 11:00 to 12:00.
  EXPECT_EQ(NotLatestReason(dag.dag, run, end + std::chrono::seconds(1)), std::nullopt);
  EXPECT_EQ(NotLatestReason(dag.dag, run, end + std::chrono::hours(1)), std::nullopt);
  EXPECT_EQ(NotLatestReason(dag.dag, run, end + std::chrono::hours(1) + std::chrono::seconds(1)),
            "skipped: latest_only, and run 'scheduled__2026-03-01T10:00:00+00:00' is not the "
            "latest scheduled interval");
  EXPECT_NE(NotLatestReason(dag.dag, run, end), std::nullopt);
  run.run_type = "manual";
  EXPECT_EQ(NotLatestReason(dag.dag, run, end + std::chrono::hours(48)), std::nullopt);
}

}  // namespace
}  // namespace conveyor::scheduler
