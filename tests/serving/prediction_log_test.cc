#include "engine/serving/prediction_log.h"

#include <gtest/gtest.h>

#include <cmath>
#include <future>
#include <limits>

namespace conveyor::serving {
namespace {

// A data database in memory: committed rows by table, and a gate that holds every write.
struct FakeData {
  std::mutex mutex;
  std::map<std::string, std::vector<exec::Column>> columns;
  std::map<std::string, std::vector<std::vector<exec::Cell>>> rows;
  bool refuse = false;
  std::shared_future<void> gate;  // writes wait for it when set
};

class FakeWriter : public exec::TableWriter {
 public:
  FakeWriter(FakeData& data, std::string table) : data_(data), table_(std::move(table)) {}
  Status Append(const std::vector<exec::Cell>& row) override {
    pending_.push_back(row);
    return Status::Ok();
  }
  Status Commit() override {
    std::lock_guard<std::mutex> lock(data_.mutex);
    auto& rows = data_.rows[table_];
    rows.insert(rows.end(), pending_.begin(), pending_.end());
    return Status::Ok();
  }

 private:
  FakeData& data_;
  std::string table_;
  std::vector<std::vector<exec::Cell>> pending_;
};

class FakeStore : public exec::DataStore {
 public:
  Result<std::string> TableFingerprint(const std::string& table) override {
    return NotFound("no fingerprint of " + table);
  }
  Result<std::string> DataFingerprint() override { return std::string(); }
  explicit FakeStore(FakeData& data) : data_(data) {}
  Result<std::unique_ptr<exec::TableWriter>> WriteTable(const std::string& table,
                                                        const std::vector<exec::Column>& columns,
                                                        bool) override {
    if (data_.gate.valid()) data_.gate.wait();
    std::lock_guard<std::mutex> lock(data_.mutex);
    if (data_.refuse) return IoError("database is locked");
    auto [it, created] = data_.columns.emplace(table, columns);
    const auto names = [](const std::vector<exec::Column>& list) {
      std::vector<std::string> out;
      for (const auto& column : list) out.push_back(column.name);
      return out;
    };
    if (!created && names(it->second) != names(columns)) {
      return InvalidArgument("table '" + table + "' has other columns");
    }
    return std::unique_ptr<exec::TableWriter>(new FakeWriter(data_, table));
  }
  Result<std::vector<exec::Column>> TableColumns(const std::string&) override {
    return NotFound("");
  }
  Result<std::int64_t> CountRows(const std::string&) override { return NotFound(""); }
  Result<std::unique_ptr<exec::TableReader>> ReadTable(const std::string&) override {
    return NotFound("");
  }
  Result<std::unique_ptr<exec::TableReader>> ReadQuery(const std::string&) override {
    return NotFound("");
  }

