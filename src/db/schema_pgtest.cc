// The schema rejects invalid rows by itself, whoever writes them.
#include <gtest/gtest.h>

#include "db/pg.h"
#include "testing/servers.h"

namespace taquilla::db {
namespace {

class SchemaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = Connection::Open(taquilla::testing::PostgresFixture::Get().NewDatabase());
    ASSERT_TRUE(c.ok()) << c.error().message;
    conn_.emplace(std::move(c).value());
    // A minimal valid marketplace: one language, site, category, city, venue, event,
    // seller and listing.
    Ok(R"sql(
      INSERT INTO languages (code, name) VALUES ('es', 'Spanish'), ('en', 'English');
      INSERT INTO countries (code) VALUES ('ES');
      BEGIN;
      INSERT INTO sites (code, name, country, default_language, currency, timezone)
        VALUES ('es', 'Taquilla España', 'ES', 'es', 'EUR', 'Europe/Madrid');
      INSERT INTO site_languages (site_code, language_code) VALUES ('es', 'es');
      COMMIT;
      INSERT INTO categories (slug) VALUES ('concerts');
      INSERT INTO cities (country, name, latitude, longitude, timezone)
        VALUES ('ES', 'Madrid', 40.4, -3.7, 'Europe/Madrid');
      INSERT INTO venues (name, slug, city_id, latitude, longitude, timezone)
        VALUES ('WiZink Center', 'wizink-center', 1, 40.42, -3.67, 'Europe/Madrid');
      INSERT INTO events (venue_id, category_id, starts_at) VALUES (1, 1, '2027-03-01 20:00+01');
      INSERT INTO event_translations (event_id, language_code, title, slug)
        VALUES (1, 'es', 'Concierto', 'concierto');
      INSERT INTO users (email, password_hash, display_name, locale, role)
        VALUES ('seller@example.test', '$argon2id$v=19$x', 'Ana', 'es', 'seller');
      INSERT INTO listings (event_id, seller_id, quantity, quantity_available, price_minor, currency)
        VALUES (1, 1, 4, 4, 4500, 'EUR');
    )sql");
  }

  void Ok(const std::string& sql) {
    auto r = conn_->Exec(sql);
    ASSERT_TRUE(r.ok()) << r.error().message << "\n" << sql;
  }

  // The statement fails with an integrity or data error and changes nothing.
  void Rejected(const std::string& sql, const std::string& expect_in_message = "") {
    auto before = conn_->Exec(
        "SELECT (SELECT count(*) FROM listings) + (SELECT count(*) FROM sites)"
        " + (SELECT count(*) FROM event_translations) + (SELECT count(*) FROM users)");
    ASSERT_TRUE(before.ok());
    auto r = conn_->Exec(sql);
    ASSERT_FALSE(r.ok()) << "accepted: " << sql;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << r.error().message;
    if (!expect_in_message.empty()) {
      EXPECT_NE(r.error().message.find(expect_in_message), std::string::npos) << r.error().message;
    }
    (void)conn_->Exec("ROLLBACK");
    auto after = conn_->Exec(
        "SELECT (SELECT count(*) FROM listings) + (SELECT count(*) FROM sites)"
        " + (SELECT count(*) FROM event_translations) + (SELECT count(*) FROM users)");
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(before->GetInt(0, 0), after->GetInt(0, 0));
  }

  std::optional<Connection> conn_;
};

TEST_F(SchemaTest, QuantityAvailableStaysWithinQuantity) {
  Rejected("UPDATE listings SET quantity_available = -1 WHERE id = 1",
           "listings_quantity_available");
  Rejected("UPDATE listings SET quantity_available = 5 WHERE id = 1",
           "listings_quantity_available");
  Rejected(
      "INSERT INTO listings (event_id, seller_id, quantity, quantity_available, price_minor, "
      "currency)"
      " VALUES (1, 1, 0, 0, 100, 'EUR')");
  Ok("UPDATE listings SET quantity_available = 0 WHERE id = 1");
}

TEST_F(SchemaTest, MoneyIsNonNegativeIntegerMinorUnits) {
  Rejected("UPDATE listings SET price_minor = -100 WHERE id = 1");
  Rejected("UPDATE listings SET face_value_minor = -1 WHERE id = 1");
  Rejected("UPDATE listings SET price_minor = 'ten' WHERE id = 1");
  Rejected("UPDATE listings SET price_minor = 10000000000000 WHERE id = 1");
  Rejected("UPDATE listings SET price_minor = 0 WHERE id = 1");
}

TEST_F(SchemaTest, CurrencyCodesAreIso4217) {
  Rejected("UPDATE listings SET currency = 'XYZ' WHERE id = 1");
  Rejected("UPDATE listings SET currency = 'eur' WHERE id = 1");
  Ok("UPDATE listings SET currency = 'JPY' WHERE id = 1");
  auto jpy = conn_->Exec("SELECT minor_units FROM currencies WHERE code = 'JPY'");
  ASSERT_TRUE(jpy.ok());
  EXPECT_EQ(jpy->GetInt(0, 0), 0);
}

