#include "engine/cron/timetable.h"

#include <gtest/gtest.h>

namespace conveyor::cron {
namespace {

Instant In(const TimeZone& zone, const std::string& text) {
  return zone.Resolve(*ParseDateTime(text));
}

std::string Show(const std::vector<DataInterval>& intervals) {
  std::string out;
  for (const auto& i : intervals) out += "[" + FormatUtc(i.start) + "," + FormatUtc(i.end) + ")";
  return out;
}

Timetable Make(const std::string& expression, const std::string& zone_name,
               std::optional<std::string> start, std::optional<std::string> end = std::nullopt) {
  const TimeZone zone = *TimeZone::Find(zone_name);
  std::optional<Instant> start_date, end_date;
  if (start) start_date = In(zone, *start);
  if (end) end_date = In(zone, *end);
  return Timetable(*Schedule::Parse(expression, zone), start_date, end_date);
}

TEST(TimetableTest, FirstIntervalIsAlignedToTheScheduleInTheZone) {
  // Midnight in Moscow is 21:00Z; the first 03:00 MSK after it is 00:00Z.
  const Timetable table = Make("0 3 * * *", "Europe/Moscow", "2026-01-01");
  auto first = table.IntervalStartingAtOrAfter(In(TimeZone::Utc(), "2020-01-01"));
  ASSERT_TRUE(first);
  EXPECT_EQ(Show({*first}), "[2026-01-01T00:00:00Z,2026-01-02T00:00:00Z)");
}

TEST(TimetableTest, UpcomingListsIntervalsNotYetEnded) {
  const Timetable table = Make("@daily", "UTC", "2026-01-01");
  EXPECT_EQ(Show(table.Upcoming(In(TimeZone::Utc(), "2026-03-01T10:00"), 2)),
            "[2026-03-01T00:00:00Z,2026-03-02T00:00:00Z)"
            "[2026-03-02T00:00:00Z,2026-03-03T00:00:00Z)");
  // Before start_date the first interval is the first one.
  EXPECT_EQ(Show(table.Upcoming(In(TimeZone::Utc(), "2025-06-01"), 1)),
            "[2026-01-01T00:00:00Z,2026-01-02T00:00:00Z)");
}

TEST(TimetableTest, EndDateBoundsLogicalDatesInclusively) {
  const Timetable table = Make("@daily", "UTC", "2026-01-01", "2026-01-03");
  const auto intervals = table.IntervalsStartingIn(In(TimeZone::Utc(), "2025-12-01"),
                                                   In(TimeZone::Utc(), "2026-02-01"));
  EXPECT_EQ(Show(intervals),
            "[2026-01-01T00:00:00Z,2026-01-02T00:00:00Z)"
            "[2026-01-02T00:00:00Z,2026-01-03T00:00:00Z)"
            "[2026-01-03T00:00:00Z,2026-01-04T00:00:00Z)");
  EXPECT_TRUE(table.Upcoming(In(TimeZone::Utc(), "2026-06-01"), 3).empty());
}

TEST(TimetableTest, BackfillWindowIsHalfOpen) {
  const Timetable table = Make("0 */6 * * *", "UTC", std::nullopt);
  const auto intervals = table.IntervalsStartingIn(In(TimeZone::Utc(), "2026-01-01T06:00"),
                                                   In(TimeZone::Utc(), "2026-01-01T18:00"));
  EXPECT_EQ(Show(intervals),
            "[2026-01-01T06:00:00Z,2026-01-01T12:00:00Z)"
            "[2026-01-01T12:00:00Z,2026-01-01T18:00:00Z)");
}

TEST(TimetableTest, OnceHasOneIntervalAtStartDate) {
  const Timetable table = Make("@once", "UTC", "2026-05-01T12:00");
  EXPECT_EQ(Show(table.Upcoming(In(TimeZone::Utc(), "2026-01-01"), 5)),
            "[2026-05-01T12:00:00Z,2026-05-01T12:00:00Z)");
  EXPECT_EQ(Show(table.IntervalsStartingIn(In(TimeZone::Utc(), "2026-05-01"),
                                           In(TimeZone::Utc(), "2026-05-02"))),
            "[2026-05-01T12:00:00Z,2026-05-01T12:00:00Z)");
}

TEST(TimetableTest, ManualOnlyHasNoIntervals) {
  const Timetable table;
  EXPECT_TRUE(table.Upcoming(In(TimeZone::Utc(), "2026-01-01"), 3).empty());
}

}  // namespace
}  // namespace conveyor::cron
