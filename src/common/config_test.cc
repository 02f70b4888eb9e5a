#include "common/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace taquilla {
namespace {

std::string WriteTemp(const std::string& content) {
  char path[] = "/tmp/taquilla-config-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  std::ofstream(path) << content;
  close(fd);
  return path;
}

TEST(ConfigTest, DefaultsAreValid) {
  auto c = LoadConfig({});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->stack.port_base, 7100);
  EXPECT_EQ(c->stack.data_dir, "var");
  EXPECT_EQ(c->redis.prefix, "tq:");
}

TEST(ConfigTest, LaterSourcesOverrideEarlier) {
  std::string file =
      WriteTemp("[stack]\nport_base = 8000\ndata_dir = \"/srv/tq\"\n[log]\nlevel = \"debug\"\n");
  ConfigSources s;
  s.file = file;
  s.env = {{"TAQUILLA_STACK_PORT_BASE", "9000"}, {"HOME", "/root"}};
  auto c = LoadConfig(s);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->stack.port_base, 9000);  // env beats file
  EXPECT_EQ(c->stack.data_dir, "/srv/tq");
  EXPECT_EQ(c->log.level, "debug");
  s.overrides = {{"stack.port_base", "9100"}};
  c = LoadConfig(s);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->stack.port_base, 9100);  // flags beat env
  std::remove(file.c_str());
}

TEST(ConfigTest, UnknownKeysAreRejectedEverywhere) {
  std::string file = WriteTemp("[stack]\nport_bsae = 8000\n");
  auto c = LoadConfig({.file = file});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("unknown key 'stack.port_bsae'"), std::string::npos);
  std::remove(file.c_str());

  c = LoadConfig({.env = {{"TAQUILLA_STAKC_PORT_BASE", "1"}}});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("TAQUILLA_STAKC_PORT_BASE"), std::string::npos);

  c = LoadConfig({.overrides = {{"nope.key", "1"}}});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("nope.key"), std::string::npos);

  // Test-only variables are not configuration.
  c = LoadConfig({.env = {{"TAQUILLA_TEST_BIN", "/x"}}});
  EXPECT_TRUE(c.ok());
}

TEST(ConfigTest, ValuesAreValidated) {
  auto bad = [](std::string key, std::string value) {
    auto c = LoadConfig({.overrides = {{key, value}}});
    EXPECT_FALSE(c.ok()) << key << "=" << value;
    if (!c.ok()) {
      EXPECT_NE(c.error().message.find(key), std::string::npos) << c.error().message;
      EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument);
    }
  };
  bad("stack.port_base", "80");
  bad("stack.port_base", "70000");
  bad("stack.port_base", "12ab");
  bad("stack.scale", "huge");
  bad("log.level", "loud");
  bad("postgres.url", "mysql://x");
  bad("redis.master_url", "http://x");
  bad("redis.prefix", "a b");
  bad("stack.data_dir", "");
}

TEST(ConfigTest, WrongTypesAndSyntaxInFileAreErrors) {
  std::string file = WriteTemp("[stack]\nport_base = [1, 2]\n");
  auto c = LoadConfig({.file = file});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("port_base"), std::string::npos);
  std::remove(file.c_str());

  file = WriteTemp("[stack\nport_base = 1\n");
  c = LoadConfig({.file = file});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("line"), std::string::npos);
  std::remove(file.c_str());

  c = LoadConfig({.file = "/nonexistent/taquilla.toml"});
  EXPECT_FALSE(c.ok());
}

TEST(ConfigTest, RenderRoundTrips) {
  auto c = LoadConfig({.overrides = {{"stack.port_base", "8100"}, {"redis.prefix", "x\"y:"}}});
  ASSERT_TRUE(c.ok());
  std::string file = WriteTemp(RenderConfigToml(*c));
  auto again = LoadConfig({.file = file});
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->stack.port_base, 8100);
  EXPECT_EQ(again->redis.prefix, "x\"y:");
  std::remove(file.c_str());
  std::string doc = RenderConfigDoc();
  for (const auto& o : ConfigOptions()) EXPECT_NE(doc.find(o.key), std::string::npos);
  EXPECT_EQ(EnvNameOf("stack.port_base"), "TAQUILLA_STACK_PORT_BASE");
}

}  // namespace
}  // namespace taquilla
