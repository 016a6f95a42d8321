#include "engine/scheduler/start_journal.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/scheduler/run_files.h"
#include "tests/support/temp_dir.h"

namespace conveyor::scheduler {
namespace {

std::vector<std::pair<int, std::string>> Read(const std::string& path) {
  auto tries = ReadStartJournal(path);
  EXPECT_TRUE(tries.ok()) << tries.error().message;
  std::vector<std::pair<int, std::string>> read;
  for (const StartedTry& started : *tries) read.emplace_back(started.try_number, started.task_id);
  return read;
}

TEST(StartJournalTest, LivesInTheRunsLogFolder) {
  EXPECT_EQ(StartJournalPath("logs", "etl", "manual__1"),
            "logs/dag_id=etl/run_id=manual__1/started-tries");
  EXPECT_EQ(StartJournalPath("/var/log/c/", "etl", "r"),
            "/var/log/c/dag_id=etl/run_id=r/started-tries");
}

TEST(StartJournalTest, AppendsLinesAndReadsThemBackInOrder) {
  testing::TempDir dir;
  const std::string path = StartJournalPath(dir.path() + "/logs", "d", "r");
  ASSERT_TRUE(AppendStartJournal(path, "1 extract\n").ok());  // makes the folders
  ASSERT_TRUE(AppendStartJournal(path, "1 load.part-2\n2 extract\n").ok());
  ASSERT_TRUE(AppendStartJournal(path, "3 extract\n").ok());
  EXPECT_EQ(Read(path), (std::vector<std::pair<int, std::string>>{
                            {1, "extract"}, {1, "load.part-2"}, {2, "extract"}, {3, "extract"}}));
}

TEST(StartJournalTest, NoJournalIsNoStartedTry) {
  testing::TempDir dir;
  EXPECT_TRUE(Read(dir.path() + "/none/started-tries").empty());
}

TEST(StartJournalTest, ALineCutShortOrMalformedIsLeftOut) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/started-tries";
  std::ofstream(path) << "1 a\nx b\n0 c\n2\n 3 d\n4 \n5x e\n2 a\n3 a";
  EXPECT_EQ(Read(path), (std::vector<std::pair<int, std::string>>{{1, "a"}, {2, "a"}}));
}

TEST(StartJournalTest, RemovingAJournalTakesItsFolderOnlyWhenEmpty) {
  testing::TempDir dir;
  const std::string logs = dir.path() + "/logs";
  const std::string alone = StartJournalPath(logs, "d", "alone");
  const std::string beside_logs = StartJournalPath(logs, "d", "logged");
  ASSERT_TRUE(AppendStartJournal(alone, "1 a\n").ok());
  ASSERT_TRUE(AppendStartJournal(beside_logs, "1 a\n").ok());
  std::ofstream(RunFolder(logs, "d", "logged") + "/kept.log") << "output\n";
  RemoveStartJournal(alone);
  RemoveStartJournal(beside_logs);
  EXPECT_FALSE(std::filesystem::exists(RunFolder(logs, "d", "alone")));
  EXPECT_FALSE(std::filesystem::exists(beside_logs));
  EXPECT_TRUE(std::filesystem::exists(RunFolder(logs, "d", "logged") + "/kept.log"));
  RemoveStartJournal(alone);  // nothing left to remove
  EXPECT_TRUE(std::filesystem::exists(logs + "/dag_id=d"));
}

TEST(StartJournalTest, AnUnwritableFolderIsAnError) {
  testing::TempDir dir;
  std::ofstream(dir.path() + "/file") << "not a folder";
  const Status status = AppendStartJournal(dir.path() + "/file/started-tries", "1 a\n");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message,
            "cannot open " + dir.path() + "/file/started-tries: Not a directory");
}

}  // namespace
}  // namespace conveyor::scheduler
