#include "engine/serving/model_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include "tests/support/temp_dir.h"

namespace conveyor::serving {
namespace {

// A registry of one model version, counting how often it is read.
class CountingRegistry : public exec::ModelRegistry {
 public:
  CountingRegistry(std::string path, std::atomic<int>& reads)
      : path_(std::move(path)), reads_(reads) {}
  Result<exec::ModelVersion> AddVersion(const exec::ModelVersion&) override {
    return InvalidArgument("read-only");
  }
  Status SetAlias(const std::string&, const std::string&, int, const std::string&) override {
    return InvalidArgument("read-only");
  }
  Result<exec::ModelVersion> Resolve(const std::string& reference) override {
    ++reads_;
    if (reference == "m@throws") throw std::runtime_error("a malformed registry row");
    if (reference != "m@production" && reference != "m/1") return NotFound("no " + reference);
    exec::ModelVersion version;
    version.name = "m";
    version.version = 1;
    version.artifact_path = path_;
    version.features = {"x"};
    return version;
  }
  Result<std::vector<exec::ModelVersion>> Versions(const std::string&) override {
    return NotFound("");
  }
  Result<std::vector<std::string>> ModelNames() override { return std::vector<std::string>{}; }

 private:
  std::string path_;
  std::atomic<int>& reads_;
};

std::string SavedModel(testing::TempDir& dir) {
  operators::DenseMatrix train{{0, 1, 0, 1}, 4, 1};
  const std::vector<float> labels = {0, 1, 0, 1};
  operators::TrainSettings settings;
  settings.rounds = 2;
  settings.params = {{"objective", "binary:logistic"}, {"nthread", "1"}};
  settings.feature_names = {"x"};
  auto model = operators::XgbModel::Train(train, labels, nullptr, {}, settings, {});
  EXPECT_TRUE(model.ok());
  const std::string path = dir.path() + "/model.json";
  EXPECT_TRUE(model->Save(path).ok());
  return path;
}

TEST(ModelServerTest, ConcurrentFirstRequestsLoadTheModelOnceAndVersionsAreHeld) {
  testing::TempDir dir;
  const std::string path = SavedModel(dir);
  std::atomic<int> reads{0};
  ModelServer server(
      [&]() -> Result<std::unique_ptr<exec::ModelRegistry>> {
        return std::unique_ptr<exec::ModelRegistry>(new CountingRegistry(path, reads));
      },
      ServingSettings{});
  std::vector<std::thread> threads;
  std::atomic<int> answered{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      auto model = server.Get("m@production");
      if (model.ok() && (*model)->version == 1) ++answered;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(answered.load(), 16);
  EXPECT_EQ(reads.load(), 1);  // within the refresh second, one registry read for all 16
  // A version never moves: read once, then held.
  ASSERT_TRUE(server.Get("m/1").ok());
  ASSERT_TRUE(server.Get("m/1").ok());
  EXPECT_EQ(reads.load(), 2);
  // Unknown references are read each time and never held.
  EXPECT_EQ(server.Get("m@nowhere").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(server.Get("m@nowhere").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(reads.load(), 4);
  // Spellings of one version are one entry; what no registry could hold is not read at all.
  ASSERT_TRUE(server.Get("m/0001").ok());
  EXPECT_EQ(reads.load(), 4);
  EXPECT_EQ(server.Get("m/12345678901").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(server.Get("m/1x").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(reads.load(), 4);
  // A registry that throws is an error for that request, and the next one is not stuck behind it.
  EXPECT_EQ(server.Get("m@throws").error().code, ErrorCode::kInternal);
  EXPECT_EQ(server.Get("m@throws").error().code, ErrorCode::kInternal);
  EXPECT_EQ(reads.load(), 6);
}

TEST(ModelServerTest, AnUnreadableRegistryKeepsTheHeldModelServing) {
  testing::TempDir dir;
  const std::string path = SavedModel(dir);
  std::atomic<int> reads{0};
  std::atomic<bool> readable{true};
  ServingSettings settings;
  settings.refresh = std::chrono::milliseconds(0);  // every request reads the registry again
  ModelServer server(
      [&]() -> Result<std::unique_ptr<exec::ModelRegistry>> {
        if (!readable) return IoError("database is locked");
        return std::unique_ptr<exec::ModelRegistry>(new CountingRegistry(path, reads));
      },
      settings);
  ASSERT_TRUE(server.Get("m@production").ok());
  readable = false;
  auto held = server.Get("m@production");
  ASSERT_TRUE(held.ok()) << held.error().message;
  EXPECT_EQ((*held)->version, 1);
}

}  // namespace
}  // namespace conveyor::serving
