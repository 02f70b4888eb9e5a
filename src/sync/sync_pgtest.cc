// The sync daemon end to end against live servers: a throwaway PostgreSQL (wal_level=logical,
// wal2json) and Redis. Each test gets a fresh database loaded with a small hand-made
// marketplace, a Redis key prefix of its own ("t<N>:", so tests sharing the one Redis do not
// interfere), and a replication slot of its own (slots are cluster-wide; dropped at the end).
// The real SyncDaemon runs in a thread; tests change rows with plain SQL and poll Redis with a
// deadline until it reflects each change. After every scenario Verify (tools.h) must find
// Redis identical to what PostgreSQL projects, and the applied-LSN key must never have moved
// backwards.
//
// The marketplace (ids fixed so assertions are exact):
//   sites      es (es, en; default es; EUR; Europe/Madrid), mx (es; MXN)
//   categories 1 music > {2 rock, 3 pop}, 4 sports > {5 football}, 6 theatre
//              (pop has only an es name, theatre only an en name)
//   cities     1 Sevilla (en: Seville), 2 Ciudad de México (only en: Mexico City)
//   venues     1 Estadio La Cartuja, 2 Teatro Lope de Vega (city 1), 3 Foro Sol (city 2)
//   performers 1 Rosalía (pop), 2 Los Rockeros (rock), 3 Sevilla FC (football)
//   events     1 rock at venue 2, +10 days, sites es+mx, es+en, performer 2
//              2 football at venue 1, +20 days, site es, only es, performer 3
//              3 pop at venue 3, +30 days, sites es+mx, only en, performer 1
//              4 theatre at venue 2, +5 days, site es, es+en, no performers, no listings
//   listings   1: event 1, 5000 EUR, 2 left   2: event 1, 4500 EUR, 4 left
//              3: event 1, 5000 USD, 1 left   4: event 2, 12000 EUR, 10 left
//              5: event 3, 150000 MXN, 2 left
//   rates      USD->EUR 0.92, EUR->MXN 18.5, MXN->EUR 0.05 (none USD->MXN)
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "db/pg.h"
#include "i18n/money.h"
#include "queue/reliable_queue.h"
#include "redis/client.h"
#include "sync/compose.h"
#include "sync/daemon.h"
#include "sync/keys.h"
#include "sync/lsn.h"
#include "sync/projector.h"
#include "sync/stream.h"
#include "sync/tools.h"
#include "sync/unit.h"
#include "sync/writer.h"
#include "testing/eventually.h"
#include "testing/servers.h"

namespace taquilla::sync {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using ZsetMap = std::map<std::string, std::map<std::string, int64_t>>;

constexpr auto kWait = 15s;
constexpr int64_t kGrace = 7200;  // event documents live until the end + 2 h

const char* const kMarketplace = R"sql(
BEGIN;
INSERT INTO languages (code, name) VALUES ('es', 'Español'), ('en', 'English');
INSERT INTO countries (code) VALUES ('ES'), ('MX');
INSERT INTO country_translations (country_code, language_code, name) VALUES
  ('ES', 'es', 'España'), ('ES', 'en', 'Spain'), ('MX', 'es', 'México'), ('MX', 'en', 'Mexico');
INSERT INTO sites (code, name, country, default_language, currency, timezone) VALUES
  ('es', 'Taquilla España', 'ES', 'es', 'EUR', 'Europe/Madrid'),
  ('mx', 'Taquilla México', 'MX', 'es', 'MXN', 'America/Mexico_City');
INSERT INTO site_languages (site_code, language_code, position) VALUES
  ('es', 'es', 0), ('es', 'en', 1), ('mx', 'es', 0);
INSERT INTO categories (id, parent_id, slug, position) VALUES
  (1, NULL, 'music', 0), (2, 1, 'rock', 0), (3, 1, 'pop', 1),
  (4, NULL, 'sports', 1), (5, 4, 'football', 0), (6, NULL, 'theatre', 2);
INSERT INTO category_translations (category_id, language_code, name, slug) VALUES
  (1, 'es', 'Música', 'musica'), (1, 'en', 'Music', 'music'),
  (2, 'es', 'Rock', 'rock'), (2, 'en', 'Rock', 'rock'),
  (3, 'es', 'Pop en español', 'pop-en-espanol'),
  (4, 'es', 'Deportes', 'deportes'), (4, 'en', 'Sports', 'sports'),
  (5, 'es', 'Fútbol', 'futbol'), (5, 'en', 'Football', 'football'),
  (6, 'en', 'Theatre', 'theatre');
INSERT INTO cities (id, country, name, latitude, longitude, timezone) VALUES
  (1, 'ES', 'Sevilla', 37.3891, -5.9845, 'Europe/Madrid'),
  (2, 'MX', 'Ciudad de México', 19.4326, -99.1332, 'America/Mexico_City');
INSERT INTO city_translations (city_id, language_code, name) VALUES
  (1, 'es', 'Sevilla'), (1, 'en', 'Seville'), (2, 'en', 'Mexico City');
INSERT INTO venues (id, name, slug, city_id, address, latitude, longitude, timezone, capacity)
VALUES
  (1, 'Estadio La Cartuja', 'estadio-la-cartuja', 1, 'Isla de la Cartuja', 37.41, -6.0,
   'Europe/Madrid', 60000),
  (2, 'Teatro Lope de Vega', 'teatro-lope-de-vega', 1, 'Av. de María Luisa', 37.38, -5.99,
   'Europe/Madrid', 1100),
  (3, 'Foro Sol', 'foro-sol', 2, '', 19.4, -99.09, 'America/Mexico_City', NULL);
INSERT INTO performers (id, name, slug, category_id) VALUES
  (1, 'Rosalía', 'rosalia', 3), (2, 'Los Rockeros', 'los-rockeros', 2),
  (3, 'Sevilla FC', 'sevilla-fc', 5);
INSERT INTO events (id, venue_id, category_id, starts_at, ends_at) VALUES
  (1, 2, 2, date_trunc('second', now()) + interval '10 days',
            date_trunc('second', now()) + interval '10 days 3 hours'),
  (2, 1, 5, date_trunc('second', now()) + interval '20 days', NULL),
  (3, 3, 3, date_trunc('second', now()) + interval '30 days', NULL),
  (4, 2, 6, date_trunc('second', now()) + interval '5 days', NULL);
INSERT INTO event_translations (event_id, language_code, title, description, slug) VALUES
  (1, 'es', 'Noche de rock', 'Guitarras toda la noche', 'noche-de-rock'),
  (1, 'en', 'Rock night', 'Guitars all night', 'rock-night'),
  (2, 'es', 'Sevilla contra Betis', 'El derbi', 'sevilla-contra-betis'),
  (3, 'en', 'Rosalía live', 'The tour', 'rosalia-live'),
  (4, 'es', 'Hamlet', 'Shakespeare', 'hamlet'),
  (4, 'en', 'Hamlet in English', 'Shakespeare', 'hamlet-in-english');
INSERT INTO event_sites (event_id, site_code) VALUES
  (1, 'es'), (1, 'mx'), (2, 'es'), (3, 'es'), (3, 'mx'), (4, 'es');
INSERT INTO event_performers (event_id, performer_id, position) VALUES (1, 2, 0), (2, 3, 0), (3, 1, 0);
INSERT INTO users (id, email, password_hash, display_name, locale, role) VALUES
  (1, 'seller@example.com', '$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g',
   'Vendedor', 'es', 'seller');
INSERT INTO listings (id, event_id, seller_id, section, "row", seat_from, seat_to, quantity,
                      quantity_available, price_minor, face_value_minor, currency, split,
                      delivery) VALUES
  (1, 1, 1, 'Platea', '3', 1, 2, 2, 2, 5000, 4000, 'EUR', 'any', 'eticket'),
  (2, 1, 1, 'Anfiteatro', '', NULL, NULL, 4, 4, 4500, NULL, 'EUR', 'pairs', 'mobile'),
  (3, 1, 1, 'Palco', '1', 7, 7, 1, 1, 5000, NULL, 'USD', 'any', 'paper'),
  (4, 2, 1, 'Fondo Sur', '12', NULL, NULL, 10, 10, 12000, 9000, 'EUR', 'any', 'eticket'),
  (5, 3, 1, 'General', '', NULL, NULL, 2, 2, 150000, NULL, 'MXN', 'any', 'eticket');
INSERT INTO exchange_rates (base_currency, quote_currency, rate) VALUES
  ('USD', 'EUR', 0.92), ('EUR', 'MXN', 18.5), ('MXN', 'EUR', 0.05);
COMMIT;
)sql";

int64_t NowEpoch() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json::value Parse(const std::optional<std::string>& text) {
  if (!text) return nullptr;
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec) return json::value("<unparseable>");
  return v;
}

// The value at a JSON pointer ("/venue/name"); null when absent.
json::value At(const json::value& v, std::string_view pointer) {
  boost::system::error_code ec;
  const json::value* p = v.find_pointer(pointer, ec);
  return p != nullptr ? *p : json::value();
}
std::string Str(const json::value& v, std::string_view pointer) {
  json::value x = At(v, pointer);
  return x.is_string() ? std::string(x.as_string()) : "<" + json::serialize(x) + ">";
}
int64_t Num(const json::value& v, std::string_view pointer) {
  json::value x = At(v, pointer);
  if (x.is_int64()) return x.as_int64();
  if (x.is_uint64()) return static_cast<int64_t>(x.as_uint64());
  return INT64_MIN;
}
bool IsNull(const json::value& v, std::string_view pointer) {
  boost::system::error_code ec;
  const json::value* p = v.find_pointer(pointer, ec);
  return p != nullptr && p->is_null();
}
// ids of the objects in the array at `pointer`.
std::vector<int64_t> Ids(const json::value& v, std::string_view pointer) {
  std::vector<int64_t> out;
  json::value a = At(v, pointer);
  if (!a.is_array()) return out;
  for (const auto& x : a.as_array()) out.push_back(Num(x, "/id"));
  return out;
}
std::vector<std::string> Names(const json::value& v, std::string_view pointer) {
  std::vector<std::string> out;
  json::value a = At(v, pointer);
  if (!a.is_array()) return out;
  for (const auto& x : a.as_array()) out.push_back(Str(x, "/name"));
  return out;
}

