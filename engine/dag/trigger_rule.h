#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor::dag {

// When a task may run, given its upstream tasks' states (Airflow's trigger rules).
enum class TriggerRule {
  kAllSuccess,
  kAllFailed,
  kAllDone,
  kOneSuccess,
  kOneFailed,
  kNoneFailed,
  kNoneSkipped,
  kAlways,
  kNoneFailedMinOneSuccess,
  kAllSkipped,
  kOneDone,
  kAllDoneMinOneSuccess,
};

// The YAML spelling: "all_success", "one_failed", ...
std::string_view TriggerRuleName(TriggerRule rule);
std::optional<TriggerRule> ParseTriggerRule(std::string_view name);
std::vector<std::string> TriggerRuleNames();

}  // namespace conveyor::dag
