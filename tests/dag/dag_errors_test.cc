// Every file in tests/testdata/bad_dags/ is a broken DAG; NAME.err beside it holds every error
// it must produce, one a line, exactly (paths relative to that folder).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/cli/command_context.h"
#include "engine/graph/dag_bag.h"

namespace conveyor::dag {
namespace {

namespace fs = std::filesystem;

const fs::path kFolder = fs::path(CONVEYOR_SOURCE_DIR) / "tests/testdata/bad_dags";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> Fixtures() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(kFolder)) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class BadDagTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BadDagTest, ReportsExactlyTheExpectedErrors) {
  const fs::path yaml = kFolder / (GetParam() + ".yaml");
  const fs::path expected_file = kFolder / (GetParam() + ".err");
  ASSERT_TRUE(fs::exists(expected_file)) << "missing " << expected_file;
  Diagnostics errors;
  auto loaded = graph::LoadAndBuild(yaml.string(), cli::BuiltinRegistry(), &errors);
  ASSERT_FALSE(loaded.ok());
  std::string actual;
  for (const Error& error : errors) {
    std::string line = error.ToString();
    const std::string prefix = kFolder.string() + "/";
    if (line.rfind(prefix, 0) == 0) line = line.substr(prefix.size());
    actual += line + "\n";
  }
  EXPECT_EQ(actual, ReadFile(expected_file));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, BadDagTest, ::testing::ValuesIn(Fixtures()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace conveyor::dag