TEST_F(SchemaTest, LanguageCodesAreBcp47) {
  Ok("INSERT INTO languages (code, name) VALUES ('pt-BR', 'Brazilian Portuguese'), ('zh-Hans', "
     "'Chinese')");
  Rejected("INSERT INTO languages (code, name) VALUES ('Spanish', 'x')");
  Rejected("INSERT INTO languages (code, name) VALUES ('pt_BR', 'x')");
  Rejected("INSERT INTO languages (code, name) VALUES ('es-', 'x')");
  Rejected("INSERT INTO languages (code, name) VALUES ('en-us', 'x')");
}

TEST_F(SchemaTest, OneTranslationPerEntityAndLanguage) {
  Rejected(
      "INSERT INTO event_translations (event_id, language_code, title, slug)"
      " VALUES (1, 'es', 'Otra', 'otra')",
      "event_translations_pkey");
  Rejected(
      "INSERT INTO event_translations (event_id, language_code, title, slug)"
      " VALUES (1, 'fr', 'Concert', 'concert')");  // unknown language
  Ok("INSERT INTO event_translations (event_id, language_code, title, slug) VALUES (1, 'en', "
     "'Concert', 'concert')");
}

TEST_F(SchemaTest, ForeignKeysHold) {
  Rejected(
      "INSERT INTO listings (event_id, seller_id, quantity, quantity_available, price_minor, "
      "currency)"
      " VALUES (999, 1, 1, 1, 100, 'EUR')",
      "listings_event_id_fkey");
  Rejected(
      "INSERT INTO holds (listing_id, buyer_id, quantity, expires_at) VALUES (999, 1, 1, now() + "
      "interval '10 minutes')");
  Rejected("DELETE FROM events WHERE id = 1");  // listings still point at it
}

TEST_F(SchemaTest, SitesNeedValidTimezoneAndOfferTheirDefaultLanguage) {
  Rejected(
      "INSERT INTO sites (code, name, country, default_language, currency, timezone)"
      " VALUES ('fr', 'x', 'ES', 'es', 'EUR', 'Europe/Madrid')");  // code is not the country
  Ok("INSERT INTO countries (code) VALUES ('FR')");
  Rejected(
      "INSERT INTO sites (code, name, country, default_language, currency, timezone)"
      " VALUES ('fr', 'x', 'FR', 'es', 'EUR', 'Mars/Olympus')");
  // Default language not among its languages: refused at commit.
  Rejected(
      "BEGIN; INSERT INTO sites (code, name, country, default_language, currency, timezone)"
      " VALUES ('fr', 'x', 'FR', 'en', 'EUR', 'Europe/Paris');"
      " INSERT INTO site_languages (site_code, language_code) VALUES ('fr', 'es'); COMMIT;",
      "sites_default_language_offered");
}

TEST_F(SchemaTest, EnumeratedColumnsAndSeats) {
  Rejected("UPDATE listings SET split = 'triples' WHERE id = 1");
  Rejected("UPDATE listings SET delivery = 'pigeon' WHERE id = 1");
  Rejected("UPDATE events SET status = 'maybe' WHERE id = 1");
  Rejected("UPDATE users SET role = 'root' WHERE id = 1");
  Rejected("UPDATE listings SET seat_from = 10, seat_to = 5 WHERE id = 1");
  Rejected("UPDATE listings SET seat_from = 10 WHERE id = 1");
  Ok("UPDATE listings SET seat_from = 5, seat_to = 8 WHERE id = 1");
  Rejected(
      "INSERT INTO users (email, password_hash, display_name, locale) VALUES"
      " ('SELLER@example.test', '$argon2id$v=19$x', 'Dup', 'es')",
      "users_email");
  Rejected(
      "INSERT INTO users (email, password_hash, display_name, locale) VALUES"
      " ('x@example.test', 'plaintext', 'X', 'es')");
  Rejected(
      "INSERT INTO venues (name, slug, city_id, latitude, longitude, timezone)"
      " VALUES ('V', 'v', 1, 91, 0, 'Europe/Madrid')");
  Rejected(
      "INSERT INTO exchange_rates (base_currency, quote_currency, rate) VALUES ('EUR', 'USD', 0)");
}

TEST_F(SchemaTest, SqlMetacharactersAreJustData) {
  auto r = conn_->ExecParams(
      "INSERT INTO event_translations (event_id, language_code, title, slug) VALUES (1, 'en', $1, "
      "'x')",
      {std::string("'); DROP TABLE events; --")});
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto t = conn_->Exec("SELECT title FROM event_translations WHERE language_code = 'en'");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->GetString(0, 0), "'); DROP TABLE events; --");
}

}  // namespace
}  // namespace taquilla::db
