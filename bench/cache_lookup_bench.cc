// What deciding whether a cached task's try is reused costs: its key (CacheKey over a rendered
// shell command, env and outputs) and the read of the cache table (FindCachedTry) in a state
// database holding N cached tries, per task, over M lookups, half of them hits.
//
// Usage: bench_cache_lookup [N=100000] [M=20000]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "engine/scheduler/cache_key.h"
#include "engine/store/state_store.h"
#include "engine/store/write_batch.h"

int main(int argc, char** argv) {
  using namespace conveyor;
  const int entries = argc > 1 ? std::stoi(argv[1]) : 100000;
  const int lookups = argc > 2 ? std::stoi(argv[2]) : 20000;
  const std::string dir = std::filesystem::temp_directory_path() / "conveyor_cache_lookup_bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto store = store::OpenSqliteStore(dir + "/state.db");
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.error().ToString().c_str());
    return 1;
  }
  dag::Task task;
  task.id = "t";
  task.operator_name = "shell";
  task.cache.enabled = true;
  exec::TaskLaunch launch;
  launch.info.dag_id = "bench";
  launch.env = {{"REGION", "eu-west"}, {"MODE", "full"}};
  const nlohmann::json outputs = {{"up", {{"rows", "42"}}}};
  const auto key_of = [&](int i) {
    launch.command = "python3 train.py --shard " + std::to_string(i) + " --date 2026-12-07";
    return *scheduler::CacheKey(task, launch, outputs, nlohmann::json::object(),
                                nlohmann::json::object());
  };
  store::WriteBatch batch;
  for (int i = 0; i < entries; ++i) {
    batch.PutCachedTry(0, {key_of(i),
                           "bench",
                           "r",
                           "t" + std::to_string(i),
                           1,
                           {{"auc", "0.91"}},
                           store::TimePoint{}});
  }
  if (Status s = (*store)->Commit(batch); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  int hits = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < lookups; ++i) {
    // Even lookups hit an entry, odd ones miss.
    const std::string key = key_of(i % 2 == 0 ? i % entries : entries + i);
    auto found = (*store)->FindCachedTry(key);
    if (found.ok() && found->has_value()) ++hits;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "cache lookup: %.1f us per task (key and read; %d of %d hits; %d entries; "
      "target < 50 us)\n",
      seconds / lookups * 1e6, hits, lookups, entries);
  std::filesystem::remove_all(dir);
  return hits == lookups / 2 ? 0 : 1;
}
