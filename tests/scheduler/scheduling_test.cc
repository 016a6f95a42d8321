// Scheduling and recovery decisions on a fake clock, a fake executor and a fake store
// (tests/support/): the real run loop, no SQLite, no process and no sleep.
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/support/fake_executor.h"

namespace conveyor::scheduler {
namespace {

using namespace std::chrono_literals;
using testing::FakeExecutor;
using testing::FakeOutcome;
using testing::FakeScheduling;
using States = std::map<std::string, std::string>;

FakeOutcome OutcomeNamed(char code) {
  switch (code) {
    case 'F':
      return FakeOutcome::Failure();
    case 'K':
      return FakeOutcome::Skipped();
    default:
      return FakeOutcome::Success();
  }
}

// a -> (b, c) -> d -> e: b and c end as the case says (S success, F failed, K skipped), d has the
// rule under test, e the default all_success.
struct RuleCase {
  std::string rule;
  std::string mix;         // b's and c's ends
  std::string d_expected;  // as Airflow's TriggerRuleDep decides
};

class TriggerRuleTest : public ::testing::TestWithParam<RuleCase> {};

TEST_P(TriggerRuleTest, DownstreamOfTwoUpstreamEnds) {
  const RuleCase& c = GetParam();
  FakeScheduling scheduling(R"(tasks:
  - {id: a, command: "true"}
  - {id: b, command: "true", depends_on: [a]}
  - {id: c, command: "true", depends_on: [a]}
  - {id: d, command: "true", depends_on: [b, c], trigger_rule: )" +
                                c.rule + R"(}
  - {id: e, command: "true", depends_on: [d]}
)",
                            [&](const exec::TaskLaunch& launch) {
                              const std::string& id = launch.info.task_id;
                              if (id == "b") return OutcomeNamed(c.mix[0]);
                              if (id == "c") return OutcomeNamed(c.mix[1]);
                              return FakeOutcome::Success();
                            });
  const auto run = scheduling.RunToEnd();
  const States states = scheduling.States(run);
  EXPECT_EQ(states.at("d"), c.d_expected);
  // e (all_success) follows d: a skip and an upstream failure propagate as themselves.
  const std::string e_expected = c.d_expected == "success" ? "success" : c.d_expected;
  EXPECT_EQ(states.at("e"), e_expected);
  // Airflow's leaf rule: e is the only leaf.
  EXPECT_EQ(run.state,
            e_expected == "upstream_failed" ? state::RunState::kFailed : state::RunState::kSuccess);
  // Only what ran was launched: d and e only when they ran.
  int launches_of_d = 0;
  for (const auto& started : scheduling.executor().started()) {
    launches_of_d += started.task_id == "d";
  }
  EXPECT_EQ(launches_of_d, c.d_expected == "success" ? 1 : 0);
}

std::vector<RuleCase> RuleCases() {
  // mixes:          SS         SF                 FF                 SK         KK         FK
  const std::vector<std::string> mixes = {"SS", "SF", "FF", "SK", "KK", "FK"};
  const std::map<std::string, std::vector<std::string>> table = {
      {"all_success",
       {"success", "upstream_failed", "upstream_failed", "skipped", "skipped", "upstream_failed"}},
      {"all_failed", {"skipped", "skipped", "success", "skipped", "skipped", "skipped"}},
      {"all_done", {"success", "success", "success", "success", "success", "success"}},
      {"one_success",
       {"success", "success", "upstream_failed", "success", "skipped", "upstream_failed"}},
      {"one_failed", {"skipped", "success", "success", "skipped", "skipped", "success"}},
      {"none_failed",
       {"success", "upstream_failed", "upstream_failed", "success", "success", "upstream_failed"}},
      {"none_skipped", {"success", "success", "success", "skipped", "skipped", "skipped"}},
      {"always", {"success", "success", "success", "success", "success", "success"}},
  };
  std::vector<RuleCase> cases;
  for (const auto& [rule, expected] : table) {
    for (size_t i = 0; i < mixes.size(); ++i) cases.push_back({rule, mixes[i], expected[i]});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Rules, TriggerRuleTest, ::testing::ValuesIn(RuleCases()),
                         [](const auto& info) { return info.param.rule + "_" + info.param.mix; });

TEST(SchedulingTest, RetriesWaitExactlyTheirExponentialBackoffCappedByMaxDelay) {
  FakeScheduling scheduling(R"(tasks:
  - id: flaky
    command: "true"
    retries: 3
    retry_delay: 200ms
    retry_exponential_backoff: true
    max_retry_delay: 500ms
)",
                            [](const exec::TaskLaunch& launch) {
                              return launch.info.try_number < 4
                                         ? FakeOutcome::Failure().Taking(10ms)
                                         : FakeOutcome::Success().Taking(10ms);
                            });
  const auto run = scheduling.RunToEnd();
  EXPECT_EQ(run.state, state::RunState::kSuccess);
  const auto tries = *scheduling.store().ListTries(run.id, "flaky");
  ASSERT_EQ(tries.size(), 4u);
  const PreciseInstant t0 = FakeScheduling::kStart;
  // Each try takes 10 ms; the delays are 200 ms, 400 ms, then 800 ms capped to 500 ms.
  const std::chrono::milliseconds starts[] = {0ms, 210ms, 620ms, 1130ms};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(*tries[i].start_date, t0 + starts[i]) << "try " << i + 1;
    EXPECT_EQ(*tries[i].end_date, t0 + starts[i] + 10ms) << "try " << i + 1;
    EXPECT_EQ(tries[i].state, i < 3 ? state::TaskState::kFailed : state::TaskState::kSuccess);
  }
  EXPECT_EQ(scheduling.States(run).at("flaky"), "success");
  EXPECT_EQ(*run.end_date, t0 + 1140ms);
}

