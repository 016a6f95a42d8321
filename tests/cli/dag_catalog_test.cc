#include "engine/cli/dag_catalog.h"

#include <gtest/gtest.h>

#include <map>

#include "engine/cli/config.h"
#include "engine/exec/machine_resources.h"
#include "engine/graph/dag_bag.h"
#include "tests/support/temp_dir.h"

namespace conveyor::cli {
namespace {

constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;

std::string ErrorOf(const Result<Config>& config, const testing::TempDir& dir) {
  return config.ok() ? std::string("ok") : config.error().ToString().substr(dir.path().size() + 1);
}

TEST(MachineResourcesTest, TheConfigSaysWhatTheMachineOffersAndDetectionFillsTheRest) {
  testing::TempDir dir;
  auto config = LoadConfig(dir.Write("a.yaml", "resources: {cpus: 6.5, memory: 12GiB, gpus: 2}\n"));
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  dag::MachineResources machine = MachineResourcesOf(*config);
  EXPECT_EQ(machine.capacity, (dag::Resources{6500, 12 * kGiB, 2}));
  EXPECT_EQ(machine.gpu_ids, (std::vector<std::string>{"0", "1"}));

  config = LoadConfig(dir.Write("b.yaml", "resources:\n  gpus: [3, GPU-8f2c]\n"));
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  machine = MachineResourcesOf(*config);
  const dag::MachineResources detected = exec::DetectMachineResources();
  EXPECT_EQ(machine.gpu_ids, (std::vector<std::string>{"3", "GPU-8f2c"}));
  EXPECT_EQ(machine.capacity.gpus, 2);
  EXPECT_EQ(machine.capacity.millicpus, detected.capacity.millicpus);
  EXPECT_EQ(machine.capacity.memory_bytes, detected.capacity.memory_bytes);
  EXPECT_GE(detected.capacity.millicpus, 1000);
  EXPECT_GT(detected.capacity.memory_bytes, 0u);
  EXPECT_EQ(detected.capacity.gpus, 0);

  const auto error = [&](const std::string& resources) {
    return ErrorOf(LoadConfig(dir.Write("c.yaml", "resources: " + resources + "\n")), dir);
  };
  EXPECT_EQ(error("{cpus: many}"),
            "c.yaml:1:19: 'resources.cpus': invalid CPU count 'many': expected a number such "
            "as 2 or 0.5 (at most three decimals)");
  EXPECT_EQ(error("{memory: 4 GiB}"),
            "c.yaml:1:21: 'resources.memory': invalid memory size '4 GiB': expected a number "
            "and a unit such as 512MiB, 4GiB or 4G");
  EXPECT_EQ(error("{gpus: -1}"),
            "c.yaml:1:19: 'resources.gpus' must be a count or a list of device ids, got '-1'");
  EXPECT_EQ(error("{gpus: [0, 0]}"),
            "c.yaml:1:23: each of 'resources.gpus' must be a distinct device id such as 0 or "
            "GPU-8f2c..., without commas or spaces");
  EXPECT_EQ(error("{gpu: 1}"), "c.yaml:1:13: unknown key 'gpu' in resources, did you mean 'gpus'?");
  EXPECT_EQ(error("8"),
            "c.yaml:1:12: 'resources' must be a mapping such as {cpus: 8, memory: 32GiB, gpus: 2}");
}

// A parse cache held in memory, to load the same file decoded rather than parsed.
class MemoryCache : public graph::ParsedDagCache {
 public:
  std::optional<std::string> Find(const std::string& path, std::string_view source) override {
    auto it = saved_.find(path + '\n' + std::string(source));
    if (it == saved_.end()) return std::nullopt;
    ++hits;
    return it->second;
  }
  Status Save(const std::string& path, std::string_view source,
              const std::string& encoded) override {
    saved_[path + '\n' + std::string(source)] = encoded;
    return Status::Ok();
  }
  int hits = 0;

 private:
  std::map<std::string, std::string> saved_;
};

// A local task that asks for more than the machine has could never start: its DAG does not
// load, on every load (a cached parse too), and the error names the task and what is short.
TEST(DagCatalogTest, ALocalTaskAskingForMoreThanTheMachineHasIsALoadError) {
  testing::TempDir dir;
  const std::string path = dir.Write("dags/big.yaml", R"(dag_id: big
default_args:
  resources: {cpus: 1}
tasks:
  - id: fits
    command: "true"
  - id: too_big
    command: "true"
    resources: {cpus: 16, memory: 64GiB, gpus: 1}
  - id: on_slurm
    executor: slurm
    command: "true"
    resources: {gpus: 8}
)");
  Config config;
  config.resources_millicpus = 4000;
  config.resources_memory_bytes = 8 * kGiB;
  const DagCatalog catalog(config);
  MemoryCache cache;
  for (int load = 0; load < 2; ++load) {
    Diagnostics errors;
    auto loaded = graph::LoadAndBuild(path, catalog, &errors, &cache);
    ASSERT_FALSE(loaded.ok());
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].ToString(),
              path +
                  ":7:9: task 'too_big' asks for 16 CPUs, and this machine offers 4; 64GiB of "
                  "memory, and this machine offers 8GiB; 1 GPU, and this machine offers 0 "
                  "(config 'resources'); it could never start");
  }
  EXPECT_EQ(cache.hits, 1);

  // With the machine's GPU and more memory and CPUs, it loads; Slurm's own limits are Slurm's.
  config.resources_millicpus = 16000;
  config.resources_memory_bytes = 64 * kGiB;
  config.resources_gpu_ids = std::vector<std::string>{"0"};
  Diagnostics errors;
  auto loaded = graph::LoadAndBuild(path, DagCatalog(config), &errors, &cache);
  ASSERT_TRUE(loaded.ok()) << loaded.error().ToString();
  EXPECT_EQ(loaded->dag.tasks[0].resources, (dag::Resources{1000, 0, 0}));  // default_args
  EXPECT_EQ(loaded->dag.tasks[1].resources, (dag::Resources{16000, 64 * kGiB, 1}));

  // With Slurm as the default executor, tasks that do not choose are Slurm's too.
  config.resources_gpu_ids.reset();
  config.executor = ExecutorKind::kSlurm;
  loaded = graph::LoadAndBuild(path, DagCatalog(config), &errors, &cache);
  EXPECT_TRUE(loaded.ok());
}

}  // namespace
}  // namespace conveyor::cli
