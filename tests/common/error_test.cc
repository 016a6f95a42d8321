#include "engine/common/error.h"

#include <gtest/gtest.h>

#include "engine/common/suggest.h"

namespace conveyor {
namespace {

TEST(ErrorTest, ToStringPrintsAsMuchLocationAsIsKnown) {
  EXPECT_EQ(InvalidArgument("bad", Location{"a.yaml", 3, 7}).ToString(), "a.yaml:3:7: bad");
  EXPECT_EQ(InvalidArgument("bad", Location{"a.yaml", 3, 0}).ToString(), "a.yaml:3: bad");
  EXPECT_EQ(InvalidArgument("bad", Location{"a.yaml", 0, 0}).ToString(), "a.yaml: bad");
  EXPECT_EQ(InvalidArgument("bad").ToString(), "bad");
  EXPECT_EQ(IoError("disk").Prefixed("writing x").ToString(), "writing x: disk");
}

TEST(ErrorTest, ResultHoldsValueOrError) {
  Result<int> good = 4;
  Result<int> bad = NotFound("nope");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 4);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(Status(IoError("x")).ok());
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(SuggestTest, EditDistance) {
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3);
  EXPECT_EQ(EditDistance("", "abc"), 3);
  EXPECT_EQ(EditDistance("same", "same"), 0);
  EXPECT_EQ(EditDistance("tabel", "table"), 1);
}

TEST(SuggestTest, SuggestsOnlyCloseCandidates) {
  const std::vector<std::string> keys = {"schedule", "start_date", "tasks"};
  EXPECT_EQ(DidYouMean("shedule", keys), ", did you mean 'schedule'?");
  EXPECT_EQ(DidYouMean("task", keys), ", did you mean 'tasks'?");
  EXPECT_EQ(DidYouMean("owner", keys), "");
  EXPECT_EQ(SuggestSpelling("x", keys), std::nullopt);
}

}  // namespace
}  // namespace conveyor