class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    n_ = ++counter;
    prefix_ = "t" + std::to_string(n_) + ":";
    slot_ = "tq_sync_" + std::to_string(getpid()) + "_" + std::to_string(n_);
    keys_ = Keys(prefix_);
    popts_ = ProjectorOptions{keys_, kGrace};
    url_ = taquilla::testing::PostgresFixture::Get().NewDatabase();
    redis_url_ = taquilla::testing::RedisFixture::Get().url();
    auto pg = db::Connection::Open(url_);
    ASSERT_TRUE(pg.ok()) << pg.error().message;
    pg_.emplace(std::move(pg).value());
    auto redis = redis::Client::Connect(redis_url_);
    ASSERT_TRUE(redis.ok()) << redis.error().message;
    redis_.emplace(std::move(redis).value());
    Sql(kMarketplace);
  }

  void TearDown() override {
    if (daemon_thread_.joinable()) {
      if (verify_at_end_ && !HasFatalFailure()) ExpectVerified("at the end of the test");
      StopDaemon();
    }
    StopLsnMonitor();
    if (slot_used_) {
      Status dropped = ReplicationStream::DropSlot(url_, slot_);
      EXPECT_TRUE(dropped.ok()) << slot_ << ": " << dropped.error().message;
    }
  }

  // --- the daemon ---

  SyncOptions Options() const {
    SyncOptions o;
    o.postgres_url = url_;
    o.redis_url = redis_url_;
    o.slot = slot_;
    o.projector = popts_;
    o.sweep_interval = std::chrono::seconds(3600);  // tests sweep explicitly
    o.check_interval = std::chrono::milliseconds(200);
    return o;
  }

  // Starts the daemon and waits for its first build (or resume) to be marked applied.
  void StartDaemon(const std::function<void(SyncOptions&)>& tweak = nullptr,
                   std::chrono::milliseconds wait = kWait) {
    ASSERT_FALSE(daemon_thread_.joinable());
    slot_used_ = true;
    stop_ = false;
    SyncOptions o = Options();
    if (tweak) tweak(o);
    daemon_ = std::make_unique<SyncDaemon>(o, metrics_);
    daemon_thread_ = std::thread([this] {
      Status s = daemon_->Run(stop_);
      if (!s.ok()) run_error_ = s.error().message;
    });
    ASSERT_TRUE(taquilla::testing::Eventually(
        [&] {
          auto slot = Cmd({"HGET", keys_.SyncState(), "slot"});
          return slot.IsString() && slot.str() == slot_ && metrics_.streaming.load();
        },
        wait))
        << "the daemon did not build and start streaming";
    StartLsnMonitor();
  }

  void StopDaemon() {
    if (!daemon_thread_.joinable()) return;
    stop_ = true;
    daemon_thread_.join();
    daemon_.reset();
    EXPECT_EQ(run_error_, "");
  }

  // Watches the applied-LSN key from its own connection: it must only ever grow.
  void StartLsnMonitor() {
    if (monitor_.joinable()) return;
    monitor_stop_ = false;
    monitor_ = std::thread([this] {
      auto c = redis::Client::Connect(redis_url_);
      if (!c.ok()) return;
      std::string last, prev;
      while (!monitor_stop_) {
        auto r = c->Cmd("GET", keys_.AppliedLsn());
        if (r.ok() && r->IsString()) {
          std::string now(r->str());
          if (now < last && now != prev) {
            std::lock_guard lock(monitor_mu_);
            regressions_.push_back(last + " -> " + now);
          }
          last = std::max(last, now);
          prev = now;
        }
        std::this_thread::sleep_for(1ms);  // sampling, not waiting for a condition
      }
    });
  }

  void StopLsnMonitor() {
    if (!monitor_.joinable()) return;
    monitor_stop_ = true;
    monitor_.join();
    std::lock_guard lock(monitor_mu_);
    std::string all;
    for (const auto& r : regressions_) all += r + "; ";
    EXPECT_TRUE(regressions_.empty())
        << "the applied LSN " << keys_.AppliedLsn() << " moved backwards: " << all;
  }

  // Waits until sync has applied everything PostgreSQL has inserted into its WAL so far.
  bool CaughtUp() {
    const Lsn target = ParseLsn(Text("SELECT pg_current_wal_insert_lsn()::text")).value();
    return taquilla::testing::Eventually(
        [&] {
          auto r = Cmd({"GET", keys_.AppliedLsn()});
          return r.IsString() && std::string(r.str()) >= LsnKey(target);
        },
        kWait);
  }

  VerifyReport RunVerify(std::string* out) {
    std::ostringstream text;
    auto r = Verify(url_, redis_url_, popts_, std::chrono::milliseconds(kWait), text, 100);
    EXPECT_TRUE(r.ok()) << r.error().message;
    *out = text.str();
    return r.ok() ? *r : VerifyReport{-1, -1, -1, -1};
  }

  void ExpectVerified(const std::string& when) {
    std::string out;
    VerifyReport report = RunVerify(&out);
    EXPECT_EQ(report.differences, 0) << "verify " << when << ":\n" << out;
    EXPECT_GT(report.units, 0);
    EXPECT_GT(report.documents, 0);
  }

  // --- PostgreSQL ---

  void Sql(const std::string& sql) {
    auto r = pg_->Exec(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.error().message;
  }
  std::string Text(const std::string& sql) {
    auto r = pg_->Exec(sql);
    EXPECT_TRUE(r.ok()) << sql << ": " << r.error().message;
    if (!r.ok() || r->rows() == 0) return "";
    return r->GetString(0, 0);
  }
  int64_t Int(const std::string& sql) { return std::stoll(Text(sql)); }
  int64_t StartEpoch(int64_t event) {
    return Int("SELECT extract(epoch FROM starts_at)::bigint FROM events WHERE id = " +
               std::to_string(event));
  }

  // --- Redis ---

  redis::Reply Cmd(const std::vector<std::string>& argv) {
    auto r = redis_->Command(argv);
    EXPECT_TRUE(r.ok()) << argv[0] << ": " << r.error().message;
    return r.ok() ? *r : redis::Reply();
  }
  std::optional<std::string> Get(const std::string& key) {
    auto r = Cmd({"GET", Real(key)});
    if (!r.IsString()) return std::nullopt;
    return std::string(r.str());
  }
  bool Exists(const std::string& key) { return Cmd({"EXISTS", Real(key)}).integer() == 1; }
  // A document; for an event key (Ev, or the summary pseudo-key Es) the Event or
  // EventSummary a reader gets: its content and offers joined as read servers do.
  json::value Doc(const std::string& key) {
    auto event = EventKey(key);
    if (!event) return Parse(Get(key));
    const auto& [shape, site, lang, id] = *event;
    auto content = Get(keys_.Event(site, lang, id));
    if (!content) return nullptr;
    std::string country;
    json::value sites = Parse(Get(keys_.Sites()));
    if (sites.is_object()) {
      for (const auto& s : sites.at("sites").as_array()) {
        if (s.at("code").as_string() == site) country = std::string(s.at("country").as_string());
      }
    }
    auto composed = ComposeEvent(*content, Get(keys_.Offers(site, id)).value_or(""),
                                 SiteLocale(lang, country), shape);
    EXPECT_TRUE(composed.ok()) << key << ": " << composed.error().message;
    return composed.ok() ? json::value(std::move(*composed)) : json::value(nullptr);
  }
  std::string Raw(const std::string& key) {
    if (!EventKey(key)) return Get(key).value_or("(missing)");
    json::value d = Doc(key);
    return d.is_null() ? "(missing)" : json::serialize(d);
  }
  // (shape, site, lang, id) of an Ev or Es key.
  std::optional<std::tuple<EventShape, std::string, std::string, int64_t>> EventKey(
      const std::string& key) const {
    for (auto [kind, shape] :
         {std::pair{"ev:", EventShape::kEvent}, std::pair{"es:", EventShape::kSummary}}) {
      const std::string head = prefix_ + kind;
      if (key.rfind(head, 0) != 0) continue;
      auto a = key.find(':', head.size()), b = key.rfind(':');
      if (a == std::string::npos || b <= a) return std::nullopt;
      return std::tuple{shape, key.substr(head.size(), a - head.size()),
                        key.substr(a + 1, b - a - 1), std::stoll(key.substr(b + 1))};
    }
    return std::nullopt;
  }
  // The Redis key behind a test key: an Es pseudo-key's content document.
  std::string Real(const std::string& key) const {
    auto event = EventKey(key);
    if (!event) return key;
    const auto& [shape, site, lang, id] = *event;
    return keys_.Event(site, lang, id);
  }

  std::map<std::string, int64_t> Zset(const std::string& key) {
    std::map<std::string, int64_t> out;
    auto r = Cmd({"ZRANGE", key, "0", "-1", "WITHSCORES"});
    for (size_t i = 0; i + 1 < r.size(); i += 2) {
      out[std::string(r[i].str())] = std::stoll(std::string(r[i + 1].str()));
    }
    return out;
  }
  std::vector<std::string> Scan(const std::string& pattern) {
    std::vector<std::string> out;
    std::string cursor = "0";
    do {
      auto r = Cmd({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
      if (r.size() != 2) break;
      cursor = std::string(r[0].str());
      for (size_t i = 0; i < r[1].size(); ++i) out.emplace_back(r[1][i].str());
    } while (cursor != "0");
    std::sort(out.begin(), out.end());
    return out;
  }
  // Every sorted set of the prefix, key -> member -> score.
  ZsetMap AllZsets() {
    ZsetMap out;
    for (const auto& k : Scan(keys_.Pattern("z"))) out[k] = Zset(k);
    return out;
  }
  // Every sorted set that holds `event`.
  std::set<std::string> SetsOf(int64_t event) {
    std::set<std::string> out;
    for (const auto& [k, members] : AllZsets()) {
      if (members.count(std::to_string(event))) out.insert(k);
    }
    return out;
  }
  // Projection documents (every kind but the site list), without the prefix.
  std::set<std::string> DocKeys() {
    std::set<std::string> out;
    for (const char* kind : {"ev", "eo", "venue", "perf", "cats"}) {
      for (const auto& k : Scan(keys_.Pattern(kind))) out.insert(k.substr(prefix_.size()));
    }
    return out;
  }
  int64_t ExpireTime(const std::string& key) { return Cmd({"EXPIRETIME", Real(key)}).integer(); }

  // Waits until the document at `key` satisfies `pred` (a missing document is null).
  ::testing::AssertionResult WaitDoc(const std::string& key,
                                     const std::function<bool(const json::value&)>& pred) {
    if (taquilla::testing::Eventually([&] { return pred(Doc(key)); }, kWait)) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << key << " is " << Raw(key);
  }
  ::testing::AssertionResult WaitGone(const std::string& key) {
    if (taquilla::testing::Eventually([&] { return !Exists(key); }, kWait)) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << key << " still exists: " << Raw(key);
  }

  std::vector<std::string> QueueItems() {
    queue::Keys qk(prefix_, "search");
    std::vector<std::string> out;
    auto r = Cmd({"LRANGE", qk.ready, "0", "-1"});
    for (size_t i = 0; i < r.size(); ++i) out.emplace_back(r[i].str());
    std::sort(out.begin(), out.end());
    return out;
  }
  // Takes every waiting item off the search queue as a worker would (claim + ack).
  void DrainQueue() {
    auto c = redis::Client::Connect(redis_url_);
    ASSERT_TRUE(c.ok());
    queue::Options qo;
    qo.prefix = prefix_;
    qo.group = "search";
    auto w = queue::Worker::Start(std::move(c).value(), qo, "test-worker");
    ASSERT_TRUE(w.ok()) << w.error().message;
    for (;;) {
      auto got = w->Claim(1000, 1ms);
      ASSERT_TRUE(got.ok()) << got.error().message;
      if (got->empty()) break;
      std::vector<std::string> items;
      for (const auto& d : *got) items.push_back(d.item);
      ASSERT_TRUE(w->Ack(items).ok());
    }
    ASSERT_TRUE(w->Leave().ok());
  }

  std::string K(const std::string& rest) const { return prefix_ + rest; }
  std::string Ev(const std::string& site, const std::string& lang, int64_t id) const {
    return keys_.Event(site, lang, id);
  }
  // A test-only pseudo-key: Doc() gives the EventSummary read servers compose from ev:+eo:.
  std::string Es(const std::string& site, const std::string& lang, int64_t id) const {
    return fmt::format("{}es:{}:{}:{}", prefix_, site, lang, id);
  }

  int n_ = 0;
  std::string prefix_, slot_, url_, redis_url_;
  Keys keys_;
  ProjectorOptions popts_;
  std::optional<db::Connection> pg_;
  std::optional<redis::Client> redis_;
  SyncMetrics metrics_;
  std::unique_ptr<SyncDaemon> daemon_;
  std::atomic<bool> stop_{false};
  std::thread daemon_thread_;
  std::string run_error_;
  bool slot_used_ = false;
  bool verify_at_end_ = true;

  std::thread monitor_;
  std::atomic<bool> monitor_stop_{false};
  std::mutex monitor_mu_;
  std::vector<std::string> regressions_;
};

// ---------------------------------------------------------------------------------------
// The initial build from the slot's exported snapshot.

TEST_F(SyncTest, InitialBuildFromSlotSnapshot) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_TRUE(CaughtUp());

  // The site list.
  json::value sites = Doc(keys_.Sites());
  ASSERT_TRUE(sites.is_object()) << Raw(keys_.Sites());
  EXPECT_EQ(Str(sites, "/sites/0/code"), "es");
  EXPECT_EQ(Str(sites, "/sites/0/name"), "Taquilla España");
  EXPECT_EQ(Str(sites, "/sites/0/country"), "ES");
  EXPECT_EQ(Str(sites, "/sites/0/currency"), "EUR");
  EXPECT_EQ(Str(sites, "/sites/0/timezone"), "Europe/Madrid");
  EXPECT_EQ(Str(sites, "/sites/0/default_language"), "es");
  EXPECT_EQ(Str(sites, "/sites/0/languages/0/code"), "es");
  EXPECT_EQ(Str(sites, "/sites/0/languages/0/name"), "Español");
  EXPECT_EQ(Str(sites, "/sites/0/languages/0/direction"), "ltr");
  EXPECT_EQ(Str(sites, "/sites/0/languages/1/code"), "en");
  EXPECT_EQ(At(sites, "/sites/0/languages").as_array().size(), 2u);
  EXPECT_EQ(Str(sites, "/sites/1/code"), "mx");
  EXPECT_EQ(Str(sites, "/sites/1/currency"), "MXN");
  EXPECT_EQ(At(sites, "/sites/1/languages").as_array().size(), 1u);
  EXPECT_EQ(At(sites, "/sites").as_array().size(), 2u);

  // Category trees, one per site language, names in that language with fallback (the
  // site's default, then English, then the slug).
  json::value es_es = Doc(keys_.Categories("es", "es"));
  EXPECT_EQ(Ids(es_es, "/categories"), (std::vector<int64_t>{1, 4, 6}));
  EXPECT_EQ(Names(es_es, "/categories"),
            (std::vector<std::string>{"Música", "Deportes", "Theatre"}));
  EXPECT_EQ(Ids(es_es, "/categories/0/children"), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(Names(es_es, "/categories/0/children"),
            (std::vector<std::string>{"Rock", "Pop en español"}));
  EXPECT_EQ(Str(es_es, "/categories/0/slug"), "musica");
  EXPECT_EQ(Names(es_es, "/categories/1/children"), (std::vector<std::string>{"Fútbol"}));
  EXPECT_EQ(At(es_es, "/categories/2/children").as_array().size(), 0u);
  json::value es_en = Doc(keys_.Categories("es", "en"));
  EXPECT_EQ(Names(es_en, "/categories"), (std::vector<std::string>{"Music", "Sports", "Theatre"}));
  EXPECT_EQ(Names(es_en, "/categories/0/children"),
            (std::vector<std::string>{"Rock", "Pop en español"}));  // pop: site default
  EXPECT_EQ(Str(es_en, "/categories/0/slug"), "music");
  EXPECT_EQ(Get(keys_.Categories("mx", "es")), Get(keys_.Categories("es", "es")));
  EXPECT_FALSE(Exists(keys_.Categories("mx", "en")));

  // Exactly the documents the marketplace has.
  std::set<std::string> want = {"cats:es:es", "cats:es:en", "cats:mx:es"};
  for (const auto& [site, lang, id] :
       std::vector<std::tuple<std::string, std::string, int>>{{"es", "es", 1},
                                                              {"es", "en", 1},
                                                              {"mx", "es", 1},
                                                              {"es", "es", 2},
                                                              {"es", "en", 2},
                                                              {"es", "es", 3},
                                                              {"es", "en", 3},
                                                              {"mx", "es", 3},
                                                              {"es", "es", 4},
                                                              {"es", "en", 4}}) {
    want.insert(fmt::format("ev:{}:{}:{}", site, lang, id));
    want.insert(fmt::format("eo:{}:{}", site, id));  // offers: one per site
  }
  for (const char* lang : {"es", "en"}) {
    for (int id = 1; id <= 3; ++id) {
      want.insert(fmt::format("venue:{}:{}", lang, id));
      want.insert(fmt::format("perf:{}:{}", lang, id));
    }
  }
  EXPECT_EQ(DocKeys(), want);

  // Event 1 on es in es: prices in EUR, listings by their price in EUR.
  json::value ev = Doc(Ev("es", "es", 1));
  EXPECT_EQ(Num(ev, "/id"), 1);
  EXPECT_EQ(Str(ev, "/title"), "Noche de rock");
  EXPECT_EQ(Str(ev, "/title_lang"), "es");
  EXPECT_EQ(Str(ev, "/slug"), "noche-de-rock");
  EXPECT_EQ(Str(ev, "/description"), "Guitarras toda la noche");
  EXPECT_EQ(Str(ev, "/status"), "scheduled");
  EXPECT_EQ(Str(ev, "/timezone"), "Europe/Madrid");
  EXPECT_EQ(Str(ev, "/url"), "/es/es/events/1-noche-de-rock");
  const std::string local = Text(
      "SELECT to_char(starts_at AT TIME ZONE 'Europe/Madrid', 'YYYY-MM-DD\"T\"HH24:MI:SS') "
      "FROM events WHERE id = 1");
  EXPECT_TRUE(Str(ev, "/starts_at") == local + "+01:00" ||
              Str(ev, "/starts_at") == local + "+02:00")
      << Str(ev, "/starts_at") << " vs " << local;
  EXPECT_EQ(Num(ev, "/venue/id"), 2);
  EXPECT_EQ(Str(ev, "/venue/name"), "Teatro Lope de Vega");
  EXPECT_EQ(Str(ev, "/venue/city"), "Sevilla");
  EXPECT_EQ(Str(ev, "/venue/country"), "ES");
  EXPECT_EQ(Num(ev, "/category/id"), 2);
  EXPECT_EQ(Str(ev, "/category/name"), "Rock");
  EXPECT_EQ(Num(ev, "/min_price/amount_minor"), 4500);
  EXPECT_EQ(Str(ev, "/min_price/currency"), "EUR");
  EXPECT_EQ(Str(ev, "/min_price/formatted"), i18n::FormatMoney(4500, "EUR", "es-ES"));
  EXPECT_EQ(Num(ev, "/tickets_available"), 7);
  EXPECT_EQ(Ids(ev, "/performers"), (std::vector<int64_t>{2}));
  EXPECT_EQ(Names(ev, "/performers"), (std::vector<std::string>{"Los Rockeros"}));
  EXPECT_EQ(Ids(ev, "/listings"), (std::vector<int64_t>{2, 3, 1}));  // 45.00, 46.00, 50.00
  EXPECT_EQ(Str(ev, "/listings/0/section"), "Anfiteatro");
  EXPECT_EQ(Str(ev, "/listings/0/split"), "pairs");
  EXPECT_EQ(Str(ev, "/listings/0/delivery"), "mobile");
  EXPECT_TRUE(IsNull(ev, "/listings/0/seat_from"));
  EXPECT_TRUE(IsNull(ev, "/listings/0/face_value"));
  EXPECT_TRUE(IsNull(ev, "/listings/0/display_price"));
  EXPECT_EQ(Num(ev, "/listings/0/quantity_available"), 4);
  EXPECT_EQ(Num(ev, "/listings/1/price/amount_minor"), 5000);
  EXPECT_EQ(Str(ev, "/listings/1/price/currency"), "USD");
  EXPECT_EQ(Num(ev, "/listings/1/display_price/amount_minor"), 4600);  // 50.00 USD x 0.92
  EXPECT_EQ(Str(ev, "/listings/1/display_price/currency"), "EUR");
  EXPECT_EQ(Num(ev, "/listings/2/seat_from"), 1);
  EXPECT_EQ(Num(ev, "/listings/2/seat_to"), 2);
  EXPECT_EQ(Num(ev, "/listings/2/face_value/amount_minor"), 4000);
  EXPECT_EQ(Str(ev, "/listings/2/row"), "3");
  // The summary is the event without description, performers and listings.
  json::value sum = Doc(Es("es", "es", 1));
  EXPECT_EQ(Str(sum, "/title"), "Noche de rock");
  EXPECT_EQ(Num(sum, "/min_price/amount_minor"), 4500);
  EXPECT_TRUE(At(sum, "/listings").is_null());
  EXPECT_TRUE(At(sum, "/description").is_null());
  json::object trimmed = ev.as_object();
  trimmed.erase("description");
  trimmed.erase("performers");
  trimmed.erase("listings");
  EXPECT_EQ(json::value(trimmed), sum);

  // In English: the translation, the city's English name, money formatted for en-ES.
  json::value en = Doc(Ev("es", "en", 1));
  EXPECT_EQ(Str(en, "/title"), "Rock night");
  EXPECT_EQ(Str(en, "/title_lang"), "en");
  EXPECT_EQ(Str(en, "/venue/city"), "Seville");
  EXPECT_EQ(Str(en, "/url"), "/es/en/events/1-rock-night");
  EXPECT_EQ(Str(en, "/min_price/formatted"), i18n::FormatMoney(4500, "EUR", "en-ES"));

  // On mx: prices in MXN; the USD listing has no rate to MXN, so it sorts last, unpriced.
  json::value mx = Doc(Ev("mx", "es", 1));
  EXPECT_EQ(Num(mx, "/min_price/amount_minor"), 83250);  // 45.00 EUR x 18.5
  EXPECT_EQ(Str(mx, "/min_price/currency"), "MXN");
  EXPECT_EQ(Str(mx, "/min_price/formatted"), i18n::FormatMoney(83250, "MXN", "es-MX"));
  EXPECT_EQ(Ids(mx, "/listings"), (std::vector<int64_t>{2, 1, 3}));
  EXPECT_EQ(Num(mx, "/listings/0/display_price/amount_minor"), 83250);
  EXPECT_TRUE(IsNull(mx, "/listings/2/display_price"));

  // Event 3 (MXN listing) on es: the price converted to EUR for display and sorting.
  json::value e3 = Doc(Ev("es", "es", 3));
  EXPECT_EQ(Num(e3, "/min_price/amount_minor"), 7500);
  EXPECT_EQ(Num(e3, "/listings/0/display_price/amount_minor"), 7500);
  EXPECT_EQ(Str(e3, "/venue/city"), "Mexico City");  // no es name: English
  EXPECT_EQ(Str(e3, "/venue/country"), "MX");
  // Event 4 has no listings.
  json::value e4 = Doc(Es("es", "es", 4));
  EXPECT_TRUE(IsNull(e4, "/min_price"));
  EXPECT_EQ(Num(e4, "/tickets_available"), 0);
  EXPECT_EQ(Str(e4, "/category/name"), "Theatre");  // no es name: English

  // Event documents expire at the event's end + grace.
  const int64_t end1 = Int("SELECT extract(epoch FROM ends_at)::bigint FROM events WHERE id = 1");
  EXPECT_EQ(ExpireTime(Ev("es", "es", 1)), end1 + kGrace);
  EXPECT_EQ(ExpireTime(Es("mx", "es", 1)), end1 + kGrace);
  EXPECT_EQ(ExpireTime(Ev("es", "en", 2)), StartEpoch(2) + kGrace);
  EXPECT_EQ(ExpireTime(keys_.Venue("es", 1)), -1);  // entities do not expire

  // Venues and performers in every language some site offers.
  json::value v1 = Doc(keys_.Venue("es", 1));
  EXPECT_EQ(Str(v1, "/name"), "Estadio La Cartuja");
  EXPECT_EQ(Str(v1, "/city/name"), "Sevilla");
  EXPECT_EQ(Str(v1, "/country/name"), "España");
  EXPECT_EQ(Num(v1, "/capacity"), 60000);
  json::value v1en = Doc(keys_.Venue("en", 1));
  EXPECT_EQ(Str(v1en, "/city/name"), "Seville");
  EXPECT_EQ(Str(v1en, "/country/name"), "Spain");
  json::value v3 = Doc(keys_.Venue("es", 3));
  EXPECT_EQ(Str(v3, "/city/name"), "Mexico City");
  EXPECT_EQ(Str(v3, "/country/name"), "México");
  EXPECT_TRUE(IsNull(v3, "/capacity"));
  json::value p1 = Doc(keys_.Performer("es", 1));
  EXPECT_EQ(Str(p1, "/name"), "Rosalía");
  EXPECT_EQ(Str(p1, "/category/name"), "Pop en español");
  EXPECT_EQ(Str(Doc(keys_.Performer("en", 3)), "/category/name"), "Football");

  // Sorted sets: exactly these.
  const std::string e1 = "1", e2 = "2", e3s = "3", e4s = "4";
  const int64_t s1 = StartEpoch(1), s2 = StartEpoch(2), s3 = StartEpoch(3), s4 = StartEpoch(4);
  ZsetMap want_z = {
      {keys_.ByDate("es"), {{e1, s1}, {e2, s2}, {e3s, s3}, {e4s, s4}}},
      {keys_.ByPrice("es"), {{e1, 4500}, {e2, 12000}, {e3s, 7500}}},
      {keys_.InCategory("es", 1), {{e1, s1}, {e3s, s3}}},  // music: rock and pop
      {keys_.InCategory("es", 2), {{e1, s1}}},
      {keys_.InCategory("es", 3), {{e3s, s3}}},
      {keys_.InCategory("es", 4), {{e2, s2}}},
      {keys_.InCategory("es", 5), {{e2, s2}}},
      {keys_.InCategory("es", 6), {{e4s, s4}}},
      {keys_.AtVenue("es", 1), {{e2, s2}}},
      {keys_.AtVenue("es", 2), {{e1, s1}, {e4s, s4}}},
      {keys_.AtVenue("es", 3), {{e3s, s3}}},
      {keys_.OfPerformer("es", 1), {{e3s, s3}}},
      {keys_.OfPerformer("es", 2), {{e1, s1}}},
      {keys_.OfPerformer("es", 3), {{e2, s2}}},
      {keys_.ByDate("mx"), {{e1, s1}, {e3s, s3}}},
      {keys_.ByPrice("mx"), {{e1, 83250}, {e3s, 150000}}},
      {keys_.InCategory("mx", 1), {{e1, s1}, {e3s, s3}}},
      {keys_.InCategory("mx", 2), {{e1, s1}}},
      {keys_.InCategory("mx", 3), {{e3s, s3}}},
      {keys_.AtVenue("mx", 2), {{e1, s1}}},
      {keys_.AtVenue("mx", 3), {{e3s, s3}}},
      {keys_.OfPerformer("mx", 1), {{e3s, s3}}},
      {keys_.OfPerformer("mx", 2), {{e1, s1}}},
  };
  EXPECT_EQ(AllZsets(), want_z);

  // Versions, the applied LSN and the sync state.
  auto v = Get(keys_.Version("event:1"));
  ASSERT_TRUE(v.has_value());
  EXPECT_TRUE(ParseLsnKey(*v).ok()) << *v;
  auto applied = Get(keys_.AppliedLsn());
  ASSERT_TRUE(applied.has_value());
  EXPECT_GE(*applied, *v);
  EXPECT_EQ(std::string(Cmd({"HGET", keys_.SyncState(), "slot"}).str()), slot_);
  EXPECT_GE(metrics_.reconciles.load(), 1);
}

// ---------------------------------------------------------------------------------------
// Listings: price, sold out, currencies, moves and deletes.

TEST_F(SyncTest, ListingChangesReachTheirEvents) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());

  // A price change re-sorts the listings and moves min_price and the price sorted set.
  // It rewrites the event's offers only: its content documents keep their version.
  const auto content_version = Get(keys_.Version("event:1"));
  ASSERT_TRUE(content_version.has_value());
  const std::string content_doc = Get(Ev("es", "es", 1)).value_or("");
  Sql("UPDATE listings SET price_minor = 4000 WHERE id = 1");
  ASSERT_TRUE(WaitDoc(Ev("es", "es", 1), [](const json::value& d) {
    return Num(d, "/min_price/amount_minor") == 4000;
  }));
  EXPECT_EQ(Get(keys_.Version("event:1")), content_version);
  EXPECT_EQ(Get(Ev("es", "es", 1)).value_or(""), content_doc);
  EXPECT_GT(Get(keys_.Version("offers:1")).value_or(""), *content_version);
  json::value ev = Doc(Ev("es", "es", 1));
  EXPECT_EQ(Ids(ev, "/listings"), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(Num(Doc(Es("es", "es", 1)), "/min_price/amount_minor"), 4000);
  EXPECT_EQ(Num(Doc(Es("es", "en", 1)), "/min_price/amount_minor"), 4000);
  ASSERT_TRUE(WaitDoc(Ev("mx", "es", 1), [](const json::value& d) {
    return Num(d, "/min_price/amount_minor") == 74000;  // 40.00 EUR x 18.5
  }));
  EXPECT_EQ(Zset(keys_.ByPrice("es"))["1"], 4000);
  EXPECT_EQ(Zset(keys_.ByPrice("mx"))["1"], 74000);
  EXPECT_EQ(Zset(keys_.ByDate("es"))["1"], StartEpoch(1));  // unchanged

  // A listing sold out disappears and tickets_available drops.
  Sql("UPDATE listings SET quantity_available = 0 WHERE id = 2");
  ASSERT_TRUE(WaitDoc(Ev("es", "es", 1),
                      [](const json::value& d) { return Num(d, "/tickets_available") == 3; }));
  EXPECT_EQ(Ids(Doc(Ev("es", "es", 1)), "/listings"), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(Num(Doc(Es("mx", "es", 1)), "/tickets_available"), 3);

  // The only listing of event 2 sold out: no minimum price, out of the price sorted set.
  Sql("UPDATE listings SET quantity_available = 0 WHERE id = 4");
  ASSERT_TRUE(WaitDoc(Es("es", "es", 2), [](const json::value& d) {
    return IsNull(d, "/min_price") && Num(d, "/tickets_available") == 0;
  }));
  EXPECT_FALSE(Zset(keys_.ByPrice("es")).count("2"));
  EXPECT_TRUE(Zset(keys_.ByDate("es")).count("2"));  // still upcoming
  EXPECT_EQ(Ids(Doc(Ev("es", "en", 2)), "/listings"), std::vector<int64_t>{});

  // The USD listing: display_price in EUR on es; a new rate changes it.
  json::value usd = Doc(Ev("es", "es", 1));
  EXPECT_EQ(Str(usd, "/listings/1/price/currency"), "USD");
  EXPECT_EQ(Num(usd, "/listings/1/display_price/amount_minor"), 4600);
  EXPECT_EQ(Str(usd, "/listings/1/display_price/formatted"),
            i18n::FormatMoney(4600, "EUR", "es-ES"));
  Sql("UPDATE exchange_rates SET rate = 0.5 WHERE base_currency = 'USD' AND quote_currency = "
      "'EUR'");
  ASSERT_TRUE(WaitDoc(Ev("es", "es", 1), [](const json::value& d) {
    return Num(d, "/min_price/amount_minor") == 2500;  // 50.00 USD x 0.5
  }));
  EXPECT_EQ(Ids(Doc(Ev("es", "es", 1)), "/listings"), (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(Zset(keys_.ByPrice("es"))["1"], 2500);

  // A listing moved to another event (its identity names the old event): both change.
  Sql("UPDATE listings SET event_id = 2 WHERE id = 1");
  ASSERT_TRUE(WaitDoc(Ev("es", "es", 2), [](const json::value& d) {
    return Ids(d, "/listings") == std::vector<int64_t>{1};
  }));
  ASSERT_TRUE(WaitDoc(Ev("es", "es", 1), [](const json::value& d) {
    return Ids(d, "/listings") == std::vector<int64_t>{3};
  }));
  EXPECT_EQ(Zset(keys_.ByPrice("es"))["2"], 4000);

  // A DELETE (its identity carries event_id) updates its event.
  Sql("DELETE FROM listings WHERE id = 3");
  ASSERT_TRUE(WaitDoc(Ev("es", "es", 1), [](const json::value& d) {
    return Ids(d, "/listings").empty() && Num(d, "/tickets_available") == 0 &&
           IsNull(d, "/min_price");
  }));
  ASSERT_TRUE(WaitDoc(Ev("mx", "es", 1), [](const json::value& d) {
    return Ids(d, "/listings").empty() && IsNull(d, "/min_price");
  }));
  EXPECT_FALSE(Zset(keys_.ByPrice("es")).count("1"));
  EXPECT_FALSE(Zset(keys_.ByPrice("mx")).count("1"));
  EXPECT_TRUE(Zset(keys_.ByDate("mx")).count("1"));

  // A withdrawn listing is off sale too; a new one is on sale.
  Sql("UPDATE listings SET status = 'withdrawn' WHERE id = 5");
  ASSERT_TRUE(
      WaitDoc(Es("mx", "es", 3), [](const json::value& d) { return IsNull(d, "/min_price"); }));
  Sql("INSERT INTO listings (id, event_id, seller_id, quantity, quantity_available, price_minor, "
      "currency) VALUES (6, 3, 1, 3, 3, 100000, 'MXN')");
  ASSERT_TRUE(WaitDoc(Es("mx", "es", 3), [](const json::value& d) {
    return Num(d, "/min_price/amount_minor") == 100000 && Num(d, "/tickets_available") == 3;
  }));
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(Zset(keys_.ByPrice("es"))["3"], 5000);  // 1000.00 MXN x 0.05
}

// ---------------------------------------------------------------------------------------
// Translations and the language fallback.

TEST_F(SyncTest, TranslationChangesAndFallback) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  // Fallback: event 2 has only es (the es site's default); event 3 only en.
  EXPECT_EQ(Str(Doc(Ev("es", "en", 2)), "/title_lang"), "es");
  EXPECT_EQ(Str(Doc(Ev("es", "en", 2)), "/title"), "Sevilla contra Betis");
  EXPECT_EQ(Str(Doc(Ev("es", "es", 3)), "/title_lang"), "en");
  EXPECT_EQ(Str(Doc(Ev("es", "es", 3)), "/title"), "Rosalía live");
  EXPECT_EQ(Str(Doc(Es("mx", "es", 3)), "/title_lang"), "en");
  EXPECT_EQ(Str(Doc(Es("mx", "es", 3)), "/url"), "/mx/es/events/3-rosalia-live");

  // A change in es touches the es documents (on every site), not the en ones.
  const std::string en_before = Raw(Ev("es", "en", 1));
  const std::string en_summary_before = Raw(Es("es", "en", 1));
  Sql("UPDATE event_translations SET title = 'Gran noche de rock', slug = 'gran-noche-de-rock' "
      "WHERE event_id = 1 AND language_code = 'es'");
  for (const auto& key : {Ev("es", "es", 1), Es("es", "es", 1), Ev("mx", "es", 1)}) {
    ASSERT_TRUE(WaitDoc(
        key, [](const json::value& d) { return Str(d, "/title") == "Gran noche de rock"; }));
  }
  EXPECT_EQ(Str(Doc(Es("mx", "es", 1)), "/url"), "/mx/es/events/1-gran-noche-de-rock");
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(Raw(Ev("es", "en", 1)), en_before);
  EXPECT_EQ(Raw(Es("es", "en", 1)), en_summary_before);

  // A new en translation of event 2 replaces the fallback in en only.
  Sql("INSERT INTO event_translations (event_id, language_code, title, slug) "
      "VALUES (2, 'en', 'Seville v Betis', 'seville-v-betis')");
  ASSERT_TRUE(WaitDoc(Ev("es", "en", 2), [](const json::value& d) {
    return Str(d, "/title") == "Seville v Betis" && Str(d, "/title_lang") == "en";
  }));
  EXPECT_EQ(Str(Doc(Ev("es", "es", 2)), "/title"), "Sevilla contra Betis");

  // Deleting the es translation of event 4: es falls back to English and says so.
  Sql("DELETE FROM event_translations WHERE event_id = 4 AND language_code = 'es'");
  ASSERT_TRUE(WaitDoc(Es("es", "es", 4), [](const json::value& d) {
    return Str(d, "/title_lang") == "en" && Str(d, "/title") == "Hamlet in English";
  }));
  // An es translation for event 3 ends its fallback on both sites.
  Sql("INSERT INTO event_translations (event_id, language_code, title, slug) "
      "VALUES (3, 'es', 'Rosalía en vivo', 'rosalia-en-vivo')");
  ASSERT_TRUE(WaitDoc(Ev("mx", "es", 3), [](const json::value& d) {
    return Str(d, "/title_lang") == "es" && Str(d, "/title") == "Rosalía en vivo";
  }));
  ASSERT_TRUE(WaitDoc(Es("es", "es", 3),
                      [](const json::value& d) { return Str(d, "/title_lang") == "es"; }));
  EXPECT_EQ(Str(Doc(Es("es", "en", 3)), "/title_lang"), "en");

  // Deleting every translation of an event leaves no document a reader could be shown.
  Sql("DELETE FROM event_translations WHERE event_id = 4");
  ASSERT_TRUE(WaitGone(Ev("es", "es", 4)));
  ASSERT_TRUE(WaitGone(Es("es", "en", 4)));
}

// ---------------------------------------------------------------------------------------
// Entities embedded in event documents.

TEST_F(SyncTest, VenueRenameReachesItsEventsInEveryLanguage) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const std::string other = Raw(Ev("es", "es", 2));  // at venue 1
  Sql("UPDATE venues SET name = 'Teatro Lope de Vega (Sevilla)' WHERE id = 2");
  const auto renamed = [](const json::value& d) {
    return Str(d, "/venue/name") == "Teatro Lope de Vega (Sevilla)";
  };
  for (const auto& key :
       {Ev("es", "es", 1), Ev("es", "en", 1), Ev("mx", "es", 1), Es("es", "es", 1),
        Es("es", "en", 1), Es("mx", "es", 1), Ev("es", "es", 4), Ev("es", "en", 4),
        Es("es", "es", 4), Es("es", "en", 4)}) {
    EXPECT_TRUE(WaitDoc(key, renamed));
  }
  for (const char* lang : {"es", "en"}) {
    EXPECT_TRUE(WaitDoc(keys_.Venue(lang, 2), [](const json::value& d) {
      return Str(d, "/name") == "Teatro Lope de Vega (Sevilla)";
    }));
  }
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(Raw(Ev("es", "es", 2)), other);

  // A city translation reaches venues and events of the city.
  Sql("UPDATE city_translations SET name = 'Sevilla la Bella' WHERE city_id = 1 AND "
      "language_code = 'es'");
  EXPECT_TRUE(WaitDoc(Ev("es", "es", 2), [](const json::value& d) {
    return Str(d, "/venue/city") == "Sevilla la Bella";
  }));
  EXPECT_TRUE(WaitDoc(keys_.Venue("es", 1), [](const json::value& d) {
    return Str(d, "/city/name") == "Sevilla la Bella";
  }));
  EXPECT_EQ(Str(Doc(Ev("es", "en", 2)), "/venue/city"), "Seville");

  // A country name reaches the venues of the country.
  Sql("UPDATE country_translations SET name = 'Reino de España' WHERE country_code = 'ES' AND "
      "language_code = 'es'");
  EXPECT_TRUE(WaitDoc(keys_.Venue("es", 2), [](const json::value& d) {
    return Str(d, "/country/name") == "Reino de España";
  }));
  EXPECT_EQ(Str(Doc(keys_.Venue("en", 2)), "/country/name"), "Spain");

  // A performer rename reaches its events.
  Sql("UPDATE performers SET name = 'The Rockers' WHERE id = 2");
  EXPECT_TRUE(WaitDoc(Ev("mx", "es", 1), [](const json::value& d) {
    return Names(d, "/performers") == std::vector<std::string>{"The Rockers"};
  }));
  EXPECT_TRUE(WaitDoc(keys_.Performer("en", 2),
                      [](const json::value& d) { return Str(d, "/name") == "The Rockers"; }));
}

TEST_F(SyncTest, CategoryRenameReachesTreesEventsAndPerformers) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const std::string es_tree = Raw(keys_.Categories("es", "es"));
  Sql("UPDATE category_translations SET name = 'Rock and Roll' WHERE category_id = 2 AND "
      "language_code = 'en'");
  ASSERT_TRUE(WaitDoc(keys_.Categories("es", "en"), [](const json::value& d) {
    return Str(d, "/categories/0/children/0/name") == "Rock and Roll";
  }));
  EXPECT_TRUE(WaitDoc(Ev("es", "en", 1), [](const json::value& d) {
    return Str(d, "/category/name") == "Rock and Roll";
  }));
  EXPECT_TRUE(WaitDoc(Es("es", "en", 1), [](const json::value& d) {
    return Str(d, "/category/name") == "Rock and Roll";
  }));
  EXPECT_TRUE(WaitDoc(keys_.Performer("en", 2), [](const json::value& d) {
    return Str(d, "/category/name") == "Rock and Roll";
  }));
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(Raw(keys_.Categories("es", "es")), es_tree);
  EXPECT_EQ(Str(Doc(Ev("es", "es", 1)), "/category/name"), "Rock");

  // A new es name for theatre (it had only en) replaces the fallback in es.
  Sql("INSERT INTO category_translations (category_id, language_code, name, slug) "
      "VALUES (6, 'es', 'Teatro', 'teatro')");
  EXPECT_TRUE(WaitDoc(keys_.Categories("mx", "es"), [](const json::value& d) {
    return Str(d, "/categories/2/name") == "Teatro" && Str(d, "/categories/2/slug") == "teatro";
  }));
  EXPECT_TRUE(WaitDoc(Es("es", "es", 4),
                      [](const json::value& d) { return Str(d, "/category/name") == "Teatro"; }));
  EXPECT_EQ(Str(Doc(Es("es", "en", 4)), "/category/name"), "Theatre");

  // A new parent moves the subtree: pop under sports takes event 3 out of music's sets.
  Sql("UPDATE categories SET parent_id = 4 WHERE id = 3");
  ASSERT_TRUE(taquilla::testing::Eventually(
      [&] { return Zset(keys_.InCategory("es", 4)).count("3") == 1; }, kWait));
  ASSERT_TRUE(CaughtUp());
  EXPECT_FALSE(Zset(keys_.InCategory("es", 1)).count("3"));
  EXPECT_FALSE(Zset(keys_.InCategory("mx", 1)).count("3"));
  EXPECT_TRUE(Zset(keys_.InCategory("mx", 4)).count("3"));
  EXPECT_EQ(Ids(Doc(keys_.Categories("es", "es")), "/categories/1/children"),
            (std::vector<int64_t>{5, 3}));
}

// ---------------------------------------------------------------------------------------
// Event lifecycle: cancel, move, leave a site.

TEST_F(SyncTest, CancelledEventLeavesEverySortedSetButKeepsItsDocuments) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  EXPECT_EQ(SetsOf(1).size(), 12u);  // date price cat:1 cat:2 venue:2 perf:2, on es and mx
  Sql("UPDATE events SET status = 'cancelled' WHERE id = 1");
  for (const auto& key : {Ev("es", "es", 1), Ev("es", "en", 1), Ev("mx", "es", 1),
                          Es("es", "es", 1), Es("es", "en", 1), Es("mx", "es", 1)}) {
    ASSERT_TRUE(
        WaitDoc(key, [](const json::value& d) { return Str(d, "/status") == "cancelled"; }));
  }
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(SetsOf(1), std::set<std::string>{});
  EXPECT_EQ(SetsOf(4).size(), 3u);  // the other event at venue 2 stays: date cat:6 venue:2
  EXPECT_TRUE(Zset(keys_.AtVenue("es", 2)).count("4"));
  // The documents keep their expiry.
  const int64_t end1 = Int("SELECT extract(epoch FROM ends_at)::bigint FROM events WHERE id = 1");
  EXPECT_EQ(ExpireTime(Ev("mx", "es", 1)), end1 + kGrace);

  // Postponed events stay listed; back to scheduled it is listed again.
  Sql("UPDATE events SET status = 'postponed' WHERE id = 1");
  ASSERT_TRUE(WaitDoc(Es("es", "es", 1),
                      [](const json::value& d) { return Str(d, "/status") == "postponed"; }));
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(SetsOf(1).size(), 12u);
}