TEST(SchedulingTest, ATimedOutTryFailsAtItsTimeoutAndIsRetriedAfterItsDelay) {
  FakeScheduling scheduling(R"(tasks:
  - id: slow
    command: "true"
    execution_timeout: 300ms
    retries: 1
    retry_delay: 1s
)",
                            [](const exec::TaskLaunch& launch) {
                              // The first try would take a minute; the second, 100 ms.
                              return FakeOutcome::Success().Taking(
                                  launch.info.try_number == 1 ? std::chrono::microseconds(60s)
                                                              : std::chrono::microseconds(100ms));
                            });
  const auto run = scheduling.RunToEnd();
  EXPECT_EQ(run.state, state::RunState::kSuccess);
  const auto tries = *scheduling.store().ListTries(run.id, "slow");
  ASSERT_EQ(tries.size(), 2u);
  const PreciseInstant t0 = FakeScheduling::kStart;
  EXPECT_EQ(tries[0].state, state::TaskState::kFailed);
  EXPECT_EQ(*tries[0].end_date, t0 + 300ms);
  EXPECT_EQ(*tries[1].start_date, t0 + 1300ms);
  EXPECT_EQ(*tries[1].end_date, t0 + 1400ms);
  EXPECT_EQ(tries[1].state, state::TaskState::kSuccess);
}

TEST(SchedulingTest, ATryThatRunsOutOfRetriesFailsTheRun) {
  FakeScheduling scheduling(R"(tasks:
  - {id: bad, command: "true", retries: 2, retry_delay: 5m}
  - {id: after, command: "true", depends_on: [bad]}
)",
                            [](const exec::TaskLaunch&) { return FakeOutcome::Failure(); });
  const auto run = scheduling.RunToEnd();
  EXPECT_EQ(run.state, state::RunState::kFailed);
  EXPECT_EQ(scheduling.States(run), (States{{"bad", "failed"}, {"after", "upstream_failed"}}));
  EXPECT_EQ(scheduling.store().ListTries(run.id, "bad")->size(), 3u);
  // Two five-minute waits, taken on the fake clock.
  EXPECT_EQ(*run.end_date, FakeScheduling::kStart + 10min);
}