 private:
  FakeData& data_;
};

// A real (tiny) model: the log stores what it is given and never scores.
std::shared_ptr<const LoadedModel> Model(int version, std::vector<std::string> features) {
  operators::DenseMatrix train{std::vector<float>(features.size() * 4, 1.0f), 4, features.size()};
  const std::vector<float> labels = {0, 1, 0, 1};
  operators::TrainSettings settings;
  settings.rounds = 1;
  settings.params = {{"objective", "binary:logistic"}, {"nthread", "1"}};
  settings.feature_names = features;
  auto model = operators::XgbModel::Train(train, labels, nullptr, {}, settings, {});
  EXPECT_TRUE(model.ok());
  return std::make_shared<const LoadedModel>(
      LoadedModel{"credit", version, std::move(features), std::move(model).value()});
}

operators::DenseMatrix Rows(std::vector<float> values, size_t cols) {
  const size_t rows = values.size() / cols;
  return {std::move(values), rows, cols};
}

exec::DataOpener OpenerOf(FakeData& data) {
  return [&data](const exec::LockWait&) -> Result<std::unique_ptr<exec::DataStore>> {
    return std::unique_ptr<exec::DataStore>(new FakeStore(data));
  };
}

struct Counts {
  std::mutex mutex;
  std::map<int, std::pair<std::int64_t, std::int64_t>> by_version;  // written, dropped
  PredictionLog::Counter counter() {
    return
        [this](const std::string& model, int version, std::int64_t written, std::int64_t dropped) {
          EXPECT_EQ(model, "credit");
          std::lock_guard<std::mutex> lock(mutex);
          by_version[version].first += written;
          by_version[version].second += dropped;
        };
  }
};

double Real(const exec::Cell& cell) { return std::get<double>(cell); }

TEST(PredictionLogTest, WritesEachRowsFeaturesPredictionVersionAndTime) {
  FakeData data;
  Counts counts;
  const auto model = Model(3, {"age", "income"});
  {
    PredictionLog log(OpenerOf(data), {{"credit@production", {"live", 1.0}}}, 100,
                      counts.counter());
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const std::vector<float> scores = {0.25f, nan};
    log.Record("credit@production", model, Rows({31, 7971.42f, nan, 0.5878f}, 2), scores);
    log.Record("credit@staging", model, Rows({1, 2}, 2), std::vector<float>{0.5f});  // no target
    log.Flush();
  }
  ASSERT_EQ(data.rows.size(), 1u);
  const auto& columns = data.columns.at("live");
  ASSERT_EQ(columns.size(), 5u);
  EXPECT_EQ(columns[0].name, "age");
  EXPECT_EQ(columns[1].name, "income");
  EXPECT_EQ(columns[2].name, "prediction");
  EXPECT_EQ(columns[3].name, "model_version");
  EXPECT_EQ(columns[3].type, exec::ColumnType::kInteger);
  EXPECT_EQ(columns[4].name, "scored_at");
  EXPECT_EQ(columns[4].type, exec::ColumnType::kTimestamp);
  const auto& rows = data.rows.at("live");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(Real(rows[0][0]), 31.0);
  EXPECT_EQ(Real(rows[0][1]), 7971.42);  // the decimal sent, not the float's 7971.419921875
  EXPECT_EQ(Real(rows[0][2]), 0.25);
  EXPECT_EQ(std::get<std::int64_t>(rows[0][3]), 3);
  const std::string at = std::get<std::string>(rows[0][4]);
  EXPECT_EQ(at.size(), 24u) << at;  // 2026-12-07T05:30:00.123Z
  EXPECT_EQ(at.back(), 'Z');
  EXPECT_TRUE(std::holds_alternative<std::monostate>(rows[1][0]));  // NaN: missing
  EXPECT_EQ(Real(rows[1][1]), 0.5878);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(rows[1][2]));
  EXPECT_EQ(counts.by_version[3], std::make_pair(std::int64_t{2}, std::int64_t{0}));
}

TEST(PredictionLogTest, SamplesTheShareOfRowsAsked) {
  FakeData data;
  Counts counts;
  const auto model = Model(1, {"x"});
  {
    PredictionLog log(OpenerOf(data),
                      {{"credit@none", {"none", 0.0}}, {"credit@half", {"half", 0.5}}}, 100'000,
                      counts.counter());
    const std::vector<float> scores(10'000, 0.5f);
    log.Record("credit@none", model, Rows(std::vector<float>(10'000, 1.0f), 1), scores);
    log.Record("credit@half", model, Rows(std::vector<float>(10'000, 1.0f), 1), scores);
    log.Flush();
  }
  EXPECT_EQ(data.rows.count("none"), 0u);
  // Binomial(10000, 0.5): 6 standard deviations either side.
  EXPECT_NEAR(static_cast<double>(data.rows.at("half").size()), 5000.0, 300.0);
}

TEST(PredictionLogTest, AFullQueueDropsAndCountsRowsWithoutWaiting) {
  FakeData data;
  std::promise<void> open;
  data.gate = open.get_future().share();
  Counts counts;
  const auto model = Model(2, {"x"});
  {
    PredictionLog log(OpenerOf(data), {{"credit@production", {"live", 1.0}}}, 10, counts.counter());
    const std::vector<float> scores(4, 0.5f);
    // The writer takes the first batch and waits at the gate; three more fit the queue of 10.
    for (int i = 0; i < 6; ++i) {
      log.Record("credit@production", model, Rows({1, 2, 3, 4}, 1), scores);
    }
    open.set_value();
    log.Flush();
  }
  const auto [written, dropped] = counts.by_version[2];
  EXPECT_EQ(written + dropped, 24);
  EXPECT_GE(dropped, 8);  // at most 16 of the 24 rows fit: 10 queued behind those being written
  EXPECT_EQ(static_cast<std::int64_t>(data.rows.at("live").size()), written);
}

TEST(PredictionLogTest, RowsTheDatabaseRefusesAreDroppedAndCounted) {
  FakeData data;
  data.refuse = true;
  Counts counts;
  const auto model = Model(5, {"x"});
  {
    PredictionLog log(OpenerOf(data), {{"credit@production", {"live", 1.0}}}, 100,
                      counts.counter());
    log.Record("credit@production", model, Rows({1, 2, 3}, 1), std::vector<float>(3, 0.5f));
    log.Flush();
    data.refuse = false;  // the database is back: the next rows are written
    log.Record("credit@production", model, Rows({4}, 1), std::vector<float>(1, 0.5f));
    log.Flush();
  }
  EXPECT_EQ(counts.by_version[5], std::make_pair(std::int64_t{1}, std::int64_t{3}));
  EXPECT_EQ(data.rows.at("live").size(), 1u);
}

TEST(PredictionLogTest, AVersionWithOtherFeaturesCannotAppendToTheTable) {
  FakeData data;
  Counts counts;
  {
    PredictionLog log(OpenerOf(data), {{"credit@production", {"live", 1.0}}}, 100,
                      counts.counter());
    log.Record("credit@production", Model(1, {"x"}), Rows({1}, 1), std::vector<float>{0.5f});
    log.Flush();
    log.Record("credit@production", Model(2, {"x", "y"}), Rows({1, 2}, 2),
               std::vector<float>{0.5f});
    log.Flush();
    // As many features, other names, in one batch with the table's own: never under x's column.
    log.Record("credit@production", Model(1, {"x"}), Rows({2}, 1), std::vector<float>{0.5f});
    log.Record("credit@production", Model(3, {"z"}), Rows({3}, 1), std::vector<float>{0.5f});
    log.Flush();
  }
  EXPECT_EQ(counts.by_version[2], std::make_pair(std::int64_t{0}, std::int64_t{1}));
  EXPECT_EQ(counts.by_version[3].second, 1);
  for (const auto& row : data.rows.at("live")) EXPECT_NE(Real(row[0]), 3.0);
}

}  // namespace
}  // namespace conveyor::serving