TEST_F(SyncTest, MovedEventLeavesTheOldVenueAndCategorySets) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const int64_t s1 = StartEpoch(1);
  Sql("UPDATE events SET venue_id = 1, category_id = 5 WHERE id = 1");
  ASSERT_TRUE(WaitDoc(Ev("es", "es", 1), [](const json::value& d) {
    return Num(d, "/venue/id") == 1 && Num(d, "/category/id") == 5;
  }));
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(Str(Doc(Ev("es", "es", 1)), "/venue/name"), "Estadio La Cartuja");
  EXPECT_EQ(Str(Doc(Ev("es", "en", 1)), "/category/name"), "Football");
  EXPECT_EQ(SetsOf(1),
            (std::set<std::string>{
                keys_.ByDate("es"), keys_.ByPrice("es"), keys_.InCategory("es", 4),
                keys_.InCategory("es", 5), keys_.AtVenue("es", 1), keys_.OfPerformer("es", 2),
                keys_.ByDate("mx"), keys_.ByPrice("mx"), keys_.InCategory("mx", 4),
                keys_.InCategory("mx", 5), keys_.AtVenue("mx", 1), keys_.OfPerformer("mx", 2)}));
  EXPECT_EQ(Zset(keys_.AtVenue("es", 2)), (std::map<std::string, int64_t>{{"4", StartEpoch(4)}}));
  EXPECT_FALSE(Exists(keys_.AtVenue("mx", 2)));  // its only member left
  EXPECT_FALSE(Exists(keys_.InCategory("mx", 2)));
  EXPECT_EQ(Zset(keys_.InCategory("es", 1)),
            (std::map<std::string, int64_t>{{"3", StartEpoch(3)}}));
  EXPECT_EQ(Zset(keys_.InCategory("es", 5))["1"], s1);

  // Moving the date re-scores every set.
  Sql("UPDATE events SET starts_at = starts_at + interval '1 day', ends_at = ends_at + "
      "interval '1 day' WHERE id = 1");
  ASSERT_TRUE(taquilla::testing::Eventually(
      [&] { return Zset(keys_.ByDate("es"))["1"] == s1 + 86400; }, kWait));
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(Zset(keys_.AtVenue("mx", 1))["1"], s1 + 86400);
  EXPECT_EQ(Zset(keys_.InCategory("es", 4))["1"], s1 + 86400);
  EXPECT_EQ(Zset(keys_.ByPrice("es"))["1"], 4500);

  // A performer added and another removed.
  Sql("BEGIN; DELETE FROM event_performers WHERE event_id = 1; "
      "INSERT INTO event_performers (event_id, performer_id) VALUES (1, 3); COMMIT");
  ASSERT_TRUE(taquilla::testing::Eventually(
      [&] { return Zset(keys_.OfPerformer("es", 3)).count("1") == 1; }, kWait));
  ASSERT_TRUE(CaughtUp());
  EXPECT_FALSE(Exists(keys_.OfPerformer("es", 2)));
  EXPECT_EQ(Names(Doc(Ev("mx", "es", 1)), "/performers"), std::vector<std::string>{"Sevilla FC"});
}