TEST(SchedulingTest, PriorityOrdersStartsAndPoolsBoundConcurrencyToTheirSlots) {
  FakeScheduling scheduling(R"(tasks:
  - {id: low, command: "true", priority_weight: 1}
  - {id: high, command: "true", priority_weight: 10}
  - {id: mid, command: "true", priority_weight: 5}
  - {id: s1, command: "true", pool: single, depends_on: [low, high, mid]}
  - {id: s2, command: "true", pool: single, depends_on: [low, high, mid]}
  - {id: s3, command: "true", pool: single, depends_on: [low, high, mid]}
  - {id: p1, command: "true", pool: pair, depends_on: [low, high, mid]}
  - {id: p2, command: "true", pool: pair, depends_on: [low, high, mid]}
  - {id: p3, command: "true", pool: pair, depends_on: [low, high, mid]}
  - {id: p4, command: "true", pool: pair, depends_on: [low, high, mid]}
  - {id: p5, command: "true", pool: pair, depends_on: [low, high, mid]}
)",
                            [](const exec::TaskLaunch&) { return FakeOutcome::Success(); });
  RunLoopOptions options;
  options.pools = {{"default", 128}, {"single", 1}, {"pair", 2}};
  const auto run = scheduling.RunToEnd(options);
  EXPECT_EQ(run.state, state::RunState::kSuccess);
  const auto started = scheduling.executor().started();
  ASSERT_EQ(started.size(), 11u);
  EXPECT_EQ(started[0].task_id, "high");
  EXPECT_EQ(started[1].task_id, "mid");
  EXPECT_EQ(started[2].task_id, "low");
  size_t most_single = 0, most_pair = 0;
  for (const auto& s : started) {
    const auto in = [&](char pool) {
      return static_cast<size_t>(
          std::count_if(s.running.begin(), s.running.end(),
                        [&](const std::string& id) { return id[0] == pool; }));
    };
    most_single = std::max(most_single, in('s'));
    most_pair = std::max(most_pair, in('p'));
  }
  EXPECT_EQ(most_single, 1u);
  EXPECT_EQ(most_pair, 2u);
}

TEST(SchedulingTest, MaxActiveTasksBoundsARunsTriesInFlight) {
  std::string yaml = "max_active_tasks: 3\ntasks:\n";
  for (int i = 0; i < 10; ++i) yaml += "  - {id: t" + std::to_string(i) + ", command: \"true\"}\n";
  FakeScheduling scheduling(yaml, [](const exec::TaskLaunch&) { return FakeOutcome::Success(); });
  const auto run = scheduling.RunToEnd();
  EXPECT_EQ(run.state, state::RunState::kSuccess);
  size_t most = 0;
  for (const auto& s : scheduling.executor().started()) most = std::max(most, s.running.size());
  EXPECT_EQ(most, 3u);
}

