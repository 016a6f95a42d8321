// Modules include only lower layers (STYLE.md's module map), and heavy third-party headers stay
// inside the one adapter that needs them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>

namespace {

namespace fs = std::filesystem;

const std::map<std::string, int> kLayers = {
    {"common", 0}, {"cron", 1},    {"state", 1}, {"dag", 2},   {"graph", 3},
    {"store", 4},  {"exec", 4},    {"data", 5},  {"slurm", 6}, {"scheduler", 7},
    {"serve", 8},  {"serving", 8}, {"http", 9},  {"cli", 10}};

std::vector<fs::path> SourceFiles(const std::string& folder) {
  std::vector<fs::path> files;
  for (const auto& entry :
       fs::recursive_directory_iterator(fs::path(CONVEYOR_SOURCE_DIR) / folder)) {
    const auto ext = entry.path().extension();
    if (ext == ".h" || ext == ".cc") files.push_back(entry.path());
  }
  return files;
}

std::vector<std::string> Includes(const fs::path& file, const std::regex& pattern) {
  std::ifstream in(file);
  std::vector<std::string> found;
  std::string line;
  std::smatch match;
  while (std::getline(in, line)) {
    if (std::regex_search(line, match, pattern)) found.push_back(match[1]);
  }
  return found;
}

std::vector<std::string> MatchingLines(const fs::path& file, const std::regex& pattern) {
  std::ifstream in(file);
  std::vector<std::string> found;
  std::string line;
  while (std::getline(in, line)) {
    if (std::regex_search(line, pattern)) found.push_back(line);
  }
  return found;
}

TEST(LayeringTest, EngineModulesIncludeOnlyLowerLayers) {
  const std::regex engine_include("#include \"engine/([a-z_]+)/");
  int checked = 0;
  for (const fs::path& file : SourceFiles("engine")) {
    const std::string module = file.parent_path().filename().string();
    ASSERT_TRUE(kLayers.count(module)) << "module not in the layer map: " << module;
    for (const std::string& used : Includes(file, engine_include)) {
      ++checked;
      EXPECT_TRUE(used == module || kLayers.at(used) < kLayers.at(module))
          << file << " (" << module << ") includes engine/" << used;
    }
  }
  EXPECT_GT(checked, 20);
}

TEST(LayeringTest, OperatorsUseOnlyExecAndCommon) {
  const std::regex engine_include("#include \"engine/([a-z_]+)/");
  for (const fs::path& file : SourceFiles("operators")) {
    for (const std::string& used : Includes(file, engine_include)) {
      EXPECT_TRUE(used == "exec" || used == "common" || used == "dag")
          << file << " includes engine/" << used;
    }
  }
}

// The store is reached through its role interfaces (run_store.h, event_log.h, lease_store.h,
// dag_registry.h, state_count_reader.h, store_upkeep.h, or state_store.h for all of them): above
// engine/store and engine/data, nothing names the SQLite implementation but the places that open
// a database; and in the scheduler only the files that need several roles take the whole store.
TEST(LayeringTest, TheSchedulerUsesTheStoresRolesNotSqlite) {
  const std::regex sqlite_use(
      "(#include \"engine/store/(sqlite_[a-z_]+|schema|state_counts|wal_coalescing_vfs)\\.h\")|"
      "\\b(SqliteStore|SqliteDb|OpenSqliteStore)\\b");
  const std::set<std::string> opens_a_database = {
      "engine/cli/run_context.cc", "engine/cli/dags_command.cc", "engine/http/api.cc"};
  int checked = 0;
  for (const std::string folder : {"engine/exec", "engine/scheduler", "engine/slurm",
                                   "engine/serve", "engine/http", "engine/cli"}) {
    for (const fs::path& file : SourceFiles(folder)) {
      const std::string relative = fs::relative(file, CONVEYOR_SOURCE_DIR).string();
      if (opens_a_database.count(relative)) continue;
      ++checked;
      for (const std::string& use : MatchingLines(file, sqlite_use)) {
        ADD_FAILURE() << relative << " uses the SQLite store directly: " << use;
      }
    }
  }
  EXPECT_GT(checked, 50);
  const std::set<std::string> whole_store = {"run_loop.h",    "run_loop.cc", "run_driver.h",
                                             "run_driver.cc", "clear.h",     "clear.cc",
                                             "backfill.h",    "backfill.cc"};
  const std::regex whole("#include \"engine/store/(state_store)\\.h\"|\\b(StateStore)&");
  for (const fs::path& file : SourceFiles("engine/scheduler")) {
    if (whole_store.count(file.filename().string())) continue;
    for (const std::string& use : MatchingLines(file, whole)) {
      ADD_FAILURE() << file.filename() << " takes the whole store (" << use
                    << "), not the role it uses";
    }
  }
}

TEST(LayeringTest, HeavyHeadersStayInTheirAdapters) {
  const std::map<std::string, std::vector<std::string>> allowed = {
      {"yaml-cpp", {"engine/dag", "engine/cli/config.cc"}},
      {"boost", {"engine/graph/task_graph.cc", "engine/exec/local_executor.cc"}},
      {"graphviz", {"engine/graph/graph_render.cc"}},
      {"httplib",
       {"engine/http/http_server.cc", "engine/http/guarded_server",
        "engine/serve/webhook_sender.cc"}},
      {"sqlite3", {"engine/store"}}};
  const std::regex system_include("#include <([a-z0-9_-]+)[/.>]");
  for (const fs::path& file : SourceFiles("engine")) {
    const std::string relative = fs::relative(file, CONVEYOR_SOURCE_DIR).string();
    for (const std::string& header : Includes(file, system_include)) {
      auto it = allowed.find(header);
      if (it == allowed.end()) continue;
      bool ok = false;
      for (const std::string& prefix : it->second) ok = ok || relative.rfind(prefix, 0) == 0;
      EXPECT_TRUE(ok) << relative << " includes <" << header << "...>";
    }
  }
}

}  // namespace
