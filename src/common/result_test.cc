#include "common/result.h"

#include <gtest/gtest.h>

#include <memory>

namespace taquilla {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return MakeError(ErrorCode::kInvalidArgument, "{} is odd", x);
  return x / 2;
}

Result<int> Quarter(int x) {
  TQ_ASSIGN_OR_RETURN(int h, Half(x));
  TQ_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  TQ_RETURN_IF_ERROR(Half(x));
  return Ok();
}

TEST(ResultTest, ValuesAndErrorsPropagate) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message, "3 is odd");
  EXPECT_TRUE(CheckEven(2).ok());
  EXPECT_FALSE(CheckEven(3).ok());
  EXPECT_EQ(r.error().Wrap("quarter").message, "quarter: 3 is odd");
  EXPECT_EQ(r.error().ToString(), "invalid_argument: 3 is odd");
}

TEST(ResultTest, HoldsMoveOnlyValues) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(7));
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

}  // namespace
}  // namespace taquilla
