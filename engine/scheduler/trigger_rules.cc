#include "engine/scheduler/trigger_rules.h"

namespace conveyor::scheduler {
namespace {

using dag::TriggerRule;

// The state the rule decides before the task could run (Airflow flags these as soon as they are
// certain, without waiting for every upstream task), or kWait.
Readiness Decided(TriggerRule rule, const UpstreamCounts& c) {
  const int failures = c.failed + c.upstream_failed;
  const bool all_done = c.done() >= c.total;
  switch (rule) {
    case TriggerRule::kAllSuccess:
      if (failures > 0) return Readiness::kUpstreamFailed;
      if (c.skipped > 0) return Readiness::kSkip;
      break;
    case TriggerRule::kAllFailed:
      if (c.success > 0 || c.skipped > 0) return Readiness::kSkip;
      break;
    case TriggerRule::kOneSuccess:
      if (all_done && c.done() == c.skipped) return Readiness::kSkip;
      if (all_done && c.success == 0) return Readiness::kUpstreamFailed;
      break;
    case TriggerRule::kOneFailed:
      if (all_done && failures == 0) return Readiness::kSkip;
      break;
    case TriggerRule::kOneDone:
      if (all_done && c.failed + c.success == 0) return Readiness::kSkip;
      break;
    case TriggerRule::kNoneFailed:
      if (failures > 0) return Readiness::kUpstreamFailed;
      break;
    case TriggerRule::kNoneFailedMinOneSuccess:
      if (failures > 0) return Readiness::kUpstreamFailed;
      if (c.skipped == c.total) return Readiness::kSkip;
      break;
    case TriggerRule::kNoneSkipped:
      if (c.skipped > 0) return Readiness::kSkip;
      break;
    case TriggerRule::kAllSkipped:
      if (c.success > 0 || failures > 0) return Readiness::kSkip;
      break;
    case TriggerRule::kAllDoneMinOneSuccess:
      // Skipped upstream tasks do not count as done for this rule (Airflow 3.1).
      if (c.skipped > 0) return Readiness::kSkip;
      if (all_done && c.success == 0) return Readiness::kUpstreamFailed;
      break;
    case TriggerRule::kAllDone:
    case TriggerRule::kAlways:
      break;
  }
  return Readiness::kWait;
}

// Whether the rule lets the task run now.
bool Met(TriggerRule rule, const UpstreamCounts& c) {
  const int failures = c.failed + c.upstream_failed;
  const bool all_done = c.done() >= c.total;
  switch (rule) {
    case TriggerRule::kAllSuccess:
      return c.success == c.total;
    case TriggerRule::kAllFailed:
      return failures == c.total;
    case TriggerRule::kAllDone:
      return all_done;
    case TriggerRule::kOneSuccess:
      return c.success > 0;
    case TriggerRule::kOneFailed:
      return failures > 0;
    case TriggerRule::kOneDone:
      return c.success + c.failed > 0;
    case TriggerRule::kNoneFailed:
    case TriggerRule::kNoneFailedMinOneSuccess:
      return c.success + c.skipped == c.total;
    case TriggerRule::kNoneSkipped:
      return all_done && c.skipped == 0;
    case TriggerRule::kAllSkipped:
      return c.skipped == c.total;
    case TriggerRule::kAllDoneMinOneSuccess:
      return all_done && c.success > 0;
    case TriggerRule::kAlways:
      return true;
  }
  return false;
}

}  // namespace

Readiness Evaluate(TriggerRule rule, const UpstreamCounts& counts) {
  // A task without upstream tasks runs whatever its rule (Airflow's TriggerRuleDep passes it).
  if (counts.total == 0) return Readiness::kRun;
  const Readiness decided = Decided(rule, counts);
  if (decided != Readiness::kWait) return decided;
  return Met(rule, counts) ? Readiness::kRun : Readiness::kWait;
}

}  // namespace conveyor::scheduler
