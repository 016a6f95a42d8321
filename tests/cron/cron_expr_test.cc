#include "engine/cron/cron_expr.h"

#include <gtest/gtest.h>

namespace conveyor::cron {
namespace {

using namespace std::chrono;

local_seconds At(int y, int mo, int d, int h, int mi) {
  return local_days(year(y) / mo / d) + hours(h) + minutes(mi);
}

std::string ParseError(const std::string& text) {
  auto parsed = CronExpr::Parse(text);
  return parsed.ok() ? "(parsed)" : parsed.error().message;
}

TEST(CronExprTest, ErrorsSayWhatIsWrong) {
  EXPECT_EQ(ParseError("61 * * * *"),
            "invalid cron expression '61 * * * *': minute value 61 is out of range 0-59");
  EXPECT_EQ(ParseError("* 24 * * *"),
            "invalid cron expression '* 24 * * *': hour value 24 is out of range 0-23");
  EXPECT_EQ(ParseError("* * 0 * *"),
            "invalid cron expression '* * 0 * *': day-of-month value 0 is out of range 1-31");
  EXPECT_EQ(ParseError("* * * *"),
            "invalid cron expression '* * * *': expected 5 fields (minute hour day-of-month "
            "month day-of-week), got 4");
  EXPECT_EQ(ParseError("*/0 * * * *"),
            "invalid cron expression '*/0 * * * *': step 0 in minute field '*/0'");
  EXPECT_EQ(
      ParseError("5-1 * * * *"),
      "invalid cron expression '5-1 * * * *': range '5-1' in the minute field goes backwards");
  EXPECT_EQ(ParseError("* * * foo *"),
            "invalid cron expression '* * * foo *': bad value 'foo' in the month field (expected "
            "1-12 or a name)");
  EXPECT_EQ(ParseError("1,,2 * * * *"),
            "invalid cron expression '1,,2 * * * *': empty value in the minute field");
  EXPECT_EQ(ParseError("* * L * *"),
            "invalid cron expression '* * L * *': bad value 'L' in the day-of-month field "
            "(expected 1-31)");
  EXPECT_EQ(ParseError("@fortnightly"),
            "unknown schedule preset '@fortnightly' (expected @hourly, @daily, @weekly, "
            "@monthly, @yearly or @once)");
  EXPECT_EQ(ParseError("0 0 30 2 *"),
            "invalid cron expression '0 0 30 2 *': the day-of-month never occurs in the "
            "selected months, so it never fires");
}

TEST(CronExprTest, NamesRangesStepsAndLists) {
  auto expr = CronExpr::Parse("10/20 9-17/4 * JAN,jul mon-FRI");
  ASSERT_TRUE(expr.ok()) << expr.error().message;
  EXPECT_TRUE(expr->Matches(At(2026, 1, 5, 9, 10)));  // Monday
  EXPECT_TRUE(expr->Matches(At(2026, 1, 5, 13, 50)));
  EXPECT_TRUE(expr->Matches(At(2026, 7, 3, 17, 30)));   // Friday
  EXPECT_FALSE(expr->Matches(At(2026, 1, 5, 10, 10)));  // hour 10 not in 9,13,17
  EXPECT_FALSE(expr->Matches(At(2026, 1, 4, 9, 10)));   // Sunday
  EXPECT_FALSE(expr->Matches(At(2026, 2, 2, 9, 10)));   // February
  EXPECT_FALSE(expr->Matches(At(2026, 1, 5, 9, 0)));
}

TEST(CronExprTest, SevenIsSundayAndFriToSunWraps) {
  auto seven = CronExpr::Parse("0 0 * * 7");
  ASSERT_TRUE(seven.ok());
  EXPECT_TRUE(seven->Matches(At(2026, 1, 4, 0, 0)));  // Sunday
  auto weekend = CronExpr::Parse("0 0 * * fri-sun");
  ASSERT_TRUE(weekend.ok());
  EXPECT_TRUE(weekend->Matches(At(2026, 1, 2, 0, 0)));   // Friday
  EXPECT_TRUE(weekend->Matches(At(2026, 1, 4, 0, 0)));   // Sunday
  EXPECT_FALSE(weekend->Matches(At(2026, 1, 5, 0, 0)));  // Monday
}

TEST(CronExprTest, BothDayFieldsRestrictedMeansEither) {
  // croniter: the 13th of the month OR any Friday.
  auto expr = CronExpr::Parse("0 0 13 * 5");
  ASSERT_TRUE(expr.ok());
  EXPECT_TRUE(expr->Matches(At(2026, 1, 13, 0, 0)));  // Tuesday the 13th
  EXPECT_TRUE(expr->Matches(At(2026, 1, 2, 0, 0)));   // Friday the 2nd
  EXPECT_FALSE(expr->Matches(At(2026, 1, 3, 0, 0)));
  // A full-range day-of-week counts as unrestricted, as croniter normalises it.
  auto full = CronExpr::Parse("0 0 13 * 0-6");
  ASSERT_TRUE(full.ok());
  EXPECT_FALSE(full->Matches(At(2026, 1, 2, 0, 0)));
  // Day 31 in February is fine when the weekday can match.
  EXPECT_TRUE(CronExpr::Parse("0 0 31 2 mon").ok());
}

TEST(CronExprTest, NextNaiveIsStrictlyAfter) {
  auto expr = CronExpr::Parse("30 2 29 2 *");
  ASSERT_TRUE(expr.ok());
  EXPECT_EQ(*expr->NextNaive(At(2026, 1, 1, 0, 0)), At(2028, 2, 29, 2, 30));
  EXPECT_EQ(*expr->NextNaive(At(2028, 2, 29, 2, 30)), At(2032, 2, 29, 2, 30));
  auto minutely = CronExpr::Parse("* * * * *");
  ASSERT_TRUE(minutely.ok());
  EXPECT_EQ(*minutely->NextNaive(At(2026, 12, 31, 23, 59) + seconds(30)), At(2027, 1, 1, 0, 0));
}

TEST(CronExprTest, PresetsAndEveryHour) {
  auto hourly = CronExpr::Parse("@hourly");
  ASSERT_TRUE(hourly.ok());
  EXPECT_TRUE(hourly->EveryHour());
  EXPECT_EQ(hourly->text(), "@hourly");
  auto weekly = CronExpr::Parse("@weekly");
  ASSERT_TRUE(weekly.ok());
  EXPECT_FALSE(weekly->EveryHour());
  EXPECT_EQ(*weekly->NextNaive(At(2026, 1, 1, 0, 0)), At(2026, 1, 4, 0, 0));
  auto every = CronExpr::Parse("*/15 0-23 * * *");
  ASSERT_TRUE(every.ok());
  EXPECT_TRUE(every->EveryHour());
}

}  // namespace
}  // namespace conveyor::cron
