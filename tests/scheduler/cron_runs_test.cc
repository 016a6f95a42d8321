// Which scheduled runs exist at a given instant, with Airflow's semantics; every case uses a fixed
// clock and a real database.
#include "engine/scheduler/cron_runs.h"

#include <gtest/gtest.h>

#include "engine/cli/command_context.h"
#include "engine/scheduler/run_factory.h"
#include "engine/store/state_store.h"
#include "tests/support/temp_dir.h"

namespace conveyor::scheduler {
namespace {

Instant At(const std::string& text) {
  auto parsed = ParseDateTime(text);
  EXPECT_TRUE(parsed.ok()) << text;
  return std::chrono::sys_seconds(parsed->local.time_since_epoch()) -
         parsed->utc_offset.value_or(std::chrono::seconds(0));
}

class CronRunsTest : public ::testing::Test {
 protected:
  // Loads a DAG from `yaml` (no tasks needed beyond one noop).
  const graph::LoadedDag& Load(const std::string& yaml) {
    const std::string path = dir_.Write("d.yaml", yaml + "tasks:\n  - id: t\n    operator: noop\n");
    bag_.emplace(graph::DagBag::LoadFiles({path}, cli::BuiltinRegistry()));
    EXPECT_TRUE(bag_->broken().empty()) << bag_->broken().front().errors.front().ToString();
    return bag_->dags().front();
  }
  store::StateStore& Store() {
    if (!store_) store_ = std::move(store::OpenSqliteStore(dir_.path() + "/s.db")).value();
    return *store_;
  }
  // The runs created at `now`, as "start/end" UTC pairs.
  std::vector<std::string> Create(const graph::LoadedDag& dag, const std::string& now,
                                  int limit = 1000) {
    auto round = CreateDueRuns(Store(), dag, At(now), limit);
    EXPECT_TRUE(round.ok()) << round.error().ToString();
    std::vector<std::string> out;
    for (const auto& run : round->created) {
      EXPECT_EQ(run.run_type, "scheduled");
      EXPECT_EQ(run.run_id, MakeRunId("scheduled", *run.logical_date));
      EXPECT_EQ(run.logical_date, run.data_interval_start);
      out.push_back(FormatUtc(*run.data_interval_start) + "/" + FormatUtc(*run.data_interval_end));
    }
    next_due_ = round->next_due;
    return out;
  }