TEST_F(SyncTest, RemovingAnEventFromASiteDeletesThatSitesDocuments) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  Sql("DELETE FROM event_sites WHERE event_id = 1 AND site_code = 'mx'");
  ASSERT_TRUE(WaitGone(Ev("mx", "es", 1)));
  ASSERT_TRUE(WaitGone(Es("mx", "es", 1)));
  ASSERT_TRUE(CaughtUp());
  for (const auto& k : SetsOf(1)) EXPECT_EQ(k.find(prefix_ + "z:mx:"), std::string::npos) << k;
  EXPECT_EQ(SetsOf(1).size(), 6u);  // es only
  EXPECT_TRUE(Exists(Ev("es", "es", 1)));
  EXPECT_TRUE(Exists(Es("es", "en", 1)));

  // Back on the site, and off every site: an event on no site has no documents at all.
  Sql("INSERT INTO event_sites (event_id, site_code) VALUES (1, 'mx')");
  ASSERT_TRUE(WaitDoc(Es("mx", "es", 1), [](const json::value& d) { return d.is_object(); }));
  Sql("DELETE FROM event_sites WHERE event_id = 1");
  for (const auto& k : {Ev("es", "es", 1), Ev("es", "en", 1), Ev("mx", "es", 1), Es("es", "es", 1),
                        Es("es", "en", 1), Es("mx", "es", 1)}) {
    EXPECT_TRUE(WaitGone(k));
  }
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(SetsOf(1), std::set<std::string>{});

  // A deleted event: its documents and memberships go.
  Sql("DELETE FROM event_translations WHERE event_id = 4; DELETE FROM event_sites WHERE "
      "event_id = 4; DELETE FROM events WHERE id = 4");
  ASSERT_TRUE(WaitGone(Ev("es", "es", 4)));
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(SetsOf(4), std::set<std::string>{});
}

