#include "secure/auth.h"

#include <gtest/gtest.h>

#include <set>

#include "secure/api.h"

namespace taquilla::secure {
namespace {

TEST(AuthTest, PasswordsHashWithArgon2idAndVerify) {
  auto h = HashPassword("correct horse battery");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->rfind("$argon2id$", 0), 0u);
  EXPECT_TRUE(VerifyPassword(*h, "correct horse battery"));
  EXPECT_FALSE(VerifyPassword(*h, "correct horse batterx"));
  EXPECT_FALSE(VerifyPassword("garbage", "x"));
}

TEST(AuthTest, TokensAreRandomAndHashed) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string t = NewToken();
    EXPECT_EQ(t.size(), 43u);
    EXPECT_TRUE(seen.insert(t).second);
  }
  std::string h = TokenHashHex("abc");
  EXPECT_EQ(h, "\\xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(SafeEquals("abc", "abc"));
  EXPECT_FALSE(SafeEquals("abc", "abd"));
  EXPECT_FALSE(SafeEquals("abc", "ab"));
}

TEST(LoginLimiterTest, LimitsPerAccountAndPerClientInAWindow) {
  FakeClock clock;
  LoginLimiter limiter(clock, 3, 5, std::chrono::seconds(60));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(limiter.Check("a@x", "1.1.1.1"), 0);
    limiter.Failed("a@x", "1.1.1.1");
    clock.Advance(std::chrono::seconds(1));
  }
  int wait = limiter.Check("a@x", "1.1.1.1");
  EXPECT_GE(wait, 55);
  EXPECT_LE(wait, 60);
  // Another account from the same client is still allowed until the client's limit.
  EXPECT_EQ(limiter.Check("b@x", "1.1.1.1"), 0);
  limiter.Failed("b@x", "1.1.1.1");
  limiter.Failed("b@x", "1.1.1.1");
  EXPECT_GT(limiter.Check("c@x", "1.1.1.1"), 0);
  EXPECT_EQ(limiter.Check("c@x", "2.2.2.2"), 0);
  // The window slides.
  clock.Advance(std::chrono::seconds(61));
  EXPECT_EQ(limiter.Check("a@x", "1.1.1.1"), 0);
}

TEST(LoginLimiterTest, SuccessClearsTheAccountOnly) {
  FakeClock clock;
  LoginLimiter limiter(clock, 2, 3, std::chrono::seconds(60));
  limiter.Failed("a@x", "ip");
  limiter.Failed("a@x", "ip");
  EXPECT_GT(limiter.Check("a@x", "ip2"), 0);
  limiter.Succeeded("a@x");
  EXPECT_EQ(limiter.Check("a@x", "ip2"), 0);
  limiter.Failed("z@x", "ip");
  EXPECT_GT(limiter.Check("q@x", "ip"), 0);  // the address keeps its three failures
}

TEST(CookieTest, FindsTheNamedCookie) {
  EXPECT_EQ(CookieValue("a=1; tq_session=xyz; b=2", "tq_session"), "xyz");
  EXPECT_EQ(CookieValue("tq_session=abc", "tq_session"), "abc");
  EXPECT_EQ(CookieValue("xtq_session=abc", "tq_session"), "");
  EXPECT_EQ(CookieValue("", "tq_session"), "");
}

}  // namespace
}  // namespace taquilla::secure
