#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/common/error.h"
#include "engine/common/time_format.h"
#include "engine/cron/cron_expr.h"
#include "engine/cron/time_zone.h"

namespace conveyor::cron {

// When a DAG fires: never (manual only), once, or by cron in a time zone.
//
// Time-zone rules (Airflow's): an expression whose hour field selects every hour follows elapsed
// time, so it fires at every real instant whose wall-clock reading matches (twice in a repeated
// hour, never in a skipped one). Any other expression matches wall-clock time: a reading inside a
// spring-forward gap fires once at the first instant after the gap, and a reading that occurs
// twice fires once, at its first occurrence.
class Schedule {
 public:
  enum class Kind { kNone, kOnce, kCron };

  // Manual only.
  static Schedule None(TimeZone zone);
  // "@once", a preset, or a 5-field cron expression.
  static Result<Schedule> Parse(std::string_view text, TimeZone zone);

  Kind kind() const { return kind_; }
  // The text as written ("" for none).
  const std::string& text() const { return text_; }
  const TimeZone& zone() const { return zone_; }

  // The first fire time strictly after `after`; nullopt unless kind() is kCron.
  std::optional<Instant> Next(Instant after) const;
  // The last fire time strictly before `before`; nullopt unless kind() is kCron.
  std::optional<Instant> Previous(Instant before) const;

 private:
  Schedule(Kind kind, std::string text, TimeZone zone, std::optional<CronExpr> expr)
      : kind_(kind), text_(std::move(text)), zone_(std::move(zone)), expr_(std::move(expr)) {}

  std::optional<Instant> NextByElapsedTime(Instant after) const;
  std::optional<Instant> NextByWallClock(Instant after) const;

  Kind kind_;
  std::string text_;
  TimeZone zone_;
  std::optional<CronExpr> expr_;
};

}  // namespace conveyor::cron
