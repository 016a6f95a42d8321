// Resources per task on the local executor: the ledger, and the run loop with real processes.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engine/scheduler/resource_ledger.h"
#include "tests/support/dag_fixture.h"

namespace conveyor::scheduler {
namespace {

using testing::DagFixture;

constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;

dag::MachineResources Machine(int cpus, std::uint64_t memory, std::vector<std::string> gpus) {
  dag::MachineResources machine;
  machine.capacity = {cpus * 1000, memory, static_cast<int>(gpus.size())};
  machine.gpu_ids = std::move(gpus);
  return machine;
}

TEST(ResourceLedgerTest, GivesTheLowestFreeGpusAndTakesThemBack) {
  ResourceLedger ledger(Machine(8, 16 * kGiB, {"0", "1", "GPU-c3"}));
  const dag::Resources one{1000, kGiB, 1};
  const dag::Resources two{2000, 2 * kGiB, 2};
  EXPECT_EQ(ledger.Take(one), (std::vector<std::string>{"0"}));
  EXPECT_TRUE(ledger.Fits(two));
  EXPECT_EQ(ledger.Take(two), (std::vector<std::string>{"1", "GPU-c3"}));
  EXPECT_FALSE(ledger.Fits(one));
  EXPECT_TRUE(ledger.CanEverFit(two));
  EXPECT_FALSE(ledger.CanEverFit({0, 0, 4}));
  EXPECT_EQ(ledger.in_use(), (dag::Resources{3000, 3 * kGiB, 3}));
  ledger.Give(one, {"0"});
  EXPECT_EQ(ledger.Take(one), (std::vector<std::string>{"0"}));
  ledger.Give(two, {"1", "GPU-c3"});
  EXPECT_TRUE(ledger.Fits({5000, 13 * kGiB, 2}));
  EXPECT_FALSE(ledger.Fits({7001, 0, 0}));
  EXPECT_FALSE(ledger.Fits({0, 15 * kGiB + 1, 0}));
}

// One line per start and end of a try, appended by the try: "start|end ID", where ID is the
// GPU list the try was given.
struct Holding {
  int most_at_once = 0;
  std::string problem;  // empty when no GPU was held by two tries at once
};

Holding ReplayGpuLog(const std::string& log) {
  Holding out;
  std::set<std::string> held;
  std::istringstream lines(log);
  std::string kind, ids;
  while (lines >> kind >> ids) {
    std::vector<std::string> each;
    std::stringstream split(ids);
    for (std::string id; std::getline(split, id, ',');) each.push_back(id);
    for (const std::string& id : each) {
      if (kind == "start") {
        if (!held.insert(id).second) out.problem = "GPU " + id + " given twice";
      } else {
        held.erase(id);
      }
    }
    out.most_at_once = std::max(out.most_at_once, static_cast<int>(held.size()));
  }
  return out;
}

// Eight tries of one GPU and two of two, with four workers and two GPUs: never is a GPU held by
// two tries, both are used at once, and each try sees exactly what it holds.
TEST(ResourcesRunTest, NoGpuIsEverHeldByTwoTriesAtOnce) {
  std::string yaml = "tasks:\n";
  const std::string hold =
      "echo \"start $CUDA_VISIBLE_DEVICES\" >> $DIR/gpus; sleep 0.1; "
      "echo \"end $CUDA_VISIBLE_DEVICES\" >> $DIR/gpus";
  for (int i = 0; i < 8; ++i) {
    yaml +=
        "  - {id: one" + std::to_string(i) + ", resources: {gpus: 1}, command: '" + hold + "'}\n";
  }
  for (int i = 0; i < 2; ++i) {
    yaml +=
        "  - {id: two" + std::to_string(i) + ", resources: {gpus: 2}, command: '" + hold + "'}\n";
  }
  yaml +=
      "  - {id: cpu_only, resources: {cpus: 1}, command: 'echo \"[${CUDA_VISIBLE_DEVICES-unset}]\" "
      "> $DIR/cpu_only'}\n";
  yaml += "  - {id: none, command: 'echo \"[${CUDA_VISIBLE_DEVICES-unset}]\" > $DIR/none'}\n";
  DagFixture fixture(yaml);
  RunLoopOptions options;
  options.workers = 4;
  options.machine = Machine(8, 8 * kGiB, {"0", "1"});
  const auto run = fixture.RunToEnd(nlohmann::json::object(), options);
  EXPECT_EQ(run.state, state::RunState::kSuccess);
  const std::string log = fixture.ReadFile("gpus");
  const Holding holding = ReplayGpuLog(log);
  EXPECT_EQ(holding.problem, "") << log;
  EXPECT_EQ(holding.most_at_once, 2) << log;
  EXPECT_NE(log.find("start 0,1\n"), std::string::npos) << log;  // a two-GPU try got both
  std::istringstream lines(log);
  int starts = 0;
  for (std::string kind, ids; lines >> kind >> ids;) {
    if (kind == "start") ++starts;
    EXPECT_TRUE(ids == "0" || ids == "1" || ids == "0,1") << ids;
  }
  EXPECT_EQ(starts, 10);
  // A try that asked for resources but no GPU sees none; one that asked for nothing is left as
  // the server's environment has it (unset here).
  EXPECT_EQ(fixture.ReadFile("cpu_only"), "[]\n");
  EXPECT_EQ(fixture.ReadFile("none"), "[unset]\n");
}

// CPUs and memory bound how many tries run at once, whatever the workers: two CPUs of three
// let one 2-CPU try run at a time, and half CPUs pack two to a CPU.
TEST(ResourcesRunTest, CpusAndMemoryBoundTriesRunningAtOnce) {
  const std::string mark = "echo start >> $DIR/{f}; sleep 0.15; echo end >> $DIR/{f}";
  const auto task = [&](const std::string& id, const std::string& resources,
                        const std::string& file) {
    std::string command = mark;
    for (size_t at; (at = command.find("{f}")) != std::string::npos;) command.replace(at, 3, file);
    return "  - {id: " + id + ", resources: " + resources + ", command: '" + command + "'}\n";
  };
  std::string yaml = "tasks:\n";
  for (int i = 0; i < 3; ++i) yaml += task("cpu" + std::to_string(i), "{cpus: 2}", "cpus");
  for (int i = 0; i < 3; ++i) {
    yaml += task("mem" + std::to_string(i), "{memory: 3GiB}", "memory");
  }
  DagFixture fixture(yaml);
  RunLoopOptions options;
  options.workers = 4;
  options.machine = Machine(3, 4 * kGiB, {});
  const auto run = fixture.RunToEnd(nlohmann::json::object(), options);
  EXPECT_EQ(run.state, state::RunState::kSuccess);
  EXPECT_EQ(fixture.ReadFile("cpus"), "start\nend\nstart\nend\nstart\nend\n");
  EXPECT_EQ(fixture.ReadFile("memory"), "start\nend\nstart\nend\nstart\nend\n");

  DagFixture halves("tasks:\n" + task("a", "{cpus: 0.5}", "half") +
                    task("b", "{cpus: 0.5}", "half") + task("c", "{cpus: 0.5}", "half"));
  options.machine = Machine(1, 4 * kGiB, {});
  const auto packed = halves.RunToEnd(nlohmann::json::object(), options);
  EXPECT_EQ(packed.state, state::RunState::kSuccess);
  // Two at once, never three: the third starts once one of the first two ends.
  std::istringstream marks(halves.ReadFile("half"));
  int running = 0, most = 0, starts = 0;
  for (std::string mark; marks >> mark;) {
    running += mark == "start" ? 1 : -1;
    starts += mark == "start" ? 1 : 0;
    most = std::max(most, running);
  }
  EXPECT_EQ(starts, 3);
  EXPECT_EQ(most, 2) << halves.ReadFile("half");
}

// A try that could never fit the machine fails at once (the loader refuses such a task when it
// knows the machine: dag_catalog_test), and does not hold up the others.
TEST(ResourcesRunTest, ATryThatCouldNeverFitFailsAndTheOthersRun) {
  DagFixture fixture(R"(tasks:
  - {id: huge, resources: {gpus: 4}, command: "true"}
  - {id: fine, resources: {gpus: 1}, command: "true"}
)");
  RunLoopOptions options;
  options.machine = Machine(2, 4 * kGiB, {"0", "1"});
  const auto run = fixture.RunToEnd(nlohmann::json::object(), options);
  const auto states = fixture.States(run);
  EXPECT_EQ(states.at("huge"), "failed");
  EXPECT_EQ(states.at("fine"), "success");
  std::string message;
  for (const Transition& t : fixture.transitions) {
    if (t.task_id == "huge" && t.to == state::TaskState::kFailed) message = t.message;
  }
  EXPECT_EQ(message,
            "the task asks for 4 GPUs and this machine offers 2 CPUs, 4GiB of memory, 2 GPUs "
            "(config 'resources')");
}

}  // namespace
}  // namespace conveyor::scheduler
