#pragma once

#include "engine/dag/trigger_rule.h"

namespace conveyor::scheduler {

// The states of a task's direct upstream tasks, counted.
struct UpstreamCounts {
  int total = 0;
  int success = 0;
  int failed = 0;
  int upstream_failed = 0;
  int skipped = 0;
  int done() const { return success + failed + upstream_failed + skipped; }
};

enum class Readiness { kWait, kRun, kSkip, kUpstreamFailed };

// What a waiting task should do, by its trigger rule (Airflow's TriggerRuleDep, with
// upstream_failed/skipped flagged as soon as the outcome is certain).
Readiness Evaluate(dag::TriggerRule rule, const UpstreamCounts& counts);

}  // namespace conveyor::scheduler
