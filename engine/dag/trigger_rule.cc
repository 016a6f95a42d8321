#include "engine/dag/trigger_rule.h"

#include "engine/common/enum_names.h"

namespace conveyor::dag {
namespace {

constexpr EnumNames<TriggerRule, 12> kNames = {{
    {TriggerRule::kAllSuccess, "all_success"},
    {TriggerRule::kAllFailed, "all_failed"},
    {TriggerRule::kAllDone, "all_done"},
    {TriggerRule::kOneSuccess, "one_success"},
    {TriggerRule::kOneFailed, "one_failed"},
    {TriggerRule::kNoneFailed, "none_failed"},
    {TriggerRule::kNoneSkipped, "none_skipped"},
    {TriggerRule::kAlways, "always"},
    {TriggerRule::kNoneFailedMinOneSuccess, "none_failed_min_one_success"},
    {TriggerRule::kAllSkipped, "all_skipped"},
    {TriggerRule::kOneDone, "one_done"},
    {TriggerRule::kAllDoneMinOneSuccess, "all_done_min_one_success"},
}};

}  // namespace

std::string_view TriggerRuleName(TriggerRule rule) { return NameOf(kNames, rule, "all_success"); }

std::optional<TriggerRule> ParseTriggerRule(std::string_view name) { return ValueOf(kNames, name); }

std::vector<std::string> TriggerRuleNames() {
  std::vector<std::string> names;
  for (const auto& entry : kNames) names.emplace_back(entry.second);
  return names;
}

}  // namespace conveyor::dag