// ---------------------------------------------------------------------------------------
// Sites and languages.

TEST_F(SyncTest, NewSiteLanguageBuildsItsPages) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  Sql("INSERT INTO languages (code, name) VALUES ('ca', 'Català')");
  Sql("INSERT INTO category_translations (category_id, language_code, name, slug) "
      "VALUES (2, 'ca', 'Rock català', 'rock-catala')");
  ASSERT_TRUE(CaughtUp());
  EXPECT_FALSE(Exists(keys_.Categories("es", "ca")));  // not offered yet
  EXPECT_FALSE(Exists(keys_.Venue("ca", 1)));

  Sql("INSERT INTO site_languages (site_code, language_code, position) VALUES ('es', 'ca', 2)");
  ASSERT_TRUE(WaitDoc(keys_.Sites(), [](const json::value& d) {
    return Str(d, "/sites/0/languages/2/code") == "ca" &&
           Str(d, "/sites/0/languages/2/name") == "Català";
  }));
  ASSERT_TRUE(
      WaitDoc(keys_.Categories("es", "ca"), [](const json::value& d) { return d.is_object(); }));
  json::value tree = Doc(keys_.Categories("es", "ca"));
  EXPECT_EQ(Names(tree, "/categories"),
            (std::vector<std::string>{"Música", "Deportes", "Theatre"}));
  EXPECT_EQ(Names(tree, "/categories/0/children"),
            (std::vector<std::string>{"Rock català", "Pop en español"}));
  ASSERT_TRUE(WaitDoc(Ev("es", "ca", 1), [](const json::value& d) { return d.is_object(); }));
  json::value ev = Doc(Ev("es", "ca", 1));
  EXPECT_EQ(Str(ev, "/title"), "Noche de rock");  // no ca translation: the site default
  EXPECT_EQ(Str(ev, "/title_lang"), "es");
  EXPECT_EQ(Str(ev, "/category/name"), "Rock català");
  EXPECT_EQ(Str(ev, "/url"), "/es/ca/events/1-noche-de-rock");
  EXPECT_EQ(Str(ev, "/min_price/formatted"), i18n::FormatMoney(4500, "EUR", "ca-ES"));
  EXPECT_EQ(Str(Doc(Es("es", "ca", 3)), "/title_lang"), "en");
  for (int id : {1, 2, 3, 4})
    EXPECT_TRUE(WaitDoc(Es("es", "ca", id), [](const json::value& d) { return d.is_object(); }))
        << id;
  for (int id : {1, 2, 3}) {
    EXPECT_TRUE(WaitDoc(keys_.Venue("ca", id), [](const json::value& d) { return d.is_object(); }));
    EXPECT_TRUE(
        WaitDoc(keys_.Performer("ca", id), [](const json::value& d) { return d.is_object(); }));
  }
  EXPECT_EQ(Str(Doc(keys_.Venue("ca", 1)), "/city/name"), "Seville");  // ca -> en
  ASSERT_TRUE(CaughtUp());
  EXPECT_FALSE(Exists(Ev("mx", "ca", 1)));
  EXPECT_FALSE(Exists(keys_.Categories("mx", "ca")));
  ExpectVerified("after adding ca");

  // And removing it again removes its pages.
  Sql("DELETE FROM site_languages WHERE site_code = 'es' AND language_code = 'ca'");
  ASSERT_TRUE(WaitGone(keys_.Categories("es", "ca")));
  EXPECT_TRUE(WaitGone(Ev("es", "ca", 1)));
  EXPECT_TRUE(WaitGone(keys_.Venue("ca", 1)));
  EXPECT_TRUE(WaitGone(keys_.Performer("ca", 3)));
}

