#include "engine/scheduler/trigger_rules.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace conveyor::scheduler
