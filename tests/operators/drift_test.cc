// drift_check's windows, choices and errors on a real data database (the statistics themselves
// are checked against scipy by tests/oracle/drift_vs_scipy.py).
#include <gtest/gtest.h>

#include <random>

#include "engine/data/data_access.h"
#include "engine/exec/process_runner.h"
#include "operators/drift/drift_check_operator.h"
#include "operators/drift/drift_report.h"
#include "operators/drift/radix_sort.h"
#include "operators/ingest_operator.h"
#include "tests/support/temp_dir.h"

namespace conveyor::operators {
namespace {

using Outcome = exec::OperatorResult::Outcome;

TEST(DriftWindowTest, ParsesWindows) {
  auto w = drift::ParseWindow("3 week");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->count, 3);
  EXPECT_EQ(w->unit, drift::WindowLength::Unit::kWeek);
  EXPECT_EQ(drift::ParseWindow("1 month")->unit, drift::WindowLength::Unit::kMonth);
  EXPECT_EQ(drift::ParseWindow("12 hours")->unit, drift::WindowLength::Unit::kHour);
  EXPECT_EQ(drift::ParseWindow("2 fortnights").error().message,
            "bad window '2 fortnights': the unit is hour, day, week or month");
  EXPECT_EQ(drift::ParseWindow("week").error().message,
            "bad window 'week': write a count and a unit, e.g. '3 week'");
}

TEST(DriftWindowTest, MonthsAreCalendarMonthsAndDaysCountBackFromTheLatest) {
  drift::DriftInput input;
  // 2026-01-31, 2026-02-01, 2026-03-15 (seconds since the epoch).
  input.primary_time = {1769817600, 1769904000, 1773532800};
  input.features.push_back({"x", drift::FeatureKind::kNumerical, {1, 2, 3, 4, 5, 6}, {1, 2, 3}});
  drift::DriftOptions options;
  options.window = drift::WindowLength{1, drift::WindowLength::Unit::kMonth};
  auto months = drift::ComputeDrift(input, options);
  ASSERT_TRUE(months.ok());
  ASSERT_EQ(months->size(), 3u);
  EXPECT_EQ((*months)[0].start, 1767225600);  // 2026-01-01
  EXPECT_EQ((*months)[1].start, 1769904000);  // 2026-02-01
  EXPECT_EQ((*months)[2].start, 1772323200);  // 2026-03-01
  EXPECT_EQ((*months)[2].end, 1775001600);    // 2026-04-01
  options.window = drift::WindowLength{2, drift::WindowLength::Unit::kWeek};
  auto weeks = drift::ComputeDrift(input, options);
  ASSERT_TRUE(weeks.ok());
  ASSERT_EQ(weeks->size(), 2u);  // Mar 2-16 holds Mar 15; Jan 19 - Feb 2 holds the others
  EXPECT_EQ(weeks->back().end, 1773619200);  // 2026-03-16, the end of the latest row's day
  EXPECT_EQ(weeks->back().start, 1773619200 - 14 * 86400);
  EXPECT_EQ(weeks->front().primary_rows, 2u);
}

TEST(DriftSortTest, RadixSortEqualsStdSort) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal(0, 1e6);
  std::vector<double> values(100000);
  for (double& v : values) v = normal(rng);
  values[10] = -0.0;
  values[11] = 0.0;
  values[12] = -1e308;
  values[13] = 4.9e-324;
  auto expected = values;
  std::sort(expected.begin(), expected.end());
  drift::SortDoubles(values);
  EXPECT_EQ(values, expected);
}