TEST_F(SyncTest, NewSiteIsBuiltAndADeactivatedSiteLeavesNothingBehind) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  // A new site with a language of its own, in one transaction (the deferred FK).
  Sql("INSERT INTO countries (code) VALUES ('FR')");
  Sql("INSERT INTO languages (code, name) VALUES ('fr', 'Français')");
  Sql("BEGIN; INSERT INTO sites (code, name, country, default_language, currency, timezone) "
      "VALUES ('fr', 'Taquilla France', 'FR', 'fr', 'EUR', 'Europe/Paris'); "
      "INSERT INTO site_languages (site_code, language_code) VALUES ('fr', 'fr'); COMMIT");
  Sql("INSERT INTO event_sites (event_id, site_code) VALUES (1, 'fr')");
  ASSERT_TRUE(WaitDoc(keys_.Sites(), [](const json::value& d) {
    return Str(d, "/sites/0/code") == "es" && Str(d, "/sites/1/code") == "fr" &&
           Str(d, "/sites/1/languages/0/code") == "fr";
  }));
  ASSERT_TRUE(WaitDoc(Ev("fr", "fr", 1), [](const json::value& d) {
    return Str(d, "/title_lang") == "en" && Str(d, "/title") == "Rock night";  // fr -> en
  }));
  EXPECT_TRUE(WaitDoc(keys_.Categories("fr", "fr"), [](const json::value& d) {
    return Str(d, "/categories/0/name") == "Music" && Str(d, "/categories/2/name") == "Theatre";
  }));
  EXPECT_TRUE(WaitDoc(keys_.Venue("fr", 2), [](const json::value& d) { return d.is_object(); }));
  EXPECT_TRUE(
      WaitDoc(keys_.Performer("fr", 1), [](const json::value& d) { return d.is_object(); }));
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(Zset(keys_.ByDate("fr")), (std::map<std::string, int64_t>{{"1", StartEpoch(1)}}));
  EXPECT_EQ(Zset(keys_.ByPrice("fr"))["1"], 4500);
  ExpectVerified("after adding site fr");

  // Deactivating it takes its pages away, and with them the venue and performer documents
  // in fr, a language no active site offers any more.
  Sql("UPDATE sites SET active = false WHERE code = 'fr'");
  ASSERT_TRUE(WaitGone(Ev("fr", "fr", 1)));
  ASSERT_TRUE(WaitGone(keys_.Categories("fr", "fr")));
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(At(Doc(keys_.Sites()), "/sites").as_array().size(), 2u);
  EXPECT_FALSE(Exists(keys_.ByDate("fr")));
  EXPECT_FALSE(Exists(keys_.Venue("fr", 2))) << "venue documents of a language no active site "
                                                "offers stay behind";
  EXPECT_FALSE(Exists(keys_.Performer("fr", 1)));
}

// ---------------------------------------------------------------------------------------
// Time: past events, expiry, the sweeper.

TEST_F(SyncTest, PastEventsExpireAndAreNotListed) {
  // Before the initial build: 6 started 3 h ago and ended 1 h ago (documents live until
  // end + 2 h); 7 ended days ago (no documents at all).
  Sql("INSERT INTO events (id, venue_id, category_id, starts_at, ends_at) VALUES "
      "(6, 2, 6, date_trunc('second', now()) - interval '3 hours', "
      "date_trunc('second', now()) - interval '1 hour'), "
      "(7, 2, 6, now() - interval '3 days', now() - interval '3 days' + interval '2 hours');"
      "INSERT INTO event_translations (event_id, language_code, title, slug) VALUES "
      "(6, 'es', 'Ayer', 'ayer'), (7, 'es', 'Hace tiempo', 'hace-tiempo');"
      "INSERT INTO event_sites (event_id, site_code) VALUES (6, 'es'), (7, 'es');"
      "INSERT INTO listings (id, event_id, seller_id, quantity, quantity_available, "
      "price_minor, currency) VALUES (6, 6, 1, 1, 1, 1000, 'EUR')");
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const int64_t end6 = Int("SELECT extract(epoch FROM ends_at)::bigint FROM events WHERE id = 6");
  ASSERT_TRUE(Exists(Ev("es", "es", 6)));
  EXPECT_EQ(ExpireTime(Ev("es", "es", 6)), end6 + kGrace);
  EXPECT_EQ(ExpireTime(Es("es", "en", 6)), end6 + kGrace);
  const int64_t ttl = Cmd({"TTL", Ev("es", "es", 6)}).integer();
  EXPECT_GT(ttl, 3500);
  EXPECT_LE(ttl, 3600);
  EXPECT_EQ(SetsOf(6), std::set<std::string>{});
  EXPECT_FALSE(Exists(Ev("es", "es", 7)));
  EXPECT_FALSE(Exists(Es("es", "en", 7)));
  EXPECT_EQ(SetsOf(7), std::set<std::string>{});

  // Streamed: an event that started 30 minutes ago (no end: start + grace).
  Sql("BEGIN; INSERT INTO events (id, venue_id, category_id, starts_at) VALUES "
      "(8, 1, 5, date_trunc('second', now()) - interval '30 minutes');"
      "INSERT INTO event_translations (event_id, language_code, title, slug) VALUES "
      "(8, 'es', 'En juego', 'en-juego');"
      "INSERT INTO event_sites (event_id, site_code) VALUES (8, 'es'); COMMIT");
  ASSERT_TRUE(WaitDoc(Ev("es", "en", 8), [](const json::value& d) { return d.is_object(); }));
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(ExpireTime(Ev("es", "en", 8)), StartEpoch(8) + kGrace);
  EXPECT_EQ(SetsOf(8), std::set<std::string>{});

  // A listing change on an event that has started touches its documents only.
  Sql("UPDATE listings SET price_minor = 900 WHERE id = 6");
  ASSERT_TRUE(WaitDoc(Es("es", "es", 6), [](const json::value& d) {
    return Num(d, "/min_price/amount_minor") == 900;
  }));
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(SetsOf(6), std::set<std::string>{});

  // Moved further into the past (ended beyond the grace): its documents go at once.
  Sql("UPDATE events SET starts_at = now() - interval '5 hours', ends_at = now() - "
      "interval '4 hours' WHERE id = 6");
  ASSERT_TRUE(WaitGone(Ev("es", "es", 6)));
  ASSERT_TRUE(WaitGone(Es("es", "en", 6)));

  // And an upcoming event moved into the past leaves the sorted sets.
  Sql("UPDATE events SET starts_at = now() - interval '1 hour', ends_at = NULL WHERE id = 4");
  ASSERT_TRUE(WaitDoc(Es("es", "es", 4),
                      [&](const json::value& d) { return d.is_object() && SetsOf(4).empty(); }));
}

