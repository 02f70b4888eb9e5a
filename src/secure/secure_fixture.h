// Test fixture of the secure app: a fresh migrated database with a small catalog (sites
// es and de, an upcoming and a past event, a seller, two buyers and an admin), a Market on
// a FakeClock, and the SecureApi served on a free port. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "common/clock.h"
#include "db/pg.h"
#include "db/pool.h"
#include "http/server.h"
#include "secure/api.h"
#include "secure/market.h"
#include "testing/http_client.h"
#include "testing/servers.h"

namespace taquilla::secure {

class SecureFixture : public ::testing::Test {
 protected:
  static constexpr const char* kPassword = "password-1234";

  void SetUp() override {
    url_ = taquilla::testing::PostgresFixture::Get().NewDatabase();
    auto c = db::Connection::Open(url_);
    ASSERT_TRUE(c.ok()) << c.error().message;
    conn_ = std::make_unique<db::Connection>(std::move(*c));
    clock_ = std::make_unique<FakeClock>(SystemClock::Instance().Now());
    std::string hash = HashPassword(kPassword).value();
    std::string future = IsoTime(clock_->Now() + std::chrono::hours(24 * 30));
    std::string past = IsoTime(clock_->Now() - std::chrono::hours(24));
    Sql("INSERT INTO languages (code, name) VALUES ('es', 'Español'), ('en', 'English'), "
        "('de', 'Deutsch'), ('ar', 'العربية')");
    Sql("INSERT INTO countries (code) VALUES ('ES'), ('DE')");
    Sql("BEGIN; INSERT INTO sites (code, name, country, default_language, currency, timezone) "
        "VALUES ('es', 'Taquilla España', 'ES', 'es', 'EUR', 'Europe/Madrid'), ('de', "
        "'Taquilla Deutschland', 'DE', 'de', 'EUR', 'Europe/Berlin'); INSERT INTO "
        "site_languages (site_code, language_code, position) VALUES ('es', 'es', 0), ('es', "
        "'en', 1), ('de', 'de', 0); COMMIT");
    Sql("INSERT INTO categories (id, slug) VALUES (1, 'music')");
    Sql("INSERT INTO cities (id, country, name, latitude, longitude, timezone) VALUES (1, 'ES', "
        "'Madrid', 40.4, -3.7, 'Europe/Madrid')");
    Sql("INSERT INTO venues (id, name, slug, city_id, latitude, longitude, timezone) VALUES (1, "
        "'WiZink Center', 'wizink-center', 1, 40.42, -3.67, 'Europe/Madrid')");
    Sql("INSERT INTO events (id, venue_id, category_id, starts_at) VALUES (1, 1, 1, '" + future +
        "'), (2, 1, 1, '" + past + "')");
    Sql("INSERT INTO event_sites VALUES (1, 'es'), (2, 'es')");
    Sql("INSERT INTO event_translations (event_id, language_code, title, slug) VALUES (1, 'es', "
        "'Concierto', 'concierto'), (2, 'es', 'Pasado', 'pasado')");
    Sql("SELECT setval(pg_get_serial_sequence('events', 'id'), 100); SELECT "
        "setval(pg_get_serial_sequence('categories', 'id'), 100); SELECT "
        "setval(pg_get_serial_sequence('venues', 'id'), 100); SELECT "
        "setval(pg_get_serial_sequence('cities', 'id'), 100)");
    for (auto [email, role] : {std::pair{"seller@t.test", "seller"},
                               {"buyer@t.test", "buyer"},
                               {"buyer2@t.test", "buyer"},
                               {"admin@t.test", "admin"}}) {
      Sql(
          fmt::format("INSERT INTO users (email, password_hash, display_name, locale, role) "
                      "VALUES ('{}', '{}', '{}', 'es', '{}')",
                      email, hash, email, role));
    }
    pool_ = std::make_unique<db::Pool>(url_, 32, std::chrono::milliseconds(5000));
    MarketOptions mo;
    mo.hold_ttl = std::chrono::seconds(600);
    market_ = std::make_unique<Market>(*pool_, *clock_, payments_, mo);
    api_ = std::make_unique<SecureApi>(*market_, *clock_, ApiOptions{});
    http::ServerOptions so;
    so.handler_threads = 32;
    server_ = std::make_unique<http::Server>(
        so, [this](const http::Request& r, const http::Peer& p) { return api_->Handle(r, p); });
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<taquilla::testing::HttpClient>("127.0.0.1", server_->port());
  }

  void TearDown() override {
    if (server_) server_->Stop();
  }

  db::PgResult Sql(const std::string& sql) {
    auto r = conn_->Exec(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : db::PgResult();
  }
  int64_t SqlInt(const std::string& sql) { return Sql(sql).GetInt(0, 0); }

  // A bearer token of `email` (password kPassword).
  std::string Login(const std::string& email) {
    auto r = client_->Post("/api/v1/sessions", {{"email", email}, {"password", kPassword}});
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? std::string(r.json().at("token").as_string()) : "";
  }
  static std::map<std::string, std::string> Bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
  }
  // A listing of event 1 by seller@t.test; returns its id.
  int64_t MakeListing(int quantity, const std::string& split = "any", int64_t price = 5000) {
    if (seller_token_.empty()) seller_token_ = Login("seller@t.test");
    auto r = client_->Post("/api/v1/listings",
                           {{"event_id", 1},
                            {"quantity", quantity},
                            {"price_minor", price},
                            {"currency", "EUR"},
                            {"split", split}},
                           Bearer(seller_token_));
    EXPECT_EQ(r.status, 201) << r.body;
    return r.status == 201 ? r.json().at("id").as_int64() : 0;
  }
  int64_t Available(int64_t listing) {
    return SqlInt("SELECT quantity_available FROM listings WHERE id = " + std::to_string(listing));
  }

  std::string url_;
  std::unique_ptr<db::Connection> conn_;
  std::unique_ptr<FakeClock> clock_;
  TestCardProvider payments_;
  std::unique_ptr<db::Pool> pool_;
  std::unique_ptr<Market> market_;
  std::unique_ptr<SecureApi> api_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<taquilla::testing::HttpClient> client_;
  std::string seller_token_;
};

}  // namespace taquilla::secure
