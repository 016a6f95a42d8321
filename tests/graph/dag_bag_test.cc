#include "engine/graph/dag_bag.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <mutex>

#include "engine/cli/command_context.h"
#include "engine/dag/dag_codec.h"
#include "engine/graph/dag_folder.h"
#include "tests/support/temp_dir.h"

namespace conveyor::graph {
namespace {

TEST(DagBagTest, BrokenFilesNeverStopTheOthers) {
  testing::TempDir dir;
  dir.Write("b.yaml", "tasks:\n  - {id: x, operator: noop}\n");
  dir.Write("a.yml", "dag_id: zeta\ntasks:\n  - {id: x, operator: nop}\n");
  dir.Write("sub/c.yaml", "dag_id: alpha\ntasks:\n  - {id: y, operator: noop}\n");
  dir.Write("sub/dup.yaml", "dag_id: alpha\ntasks:\n  - {id: y, operator: noop}\n");
  dir.Write(".hidden/d.yaml", "this: is not loaded\n");
  dir.Write("notes.txt", "not a DAG\n");
  const DagBag bag = DagBag::LoadFolder(dir.path(), cli::BuiltinRegistry());
  ASSERT_EQ(bag.dags().size(), 2u);
  EXPECT_EQ(bag.dags()[0].dag.dag_id, "alpha");
  EXPECT_EQ(bag.dags()[1].dag.dag_id, "b");
  ASSERT_EQ(bag.broken().size(), 2u);
  EXPECT_EQ(bag.broken()[0].dag_id, "a");
  EXPECT_EQ(bag.broken()[0].errors.front().ToString(),
            dir.path() + "/a.yml:3:23: unknown operator 'nop', did you mean 'noop'?");
  EXPECT_EQ(bag.broken()[1].errors.front().ToString(),
            dir.path() + "/sub/dup.yaml: dag_id 'alpha' is already defined in " + dir.path() +
                "/sub/c.yaml");
  EXPECT_NE(bag.Find("alpha"), nullptr);
  EXPECT_EQ(bag.Find("zeta"), nullptr);
}

// Files are parsed on several threads; what they make is decided in path order, as if one by one.
TEST(DagBagTest, ManyFilesLoadInParallelWithTheOutcomeOfPathOrder) {
  testing::TempDir dir;
  std::vector<std::string> expected_broken;  // path: first error, in path order
  std::map<std::string, std::string> first_path;
  for (int i = 0; i < 60; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "f%03d.yaml", i);
    const std::string id = "d" + std::to_string(i / 3);  // each dag_id in three files
    const bool bad = i % 5 == 0;
    // Time zones other than UTC load from the tz database, from every thread at once.
    dir.Write(name, "dag_id: " + id + "\ntimezone: " + (i % 2 ? "Europe/Berlin" : "UTC") +
                        "\ntasks:\n  - {id: x, operator: " + (bad ? "nop" : "noop") + "}\n");
    const std::string path = dir.path() + "/" + name;
    if (bad) {
      expected_broken.push_back(path + ":4:23: unknown operator 'nop', did you mean 'noop'?");
    } else if (auto [it, first] = first_path.emplace(id, path); !first) {
      expected_broken.push_back(path + ": dag_id '" + id + "' is already defined in " + it->second);
    }
  }
  const DagBag bag = DagBag::LoadFolder(dir.path(), cli::BuiltinRegistry());
  std::vector<std::string> broken;
  for (const auto& file : bag.broken()) broken.push_back(file.errors.front().ToString());
  EXPECT_EQ(broken, expected_broken);
  ASSERT_EQ(bag.dags().size(), first_path.size());
  for (const auto& [id, path] : first_path) {
    const LoadedDag* loaded = bag.Find(id);
    ASSERT_NE(loaded, nullptr) << id;
    EXPECT_EQ(loaded->dag.file, path);
  }
}

TEST(DagBagTest, MissingFolderIsReported) {
  const DagBag bag = DagBag::LoadFolder("/nonexistent/dags", cli::BuiltinRegistry());
  EXPECT_TRUE(bag.dags().empty());
  ASSERT_EQ(bag.broken().size(), 1u);
  EXPECT_EQ(bag.broken()[0].errors.front().message,
            "DAG folder '/nonexistent/dags' does not exist or is not a folder");
}

TEST(DagBagTest, TheExampleDagsAllLoad) {
  const DagBag bag =
      DagBag::LoadFolder(std::string(CONVEYOR_SOURCE_DIR) + "/dags", cli::BuiltinRegistry());
  for (const auto& broken : bag.broken()) ADD_FAILURE() << broken.errors.front().ToString();
  std::vector<std::string> ids;
  for (const auto& loaded : bag.dags()) ids.push_back(loaded.dag.dag_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"batch_inference_baseline", "batch_inference_primary",
                                           "credit_default_training", "drift_monitor",
                                           "hello_pipeline", "live_drift_monitor"}));
}

