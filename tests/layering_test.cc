// Modules include only lower layers (STYLE.md's module map), and heavy third-party headers stay
// inside the one adapter that needs them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

namespace {

namespace fs = std::filesystem;

const std::map<std::string, int> kLayers = {
    {"common", 0}, {"cron", 1}, {"state", 1}, {"dag", 2},   {"graph", 3},
    {"store", 4},  {"exec", 4}, {"data", 5},  {"slurm", 6}, {"scheduler", 7},
    {"serve", 8},  {"http", 9}, {"cli", 10}};

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
