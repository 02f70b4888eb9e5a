#include <gtest/gtest.h>

#include "db/migrate.h"
#include "testing/servers.h"

namespace taquilla::db {
namespace {

Connection Connect(const std::string& url) {
  auto c = Connection::Open(url);
  EXPECT_TRUE(c.ok()) << c.error().message;
  return std::move(c).value();
}

TEST(MigrateTest, AppliesEveryMigrationOnceAndIsIdempotent) {
  Connection conn = Connect(testing::PostgresFixture::Get().NewEmptyDatabase());
  auto first = Migrate(conn);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->applied.size(), BuiltinMigrations().size());
  EXPECT_EQ(first->already, 0);

  auto second = Migrate(conn);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->applied.empty());
  EXPECT_EQ(second->already, static_cast<int>(BuiltinMigrations().size()));

  auto rows = conn.Exec("SELECT count(*) FROM schema_migrations");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->GetInt(0, 0), static_cast<int64_t>(BuiltinMigrations().size()));
  // The tables of the data model exist.
  for (const char* table : {"sites", "languages", "site_languages", "categories", "venues",
                            "performers", "events", "event_translations", "event_sites", "users",
                            "listings", "holds", "orders", "exchange_rates"}) {
    auto r = conn.ExecParams("SELECT to_regclass($1) IS NOT NULL", {std::string(table)});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->GetString(0, 0), "t") << table;
  }
}

TEST(MigrateTest, FailingMigrationRollsBackAndIsNotRecorded) {
  Connection conn = Connect(testing::PostgresFixture::Get().NewEmptyDatabase());
  std::vector<Migration> ms = {
      {1, "0001_ok.sql", "CREATE TABLE a (x int)", "c1"},
      {2, "0002_bad.sql", "CREATE TABLE b (x int); SELECT no_such_function()", "c2"},
  };
  auto r = Migrate(conn, ms);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("0002_bad.sql"), std::string::npos);
  auto b = conn.Exec("SELECT to_regclass('b') IS NULL, to_regclass('a') IS NOT NULL");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->GetString(0, 0), "t");  // 0002 rolled back entirely
  EXPECT_EQ(b->GetString(0, 1), "t");  // 0001 stays
  auto recorded =
      conn.Exec("SELECT array_agg(version ORDER BY version)::text FROM schema_migrations");
  ASSERT_TRUE(recorded.ok());
  EXPECT_EQ(recorded->GetString(0, 0), "{1}");
}

TEST(MigrateTest, EditedMigrationIsRefused) {
  Connection conn = Connect(testing::PostgresFixture::Get().NewEmptyDatabase());
  std::vector<Migration> ms = {{1, "0001_a.sql", "CREATE TABLE a (x int)", "c1"}};
  ASSERT_TRUE(Migrate(conn, ms).ok());
  ms[0].checksum = "c1-edited";
  auto r = Migrate(conn, ms);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("changed after it was applied"), std::string::npos);
}

TEST(MigrateTest, UnreachableDatabaseIsUnavailable) {
  auto c = Connection::Open("postgresql://taquilla@127.0.0.1:1/none", std::chrono::seconds(2));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace taquilla::db
