#include "secure/rules.h"

#include <gtest/gtest.h>

namespace taquilla::secure {
namespace {

TEST(SplitTest, Any) {
  EXPECT_EQ(CheckSplit("any", 5, 1), SplitVerdict::kOk);
  EXPECT_EQ(CheckSplit("any", 5, 4), SplitVerdict::kOk);
  EXPECT_EQ(CheckSplit("any", 5, 6), SplitVerdict::kNotEnough);
  EXPECT_EQ(CheckSplit("any", 0, 1), SplitVerdict::kNotEnough);
  EXPECT_EQ(CheckSplit("any", 5, 0), SplitVerdict::kNotEnough);
}

TEST(SplitTest, PairsAllowsEvenCountsAndNeverLeavesOne) {
  EXPECT_EQ(CheckSplit("pairs", 4, 2), SplitVerdict::kOk);
  EXPECT_EQ(CheckSplit("pairs", 4, 4), SplitVerdict::kOk);
  EXPECT_EQ(CheckSplit("pairs", 4, 1), SplitVerdict::kSplitRule);
  EXPECT_EQ(CheckSplit("pairs", 4, 3), SplitVerdict::kSplitRule);
  EXPECT_EQ(CheckSplit("pairs", 3, 2), SplitVerdict::kSplitRule);  // would leave one
  EXPECT_EQ(CheckSplit("pairs", 4, 6), SplitVerdict::kNotEnough);
  EXPECT_EQ(AllowedCounts("pairs", 6), "2,4,6");
}

TEST(SplitTest, AllTakesTheWholeListing) {
  EXPECT_EQ(CheckSplit("all", 4, 4), SplitVerdict::kOk);
  EXPECT_EQ(CheckSplit("all", 4, 2), SplitVerdict::kSplitRule);
  EXPECT_EQ(CheckSplit("all", 4, 5), SplitVerdict::kNotEnough);
  EXPECT_EQ(AllowedCounts("all", 3), "3");
}

TEST(SplitTest, NoSingleNeverLeavesExactlyOne) {
  EXPECT_EQ(CheckSplit("no_single", 4, 3), SplitVerdict::kSplitRule);
  EXPECT_EQ(CheckSplit("no_single", 4, 2), SplitVerdict::kOk);
  EXPECT_EQ(CheckSplit("no_single", 4, 1), SplitVerdict::kOk);
  EXPECT_EQ(CheckSplit("no_single", 4, 4), SplitVerdict::kOk);
  EXPECT_EQ(AllowedCounts("no_single", 4), "1,2,4");
}

TEST(FeeTest, RoundsHalfUp) {
  EXPECT_EQ(FeeMinor(10000, 1000), 1000);
  EXPECT_EQ(FeeMinor(5, 1000), 1);  // 0.5 rounds up
  EXPECT_EQ(FeeMinor(4, 1000), 0);
  EXPECT_EQ(FeeMinor(12345, 0), 0);
  EXPECT_EQ(FeeMinor(500'000'000'000, 5000), 250'000'000'000);
}

TEST(ListingShapeTest, SeatsAndPairs) {
  EXPECT_TRUE(CheckListingShape({2, "pairs", std::nullopt, std::nullopt}).ok());
  EXPECT_FALSE(CheckListingShape({3, "pairs", std::nullopt, std::nullopt}).ok());
  EXPECT_TRUE(CheckListingShape({3, "any", 10, 12}).ok());
  EXPECT_FALSE(CheckListingShape({2, "any", 10, 12}).ok());
  EXPECT_FALSE(CheckListingShape({2, "any", 12, 10}).ok());
  Status s = CheckListingShape({2, "any", 10, std::nullopt});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("seat_to"), std::string::npos);
}

}  // namespace
}  // namespace taquilla::secure
