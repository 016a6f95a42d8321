#pragma once

#include <optional>
#include <vector>

#include "engine/common/time_format.h"
#include "engine/cron/schedule.h"

namespace conveyor::cron {

// A run's data interval [start, end). The logical date is the start, as in Airflow; a scheduled
// run for an interval is created once the interval has ended.
struct DataInterval {
  Instant start;
  Instant end;
  bool operator==(const DataInterval&) const = default;
};

// A schedule bounded by start_date and end_date: Airflow's CronDataIntervalTimetable (and its
// @once variant, whose single interval is [start_date, start_date]).
class Timetable {
 public:
  // Manual only, unbounded.
  Timetable() : schedule_(Schedule::None(TimeZone::Utc())) {}
  Timetable(Schedule schedule, std::optional<Instant> start_date, std::optional<Instant> end_date)
      : schedule_(std::move(schedule)), start_date_(start_date), end_date_(end_date) {}

  const Schedule& schedule() const { return schedule_; }
  const std::optional<Instant>& start_date() const { return start_date_; }
  const std::optional<Instant>& end_date() const { return end_date_; }

  // The interval whose logical date is the first fire time at or after `at`, within the bounds.
  std::optional<DataInterval> IntervalStartingAtOrAfter(Instant at) const;

  // The next `count` intervals that have not ended at `now`, in order: what the scheduler will
  // create next.
  std::vector<DataInterval> Upcoming(Instant now, int count) const;

  // Every interval whose logical date lies in [from, to), within the bounds (for backfills).
  std::vector<DataInterval> IntervalsStartingIn(Instant from, Instant to) const;

 private:
  bool AfterEnd(Instant logical_date) const { return end_date_ && logical_date > *end_date_; }

  Schedule schedule_;
  std::optional<Instant> start_date_;
  std::optional<Instant> end_date_;
};

}  // namespace conveyor::cron
