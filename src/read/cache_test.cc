#include "read/cache.h"

#include <gtest/gtest.h>

namespace taquilla::read {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<const CachedResponse> Body(std::string text) {
  auto c = std::make_shared<CachedResponse>();
  c->response.body() = std::move(text);
  return c;
}

class CacheTest : public ::testing::Test {
 protected:
  SteadyClock::time_point t0 = SteadyClock::time_point() + 1000s;
  ResponseCache cache{ResponseCache::Options{1 << 20, 500ms}};
};

TEST_F(CacheTest, AnswersNothingUntilTheChannelIsConfirmed) {
  auto ticket = cache.TakeTicket(t0);
  ASSERT_TRUE(cache.Insert("/a", {"tq:ev:es:es:1"}, Body("a"), ticket, t0));
  EXPECT_EQ(cache.Find("/a", t0), nullptr);
  cache.Confirm(t0);
  ASSERT_NE(cache.Find("/a", t0 + 10ms), nullptr);
  EXPECT_EQ(cache.Find("/a", t0 + 10ms)->response.body(), "a");
}

TEST_F(CacheTest, StopsAnsweringWhenTheChannelFallsBehind) {
  cache.Confirm(t0);
  ASSERT_TRUE(cache.Insert("/a", {"k"}, Body("a"), cache.TakeTicket(t0), t0));
  EXPECT_NE(cache.Find("/a", t0 + 500ms), nullptr);
  EXPECT_EQ(cache.Find("/a", t0 + 501ms), nullptr);  // older than max_stale
  cache.Confirm(t0 + 450ms);
  EXPECT_NE(cache.Find("/a", t0 + 900ms), nullptr);
  cache.Unconfirm();
  EXPECT_EQ(cache.Find("/a", t0 + 900ms), nullptr);
}

TEST_F(CacheTest, InvalidatingAKeyDropsEveryEntryBuiltFromIt) {
  cache.Confirm(t0);
  auto ticket = cache.TakeTicket(t0);
  cache.Insert("/event", {"ev:1", "eo:1"}, Body("e"), ticket, t0);
  cache.Insert("/list", {"z:date", "ev:1", "ev:2"}, Body("l"), ticket, t0);
  cache.Insert("/other", {"ev:3"}, Body("o"), ticket, t0);
  cache.Invalidate("ev:1", t0);
  EXPECT_EQ(cache.Find("/event", t0), nullptr);
  EXPECT_EQ(cache.Find("/list", t0), nullptr);
  EXPECT_NE(cache.Find("/other", t0), nullptr);
  EXPECT_EQ(cache.Stats().entries, 1u);
}

TEST_F(CacheTest, RefusesAnEntryWhoseKeyChangedWhileItWasBuilt) {
  cache.Confirm(t0);
  auto ticket = cache.TakeTicket(t0);
  cache.Invalidate("eo:1", t0 + 1ms);  // a change lands while the builder reads Redis
  EXPECT_FALSE(cache.Insert("/event", {"ev:1", "eo:1"}, Body("old"), ticket, t0 + 2ms));
  EXPECT_EQ(cache.Find("/event", t0 + 2ms), nullptr);
  // Built after the change: fine.
  EXPECT_TRUE(
      cache.Insert("/event", {"ev:1", "eo:1"}, Body("new"), cache.TakeTicket(t0 + 3ms), t0 + 4ms));
  // A ticket from before a flush is refused too.
  auto before = cache.TakeTicket(t0 + 5ms);
  cache.InvalidateAll(t0 + 6ms);
  EXPECT_FALSE(cache.Insert("/x", {"k"}, Body("x"), before, t0 + 7ms));
  EXPECT_EQ(cache.Stats().refused, 2u);
}

TEST_F(CacheTest, EvictsOldestBeyondItsMemory) {
  ResponseCache small{ResponseCache::Options{10'000, 500ms}};
  small.Confirm(t0);
  for (int i = 0; i < 40; ++i) {
    small.Insert("/" + std::to_string(i), {"k" + std::to_string(i)}, Body(std::string(1000, 'x')),
                 small.TakeTicket(t0), t0);
  }
  auto s = small.Stats();
  EXPECT_LE(s.bytes, 10'000u);
  EXPECT_GT(s.evictions, 0u);
  EXPECT_EQ(small.Find("/0", t0), nullptr);
  EXPECT_NE(small.Find("/39", t0), nullptr);
  // Invalidating an evicted entry's key is harmless.
  small.Invalidate("k0", t0);
  EXPECT_NE(small.Find("/39", t0), nullptr);
}

TEST_F(CacheTest, ReplacingAnEntryKeepsTheAccountsRight) {
  cache.Confirm(t0);
  cache.Insert("/a", {"k1"}, Body("one"), cache.TakeTicket(t0), t0);
  cache.Insert("/a", {"k2"}, Body("two"), cache.TakeTicket(t0), t0);
  EXPECT_EQ(cache.Stats().entries, 1u);
  cache.Invalidate("k1", t0);  // the old deps no longer drop it
  ASSERT_NE(cache.Find("/a", t0), nullptr);
  EXPECT_EQ(cache.Find("/a", t0)->response.body(), "two");
  cache.Invalidate("k2", t0);
  EXPECT_EQ(cache.Find("/a", t0), nullptr);
  EXPECT_EQ(cache.Stats().bytes, 0u);
}

}  // namespace
}  // namespace taquilla::read
