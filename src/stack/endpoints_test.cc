#include "stack/endpoints.h"

#include <gtest/gtest.h>

namespace taquilla::stack {
namespace {

TEST(EndpointsTest, RoundTripsThroughJson) {
  Endpoints e;
  e.postgres = "postgresql://taquilla@127.0.0.1:7120/taquilla";
  e.redis_master = "redis://127.0.0.1:7121";
  e.redis_replicas = {"redis://127.0.0.1:7122"};
  std::string json = ToJson(e);
  EXPECT_NE(json.find("\"public\":null"), std::string::npos);
  EXPECT_NE(json.find("\"read\":[]"), std::string::npos);
  auto back = ParseEndpoints(json);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->postgres, e.postgres);
  EXPECT_EQ(back->redis_replicas, e.redis_replicas);
  EXPECT_FALSE(back->public_url.has_value());
}

TEST(EndpointsTest, MissingStackIsAClearError) {
  auto e = LoadEndpoints("/nonexistent-dir");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("taquilla up"), std::string::npos);
  EXPECT_FALSE(ParseEndpoints("{}").ok());
  EXPECT_FALSE(ParseEndpoints("not json").ok());
}

TEST(EndpointsTest, ExplicitUrlWinsOverTheStack) {
  Config c;
  c.postgres.url = "postgresql://u@h:1/d";
  c.stack.data_dir = "/nonexistent-dir";
  auto url = ResolvePostgresUrl(c);
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(*url, "postgresql://u@h:1/d");
}

}  // namespace
}  // namespace taquilla::stack