// A reload reads each file once and decides in path order, whatever order and repeats the
// changed paths come in; the generation grows by one per file read or dropped.
TEST(DagFolderTest, ReloadReadsEachFileOnceInPathOrder) {
  testing::TempDir dir;
  dir.Write("a.yaml", "dag_id: same\ntasks:\n  - {id: x, operator: noop}\n");
  dir.Write("b.yaml", "dag_id: same\ntasks:\n  - {id: y, operator: noop}\n");
  dir.Write("c.yaml", "tasks:\n  - {id: z, operator: noop}\n");
  DagFolder folder(dir.path(), cli::BuiltinRegistry());
  folder.Reload({dir.path() + "/c.yaml", dir.path() + "/b.yaml", dir.path() + "/a.yaml",
                 dir.path() + "/b.yaml"});
  EXPECT_EQ(folder.generation(), 3u);
  ASSERT_NE(folder.Find("same"), nullptr);
  EXPECT_EQ(folder.Find("same")->dag.file, dir.path() + "/a.yaml");
  std::vector<std::string> errors;
  for (const auto& file : folder.Files()) errors.push_back(file.error);
  EXPECT_EQ(errors, (std::vector<std::string>{"",
                                              dir.path() +
                                                  "/b.yaml: dag_id 'same' is already "
                                                  "defined in " +
                                                  dir.path() + "/a.yaml",
                                              ""}));
  folder.ReloadAll();
  EXPECT_EQ(folder.generation(), 6u);
  std::remove((dir.path() + "/c.yaml").c_str());
  folder.ReloadAll();
  EXPECT_EQ(folder.generation(), 9u);  // a and b read, c dropped
  EXPECT_EQ(folder.Find("c"), nullptr);
  EXPECT_EQ(folder.Files().size(), 2u);
}

// An in-memory ParsedDagCache that counts what is asked of it. Files load on several threads.
class MemoryParseCache : public ParsedDagCache {
 public:
  struct Record {
    std::string source;
    std::string encoded;
  };
  std::optional<std::string> Find(const std::string& path, std::string_view source) override {
    std::lock_guard<std::mutex> lock(mutex);
    ++finds;
    auto it = records.find(path);
    if (it == records.end() || it->second.source != source) return std::nullopt;
    return it->second.encoded;
  }
  Status Save(const std::string& path, std::string_view source,
              const std::string& encoded) override {
    std::lock_guard<std::mutex> lock(mutex);
    ++saves;
    records[path] = {std::string(source), encoded};
    return Status::Ok();
  }
  std::map<std::string, Record> records;
  int finds = 0;
  int saves = 0;
  std::mutex mutex;
};

// A folder with a cache decodes its unchanged files, as a restarted `serve` does, and parses and
// stores a changed one; a file that turns broken keeps its last good version.
TEST(DagFolderTest, UnchangedFilesComeFromTheCache) {
  testing::TempDir dir;
  dir.Write("a.yaml", "tasks:\n  - {id: x, operator: noop}\n");
  dir.Write("b.yaml", "tasks:\n  - {id: y, operator: noop}\n");
  MemoryParseCache cache;
  DagFolder first(dir.path(), cli::BuiltinRegistry(), &cache);
  first.ReloadAll();
  EXPECT_EQ(cache.saves, 2);
  DagFolder second(dir.path(), cli::BuiltinRegistry(), &cache);
  second.ReloadAll();
  EXPECT_EQ(cache.saves, 2);  // both decoded: a hit is not stored again
  ASSERT_NE(second.Find("a"), nullptr);
  EXPECT_EQ(second.Find("a")->dag.tasks.at(0).id, "x");
  EXPECT_EQ(second.Find("a")->graph.size(), 1);
  const std::string b = dir.path() + "/b.yaml";
  dir.Write("b.yaml", "tasks:\n  - {id: y2, operator: noop}\n");
  second.Reload({b});
  EXPECT_EQ(cache.saves, 3);
  ASSERT_NE(second.Find("b"), nullptr);
  EXPECT_EQ(second.Find("b")->dag.tasks.at(0).id, "y2");
  EXPECT_EQ(cache.records[b].source, "tasks:\n  - {id: y2, operator: noop}\n");
  dir.Write("b.yaml", "tasks: [\n");
  second.Reload({b});
  EXPECT_EQ(cache.saves, 3);
  ASSERT_NE(second.Find("b"), nullptr);
  EXPECT_EQ(second.Find("b")->dag.tasks.at(0).id, "y2");
  ASSERT_EQ(second.Files().size(), 2u);
  EXPECT_NE(second.Files()[1].error, "");
}