class DriftCheckTest : public ::testing::Test {
 protected:
  exec::OperatorResult Run(exec::Operator&& op, const nlohmann::json& args,
                           const std::string& task = "drift") {
    info_.dag_id = "d";
    info_.run_id = "r";
    info_.task_id = task;
    info_.work_dir = dir_.path();
    info_.log_path = dir_.path() + "/try.log";
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
  void Table(const std::string& name, const std::string& csv) {
    dir_.Write(name + ".csv", csv);
    const auto r = Run(IngestOperator(), {{"source", name + ".csv"}, {"table", name}}, "ingest");
    ASSERT_EQ(r.outcome, Outcome::kSuccess) << r.message;
  }
  std::string Query(const std::string& sql) const {
    return testing::RunCommand("sqlite3 -separator '|' " + dir_.path() + "/data.db \"" + sql + "\"")
        .output;
  }

  testing::TempDir dir_;
  exec::DataAccess access_ = data::MakeDataAccess(dir_.path() + "/data.db", "", "");
  exec::TaskRunInfo info_;
  std::optional<nlohmann::json> command_;
  std::map<std::string, std::string> env_;
  std::atomic<bool> cancelled_{false};
};

TEST_F(DriftCheckTest, TextNullsOverridesAndResults) {
  std::string base = "day,x,city\n", now = "day,x,city\n";
  for (int i = 0; i < 200; ++i) {
    base += "2026-01-01," + std::to_string(i % 50) + "," + (i % 2 ? "rome" : "oslo") + "\n";
    now += "2026-02-0" + std::to_string(1 + i % 3) + "," +
           (i % 10 ? std::to_string(i % 50 + 30) : "") + "," + (i % 4 ? "rome" : "oslo") + "\n";
  }
  Table("b", base);
  Table("p", now);
  auto r = Run(DriftCheckOperator(), {{"baseline", "b"},
                                      {"primary", "SELECT * FROM p"},
                                      {"timestamp_column", "day"},
                                      {"tests", {{"x", "wasserstein"}}},
                                      {"thresholds", {{"city", 0.5}}},
                                      {"on_drift", "fail"}});
  ASSERT_EQ(r.outcome, Outcome::kFailed);
  EXPECT_EQ(r.message.rfind("drift in window 2026-02-01T00:00:00Z .. 2026-02-03T00:00:00Z: 2 of 2 "
                            "features drifted (share 1 >= 0.5): ",
                            0),
            0u)
      << r.message;
  EXPECT_EQ(r.outputs.at("dataset_drift"), true);
  EXPECT_EQ(Query("SELECT feature, test, threshold, drifted FROM drift_results ORDER BY rowid"),
            "x|wasserstein|0.1|1\nx|psi|0.1|1\ncity|z|0.5|1\ncity|psi|0.1|1\n"
            "dataset|drift_share|0.5|1\n");
  EXPECT_NE(testing::RunCommand("grep -c '20 NaN/inf/NULL dropped' " + info_.log_path).output,
            "0\n");
}

TEST_F(DriftCheckTest, ErrorsNameTheProblem) {
  Table("b", "day,x\n2026-01-01,1\n");
  Table("p", "day,x\n2026-01-01,2\n");
  auto r = Run(DriftCheckOperator(), {{"baseline", "b"}, {"primary", "p"}, {"window", "1 week"}});
  EXPECT_EQ(r.message, "window needs a timestamp_column to cut the primary rows by");
  r = Run(DriftCheckOperator(), {{"baseline", "b"}, {"primary", "p"}, {"tests", {{"x", "t"}}}});
  EXPECT_EQ(r.message,
            "tests.x: unknown test \"t\" (ks, chisquare, z, wasserstein, jensenshannon)");
  r = Run(DriftCheckOperator(),
          {{"baseline", "b"}, {"primary", "p"}, {"problem_type", "binary_classification"}});
  EXPECT_EQ(r.message,
            "problem_type binary_classification needs prediction_column and label_column");
  r = Run(DriftCheckOperator(), {{"baseline", "b"}, {"primary", "nope"}});
  EXPECT_EQ(r.message, "the data database has no table 'nope'");
  r = Run(DriftCheckOperator(), {{"baseline", "b"}, {"primary", "p"}, {"features", {"y"}}});
  EXPECT_EQ(r.message, "table 'b' has no feature column 'y'");
  EXPECT_EQ(Query("SELECT count(*) FROM sqlite_master WHERE name = 'drift_results'"), "0\n");
}

}  // namespace
}  // namespace conveyor::operators