  testing::TempDir dir_;
  std::optional<graph::DagBag> bag_;
  std::unique_ptr<store::StateStore> store_;
  std::optional<Instant> next_due_;
};

TEST_F(CronRunsTest, HourlyFollowsElapsedTimeAcrossBerlinSpringForward) {
  const auto& dag = Load(
      "schedule: '@hourly'\ntimezone: Europe/Berlin\nstart_date: 2026-03-29T00:00\n"
      "catchup: true\n");
  // 00:00 CET is 23:00Z; clocks jump 02:00 CET -> 03:00 CEST at 01:00Z.
  EXPECT_EQ(Create(dag, "2026-03-29T03:30:00Z"),
            (std::vector<std::string>{"2026-03-28T23:00:00Z/2026-03-29T00:00:00Z",
                                      "2026-03-29T00:00:00Z/2026-03-29T01:00:00Z",
                                      "2026-03-29T01:00:00Z/2026-03-29T02:00:00Z",
                                      "2026-03-29T02:00:00Z/2026-03-29T03:00:00Z"}));
  EXPECT_EQ(next_due_, At("2026-03-29T04:00:00Z"));
}

TEST_F(CronRunsTest, DailyWallClockAcrossNewYorkSpringForward) {
  const auto& dag = Load(
      "schedule: '30 2 * * *'\ntimezone: America/New_York\nstart_date: 2026-03-06\n"
      "catchup: true\n");
  // 02:30 does not exist on 2026-03-08: that day's run fires at 03:00 EDT (07:00Z).
  EXPECT_EQ(Create(dag, "2026-03-09T12:00:00Z"),
            (std::vector<std::string>{"2026-03-06T07:30:00Z/2026-03-07T07:30:00Z",
                                      "2026-03-07T07:30:00Z/2026-03-08T07:00:00Z",
                                      "2026-03-08T07:00:00Z/2026-03-09T06:30:00Z"}));
  EXPECT_EQ(next_due_, At("2026-03-10T06:30:00Z"));
}

TEST_F(CronRunsTest, DailyWallClockAcrossBerlinFallBack) {
  const auto& dag = Load(
      "schedule: '30 2 * * *'\ntimezone: Europe/Berlin\nstart_date: 2026-10-24\n"
      "catchup: true\n");
  // 02:30 happens twice on 2026-10-25: the run fires at the first (00:30Z, still CEST).
  EXPECT_EQ(Create(dag, "2026-10-26T12:00:00Z"),
            (std::vector<std::string>{"2026-10-24T00:30:00Z/2026-10-25T00:30:00Z",
                                      "2026-10-25T00:30:00Z/2026-10-26T01:30:00Z"}));
}

TEST_F(CronRunsTest, CatchupCreatesEveryMissedIntervalAfterDowntime) {
  const auto& dag = Load("schedule: '0 * * * *'\nstart_date: 2026-01-01\ncatchup: true\n");
  EXPECT_EQ(Create(dag, "2026-01-01T01:00:00Z"),
            (std::vector<std::string>{"2026-01-01T00:00:00Z/2026-01-01T01:00:00Z"}));
  // Down from 01:00 to 04:30: the three intervals that ended meanwhile, oldest first.
  EXPECT_EQ(Create(dag, "2026-01-01T04:30:00Z"),
            (std::vector<std::string>{"2026-01-01T01:00:00Z/2026-01-01T02:00:00Z",
                                      "2026-01-01T02:00:00Z/2026-01-01T03:00:00Z",
                                      "2026-01-01T03:00:00Z/2026-01-01T04:00:00Z"}));
}

TEST_F(CronRunsTest, WithoutCatchupOnlyTheLatestIntervalRunsAfterDowntime) {
  const auto& dag = Load("schedule: '0 * * * *'\nstart_date: 2026-01-01\ncatchup: false\n");
  EXPECT_EQ(Create(dag, "2026-01-01T01:00:00Z"),
            (std::vector<std::string>{"2026-01-01T00:00:00Z/2026-01-01T01:00:00Z"}));
  EXPECT_EQ(Create(dag, "2026-01-01T04:30:00Z"),
            (std::vector<std::string>{"2026-01-01T03:00:00Z/2026-01-01T04:00:00Z"}));
  // A year of history is not replayed either.
  EXPECT_EQ(Create(dag, "2026-01-01T04:59:59Z"), std::vector<std::string>{});
}

TEST_F(CronRunsTest, NothingBeforeTheFirstIntervalEnds) {
  const auto& dag = Load("schedule: '@daily'\nstart_date: 2026-01-10\ncatchup: false\n");
  EXPECT_EQ(Create(dag, "2026-01-10T12:00:00Z"), std::vector<std::string>{});
  EXPECT_EQ(next_due_, At("2026-01-11T00:00:00Z"));
  EXPECT_EQ(Create(dag, "2026-01-11T00:00:00Z"),
            (std::vector<std::string>{"2026-01-10T00:00:00Z/2026-01-11T00:00:00Z"}));
}

TEST_F(CronRunsTest, EndDateBoundsTheLogicalDates) {
  const auto& dag =
      Load("schedule: '@daily'\nstart_date: 2026-01-01\nend_date: 2026-01-03\ncatchup: true\n");
  EXPECT_EQ(Create(dag, "2026-02-01T00:00:00Z"),
            (std::vector<std::string>{"2026-01-01T00:00:00Z/2026-01-02T00:00:00Z",
                                      "2026-01-02T00:00:00Z/2026-01-03T00:00:00Z",
                                      "2026-01-03T00:00:00Z/2026-01-04T00:00:00Z"}));
  EXPECT_EQ(Create(dag, "2026-03-01T00:00:00Z"), std::vector<std::string>{});
  EXPECT_EQ(next_due_, std::nullopt);
}

TEST_F(CronRunsTest, OnceRunsOnceWhenStartDatePasses) {
  const auto& dag = Load("schedule: '@once'\nstart_date: 2026-05-01T10:00\n");
  EXPECT_EQ(Create(dag, "2026-05-01T09:00:00Z"), std::vector<std::string>{});
  EXPECT_EQ(next_due_, At("2026-05-01T10:00:00Z"));
  EXPECT_EQ(Create(dag, "2026-05-01T10:00:00Z"),
            (std::vector<std::string>{"2026-05-01T10:00:00Z/2026-05-01T10:00:00Z"}));
  EXPECT_EQ(Create(dag, "2026-06-01T00:00:00Z"), std::vector<std::string>{});
}

TEST_F(CronRunsTest, LimitLeavesTheRestForLaterRounds) {
  const auto& dag = Load("schedule: '@daily'\nstart_date: 2026-01-01\ncatchup: true\n");
  EXPECT_EQ(Create(dag, "2026-01-05T00:00:00Z", 2),
            (std::vector<std::string>{"2026-01-01T00:00:00Z/2026-01-02T00:00:00Z",
                                      "2026-01-02T00:00:00Z/2026-01-03T00:00:00Z"}));
  EXPECT_EQ(Create(dag, "2026-01-05T00:00:00Z", 0), std::vector<std::string>{});
  EXPECT_EQ(Create(dag, "2026-01-05T00:00:00Z", 5),
            (std::vector<std::string>{"2026-01-03T00:00:00Z/2026-01-04T00:00:00Z",
                                      "2026-01-04T00:00:00Z/2026-01-05T00:00:00Z"}));
}

TEST_F(CronRunsTest, AnIntervalGetsOneRunAcrossRestartsAndProcesses) {
  const auto& dag = Load("schedule: '@hourly'\nstart_date: 2026-01-01\ncatchup: false\n");
  EXPECT_EQ(Create(dag, "2026-01-01T05:00:00Z").size(), 1u);
  // A restarted scheduler (new connection) at the same instant creates nothing.
  store_.reset();
  EXPECT_EQ(Create(dag, "2026-01-01T05:00:10Z"), std::vector<std::string>{});
  // A backfill run owns its interval: the scheduler does not add another for it, and the
  // database refuses a second scheduled or backfill run for one logical date.
  RunRequest backfill;
  backfill.run_type = "backfill";
  backfill.logical_date = At("2026-01-01T05:00:00Z");
  backfill.interval = cron::DataInterval{At("2026-01-01T05:00:00Z"), At("2026-01-01T06:00:00Z")};
  ASSERT_TRUE(CreateRun(Store(), dag, backfill, At("2026-01-01T05:30:00Z")).ok());
  EXPECT_EQ(Create(dag, "2026-01-01T06:00:00Z"), std::vector<std::string>{});
  RunRequest scheduled = backfill;
  scheduled.run_type = "scheduled";
  auto duplicate = CreateRun(Store(), dag, scheduled, At("2026-01-01T06:00:00Z"));
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.error().message,
            "DAG 'd' already has a run for logical date 2026-01-01T05:00:00Z");
  int total = 0;
  store::RunFilter filter;
  ASSERT_TRUE(Store().ListRuns(filter, &total).ok());
  EXPECT_EQ(total, 2);
}

}  // namespace
}  // namespace conveyor::scheduler