TEST_F(SyncTest, SweepPastRemovesStartedEventsFromSortedSets) {
  // Event 9 starts in an hour; sweeping "as of" two hours from now finds it started.
  Sql("INSERT INTO events (id, venue_id, category_id, starts_at) VALUES "
      "(9, 3, 2, date_trunc('second', now()) + interval '1 hour');"
      "INSERT INTO event_translations (event_id, language_code, title, slug) VALUES "
      "(9, 'es', 'Pronto', 'pronto');"
      "INSERT INTO event_sites (event_id, site_code) VALUES (9, 'es'), (9, 'mx');"
      "INSERT INTO event_performers (event_id, performer_id) VALUES (9, 2);"
      "INSERT INTO listings (id, event_id, seller_id, quantity, quantity_available, "
      "price_minor, currency) VALUES (9, 9, 1, 2, 2, 3000, 'EUR')");
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_TRUE(CaughtUp());
  const std::set<std::string> sets = SetsOf(9);
  // date, price, cat:1, cat:2, venue:3, perf:2 on each of es and mx.
  ASSERT_EQ(sets.size(), 12u);
  const auto before = AllZsets();

  Writer writer(keys_);
  ASSERT_TRUE(writer.Prepare(*redis_).ok());
  auto removed = writer.SweepPast(*redis_, StartEpoch(9) + 3600);
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(*removed, 12);
  EXPECT_EQ(SetsOf(9), std::set<std::string>{});
  // Nothing else moved.
  auto after = AllZsets();
  for (auto& [k, members] : after) EXPECT_FALSE(members.count("9")) << k;
  auto expected = before;
  for (auto& [k, members] : expected) members.erase("9");
  std::erase_if(expected, [](const auto& kv) { return kv.second.empty(); });
  EXPECT_EQ(after, expected);
  // The documents stay until they expire.
  EXPECT_TRUE(Exists(Ev("es", "es", 9)));
  EXPECT_TRUE(Exists(Es("mx", "es", 9)));
  // Sweeping again finds nothing.
  auto again = writer.SweepPast(*redis_, StartEpoch(9) + 3600);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  // A sweep as of now removes nothing.
  auto now = writer.SweepPast(*redis_, NowEpoch());
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(*now, 0);

  // The event has not started yet in real time: the next change lists it again.
  Sql("UPDATE events SET updated_at = now() WHERE id = 9");
  ASSERT_TRUE(taquilla::testing::Eventually([&] { return SetsOf(9) == sets; }, kWait));
}

// ---------------------------------------------------------------------------------------
// The change queue.

TEST_F(SyncTest, EveryChangedUnitIsQueuedOnce) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  // The initial build queued every unit.
  EXPECT_EQ(QueueItems(),
            (std::vector<std::string>{"cats", "event:1", "event:2", "event:3", "event:4",
                                      "performer:1", "performer:2", "performer:3", "sites",
                                      "venue:1", "venue:2", "venue:3"}));
  ASSERT_NO_FATAL_FAILURE(DrainQueue());
  EXPECT_EQ(QueueItems(), std::vector<std::string>{});

  // A venue rename: the venue and its upcoming events.
  Sql("UPDATE venues SET name = 'Lope de Vega' WHERE id = 2");
  ASSERT_TRUE(taquilla::testing::Eventually([&] { return QueueItems().size() >= 3; }, kWait));
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(QueueItems(), (std::vector<std::string>{"event:1", "event:4", "venue:2"}));

  // 100 changes to one event while it waits: queued once.
  for (int i = 0; i < 100; ++i) {
    Sql("UPDATE listings SET price_minor = " + std::to_string(5000 + i) + " WHERE id = 4");
  }
  ASSERT_TRUE(WaitDoc(Ev("es", "es", 2), [](const json::value& d) {
    return Num(d, "/listings/0/price/amount_minor") == 5099;
  }));
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(QueueItems(), (std::vector<std::string>{"event:1", "event:2", "event:4", "venue:2"}));
  queue::Keys qk(prefix_, "search");
  EXPECT_EQ(Cmd({"SCARD", qk.set}).integer(), 4);

  // A category rename: the trees, the events and performers of the subtree.
  ASSERT_NO_FATAL_FAILURE(DrainQueue());
  Sql("UPDATE category_translations SET name = 'Sport' WHERE category_id = 4 AND "
      "language_code = 'en'");
  ASSERT_TRUE(taquilla::testing::Eventually([&] { return QueueItems().size() >= 3; }, kWait));
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(QueueItems(), (std::vector<std::string>{"cats", "event:2", "performer:3"}));

  // Queue gauges reach the metrics.
  ASSERT_TRUE(taquilla::testing::Eventually(
      [&] {
        return metrics_.Render().find("taquilla_queue_depth{group=\"search\"} 3") !=
               std::string::npos;
      },
      kWait))
      << metrics_.Render();
}

// ---------------------------------------------------------------------------------------
// Replays, LSNs, verify and rebuild.

TEST_F(SyncTest, ReplaysOfOlderChangesAreHarmless) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  Sql("UPDATE listings SET price_minor = 4100 WHERE id = 2");
  ASSERT_TRUE(WaitDoc(Es("es", "es", 1), [](const json::value& d) {
    return Num(d, "/min_price/amount_minor") == 4100;
  }));
  ASSERT_TRUE(CaughtUp());
  const auto version = Get(keys_.Version("offers:1"));
  ASSERT_TRUE(version.has_value());
  const Lsn v = ParseLsnKey(*version).value();
  const std::string doc = Raw(keys_.Offers("es", 1));
  const auto zsets = AllZsets();
  const auto owned = Cmd({"SMEMBERS", keys_.Owned("offers:1")}).size();
  const std::string applied = Get(keys_.AppliedLsn()).value_or("");
  ASSERT_GE(applied, *version);

  // An older state of event 1's offers (as a replay would build it), at older LSNs. (An equal LSN
  // is rewritten on purpose: any state built at it reflects at least that position, and
  // rebuild on an idle database relies on it.)
  UnitState stale{Unit::Offers(1),
                  0,
                  {{keys_.Offers("es", 1), R"({"stale":true})"}},
                  {{keys_.ByPrice("es"), 1}, {keys_.ByPrice("zz"), 1}}};
  Writer writer(keys_);
  ASSERT_TRUE(writer.Prepare(*redis_).ok());
  for (Lsn at : {Lsn{1}, v - 1}) {
    auto w = writer.Apply(*redis_, {stale}, LsnKey(at), /*set_applied_lsn=*/false);
    ASSERT_TRUE(w.ok()) << w.error().message;
    EXPECT_EQ(w->units, 1);
    EXPECT_EQ(w->applied, 0) << FormatLsn(at);
  }
  EXPECT_EQ(Raw(keys_.Offers("es", 1)), doc);
  EXPECT_EQ(AllZsets(), zsets);
  EXPECT_EQ(Get(keys_.Version("offers:1")), version);
  EXPECT_EQ(Cmd({"SMEMBERS", keys_.Owned("offers:1")}).size(), owned);
  EXPECT_FALSE(Exists(keys_.ByPrice("zz")));

  // A deletion replayed at an older LSN deletes nothing.
  UnitState gone{Unit::Offers(1), 0, {}, {}};
  auto w = writer.Apply(*redis_, {gone}, LsnKey(v - 1), false);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->applied, 0);
  EXPECT_EQ(Raw(keys_.Offers("es", 1)), doc);

  // A replayed batch that also records its (older) LSN as applied: the applied LSN must
  // not move backwards.
  w = writer.Apply(*redis_, {stale}, LsnKey(v - 1), /*set_applied_lsn=*/true);
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->applied, 0);
  EXPECT_GE(Get(keys_.AppliedLsn()).value_or(""), applied)
      << "Writer::Apply moved " << keys_.AppliedLsn() << " backwards";

  // The stream itself moves on: a later change has a higher version.
  Sql("UPDATE listings SET price_minor = 4200 WHERE id = 2");
  ASSERT_TRUE(WaitDoc(Es("es", "es", 1), [](const json::value& d) {
    return Num(d, "/min_price/amount_minor") == 4200;
  }));
  EXPECT_GT(Get(keys_.Version("offers:1")).value_or(""), *version);
  EXPECT_GT(Get(keys_.AppliedLsn()).value_or(""), applied);
}

TEST_F(SyncTest, VerifyFindsCorruptionAndRebuildRepairsIt) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  Sql("UPDATE listings SET price_minor = 4300 WHERE id = 2");
  ASSERT_TRUE(WaitDoc(Es("es", "es", 1), [](const json::value& d) {
    return Num(d, "/min_price/amount_minor") == 4300;
  }));
  ExpectVerified("before the corruption");

  Cmd({"SET", Ev("es", "es", 1), "junk"});
  Cmd({"ZADD", keys_.ByDate("es"), "12345", "999"});
  Cmd({"SET", Ev("es", "es", 999), "{}"});
  std::string out;
  VerifyReport report = RunVerify(&out);
  EXPECT_EQ(report.differences, 3) << out;
  EXPECT_NE(out.find("differs    " + Ev("es", "es", 1)), std::string::npos) << out;
  EXPECT_NE(out.find("unexpected " + Ev("es", "es", 999)), std::string::npos) << out;
  EXPECT_NE(out.find("zset       " + keys_.ByDate("es") + ": unexpected member 999"),
            std::string::npos)
      << out;

  // A missing document and a missing member are differences too.
  const std::string es_en_2 = Raw(Es("es", "en", 2));
  Cmd({"DEL", keys_.Offers("es", 2)});
  Cmd({"ZREM", keys_.AtVenue("es", 1), "2"});
  report = RunVerify(&out);
  EXPECT_EQ(report.differences, 5) << out;
  EXPECT_NE(out.find("missing    " + keys_.Offers("es", 2)), std::string::npos) << out;
  EXPECT_NE(out.find("member 2 missing"), std::string::npos) << out;

  // Some unrelated write moves the WAL on (see RebuildRepairsWithoutNewWal for the case
  // without one).
  Sql("UPDATE users SET display_name = 'Vendedora' WHERE id = 1");
  ASSERT_TRUE(CaughtUp());
  auto rebuilt = Rebuild(url_, redis_url_, popts_, Scope{}, /*remove_strays=*/true, false);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_GE(rebuilt->removed, 2);
  EXPECT_GT(rebuilt->units, 0);
  ExpectVerified("after the rebuild");
  EXPECT_EQ(Raw(Es("es", "en", 2)), es_en_2);
  EXPECT_FALSE(Exists(Ev("es", "es", 999)));
  EXPECT_FALSE(Zset(keys_.ByDate("es")).count("999"));
  EXPECT_EQ(Num(Doc(Ev("es", "es", 1)), "/min_price/amount_minor"), 4300);
}

TEST_F(SyncTest, RebuildRepairsWithoutNewWal) {
  // The same repair when nothing was written to PostgreSQL after the last change sync
  // applied: Rebuild's position (pg_current_wal_lsn) then equals that change's commit LSN,
  // the version of the changed unit.
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  Sql("UPDATE listings SET price_minor = 4300 WHERE id = 2");
  ASSERT_TRUE(WaitDoc(Es("es", "es", 1), [](const json::value& d) {
    return Num(d, "/min_price/amount_minor") == 4300;
  }));
  ASSERT_TRUE(CaughtUp());
  StopDaemon();  // nothing else touches Redis or the WAL from here
  const std::string version = Get(keys_.Version("event:1")).value_or("");
  const std::string pos = LsnKey(ParseLsn(Text("SELECT pg_current_wal_lsn()::text")).value());
  Cmd({"SET", Ev("es", "es", 1), "junk"});

  auto rebuilt = Rebuild(url_, redis_url_, popts_, Scope{}, /*remove_strays=*/true, false);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_EQ(Num(Doc(Ev("es", "es", 1)), "/min_price/amount_minor"), 4300)
      << "Rebuild left the corrupted document; unit version " << version << ", rebuild at "
      << rebuilt->lsn_key << " (WAL position before: " << pos << ")";
  std::ostringstream out;
  auto report = Verify(url_, redis_url_, popts_, std::chrono::milliseconds(0), out, 100);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_EQ(report->differences, 0) << out.str();
}

