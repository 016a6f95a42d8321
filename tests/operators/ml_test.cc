// The ML operators on a real data database and registry: metrics, the split, the registry's
// versions and aliases, train and batch_infer end to end, and their errors (nothing written).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "engine/data/data_access.h"
#include "engine/exec/process_runner.h"
#include "engine/store/state_store.h"
#include "operators/batch_infer_operator.h"
#include "operators/ingest_operator.h"
#include "operators/ml_metrics.h"
#include "operators/train_operator.h"
#include "tests/support/temp_dir.h"

namespace conveyor::operators {
namespace {

using Outcome = exec::OperatorResult::Outcome;

TEST(MlMetricsTest, AucCountsTiesHalf) {
  const std::vector<double> labels = {0, 0, 1, 1};
  EXPECT_DOUBLE_EQ(RocAuc(labels, std::vector<double>{0.1, 0.4, 0.35, 0.8}), 0.75);
  EXPECT_DOUBLE_EQ(RocAuc(labels, std::vector<double>{0.5, 0.5, 0.5, 0.5}), 0.5);
  EXPECT_DOUBLE_EQ(RocAuc(labels, std::vector<double>{0.2, 0.6, 0.6, 0.9}), 0.875);
  EXPECT_TRUE(std::isnan(RocAuc(std::vector<double>{1, 1}, std::vector<double>{0.2, 0.3})));
}

TEST(MlMetricsTest, BinaryMetricsAtHalf) {
  const std::vector<double> labels = {1, 0, 1, 1, 0};
  const std::vector<double> scores = {0.9, 0.6, 0.4, 0.5, 0.1};
  const auto m = BinaryMetrics(labels, scores);
  // Predicted 1 for 0.9, 0.6, 0.5: tp 2, fp 1, fn 1, tn 1.
  EXPECT_DOUBLE_EQ(m.at("accuracy").get<double>(), 3.0 / 5);
  EXPECT_DOUBLE_EQ(m.at("precision").get<double>(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.at("recall").get<double>(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(m.at("f1").get<double>(), 2.0 / 3);
  const double logloss =
      -(std::log(0.9) + std::log(0.4) + std::log(0.4) + std::log(0.5) + std::log(0.9)) / 5;
  EXPECT_NEAR(m.at("logloss").get<double>(), logloss, 1e-15);
  EXPECT_DOUBLE_EQ(m.at("auc").get<double>(), 4.0 / 6);
  EXPECT_DOUBLE_EQ(m.at("gini").get<double>(), 2 * 4.0 / 6 - 1);
  EXPECT_TRUE(
      BinaryMetrics(std::vector<double>{0, 0}, std::vector<double>{0.1, 0.7}).at("auc").is_null());
}

TEST(MlMetricsTest, RegressionMetrics) {
  const auto m =
      RegressionMetrics(std::vector<double>{1, 2, 3, 4}, std::vector<double>{1.5, 2, 2, 5});
  EXPECT_DOUBLE_EQ(m.at("mae").get<double>(), 2.5 / 4);
  EXPECT_DOUBLE_EQ(m.at("rmse").get<double>(), std::sqrt(2.25 / 4));
  EXPECT_DOUBLE_EQ(m.at("r2").get<double>(), 1 - 2.25 / 5);
}

TEST(TrainSplitTest, HashSplitIsStableAndNearTheRatio) {
  int validation = 0;
  for (std::uint64_t i = 0; i < 100000; ++i) validation += InValidationSet(42, i, 0.2) ? 1 : 0;
  EXPECT_NEAR(validation / 100000.0, 0.2, 0.005);
  EXPECT_FALSE(InValidationSet(42, 0, 0.0));
  EXPECT_EQ(InValidationSet(7, 3, 0.5), InValidationSet(7, 3, 0.5));
  int differ = 0;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    differ += InValidationSet(1, i, 0.5) != InValidationSet(2, i, 0.5) ? 1 : 0;
  }
  EXPECT_GT(differ, 400);  // another seed, another split
}

class MlOperatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    access_ = data::MakeDataAccess(dir_.path() + "/data.db", dir_.path() + "/state.db",
                                   dir_.path() + "/artifacts");
    info_.dag_id = "d";
    info_.run_id = "r1";
    info_.work_dir = dir_.path();
    info_.log_path = dir_.path() + "/try.log";
  }

  exec::OperatorResult Run(exec::Operator&& op, const nlohmann::json& args) {
    exec::OperatorContext context{info_,
                                  args,
                                  command_,
                                  env_,
                                  std::nullopt,
                                  cancelled_,
                                  exec::SystemProcessRunner(),
                                  exec::IgnoreProcessStart,
                                  access_};
    return op.Execute(context);
  }
  exec::OperatorResult Train(nlohmann::json args) {
    info_.task_id = "train";
    return Run(TrainOperator(), args);
  }
  exec::OperatorResult Infer(nlohmann::json args) {
    info_.task_id = "score";
    return Run(BatchInferOperator(), args);
  }

  // A table `loans` of n rows: x1, x2 real, k integer, label y = 1 when x1 + noise > 0.
  void WriteLoans(int n, const std::string& table = "loans") {
    std::string csv = "x1,x2,k,name,y\n";
    std::mt19937 rng(5);
    std::normal_distribution<double> normal;
    for (int i = 0; i < n; ++i) {
      const double x1 = normal(rng), x2 = normal(rng);
      const int y = x1 + 0.5 * normal(rng) > 0 ? 1 : 0;
      csv += std::to_string(x1) + "," + std::to_string(x2) + "," + std::to_string(i % 3) + ",n" +
             std::to_string(i) + "," + std::to_string(y) + "\n";
    }
    dir_.Write(table + ".csv", csv);
    info_.task_id = "ingest";
    const auto r = Run(IngestOperator(), {{"source", table + ".csv"}, {"table", table}});
    ASSERT_EQ(r.outcome, Outcome::kSuccess) << r.message;
  }
  std::string Query(const std::string& db, const std::string& sql) const {
    return testing::RunCommand("sqlite3 -separator '|' " + dir_.path() + "/" + db + " \"" + sql +
                               "\"")
        .output;
  }

  testing::TempDir dir_;
  exec::DataAccess access_;
  exec::TaskRunInfo info_;
  std::optional<nlohmann::json> command_;
  std::map<std::string, std::string> env_;
  std::atomic<bool> cancelled_{false};
};

TEST_F(MlOperatorTest, TrainsRegistersAndScores) {
  WriteLoans(600);
  const nlohmann::json train = {
      {"table", "loans"},
      {"label", "y"},
      {"exclude", {"name"}},
      {"num_boost_round", 20},
      {"register", {{"name", "m"}, {"alias", "production"}, {"min_auc", "0.8"}}}};
  auto r = Train(train);
  ASSERT_EQ(r.outcome, Outcome::kSuccess) << r.message;
  EXPECT_EQ(r.outputs.at("model_version"), 1);
  EXPECT_EQ(r.outputs.at("alias"), "production");
  EXPECT_EQ(r.outputs.at("train_rows").get<int>() + r.outputs.at("validation_rows").get<int>(),
            600);
  EXPECT_GT(r.outputs.at("auc").get<double>(), 0.8);
  const std::string artifact = r.outputs.at("artifact_path");
  EXPECT_EQ(artifact, dir_.path() + "/artifacts/d/r1/train/try_1/model.json");
  EXPECT_TRUE(std::filesystem::exists(artifact));

  // A second version with an impossible bound is registered but not promoted.
  auto strict = train;
  strict["register"]["min_auc"] = 0.9999;
  r = Train(strict);
  ASSERT_EQ(r.outcome, Outcome::kSuccess) << r.message;
  EXPECT_EQ(r.outputs.at("model_version"), 2);
  EXPECT_EQ(r.outputs.at("alias"), "");
  auto registry = access_.open_registry();
  ASSERT_TRUE(registry.ok());
  auto production = (*registry)->Resolve("m@production");
  ASSERT_TRUE(production.ok());
  EXPECT_EQ(production->version, 1);
  EXPECT_EQ(production->features, (std::vector<std::string>{"x1", "x2", "k"}));
  EXPECT_EQ((*registry)->Resolve("m")->version, 2);
  EXPECT_EQ((*registry)->Resolve("m/2")->aliases, std::vector<std::string>{});

  ASSERT_TRUE((*registry)->SetAlias("m", "production", 2, "test").ok());
  EXPECT_EQ(Query("state.db", "SELECT run, to_state, who, note FROM events ORDER BY id"),
            "0|model_alias|task d/r1/train|m@production -> version 1\n"
            "0|model_alias|test|m@production -> version 2 (was version 1)\n");

  r = Infer({{"model", "m/1"},
             {"table", "loans"},
             {"output_table", "scored"},
             {"columns", {"name", "y"}},
             {"batch_size", 64}});
  ASSERT_EQ(r.outcome, Outcome::kSuccess) << r.message;
  EXPECT_EQ(
      r.outputs,
      (nlohmann::json{
          {"rows", 600}, {"output_table", "scored"}, {"model_name", "m"}, {"model_version", 1}}));
  EXPECT_EQ(Query("data.db", "SELECT name, type FROM pragma_table_info('scored')"),
            "name|TEXT\ny|INTEGER\nprediction_score|REAL\n");
  EXPECT_EQ(Query("data.db",
                  "SELECT count(*), min(prediction_score) >= 0, "
                  "max(prediction_score) <= 1 FROM scored"),
            "600|1|1\n");
  // Scored in batches of 64 or at once, the scores are the same.
  r = Infer({{"model", "m@production"},
             {"query", "SELECT * FROM loans WHERE k = 1"},
             {"output_table", "scored2"}});
  ASSERT_EQ(r.outcome, Outcome::kSuccess) << r.message;
  EXPECT_EQ(r.outputs.at("model_version"), 2);
  EXPECT_EQ(r.outputs.at("rows"), 200);
}

TEST_F(MlOperatorTest, SplitColumnAndRegression) {
  WriteLoans(300);
  auto r = Train({{"query",
                   "SELECT x1, x2, k, CASE WHEN rowid % 4 = 0 THEN 'validation' ELSE 'train' "
                   "END AS part FROM loans"},
                  {"label", "x1"},
                  {"objective", "reg:squarederror"},
                  {"split_column", "part"},
                  {"num_boost_round", 10}});
  ASSERT_EQ(r.outcome, Outcome::kSuccess) << r.message;
  EXPECT_EQ(r.outputs.at("validation_rows"), 75);
  EXPECT_EQ(r.outputs.at("train_rows"), 225);
  EXPECT_TRUE(r.outputs.contains("rmse") && r.outputs.contains("mae") && r.outputs.contains("r2"));
  EXPECT_FALSE(r.outputs.contains("model_version"));  // not registered
}

TEST_F(MlOperatorTest, TrainErrorsWriteNothing) {
  WriteLoans(50);
  auto r = Train({{"table", "loans"}, {"label", "nmae"}, {"model", "m"}});
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.message, "table 'loans' has no label column 'nmae', did you mean 'name'?");
  r = Train({{"table", "loans"}, {"label", "y"}, {"model", "m"}});
  EXPECT_EQ(r.message,
            "feature column 'name' of table 'loans' is text: features must be numeric (one-hot "
            "encode categorical data, or list the column in exclude)");
  r = Train({{"table", "loans"}, {"label", "k"}, {"exclude", {"name"}}, {"model", "m"}});
  EXPECT_EQ(r.message,
            "label column 'k' of table 'loans' must hold 0 or 1 for binary:logistic, row 3 "
            "holds 2");
  r = Train({{"table", "nope"}, {"label", "y"}});
  EXPECT_EQ(r.message, "the data database has no table 'nope'");
  r = Train({{"table", "loans"}, {"query", "SELECT 1"}, {"label", "y"}});
  EXPECT_EQ(r.message, "give either 'table' or 'query', not both");
  r = Train({{"query", "DELETE FROM loans"}, {"label", "y"}});
  EXPECT_EQ(r.message, "the query must be one SELECT statement that changes nothing");
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/artifacts"));
  auto registry = access_.open_registry();
  ASSERT_TRUE(registry.ok());
  EXPECT_EQ((*registry)->ModelNames()->size(), 0u);
}

TEST_F(MlOperatorTest, InferenceErrorsWriteNothing) {
  WriteLoans(100);
  auto r = Infer({{"model", "m@production"}, {"table", "loans"}, {"output_table", "out"}});
  EXPECT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.message, "no registered model 'm' (the registry is empty)");
  r = Train({{"table", "loans"},
             {"label", "y"},
             {"exclude", {"name"}},
             {"model", "m"},
             {"num_boost_round", 5}});
  ASSERT_EQ(r.outcome, Outcome::kSuccess) << r.message;
  r = Infer({{"model", "m@production"}, {"table", "loans"}, {"output_table", "out"}});
  EXPECT_EQ(r.message, "model 'm' has no alias 'production' (it has no aliases)");
  r = Infer({{"model", "m/4"}, {"table", "loans"}, {"output_table", "out"}});
  EXPECT_EQ(r.message, "model 'm' has no version 4 (latest is version 1)");
  r = Infer({{"model", "m/x"}, {"table", "loans"}, {"output_table", "out"}});
  EXPECT_EQ(r.message,
            "bad model reference 'm/x': the version after '/' must be a number such "
            "as 3");
  r = Infer({{"model", "mm"}, {"table", "loans"}, {"output_table", "out"}});
  EXPECT_EQ(r.message, "no registered model 'mm' (models: m)");
  r = Infer({{"model", "m/1"}, {"query", "SELECT x1, name FROM loans"}, {"output_table", "out"}});
  EXPECT_EQ(r.message, "the query lacks features of m version 1: x2, k");
  r = Infer({{"model", "m/1"},
             {"query", "SELECT x1, name AS x2, k FROM loans"},
             {"output_table", "out"}});
  EXPECT_EQ(r.message,
            "feature column 'x2' of the query is text: features must be numeric (one-hot encode "
            "categorical data, or list the column in exclude)");
  EXPECT_EQ(Query("data.db", "SELECT count(*) FROM sqlite_master WHERE name = 'out'"), "0\n");
}

}  // namespace
}  // namespace conveyor::operators