TEST(DagBagTest, AnUnchangedFileIsDecodedFromTheCacheAndAChangedOneParsedAgain) {
  testing::TempDir dir;
  const std::string path = dir.Write("d.yaml", "tasks:\n  - {id: a, command: /bin/true}\n");
  MemoryParseCache cache;
  {
    const DagBag bag = DagBag::LoadFiles({path}, cli::BuiltinRegistry(), &cache);
    ASSERT_EQ(bag.dags().size(), 1u);
    EXPECT_EQ(cache.saves, 1);
    ASSERT_EQ(cache.records.count(path), 1u);
    EXPECT_EQ(cache.records[path].source, "tasks:\n  - {id: a, command: /bin/true}\n");
  }
  // What comes back is the record's DAG: a record altered behind the loader's back shows it.
  auto stored = dag::DecodeDag(cache.records[path].encoded);
  ASSERT_TRUE(stored.has_value());
  stored->description = "from the cache";
  cache.records[path].encoded = dag::EncodeDag(*stored);
  {
    const DagBag bag = DagBag::LoadFiles({path}, cli::BuiltinRegistry(), &cache);
    ASSERT_EQ(bag.dags().size(), 1u);
    EXPECT_EQ(bag.dags()[0].dag.description, "from the cache");
    EXPECT_EQ(bag.dags()[0].graph.size(), 1);
    EXPECT_EQ(cache.saves, 1);  // a hit is not stored again
  }
  dir.Write(
      "d.yaml",
      "tasks:\n  - {id: a, command: /bin/true}\n  - {id: b, depends_on: [a], operator: noop}\n");
  {
    const DagBag bag = DagBag::LoadFiles({path}, cli::BuiltinRegistry(), &cache);
    ASSERT_EQ(bag.dags().size(), 1u);
    EXPECT_EQ(bag.dags()[0].dag.description, "");
    ASSERT_EQ(bag.dags()[0].dag.tasks.size(), 2u);
    EXPECT_EQ(bag.dags()[0].dag.tasks[1].depends_on, std::vector<std::string>{"a"});
    EXPECT_EQ(cache.saves, 2);
  }
  // A damaged record is parsed again and replaced.
  cache.records[path].encoded.resize(cache.records[path].encoded.size() / 2);
  {
    const DagBag bag = DagBag::LoadFiles({path}, cli::BuiltinRegistry(), &cache);
    ASSERT_EQ(bag.dags().size(), 1u);
    EXPECT_EQ(bag.dags()[0].dag.tasks.size(), 2u);
    EXPECT_EQ(cache.saves, 3);
    EXPECT_TRUE(dag::DecodeDag(cache.records[path].encoded).has_value());
  }
}

// Broken files are never stored: their errors come from a parse each time.
TEST(DagBagTest, ABrokenFileIsNotCached) {
  testing::TempDir dir;
  const std::string cyclic = dir.Write(
      "cyclic.yaml",
      "tasks:\n  - {id: a, depends_on: [b]}\n  - {id: b, depends_on: [a], operator: noop}\n");
  const std::string bad = dir.Write("bad.yaml", "tasks:\n  - {id: a, operator: nop}\n");
  MemoryParseCache cache;
  for (int round = 0; round < 2; ++round) {
    const DagBag bag = DagBag::LoadFolder(dir.path(), cli::BuiltinRegistry(), &cache);
    ASSERT_EQ(bag.broken().size(), 2u);
    EXPECT_EQ(bag.broken()[0].errors.front().ToString(),
              bad + ":2:23: unknown operator 'nop', did you mean 'noop'?");
  }
  EXPECT_EQ(cache.saves, 0);
  EXPECT_EQ(cache.finds, 4);
}

}  // namespace
}  // namespace conveyor::graph