// What a new conveyor process decides for a run an earlier one left behind when it died, on the
// fake store: the run's rows are written as the dead process left them, then Resume takes it on.
class Recovery {
 public:
  Recovery(const std::string& yaml, std::chrono::microseconds takes = 5ms)
      : scheduling_(yaml, [takes](const exec::TaskLaunch&) {
          return FakeOutcome::Success().Taking(takes);
        }) {
    run_ = scheduling_.CreateRun();
    run_.state = state::RunState::kRunning;
    run_.start_date = FakeScheduling::kStart - 60s;
    left_.PutRun(run_, state::RunState::kQueued, "dead");
  }
  // The task instance as the dead process left it, with its tries 1..try_number.
  void Left(const std::string& task_id, state::TaskState state, int try_number, int max_tries,
            std::optional<PreciseInstant> next_try_at = std::nullopt) {
    store::TaskInstanceRecord ti;
    ti.run = run_.id;
    ti.task_id = task_id;
    ti.state = state;
    ti.try_number = try_number;
    ti.max_tries = max_tries;
    ti.next_try_at = next_try_at;
    ti.start_date = FakeScheduling::kStart - 30s;
    left_.PutTaskInstance(ti, state::TaskState::kNone, "dead");
    for (int n = 1; n <= try_number; ++n) {
      const bool last = n == try_number;
      const state::TaskState try_state = !last ? state::TaskState::kFailed
                                         : state == state::TaskState::kUpForRetry
                                             ? state::TaskState::kFailed
                                             : state;
      left_.PutTry({run_.id, task_id, n, try_state, FakeScheduling::kStart - 30s, std::nullopt,
                    std::nullopt, "t.log", ""});
    }
  }
  store::DagRunRecord Resume() {
    if (Status s = scheduling_.store().Commit(left_); !s.ok()) {
      throw std::runtime_error(s.error().ToString());
    }
    return scheduling_.Resume(run_);
  }
  FakeScheduling& scheduling() { return scheduling_; }
  store::TaskInstanceRecord Ti(const std::string& task_id) {
    const auto tis = scheduling_.store().ListTaskInstances(run_.id);
    for (const auto& ti : tis.value()) {
      if (ti.task_id == task_id) return ti;
    }
    throw std::runtime_error("no task instance " + task_id);
  }
  std::vector<std::string> Started() const {
    std::vector<std::string> out;
    for (const auto& started : scheduling_.executor().started()) {
      out.push_back(started.task_id + " " + std::to_string(started.try_number));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  const store::DagRunRecord& run() const { return run_; }

 private:
  FakeScheduling scheduling_;
  store::DagRunRecord run_;
  store::WriteBatch left_;
};

const char kInterruptedNote[] = "try 1 interrupted: the conveyor process running it died";

// A try left running or queued runs again, as the next try, without using up a retry (its
// interruption is noted on the try it cut short); a task that had ended is not run again.
TEST(RecoveryTest, InterruptedTriesRunAgainWithoutUsingARetryEndedOnesDoNot) {
  Recovery recovery(R"(tasks:
  - {id: done, command: "true"}
  - {id: was_running, command: "true", depends_on: [done]}
  - {id: was_queued, command: "true", depends_on: [done]}
  - {id: after, command: "true", depends_on: [was_running, was_queued]}
)");
  recovery.Left("done", state::TaskState::kSuccess, 1, 1);
  recovery.Left("was_running", state::TaskState::kRunning, 1, 1);
  recovery.Left("was_queued", state::TaskState::kQueued, 1, 1);
  const auto ended = recovery.Resume();
  EXPECT_EQ(ended.state, state::RunState::kSuccess);
  EXPECT_EQ(recovery.Started(),
            (std::vector<std::string>{"after 1", "was_queued 2", "was_running 2"}));
  for (const char* task : {"was_running", "was_queued"}) {
    const auto ti = recovery.Ti(task);
    EXPECT_EQ(ti.state, state::TaskState::kSuccess) << task;
    EXPECT_EQ(ti.try_number, 2) << task;
    EXPECT_EQ(ti.max_tries, 2) << task;  // one more: the interruption used none of its tries
    const auto tries = *recovery.scheduling().store().ListTries(recovery.run().id, task);
    ASSERT_EQ(tries.size(), 2u) << task;
    EXPECT_EQ(tries[0].note, kInterruptedNote) << task;
    EXPECT_EQ(tries[0].end_date, PreciseInstant(FakeScheduling::kStart)) << task;
    EXPECT_EQ(tries[1].state, state::TaskState::kSuccess) << task;
  }
  const auto events = recovery.scheduling().store().TaskEvents();
  const std::vector<std::string> recovered = {
      std::string("was_running 1 running->scheduled: ") + kInterruptedNote,
      std::string("was_queued 1 queued->scheduled: ") + kInterruptedNote};
  for (const std::string& expected : recovered) {
    EXPECT_EQ(std::count(events.begin(), events.end(), expected), 1) << expected;
  }
  EXPECT_EQ(recovery.Ti("done").try_number, 1);
}

// A task waiting for its retry when the process died keeps its time: the retry starts when it is
// due, not at the restart, and is the try it would have been.
TEST(RecoveryTest, ARetryDueLaterStartsAtItsTimeAfterARestart) {
  Recovery recovery(R"(tasks:
  - {id: flaky, command: "true", retries: 1, retry_delay: 30s}
)");
  const PreciseInstant due = FakeScheduling::kStart + 20s;
  recovery.Left("flaky", state::TaskState::kUpForRetry, 1, 2, due);
  const auto ended = recovery.Resume();
  EXPECT_EQ(ended.state, state::RunState::kSuccess);
  const auto started = recovery.scheduling().executor().started();
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].try_number, 2);
  EXPECT_EQ(started[0].at, due);
  EXPECT_EQ(recovery.Ti("flaky").max_tries, 2);
  EXPECT_EQ(*ended.end_date, due + 5ms);
}

// A run whose tasks had all ended when the process died ends as they decide, with nothing run.
TEST(RecoveryTest, ARunWhoseTasksHadAllEndedEndsWithNothingRun) {
  Recovery recovery(R"(tasks:
  - {id: a, command: "true"}
  - {id: b, command: "true", retries: 1}
)");
  recovery.Left("a", state::TaskState::kSuccess, 1, 1);
  recovery.Left("b", state::TaskState::kFailed, 2, 2);
  const auto ended = recovery.Resume();
  EXPECT_EQ(ended.state, state::RunState::kFailed);
  EXPECT_TRUE(recovery.Started().empty());
  EXPECT_EQ(recovery.Ti("b").try_number, 2);
}

}  // namespace
}  // namespace conveyor::scheduler
