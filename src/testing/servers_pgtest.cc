#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include "db/pg.h"
#include "testing/servers.h"

namespace taquilla::testing {
namespace {

TEST(HarnessTest, DatabasesAreFreshAndIndependent) {
  auto a = db::Connection::Open(PostgresFixture::Get().NewDatabase());
  auto b = db::Connection::Open(PostgresFixture::Get().NewDatabase());
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(a->Exec("INSERT INTO languages (code, name) VALUES ('es', 'Spanish')").ok());
  auto count = b->Exec("SELECT count(*) FROM languages");
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->GetInt(0, 0), 0);
  auto level = a->Exec("SHOW wal_level");
  ASSERT_TRUE(level.ok());
  EXPECT_EQ(level->GetString(0, 0), "logical");
}

TEST(HarnessTest, RedisAnswers) {
  auto& redis = RedisFixture::Get();
  redisContext* c = redisConnect("127.0.0.1", redis.port());
  ASSERT_TRUE(c != nullptr && c->err == 0);
  auto* reply = static_cast<redisReply*>(redisCommand(c, "SET k v"));
  ASSERT_NE(reply, nullptr);
  freeReplyObject(reply);
  reply = static_cast<redisReply*>(redisCommand(c, "GET k"));
  ASSERT_NE(reply, nullptr);
  EXPECT_EQ(std::string(reply->str, reply->len), "v");
  freeReplyObject(reply);
  redisFree(c);
}

}  // namespace
}  // namespace taquilla::testing
