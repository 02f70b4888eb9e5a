#include <gtest/gtest.h>

#include <map>

#include "common/clock.h"
#include "db/pg.h"
#include "seed/seed.h"
#include "testing/servers.h"

namespace taquilla::seed {
namespace {

using testing::PostgresFixture;

const std::vector<std::pair<std::string, std::string>> kTables = {
    {"languages", "code"},
    {"countries", "code"},
    {"country_translations", "country_code, language_code"},
    {"sites", "code"},
    {"site_languages", "site_code, language_code"},
    {"categories", "id"},
    {"category_translations", "category_id, language_code"},
    {"cities", "id"},
    {"city_translations", "city_id, language_code"},
    {"venues", "id"},
    {"performers", "id"},
    {"events", "id"},
    {"event_sites", "event_id, site_code"},
    {"event_performers", "event_id, performer_id"},
    {"event_translations", "event_id, language_code"},
    {"users", "id"},
    {"listings", "id"},
    {"exchange_rates", "base_currency, quote_currency"},
};

db::Connection Connect(const std::string& url) {
  auto c = db::Connection::Open(url);
  EXPECT_TRUE(c.ok()) << c.error().ToString();
  return std::move(c).value();
}

int64_t Scalar(db::Connection& c, const std::string& sql) {
  auto r = c.Exec(sql);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.error().ToString();
  if (!r.ok() || r->rows() == 0) return -1;
  return r->GetInt(0, 0);
}

std::map<std::string, std::string> Checksums(const std::string& url) {
  auto c = Connect(url);
  std::map<std::string, std::string> out;
  for (const auto& [table, pk] : kTables) {
    auto r = c.Exec(
        fmt::format("SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY {1}), '')) FROM {0} t",
                    table, pk));
    EXPECT_TRUE(r.ok()) << r.error().ToString();
    if (r.ok()) out[table] = r->GetString(0, 0);
  }
  return out;
}

SeedOptions DemoOptions(const Clock* clock, uint64_t seed = 1) {
  SeedOptions o;
  o.scale = "demo";
  o.seed = seed;
  o.progress = false;
  o.clock = clock;
  return o;
}

FakeClock& TestClock() {
  static FakeClock clock;  // 2027-01-15 08:00 UTC
  return clock;
}

TEST(SeedPgTest, DemoCounts) {
  std::string url = PostgresFixture::Get().NewDatabase();
  auto counts = Seed(url, DemoOptions(&TestClock()));
  ASSERT_TRUE(counts.ok()) << counts.error().ToString();
  EXPECT_EQ(counts->sites, 40);
  EXPECT_EQ(counts->languages, 34);
  EXPECT_EQ(counts->events, 2000);
  EXPECT_EQ(counts->tickets, 50000);
  EXPECT_EQ(counts->users, 5000);
  EXPECT_EQ(counts->event_translations, 2000 * 34);
  EXPECT_EQ(counts->categories, 26);

  auto c = Connect(url);
  EXPECT_EQ(Scalar(c, "SELECT count(*) FROM sites"), 40);
  EXPECT_EQ(Scalar(c, "SELECT count(*) FROM languages"), 34);
  EXPECT_EQ(Scalar(c, "SELECT count(*) FROM events"), 2000);
  EXPECT_EQ(Scalar(c, "SELECT count(*) FROM users"), 5000);
  EXPECT_EQ(Scalar(c, "SELECT sum(quantity_available) FROM listings WHERE status = 'active'"),
            50000);
  EXPECT_EQ(Scalar(c, "SELECT count(*) FROM listings"), counts->listings);
  EXPECT_EQ(Scalar(c,
                   "SELECT count(*) FROM (SELECT event_id FROM event_translations "
                   "GROUP BY event_id HAVING count(*) = 34) x"),
            2000);
  EXPECT_EQ(Scalar(c,
                   "SELECT count(*) FROM sites s WHERE NOT EXISTS (SELECT 1 FROM "
                   "site_languages l WHERE l.site_code = s.code AND "
                   "l.language_code = s.default_language)"),
            0);
  EXPECT_EQ(Scalar(c, "SELECT count(*) FROM country_translations"),
            34 * Scalar(c, "SELECT count(*) FROM countries"));
  EXPECT_EQ(Scalar(c, "SELECT count(*) FROM category_translations"), 26 * 34);
  EXPECT_EQ(Scalar(c,
                   "SELECT count(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM "
                   "event_sites s WHERE s.event_id = e.id)"),
            0);
  EXPECT_EQ(Scalar(c,
                   "SELECT count(*) FROM users WHERE email IN ('admin@example.test', "
                   "'seller@example.test', 'buyer@example.test')"),
            3);
  EXPECT_EQ(Scalar(c, "SELECT count(*) FROM users WHERE role = 'admin'"), 1);
  EXPECT_GT(Scalar(c, "SELECT count(*) FROM users WHERE role = 'seller'"), 500);
  EXPECT_EQ(Scalar(c,
                   "SELECT count(*) FROM listings l JOIN users u ON u.id = l.seller_id "
                   "WHERE u.role <> 'seller'"),
            0);
  EXPECT_EQ(Scalar(c, "SELECT count(*) FROM listings WHERE split = 'pairs' AND quantity % 2 <> 0"),
            0);
  // Partly sold listings are in states their split rule allows.
  EXPECT_GT(Scalar(c, "SELECT count(*) FROM listings WHERE quantity_available < quantity"), 0);
  EXPECT_EQ(
      Scalar(c,
             "SELECT count(*) FROM listings WHERE (split = 'pairs' AND "
             "quantity_available % 2 <> 0) OR (split = 'no_single' AND quantity_available = 1"
             " AND quantity > 1) OR (split = 'all' AND quantity_available NOT IN (0, quantity))"),
      0);
  // Nothing is on sale for past or cancelled events.
  EXPECT_EQ(Scalar(c,
                   "SELECT count(*) FROM listings l JOIN events e ON e.id = l.event_id WHERE "
                   "l.status = 'active' AND (e.status = 'cancelled' OR e.starts_at < "
                   "'2027-01-15'::timestamptz)"),
            0);
  // Timestamps derive from the fake clock: every event within [-60, +366] days of it.
  EXPECT_EQ(Scalar(c,
                   "SELECT count(*) FROM events WHERE starts_at < "
                   "'2027-01-15'::timestamptz - interval '61 days' OR starts_at > "
                   "'2027-01-15'::timestamptz + interval '367 days'"),
            0);
  EXPECT_EQ(Scalar(c, "SELECT count(*) FROM sites WHERE created_at <> '2027-01-15 00:00+00'"), 0);
  // Identity sequences continue after the seeded ids.
  EXPECT_GT(Scalar(c, "SELECT nextval(pg_get_serial_sequence('events', 'id'))"), 2000);
}

TEST(SeedPgTest, SameOptionsSameRows) {
  std::string a = PostgresFixture::Get().NewDatabase();
  std::string b = PostgresFixture::Get().NewDatabase();
  std::string other = PostgresFixture::Get().NewDatabase();
  ASSERT_TRUE(Seed(a, DemoOptions(&TestClock())).ok());
  ASSERT_TRUE(Seed(b, DemoOptions(&TestClock())).ok());
  ASSERT_TRUE(Seed(other, DemoOptions(&TestClock(), 2)).ok());
  auto ca = Checksums(a), cb = Checksums(b), co = Checksums(other);
  EXPECT_EQ(ca, cb);
  EXPECT_NE(ca["events"], co["events"]);
  EXPECT_NE(ca["event_translations"], co["event_translations"]);
  EXPECT_NE(ca["listings"], co["listings"]);
  EXPECT_NE(ca["users"], co["users"]);
}

TEST(SeedPgTest, NonEmptyNeedsForce) {
  std::string url = PostgresFixture::Get().NewDatabase();
  ASSERT_TRUE(Seed(url, DemoOptions(&TestClock(), 5)).ok());
  auto before = Checksums(url);
  auto again = Seed(url, DemoOptions(&TestClock(), 6));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(again.error().message,
            "database already holds marketplace data; use --force to replace it");
  EXPECT_EQ(Checksums(url), before);

  SeedOptions forced = DemoOptions(&TestClock(), 6);
  forced.force = true;
  auto counts = Seed(url, forced);
  ASSERT_TRUE(counts.ok()) << counts.error().ToString();
  EXPECT_EQ(counts->events, 2000);
  auto after = Checksums(url);
  EXPECT_NE(after["events"], before["events"]);
  auto c = Connect(url);
  EXPECT_EQ(Scalar(c, "SELECT count(*) FROM events"), 2000);
  EXPECT_EQ(Scalar(c, "SELECT sum(quantity_available) FROM listings WHERE status = 'active'"),
            50000);
  EXPECT_GT(Scalar(c, "SELECT count(*) FROM currencies"), 100);  // left alone
}

TEST(SeedPgTest, UnknownScale) {
  SeedOptions o = DemoOptions(&TestClock());
  o.scale = "galactic";
  // Checked before connecting: even an unreachable URL reports the scale.
  auto r = Seed("postgresql://taquilla@127.0.0.1:1/x", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message, "unknown scale 'galactic' (use demo or ticketbis)");
}

TEST(SeedPgTest, UnreachableDatabase) {
  auto r = Seed("postgresql://taquilla@127.0.0.1:1/x", DemoOptions(&TestClock()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace taquilla::seed
