#include <gtest/gtest.h>

#include "redis/client.h"
#include "testing/servers.h"

namespace taquilla::redis {
namespace {

Client Connect() {
  auto c = Client::Connect(testing::RedisFixture::Get().url());
  EXPECT_TRUE(c.ok()) << c.error().ToString();
  return std::move(c).value();
}

TEST(RedisClient, CommandsAreBinarySafe) {
  Client c = Connect();
  std::string value("a\0b\r\nc", 6);
  ASSERT_TRUE(c.Cmd("SET", "client:bin", value).ok());
  auto r = c.Cmd("GET", "client:bin");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->str(), value);
  auto missing = c.Cmd("GET", "client:missing");
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->IsNil());
}

TEST(RedisClient, ErrorReplyIsAnError) {
  Client c = Connect();
  ASSERT_TRUE(c.Cmd("SET", "client:str", "x").ok());
  auto r = c.Cmd("LPUSH", "client:str", "y");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("WRONGTYPE"), std::string::npos);
  EXPECT_FALSE(c.broken());
  EXPECT_TRUE(c.Cmd("PING").ok());
}

TEST(RedisClient, PipelineReturnsRepliesInOrder) {
  Client c = Connect();
  for (int i = 0; i < 100; ++i) c.Append({"INCR", "client:counter:pipe"});
  c.Append({"LPUSH", "client:counter:pipe", "x"});  // an error reply, returned as a reply
  auto replies = c.Flush();
  ASSERT_TRUE(replies.ok());
  ASSERT_EQ(replies->size(), 101u);
  EXPECT_EQ((*replies)[99].integer(), 100);
  EXPECT_TRUE((*replies)[100].IsError());
}

TEST(RedisClient, ScriptsRunBySha) {
  Client c = Connect();
  Script script("return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}");
  auto r = c.Eval(script, {"client:script"}, {"arg"});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].str(), "client:script");
  EXPECT_EQ((*r)[1].str(), "arg");
  EXPECT_EQ((*r)[2].integer(), 1);
  EXPECT_EQ(script.sha().size(), 40u);
  // After SCRIPT FLUSH the client falls back to EVAL.
  ASSERT_TRUE(c.Cmd("SCRIPT", "FLUSH").ok());
  auto again = c.Eval(script, {"client:script"}, {"arg"});
  ASSERT_TRUE(again.ok()) << again.error().ToString();
  EXPECT_EQ((*again)[2].integer(), 2);
}

TEST(RedisClient, UnreachableServerIsUnavailable) {
  auto c = Client::Connect("redis://127.0.0.1:1", std::chrono::milliseconds(500));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kUnavailable);
  auto bad = Client::Connect("http://x");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace taquilla::redis
