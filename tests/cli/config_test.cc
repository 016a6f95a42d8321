#include "engine/cli/config.h"

#include <gtest/gtest.h>

#include "engine/cli/command_context.h"
#include "tests/support/temp_dir.h"

namespace conveyor::cli {
namespace {

TEST(ConfigTest, MissingFileMeansDefaults) {
  auto config = LoadConfig("/nonexistent/conveyor.yaml");
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->dags_folder, "dags");
  EXPECT_EQ(config->port, 8080);
  EXPECT_EQ(config->host, "127.0.0.1");
  EXPECT_TRUE(config->dags_are_paused_at_creation);
}

TEST(ConfigTest, RelativePathsResolveAgainstTheFilesFolder) {
  testing::TempDir dir;
  const std::string path = dir.Write("config/conveyor.yaml",
                                     "dags_folder: ../dags\ndb: /var/lib/c.db\nport: 9090\n"
                                     "workers: 3\npools: {gpu: 2}\n"
                                     "dags_are_paused_at_creation: false\n"
                                     "db_synchronous: full\n");
  auto config = LoadConfig(path);
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  EXPECT_EQ(config->dags_folder, dir.path() + "/dags");
  EXPECT_EQ(config->db, "/var/lib/c.db");
  EXPECT_EQ(config->port, 9090);
  EXPECT_EQ(config->workers, 3);
  EXPECT_EQ(config->pools.at("gpu"), 2);
  EXPECT_EQ(config->pools.at("default"), 128);
  EXPECT_FALSE(config->dags_are_paused_at_creation);
  EXPECT_TRUE(config->db_synchronous_full);
  ApplyPathDefaults(*config);
  EXPECT_EQ(config->data_db, "/var/lib/data.db");
  EXPECT_EQ(config->artifacts_dir, "/var/lib/artifacts");
}

TEST(ConfigTest, ErrorsAreLocated) {
  testing::TempDir dir;
  auto typo = LoadConfig(dir.Write("a.yaml", "port: 1\ndag_folder: x\n"));
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(
      typo.error().ToString(),
      dir.path() + "/a.yaml:2:1: unknown config key 'dag_folder', did you mean 'dags_folder'?");
  auto port = LoadConfig(dir.Write("b.yaml", "port: lots\n"));
  ASSERT_FALSE(port.ok());
  EXPECT_EQ(port.error().ToString(),
            dir.path() + "/b.yaml:1:7: 'port' must be a positive integer, got 'lots'");
}

TEST(ConfigTest, ServingLogMapsAnAliasToATableAndASample) {
  testing::TempDir dir;
  auto config = LoadConfig(dir.Write(
      "a.yaml", "serving:\n  log:\n    credit@production: {table: live, sample: 0.25}\n"));
  ASSERT_TRUE(config.ok()) << config.error().ToString();
  EXPECT_EQ(config->serving_log.at("credit@production").table, "live");
  EXPECT_EQ(config->serving_log.at("credit@production").sample, 0.25);
  const auto error = [&](const std::string& log) {
    auto bad = LoadConfig(dir.Write("b.yaml", "serving:\n  log: " + log + "\n"));
    return bad.ok() ? std::string("ok") : bad.error().ToString().substr(dir.path().size() + 1);
  };
  EXPECT_EQ(error("{credit: {table: t}}"),
            "b.yaml:2:9: 'serving.log' keys are NAME@ALIAS, got 'credit'");
  EXPECT_EQ(error("{a@b: {table: \"x; DROP\"}}"),
            "b.yaml:2:22: 'serving.log.a@b.table' must be a table name (letters, digits, _), "
            "got 'x; DROP'");
  EXPECT_EQ(error("{a@b: {table: t, sample: 1.5}}"),
            "b.yaml:2:33: 'serving.log.a@b.sample' must be a number from 0 to 1, got '1.5'");
  EXPECT_EQ(error("{a@b: {tabel: t}}"),
            "b.yaml:2:15: unknown key 'tabel' in serving.log.a@b, did you mean 'table'?");
  EXPECT_EQ(error("{a@b: {sample: 1}}"), "b.yaml:2:14: 'serving.log.a@b' needs a table");
}

TEST(ConfigTest, FlagsOverrideTheFile) {
  testing::TempDir dir;
  GlobalOptions options;
  options.config_path = dir.Write("c.yaml", "dags_folder: here\ndb: x.db\n");
  options.db = "/tmp/other.db";
  auto config = ResolveConfig(options);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->dags_folder, dir.path() + "/here");
  EXPECT_EQ(config->db, "/tmp/other.db");
  EXPECT_EQ(config->data_db, "/tmp/data.db");
}

}  // namespace
}  // namespace conveyor::cli
