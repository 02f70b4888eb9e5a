#include "common/clock.h"

#include <gtest/gtest.h>

namespace taquilla {
namespace {

TEST(ClockTest, FakeClockMovesOnlyWhenAdvanced) {
  FakeClock clock;
  auto wall = clock.Now();
  auto mono = clock.Monotonic();
  EXPECT_EQ(clock.Now(), wall);
  clock.Advance(std::chrono::minutes(10));
  EXPECT_EQ(clock.Now() - wall, std::chrono::minutes(10));
  EXPECT_EQ(clock.Monotonic() - mono, std::chrono::minutes(10));
  clock.SetWall(Clock::WallTime(std::chrono::seconds(0)));
  EXPECT_EQ(clock.Now().time_since_epoch().count(), 0);
}

TEST(ClockTest, SystemClockIsMonotonic) {
  const Clock& c = SystemClock::Instance();
  auto a = c.Monotonic();
  auto b = c.Monotonic();
  EXPECT_LE(a, b);
}

}  // namespace
}  // namespace taquilla
