#include "engine/common/time_format.h"

#include <gtest/gtest.h>

namespace conveyor {
namespace {

using namespace std::chrono;

TEST(TimeFormatTest, FormatsUtc) {
  EXPECT_EQ(FormatUtc(sys_days(year(2026) / 2 / 28) + hours(3) + minutes(4) + seconds(5)),
            "2026-02-28T03:04:05Z");
  EXPECT_EQ(FormatUtc(Instant(seconds(0))), "1970-01-01T00:00:00Z");
}

TEST(TimeFormatTest, ParsesDatesAndDatetimes) {
  auto date_only = ParseDateTime("2024-02-29");
  ASSERT_TRUE(date_only.ok());
  EXPECT_TRUE(date_only->date_only);
  EXPECT_EQ(date_only->local, local_days(year(2024) / 2 / 29));
  EXPECT_FALSE(date_only->utc_offset);

  auto with_time = ParseDateTime("2026-01-01T03:30");
  ASSERT_TRUE(with_time.ok());
  EXPECT_EQ(with_time->local, local_days(year(2026) / 1 / 1) + hours(3) + minutes(30));

  auto zulu = ParseDateTime("2026-01-01 03:30:15.250Z");
  ASSERT_TRUE(zulu.ok());
  EXPECT_EQ(*zulu->utc_offset, seconds(0));

  auto offset = ParseDateTime("2026-01-01T03:30:00-05:30");
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(*offset->utc_offset, -(hours(5) + minutes(30)));
}

TEST(TimeFormatTest, RejectsImpossibleDates) {
  for (const char* bad : {"2026-02-29", "2026-13-01", "2026-1-1", "2026-01-01T24:00",
                          "2026-01-01T10:00+25:00", "yesterday", "2026-01-01T10:00junk"}) {
    auto parsed = ParseDateTime(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().message,
              "invalid date '" + std::string(bad) +
                  "': expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] with an optional Z or +HH:MM");
  }
}

}  // namespace
}  // namespace conveyor
