#include "engine/common/duration.h"

#include <gtest/gtest.h>

namespace conveyor {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(DurationTest, ParsesEveryUnitAndCompounds) {
  EXPECT_EQ(*ParseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(*ParseDuration("30s"), seconds(30));
  EXPECT_EQ(*ParseDuration("10m"), minutes(10));
  EXPECT_EQ(*ParseDuration("2h"), hours(2));
  EXPECT_EQ(*ParseDuration("1d"), hours(24));
  EXPECT_EQ(*ParseDuration("1h30m"), minutes(90));
  EXPECT_EQ(*ParseDuration("90"), seconds(90));
}

TEST(DurationTest, RejectsWithTheExpectedForm) {
  for (const char* bad : {"", "5x", "s", "1.5h", "-3s", "10 m", "3sm", "99999999999999999s"}) {
    auto parsed = ParseDuration(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(
        parsed.error().message,
        "invalid duration '" + std::string(bad) +
            "': expected a number and a unit ms, s, m, h or d (e.g. 500ms, 30s, 10m, 2h, 1d)");
  }
}

TEST(DurationTest, FormatsTheShortestForm) {
  EXPECT_EQ(FormatDuration(minutes(90)), "1h30m");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1s500ms");
  EXPECT_EQ(FormatDuration(hours(49)), "2d1h");
  EXPECT_EQ(FormatDuration(seconds(0)), "0s");
}

}  // namespace
}  // namespace conveyor
