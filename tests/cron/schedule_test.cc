#include "engine/cron/schedule.h"

#include <gtest/gtest.h>

namespace conveyor::cron {
namespace {

Instant Utc(const std::string& text) { return TimeZone::Utc().Resolve(*ParseDateTime(text)); }

std::vector<std::string> Fires(const std::string& expression, const std::string& zone,
                               const std::string& from, int count) {
  auto schedule = Schedule::Parse(expression, *TimeZone::Find(zone));
  EXPECT_TRUE(schedule.ok());
  std::vector<std::string> out;
  Instant cursor = Utc(from);
  for (int i = 0; i < count; ++i) {
    cursor = *schedule->Next(cursor);
    out.push_back(FormatUtc(cursor));
  }
  return out;
}

using Fired = std::vector<std::string>;

// America/New_York 2026: 02:00 EST -> 03:00 EDT on Mar 8 (07:00Z); 02:00 EDT -> 01:00 EST on
// Nov 1 (06:00Z). Europe/Berlin 2026: 02:00 CET -> 03:00 CEST on Mar 29 (01:00Z); 03:00 CEST ->
// 02:00 CET on Oct 25 (01:00Z).
TEST(ScheduleTest, WallClockGapFiresOnceAfterTheGap) {
  EXPECT_EQ(Fires("30 2 * * *", "America/New_York", "2026-03-07T12:00Z", 2),
            (Fired{"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}));
  EXPECT_EQ(Fires("0 2,3 * * *", "America/New_York", "2026-03-08T05:00Z", 3),
            (Fired{"2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z", "2026-03-09T07:00:00Z"}));
  EXPECT_EQ(Fires("15 2 * * *", "Europe/Berlin", "2026-03-28T12:00Z", 2),
            (Fired{"2026-03-29T01:00:00Z", "2026-03-30T00:15:00Z"}));
}

TEST(ScheduleTest, WallClockFoldFiresOnceAtFirstOccurrence) {
  EXPECT_EQ(Fires("30 1 * * *", "America/New_York", "2026-10-31T12:00Z", 2),
            (Fired{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}));
  EXPECT_EQ(Fires("*/30 1 * * *", "America/New_York", "2026-11-01T04:00Z", 3),
            (Fired{"2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:00:00Z"}));
  EXPECT_EQ(Fires("15 2 * * *", "Europe/Berlin", "2026-10-24T12:00Z", 2),
            (Fired{"2026-10-25T00:15:00Z", "2026-10-26T01:15:00Z"}));
  // Starting inside the repeated hour, after its first occurrence: the next day.
  EXPECT_EQ(Fires("45 1 * * *", "America/New_York", "2026-11-01T06:10Z", 1),
            (Fired{"2026-11-02T06:45:00Z"}));
}

TEST(ScheduleTest, EveryHourFollowsElapsedTime) {
  EXPECT_EQ(Fires("0 * * * *", "America/New_York", "2026-03-08T05:30Z", 3),
            (Fired{"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"}));
  EXPECT_EQ(Fires("30 * * * *", "America/New_York", "2026-11-01T04:00Z", 4),
            (Fired{"2026-11-01T04:30:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z",
                   "2026-11-01T07:30:00Z"}));
  EXPECT_EQ(Fires("@hourly", "Europe/Berlin", "2026-10-24T23:30Z", 4),
            (Fired{"2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z",
                   "2026-10-25T03:00:00Z"}));
  EXPECT_EQ(Fires("*/20 * * * *", "Europe/Berlin", "2026-03-29T00:30Z", 3),
            (Fired{"2026-03-29T00:40:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:20:00Z"}));
}

TEST(ScheduleTest, EvaluatesInTheZone) {
  EXPECT_EQ(Fires("0 3 * * *", "Europe/Moscow", "2026-01-01T00:00Z", 2),
            (Fired{"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"}));
  EXPECT_EQ(Fires("0 9 * * 1", "Asia/Kolkata", "2026-01-01T00:00Z", 1),
            (Fired{"2026-01-05T03:30:00Z"}));
}

TEST(ScheduleTest, PreviousIsStrictlyBefore) {
  auto daily = Schedule::Parse("0 3 * * *", TimeZone::Utc());
  ASSERT_TRUE(daily.ok());
  EXPECT_EQ(FormatUtc(*daily->Previous(Utc("2026-01-02T03:00Z"))), "2026-01-01T03:00:00Z");
  EXPECT_EQ(FormatUtc(*daily->Previous(Utc("2026-01-02T03:01Z"))), "2026-01-02T03:00:00Z");
  auto leap = Schedule::Parse("0 0 29 2 *", TimeZone::Utc());
  ASSERT_TRUE(leap.ok());
  EXPECT_EQ(FormatUtc(*leap->Previous(Utc("2031-01-01T00:00Z"))), "2028-02-29T00:00:00Z");
  auto wall = Schedule::Parse("30 1 * * *", *TimeZone::Find("America/New_York"));
  ASSERT_TRUE(wall.ok());
  EXPECT_EQ(FormatUtc(*wall->Previous(Utc("2026-11-02T00:00Z"))), "2026-11-01T05:30:00Z");
}

TEST(ScheduleTest, OnceAndNoneHaveNoFireTimes) {
  auto once = Schedule::Parse("@once", TimeZone::Utc());
  ASSERT_TRUE(once.ok());
  EXPECT_EQ(once->kind(), Schedule::Kind::kOnce);
  EXPECT_FALSE(once->Next(Utc("2026-01-01")));
  EXPECT_FALSE(Schedule::None(TimeZone::Utc()).Next(Utc("2026-01-01")));
}

TEST(TimeZoneTest, UnknownZoneSuggestsAName) {
  auto zone = TimeZone::Find("Europe/Mosow");
  ASSERT_FALSE(zone.ok());
  EXPECT_EQ(zone.error().message,
            "unknown time zone 'Europe/Mosow', did you mean 'Europe/Moscow'? (expected an IANA "
            "name such as Europe/Moscow or UTC)");
}

TEST(TimeZoneTest, ResolvesWallTimesByTheSpecsRules) {
  const TimeZone ny = *TimeZone::Find("America/New_York");
  EXPECT_EQ(FormatUtc(ny.Resolve(*ParseDateTime("2026-03-08T02:30"))), "2026-03-08T07:00:00Z");
  EXPECT_EQ(FormatUtc(ny.Resolve(*ParseDateTime("2026-11-01T01:30"))), "2026-11-01T05:30:00Z");
  EXPECT_EQ(FormatUtc(ny.Resolve(*ParseDateTime("2026-11-01T01:30Z"))), "2026-11-01T01:30:00Z");
}

// UTC is computed without the tz database; Etc/UTC goes through it. They must agree everywhere.
TEST(TimeZoneTest, UtcAgreesWithTheTzDatabasesUtc) {
  const TimeZone utc = *TimeZone::Find("UTC");
  const TimeZone etc = *TimeZone::Find("Etc/UTC");
  EXPECT_EQ(utc.name(), "UTC");
  EXPECT_EQ(TimeZone::Utc().name(), "UTC");
  for (const std::int64_t seconds :
       {std::int64_t{-5'000'000'000}, std::int64_t{-1}, std::int64_t{0}, std::int64_t{951'782'400},
        std::int64_t{1'774'746'000}, std::int64_t{4'102'444'800}}) {
    const Instant instant{std::chrono::seconds(seconds)};
    EXPECT_EQ(utc.ToLocal(instant), etc.ToLocal(instant)) << seconds;
    EXPECT_EQ(utc.FromLocal(utc.ToLocal(instant)), instant) << seconds;
    EXPECT_EQ(utc.FromLocal(etc.ToLocal(instant)), etc.FromLocal(etc.ToLocal(instant))) << seconds;
    const TimeZone::Span ours = utc.SpanAt(instant);
    const TimeZone::Span theirs = etc.SpanAt(instant);
    EXPECT_EQ(ours.begin, theirs.begin) << seconds;
    EXPECT_EQ(ours.end, theirs.end) << seconds;
    EXPECT_EQ(ours.offset, theirs.offset) << seconds;
  }
}

}  // namespace
}  // namespace conveyor::cron
