#include "engine/dag/trigger_rule.h"

#include <array>
#include <utility>

namespace conveyor::dag {
namespace {

constexpr std::array<std::pair<TriggerRule, std::string_view>, 8> kNames = {{
    {TriggerRule::kAllSuccess, "all_success"},
    {TriggerRule::kAllFailed, "all_failed"},
    {TriggerRule::kAllDone, "all_done"},
    {TriggerRule::kOneSuccess, "one_success"},
    {TriggerRule::kOneFailed, "one_failed"},
    {TriggerRule::kNoneFailed, "none_failed"},
    {TriggerRule::kNoneSkipped, "none_skipped"},
    {TriggerRule::kAlways, "always"},
}};

}  // namespace

std::string_view TriggerRuleName(TriggerRule rule) {
  for (const auto& [value, name] : kNames) {
    if (value == rule) return name;
  }
  return "all_success";
}

std::optional<TriggerRule> ParseTriggerRule(std::string_view name) {
  for (const auto& [value, spelled] : kNames) {
    if (spelled == name) return value;
  }
  return std::nullopt;
}

std::vector<std::string> TriggerRuleNames() {
  std::vector<std::string> names;
  for (const auto& entry : kNames) names.emplace_back(entry.second);
  return names;
}

}  // namespace conveyor::dag
