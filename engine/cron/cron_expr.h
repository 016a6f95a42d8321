#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "engine/common/error.h"

namespace conveyor::cron {

// A parsed 5-field cron expression (minute hour day-of-month month day-of-week), with croniter's
// semantics: names for months and weekdays, ranges, lists, steps, weekday 7 as Sunday, and the
// day rule that a day matches either day field when both are restricted. A field whose values
// cover its whole range counts as unrestricted, as croniter normalises it. Matching is on naive
// (wall-clock) minutes; time zones are the Schedule's business.
class CronExpr {
 public:
  // Parses five fields or a preset (@hourly @daily @weekly @monthly @yearly @annually @midnight).
  static Result<CronExpr> Parse(std::string_view text);

  bool Matches(std::chrono::local_seconds minute) const;
  bool MatchesDay(std::chrono::local_days day) const;

  // The first matching minute strictly after `after`. Every expression Parse accepts matches
  // within 30 years, so this only returns nullopt past the year 9999.
  std::optional<std::chrono::local_seconds> NextNaive(std::chrono::local_seconds after) const;

  // True when every hour matches: such schedules follow elapsed time across DST changes.
  bool EveryHour() const { return hours_.all(); }
  const std::string& text() const { return text_; }

 private:
  std::optional<int> FirstTimeOfDay(int from_minute_of_day) const;
  bool NeverFires() const;

  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // bit 0 unused
  std::bitset<13> months_;         // bit 0 unused
  std::bitset<7> days_of_week_;    // 0 = Sunday
  bool dom_restricted_ = false;
  bool dow_restricted_ = false;
};

}  // namespace conveyor::cron