TEST_F(SyncTest, TruncateRebuildsEverything) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const int64_t reconciles = metrics_.reconciles.load();
  Sql("TRUNCATE event_performers");
  ASSERT_TRUE(WaitDoc(Ev("es", "es", 1), [](const json::value& d) {
    return d.is_object() && Ids(d, "/performers").empty();
  }));
  ASSERT_TRUE(CaughtUp());
  EXPECT_EQ(Scan(prefix_ + "z:*:perf:*"), std::vector<std::string>{});
  EXPECT_TRUE(Ids(Doc(Ev("mx", "es", 3)), "/performers").empty());
  EXPECT_GT(metrics_.reconciles.load(), reconciles);
}

TEST_F(SyncTest, ResumesFromItsSlotAfterARestart) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  StopDaemon();
  StopLsnMonitor();
  // Changes while sync is down are waiting in the slot.
  Sql("UPDATE listings SET price_minor = 3900 WHERE id = 2");
  Sql("UPDATE venues SET name = 'Cartuja' WHERE id = 1");
  const int64_t reconciles = metrics_.reconciles.load();
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  ASSERT_TRUE(WaitDoc(Es("es", "es", 1), [](const json::value& d) {
    return Num(d, "/min_price/amount_minor") == 3900;
  }));
  ASSERT_TRUE(WaitDoc(Es("es", "en", 2),
                      [](const json::value& d) { return Str(d, "/venue/name") == "Cartuja"; }));
  EXPECT_EQ(metrics_.reconciles.load(), reconciles) << "an existing slot needs no rebuild";
}

TEST_F(SyncTest, ReconcilesWhenTheMastersReplicationIdChanges) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const std::string replid(Cmd({"HGET", keys_.SyncState(), "replid"}).str());
  ASSERT_FALSE(replid.empty());
  // As if sync had last written to another master (a failover): everything is rebuilt.
  int64_t reconciles = metrics_.reconciles.load();
  Cmd({"HSET", keys_.SyncState(), "replid", std::string(40, '0')});
  ASSERT_TRUE(taquilla::testing::Eventually(
      [&] {
        return metrics_.reconciles.load() > reconciles &&
               Cmd({"HGET", keys_.SyncState(), "replid"}).str() == replid;
      },
      kWait));
  EXPECT_EQ(metrics_.errors.load(), 0);
  ExpectVerified("after a reconcile");

  // A failover can also leave keys behind that no unit owns any more: the reconcile
  // removes them (remove_strays).
  reconciles = metrics_.reconciles.load();
  Cmd({"SET", Ev("es", "es", 999), "{}"});
  Cmd({"ZADD", keys_.ByDate("mx"), "12345", "999"});
  Cmd({"HSET", keys_.SyncState(), "replid", std::string(40, '0')});
  const bool reconciled = taquilla::testing::Eventually(
      [&] {
        return metrics_.reconciles.load() > reconciles && !Exists(Ev("es", "es", 999)) &&
               !Zset(keys_.ByDate("mx")).count("999");
      },
      5s);
  EXPECT_TRUE(reconciled) << "reconciles " << metrics_.reconciles.load() << " (before "
                          << reconciles << "), sessions ended by errors " << metrics_.errors.load();
  EXPECT_EQ(metrics_.errors.load(), 0);
  if (!reconciled) {
    // Let the daemon recover for the end of the test.
    Cmd({"DEL", Ev("es", "es", 999)});
    verify_at_end_ = false;
  }
}

TEST_F(SyncTest, InitialBuildOverLeftoverKeysRemovesThem) {
  // A new slot over a Redis that still holds projections (e.g. the slot was lost and sync
  // rebuilds from a new one): what no unit owns any more is removed.
  Cmd({"SET", Ev("es", "es", 999), "{}"});
  Cmd({"SET", keys_.Venue("de", 1), "{}"});
  Cmd({"ZADD", keys_.ByDate("es"), "12345", "999"});
  StartDaemon(nullptr, 5s);
  if (HasFatalFailure()) {
    EXPECT_GT(metrics_.errors.load(), 0);
    verify_at_end_ = false;
    return;
  }
  EXPECT_FALSE(Exists(Ev("es", "es", 999)));
  EXPECT_FALSE(Exists(keys_.Venue("de", 1)));
  EXPECT_FALSE(Zset(keys_.ByDate("es")).count("999"));
  EXPECT_EQ(metrics_.errors.load(), 0);
}

TEST_F(SyncTest, StandbyTakesOverWhenTheActiveSyncStops) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  SyncMetrics standby_metrics;
  std::atomic<bool> standby_stop{false};
  SyncDaemon standby(Options(), standby_metrics);
  std::thread standby_thread([&] { (void)standby.Run(standby_stop); });

  Sql("UPDATE listings SET price_minor = 4100 WHERE id = 2");
  EXPECT_TRUE(WaitDoc(Es("es", "es", 1), [](const json::value& d) {
    return Num(d, "/min_price/amount_minor") == 4100;
  }));
  EXPECT_TRUE(CaughtUp());
  EXPECT_FALSE(standby_metrics.streaming.load());
  EXPECT_EQ(standby_metrics.changes.load(), 0);

  StopDaemon();
  Sql("UPDATE listings SET price_minor = 4200 WHERE id = 2");
  EXPECT_TRUE(WaitDoc(Es("es", "es", 1), [](const json::value& d) {
    return Num(d, "/min_price/amount_minor") == 4200;
  }));
  EXPECT_TRUE(standby_metrics.streaming.load());
  EXPECT_GT(standby_metrics.changes.load(), 0);
  EXPECT_EQ(standby_metrics.reconciles.load(), 0) << "the slot and Redis were kept";
  ExpectVerified("after the standby took over");
  standby_stop = true;
  standby_thread.join();
}

TEST_F(SyncTest, LargeTransactionsApplyInSmallBatches) {
  // batch_units = 1 flushes in the middle of transactions (at the commit LSN they will be
  // visible at, without marking it applied before the commit arrives).
  ASSERT_NO_FATAL_FAILURE(StartDaemon([](SyncOptions& o) { o.batch_units = 1; }));
  Sql("BEGIN;"
      "UPDATE listings SET price_minor = price_minor + 100;"
      "UPDATE venues SET name = name || ' *';"
      "UPDATE event_translations SET title = title || ' !';"
      "UPDATE listings SET price_minor = 4000 WHERE id = 2;"
      "COMMIT");
  ASSERT_TRUE(WaitDoc(Es("es", "es", 4), [](const json::value& d) {
    return Str(d, "/title") == "Hamlet !" && Str(d, "/venue/name") == "Teatro Lope de Vega *";
  }));
  ASSERT_TRUE(CaughtUp());
  json::value ev = Doc(Ev("es", "en", 1));
  EXPECT_EQ(Str(ev, "/title"), "Rock night !");
  EXPECT_EQ(Num(ev, "/min_price/amount_minor"), 4000);
  EXPECT_EQ(Ids(ev, "/listings"), (std::vector<int64_t>{2, 3, 1}));  // 40.00, 46.92, 51.00
  EXPECT_EQ(Num(ev, "/listings/1/display_price/amount_minor"), 4692);
  EXPECT_EQ(Str(Doc(keys_.Venue("en", 3)), "/name"), "Foro Sol *");
  EXPECT_EQ(Num(Doc(Es("mx", "es", 3)), "/min_price/amount_minor"), 150100);
  EXPECT_GT(metrics_.batches.load(), 3);
}

// ---------------------------------------------------------------------------------------
// Metrics.

TEST_F(SyncTest, MetricsMoveAndRenderAsPrometheusText) {
  ASSERT_NO_FATAL_FAILURE(StartDaemon());
  const int64_t changes = metrics_.changes.load(), units = metrics_.units.load(),
                writes = metrics_.writes.load(), transactions = metrics_.transactions.load();
  Sql("UPDATE listings SET price_minor = 4400 WHERE id = 2");
  Sql("UPDATE venues SET name = 'Lope de Vega' WHERE id = 2");
  ASSERT_TRUE(WaitDoc(Es("es", "es", 1), [](const json::value& d) {
    return Str(d, "/venue/name") == "Lope de Vega";
  }));
  ASSERT_TRUE(CaughtUp());
  EXPECT_GE(metrics_.changes.load(), changes + 2);
  EXPECT_GE(metrics_.transactions.load(), transactions + 2);
  // The unit and write counters move just after the write that made the change visible
  // (on the writer's thread): polled.
  EXPECT_TRUE(taquilla::testing::Eventually([&] { return metrics_.units.load() >= units + 3; },
                                            kWait))  // offers 1; venue 2, events 1, 4
      << metrics_.units.load() << " units, " << units << " before";
  EXPECT_TRUE(taquilla::testing::Eventually([&] { return metrics_.writes.load() >= writes + 10; },
                                            kWait))  // documents, memberships
      << metrics_.writes.load() << " writes, " << writes << " before";
  EXPECT_GT(metrics_.batches.load(), 0);
  EXPECT_GT(metrics_.confirmed_lsn.load(), 0u);
  EXPECT_TRUE(metrics_.streaming.load());
  EXPECT_EQ(metrics_.errors.load(), 0);

  ASSERT_TRUE(taquilla::testing::Eventually(
      [&] { return metrics_.Render().find("group=\"search\"") != std::string::npos; }, kWait));
  const std::string text = metrics_.Render();
  // The text exposition format: HELP and TYPE before a family's samples, one sample a line.
  const std::regex help(R"(# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*)");
  const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge))");
  const std::regex sample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*\})? (-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?|NaN|[+-]Inf))");
  std::map<std::string, std::string> types;
  std::set<std::string> helped, sampled;
  std::istringstream lines(text);
  std::string line;
  int n = 0;
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  while (std::getline(lines, line)) {
    ++n;
    std::smatch m;
    if (std::regex_match(line, m, help)) {
      EXPECT_TRUE(helped.insert(m[1]).second) << "second HELP: " << line;
    } else if (std::regex_match(line, m, type)) {
      EXPECT_TRUE(types.emplace(m[1], m[2]).second) << "second TYPE: " << line;
      EXPECT_TRUE(helped.count(m[1])) << "TYPE before HELP: " << line;
      if (m[2] == "counter") {
        const std::string name = m[1];
        EXPECT_TRUE(name.ends_with("_total")) << line;
      }
    } else if (std::regex_match(line, m, sample)) {
      EXPECT_TRUE(types.count(m[1])) << "sample without TYPE: " << line;
      sampled.insert(m[1]);
    } else {
      ADD_FAILURE() << "not Prometheus text: '" << line << "'";
    }
  }
  EXPECT_GT(n, 30);
  for (const char* name :
       {"taquilla_sync_changes_total", "taquilla_sync_units_total",
        "taquilla_sync_projection_writes_total", "taquilla_sync_confirmed_lsn",
        "taquilla_sync_lag_bytes", "taquilla_sync_streaming", "taquilla_queue_depth"}) {
    EXPECT_TRUE(sampled.count(name)) << name;
  }
  auto value = [&](const std::string& name) {
    std::smatch m;
    std::regex re("\n" + name + " ([0-9.]+)\n");
    return std::regex_search(text, m, re) ? std::stod(m[1]) : -1.0;
  };
  EXPECT_GE(value("taquilla_sync_changes_total"), static_cast<double>(changes + 2));
  EXPECT_GE(value("taquilla_sync_projection_writes_total"), static_cast<double>(writes + 10));
  EXPECT_EQ(value("taquilla_sync_streaming"), 1.0);
}

}  // namespace
}  // namespace taquilla::sync
