#include "engine/scheduler/trigger_rules.h"

#include <gtest/gtest.h>

#include <iterator>
#include <string>
#include <string_view>

namespace conveyor::scheduler {
namespace {

using dag::TriggerRule;
using R = Readiness;

UpstreamCounts Counts(int success, int failed, int upstream_failed, int skipped, int pending) {
  return {success + failed + upstream_failed + skipped + pending, success, failed, upstream_failed,
          skipped};
}

TEST(TriggerRulesTest, AllSuccess) {
  EXPECT_EQ(Evaluate(TriggerRule::kAllSuccess, Counts(2, 0, 0, 0, 0)), R::kRun);
  EXPECT_EQ(Evaluate(TriggerRule::kAllSuccess, Counts(1, 0, 0, 0, 1)), R::kWait);
  EXPECT_EQ(Evaluate(TriggerRule::kAllSuccess, Counts(0, 1, 0, 0, 1)), R::kUpstreamFailed);
  EXPECT_EQ(Evaluate(TriggerRule::kAllSuccess, Counts(0, 0, 1, 0, 0)), R::kUpstreamFailed);
  EXPECT_EQ(Evaluate(TriggerRule::kAllSuccess, Counts(1, 0, 0, 1, 0)), R::kSkip);
  EXPECT_EQ(Evaluate(TriggerRule::kAllSuccess, Counts(0, 0, 0, 0, 0)), R::kRun);  // a root
}

TEST(TriggerRulesTest, AllFailedAllDone) {
  EXPECT_EQ(Evaluate(TriggerRule::kAllFailed, Counts(0, 1, 1, 0, 0)), R::kRun);
  EXPECT_EQ(Evaluate(TriggerRule::kAllFailed, Counts(0, 1, 0, 0, 1)), R::kWait);
  EXPECT_EQ(Evaluate(TriggerRule::kAllFailed, Counts(1, 1, 0, 0, 0)), R::kSkip);
  EXPECT_EQ(Evaluate(TriggerRule::kAllFailed, Counts(0, 1, 0, 1, 0)), R::kSkip);
  EXPECT_EQ(Evaluate(TriggerRule::kAllDone, Counts(1, 1, 1, 1, 0)), R::kRun);
  EXPECT_EQ(Evaluate(TriggerRule::kAllDone, Counts(1, 1, 1, 1, 1)), R::kWait);
}

TEST(TriggerRulesTest, OneSuccessOneFailed) {
  EXPECT_EQ(Evaluate(TriggerRule::kOneSuccess, Counts(1, 0, 0, 0, 3)), R::kRun);
  EXPECT_EQ(Evaluate(TriggerRule::kOneSuccess, Counts(0, 1, 0, 0, 1)), R::kWait);
  EXPECT_EQ(Evaluate(TriggerRule::kOneSuccess, Counts(0, 1, 0, 1, 0)), R::kUpstreamFailed);
  EXPECT_EQ(Evaluate(TriggerRule::kOneSuccess, Counts(0, 0, 0, 2, 0)), R::kSkip);
  EXPECT_EQ(Evaluate(TriggerRule::kOneFailed, Counts(0, 1, 0, 0, 3)), R::kRun);
  EXPECT_EQ(Evaluate(TriggerRule::kOneFailed, Counts(0, 0, 1, 0, 3)), R::kRun);
  EXPECT_EQ(Evaluate(TriggerRule::kOneFailed, Counts(2, 0, 0, 0, 1)), R::kWait);
  EXPECT_EQ(Evaluate(TriggerRule::kOneFailed, Counts(2, 0, 0, 1, 0)), R::kSkip);
}

TEST(TriggerRulesTest, NoneFailedNoneSkippedAlways) {
  EXPECT_EQ(Evaluate(TriggerRule::kNoneFailed, Counts(1, 0, 0, 1, 0)), R::kRun);
  EXPECT_EQ(Evaluate(TriggerRule::kNoneFailed, Counts(1, 0, 0, 0, 1)), R::kWait);
  EXPECT_EQ(Evaluate(TriggerRule::kNoneFailed, Counts(1, 0, 1, 0, 1)), R::kUpstreamFailed);
  EXPECT_EQ(Evaluate(TriggerRule::kNoneSkipped, Counts(1, 1, 1, 0, 0)), R::kRun);
  EXPECT_EQ(Evaluate(TriggerRule::kNoneSkipped, Counts(1, 0, 0, 1, 1)), R::kSkip);
  EXPECT_EQ(Evaluate(TriggerRule::kNoneSkipped, Counts(1, 0, 0, 0, 1)), R::kWait);
  EXPECT_EQ(Evaluate(TriggerRule::kAlways, Counts(0, 0, 0, 0, 5)), R::kRun);
}

// Every rule over every mix of two upstream states, as Airflow's TriggerRuleDep decides it (with
// flag_upstream_failed, the scheduler's setting). Mixes, in order: p = not finished, s = success,
// f = failed, u = upstream_failed, k = skipped. Results: W wait, R run, S skipped,
// U upstream_failed.
constexpr const char* kMixes[] = {"pp", "ps", "pf", "pu", "pk", "ss", "sf", "su",
                                  "sk", "ff", "fu", "fk", "uu", "uk", "kk"};

struct RuleRow {
  const char* rule;
  const char* outcomes;  // one letter per mix in kMixes
};

constexpr RuleRow kAirflowTable[] = {
    {"all_success", "WWUUSRUUSUUUUUS"},
    {"all_failed", "WSWWSSSSSRRSRSS"},
    {"all_done", "WWWWWRRRRRRRRRR"},
    {"one_success", "WRWWWRRRRUUUUUS"},
    {"one_failed", "WWRRWSRRSRRRRRS"},
    {"one_done", "WRRWWRRRRRRRSSS"},
    {"none_failed", "WWUUWRUURUUUUUR"},
    {"none_failed_min_one_success", "WWUUWRUURUUUUUS"},
    {"none_skipped", "WWWWSRRRSRRSRSS"},
    {"all_skipped", "WSSSWSSSSSSSSSR"},
    {"all_done_min_one_success", "WWWWSRRRSUUSUSS"},
    {"always", "RRRRRRRRRRRRRRR"},
};

char Letter(Readiness r) {
  switch (r) {
    case R::kWait:
      return 'W';
    case R::kRun:
      return 'R';
    case R::kSkip:
      return 'S';
    case R::kUpstreamFailed:
      return 'U';
  }
  return '?';
}

TEST(TriggerRulesTest, EveryRuleOverEveryMixOfTwoUpstreamStatesAsAirflow) {
  EXPECT_EQ(std::size(kAirflowTable), dag::TriggerRuleNames().size());
  for (const RuleRow& row : kAirflowTable) {
    auto rule = dag::ParseTriggerRule(row.rule);
    ASSERT_TRUE(rule) << row.rule;
    for (size_t m = 0; m < std::size(kMixes); ++m) {
      UpstreamCounts counts;
      counts.total = 2;
      for (const char state : std::string_view(kMixes[m])) {
        counts.success += state == 's';
        counts.failed += state == 'f';
        counts.upstream_failed += state == 'u';
        counts.skipped += state == 'k';
      }
      EXPECT_EQ(Letter(Evaluate(*rule, counts)), row.outcomes[m])
          << row.rule << " with upstream " << kMixes[m];
    }
  }
}

TEST(TriggerRulesTest, ATaskWithoutUpstreamRunsWhateverItsRule) {
  for (const std::string& name : dag::TriggerRuleNames()) {
    EXPECT_EQ(Evaluate(*dag::ParseTriggerRule(name), UpstreamCounts{}), R::kRun) << name;
  }
}

TEST(TriggerRulesTest, DecisionsComeBeforeEveryUpstreamTaskHasFinished) {
  // Airflow flags these as soon as they are certain.
  EXPECT_EQ(Evaluate(TriggerRule::kAllDoneMinOneSuccess, Counts(1, 0, 0, 1, 3)), R::kSkip);
  EXPECT_EQ(Evaluate(TriggerRule::kAllSkipped, Counts(0, 1, 0, 0, 3)), R::kSkip);
  EXPECT_EQ(Evaluate(TriggerRule::kNoneFailedMinOneSuccess, Counts(2, 0, 1, 0, 3)),
            R::kUpstreamFailed);
  EXPECT_EQ(Evaluate(TriggerRule::kNoneFailedMinOneSuccess, Counts(0, 0, 0, 3, 1)), R::kWait);
  EXPECT_EQ(Evaluate(TriggerRule::kOneDone, Counts(0, 0, 2, 1, 1)), R::kWait);
}

}  // namespace
}  // namespace conveyor::scheduler
