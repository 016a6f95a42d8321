#include "engine/scheduler/trigger_rules.h"

namespace conveyor::scheduler {

Readiness Evaluate(dag::TriggerRule rule, const UpstreamCounts& c) {
  using dag::TriggerRule;
  const int failures = c.failed + c.upstream_failed;
  const bool all_done = c.done() == c.total;
  switch (rule) {
    case TriggerRule::kAllSuccess:
      if (failures > 0) return Readiness::kUpstreamFailed;
      if (c.skipped > 0) return Readiness::kSkip;
      return c.success == c.total ? Readiness::kRun : Readiness::kWait;
    case TriggerRule::kAllFailed:
      if (c.success > 0 || c.skipped > 0) return Readiness::kSkip;
      return failures == c.total ? Readiness::kRun : Readiness::kWait;
    case TriggerRule::kAllDone:
      return all_done ? Readiness::kRun : Readiness::kWait;
    case TriggerRule::kOneSuccess:
      if (c.success > 0) return Readiness::kRun;
      if (!all_done) return Readiness::kWait;
      return failures > 0 ? Readiness::kUpstreamFailed : Readiness::kSkip;
    case TriggerRule::kOneFailed:
      if (failures > 0) return Readiness::kRun;
      return all_done ? Readiness::kSkip : Readiness::kWait;
    case TriggerRule::kNoneFailed:
      if (failures > 0) return Readiness::kUpstreamFailed;
      return all_done ? Readiness::kRun : Readiness::kWait;
    case TriggerRule::kNoneSkipped:
      if (c.skipped > 0) return Readiness::kSkip;
      return all_done ? Readiness::kRun : Readiness::kWait;
    case TriggerRule::kAlways:
      return Readiness::kRun;
  }
  return Readiness::kWait;
}

}  // namespace conveyor::scheduler
