// `taquilla indexer`, `reindex` and `search` end to end: the real binary as child processes
// against a real PostgreSQL (a copy of a demo-seeded database per test), a redis-server of
// the test's own, `taquilla sync` streaming PostgreSQL's changes into the projections and
// the "search" queue, and the indexer keeping a Xapian index in the test's temp dir.
//
//   IndexerKilledRepeatedlyLosesNothing  a writer changes searchable content and offers
//       (titles, prices, quantities, statuses, sites, new events, venues moved, categories
//       renamed) while the indexer is SIGKILLed 10 times; `taquilla verify --index` finds
//       no difference (also at a checkpoint midway) and the queue holds no dead letters.
//   ChangeIsSearchableSoon               a title change is found by `taquilla search`
//       within seconds, and the event disappears once cancelled.
//   TwoShardsThroughXapianTcpsrv         an index of two shards, one served by
//       xapian-tcpsrv: searching shard-0 locally and shard-1 remotely gives the same ids,
//       totals and facets as searching both locally.
//   ReindexWhileWritingLosesNothing      `taquilla reindex` twice under writes: searches
//       never fail, the generation moves on, the indexer follows, nothing is lost.
//   BadInputFailsClearly                 unknown site, overlong query, bad coordinates:
//       exit 2 naming the problem; a query of only syntax characters is not an error.
//
//   FacetsOfPagedAnswersMatch            with a remote shard, facets of value-sorted answers
//       longer than a page equal the local ones (Xapian 1.4 double-counts them in one pass).
//   ReindexOneLanguageWhileWritingLosesNothing  `reindex --lang` copies the other
//       languages while the indexer commits to the generation it copies from.
//
// Randomness is seeded (kSeed); every wait polls a condition with a deadline.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/files.h"
#include "common/net.h"
#include "common/process.h"
#include "db/pg.h"
#include "e2e_support.h"
#include "queue/reliable_queue.h"
#include "redis/client.h"
#include "stack/servers.h"
#include "testing/eventually.h"
#include "testing/http_client.h"
#include "testing/servers.h"

namespace taquilla {
namespace {

using namespace std::chrono_literals;
using e2e::CliResult;
using e2e::Daemon;
using e2e::DbName;
using e2e::MustConnect;
using e2e::RedisGet;
using e2e::RunCli;
using e2e::SeededDatabase;
using testing::Eventually;
namespace json = boost::json;
using Steady = std::chrono::steady_clock;

// The seed of every random choice; TAQUILLA_TEST_SEED=<n> replays another run.
const uint64_t kSeed = [] {
  const char* env = std::getenv("TAQUILLA_TEST_SEED");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : uint64_t{20240612};
}();
constexpr auto kDeadline = 60s;

double SecondsSince(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

// ---------------------------------------------------------------------------------------
// Redis: the queue (the CLI, databases and Redis reads are in e2e_support.h).

// The "search" group's statistics, read directly (nullopt on error).
std::optional<queue::Stats> SearchQueueStats(const std::string& url) {
  auto c = redis::Client::Connect(url, 2s);
  if (!c.ok()) return std::nullopt;
  auto q = queue::Queue::Open(queue::Options{.prefix = "tq:", .group = "search"});
  if (!q.ok()) return std::nullopt;
  auto s = q->GetStats(*c);
  if (!s.ok()) return std::nullopt;
  return *s;
}

// LLEN of a list; -1 on error.
int64_t RedisListLength(const std::string& url, const std::string& key) {
  auto c = redis::Client::Connect(url, 2s);
  if (!c.ok()) return -1;
  auto r = c->Cmd("LLEN", key);
  return r.ok() ? r->integer() : -1;
}

// The queue worker id the last indexer started in `log` runs as ("" if none yet).
std::string WorkerId(const std::string& log) {
  const std::string mark = "] worker ";
  auto at = log.rfind(mark);
  if (at == std::string::npos) return "";
  at += mark.size();
  return log.substr(at, log.find(' ', at) - at);
}

bool QueueDrained(const std::string& url) {
  auto s = SearchQueueStats(url);
  return s && s->depth == 0 && s->in_flight == 0;
}

// ---------------------------------------------------------------------------------------
// The writer: short transactions that change what search shows, on one connection, with
// its own seeded RNG.

struct Marketplace {
  std::vector<int64_t> listings;  // active listings
  std::vector<int64_t> events;
  std::vector<std::pair<int64_t, std::string>> event_langs;  // event_translations keys
  std::vector<int64_t> venues;
  std::vector<std::pair<int64_t, std::string>> category_langs;
  std::vector<std::string> sites;
};

Marketplace LoadMarketplace(db::Connection& c) {
  Marketplace m;
  auto ints = [&c](const char* sql, std::vector<int64_t>& out) {
    auto r = c.Exec(sql);
    ASSERT_TRUE(r.ok()) << sql << ": " << r.error().message;
    for (int i = 0; i < r->rows(); ++i) out.push_back(r->GetInt(i, 0));
  };
  auto pairs = [&c](const char* sql, std::vector<std::pair<int64_t, std::string>>& out) {
    auto r = c.Exec(sql);
    ASSERT_TRUE(r.ok()) << sql << ": " << r.error().message;
    for (int i = 0; i < r->rows(); ++i) out.emplace_back(r->GetInt(i, 0), r->GetString(i, 1));
  };
  ints("SELECT id FROM listings WHERE status = 'active' ORDER BY id", m.listings);
  ints("SELECT id FROM events WHERE starts_at > now() + interval '2 days' ORDER BY id", m.events);
  pairs(
      "SELECT t.event_id, t.language_code FROM event_translations t JOIN events e ON "
      "e.id = t.event_id WHERE e.starts_at > now() + interval '2 days' ORDER BY 1, 2",
      m.event_langs);
  ints("SELECT id FROM venues ORDER BY id", m.venues);
  pairs("SELECT category_id, language_code FROM category_translations ORDER BY 1, 2",
        m.category_langs);
  [&] {
    auto r = c.Exec("SELECT code FROM sites WHERE active ORDER BY code");
    ASSERT_TRUE(r.ok()) << r.error().message;
    for (int i = 0; i < r->rows(); ++i) m.sites.push_back(r->GetString(i, 0));
  }();
  EXPECT_GT(m.listings.size(), 1000u);
  EXPECT_GT(m.events.size(), 100u);
  EXPECT_FALSE(m.event_langs.empty());
  EXPECT_FALSE(m.venues.empty());
  EXPECT_FALSE(m.category_langs.empty());
  EXPECT_FALSE(m.sites.empty());
  return m;
}

enum class Op {
  kPrice,
  kQuantity,
  kNewListing,
  kWithdraw,
  kTitle,
  kEventStatus,
  kEventSite,
  kNewEvent,
  kVenueMove,
  kCategoryRename,
  kMixed,
};

const char* OpName(Op op) {
  switch (op) {
    case Op::kPrice:
      return "price";
    case Op::kQuantity:
      return "quantity";
    case Op::kNewListing:
      return "new listing";
    case Op::kWithdraw:
      return "withdraw";
    case Op::kTitle:
      return "title";
    case Op::kEventStatus:
      return "event status";
    case Op::kEventSite:
      return "event site";
    case Op::kNewEvent:
      return "new event";
    case Op::kVenueMove:
      return "venue moved";
    case Op::kCategoryRename:
      return "category rename";
    case Op::kMixed:
      return "mixed";
  }
  return "?";
}

// Weights per 1000 writes.
constexpr std::pair<Op, int> kOpWeights[] = {
    {Op::kPrice, 250},    {Op::kQuantity, 150},   {Op::kNewListing, 70},    {Op::kWithdraw, 40},
    {Op::kTitle, 200},    {Op::kEventStatus, 60}, {Op::kEventSite, 80},     {Op::kNewEvent, 40},
    {Op::kVenueMove, 40}, {Op::kMixed, 60},       {Op::kCategoryRename, 10}};

// Made-up words titles are given, so the text of the index changes.
constexpr const char* kWords[] = {"zafirel", "quorvant", "bellumix", "tarandol", "mistrelo",
                                  "orrexia", "galvorin", "prismedo", "lunavera", "kestrolo"};

class MarketWriter {
 public:
  MarketWriter(db::Connection c, const Marketplace& m, uint64_t seed)
      : c_(std::move(c)), m_(m), rng_(seed), listings_(m.listings), events_(m.events) {}

  // One write transaction (retried after a deadlock, serialization failure or a
  // concurrent duplicate).
  Status WriteOne() {
    int pick = static_cast<int>(Uniform(0, 999));
    Op op = Op::kPrice;
    for (const auto& [o, w] : kOpWeights) {
      if (pick < w) {
        op = o;
        break;
      }
      pick -= w;
    }
    ++counts_[op];
    for (int attempt = 0;; ++attempt) {
      Status s = Do(op);
      if (s.ok() || attempt >= 20) return s;
      (void)c_.Exec("ROLLBACK");
      const std::string state = db::SqlStateOf(s.error());
      if (state != "40P01" && state != "40001" && state != "23505") return s;
    }
  }
  const std::map<Op, int>& counts() const { return counts_; }

 private:
  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  template <typename T>
  const T& Any(const std::vector<T>& v) {
    return v[static_cast<size_t>(Uniform(0, static_cast<int64_t>(v.size()) - 1))];
  }
  static std::string S(int64_t v) { return std::to_string(v); }
  const char* Word() { return kWords[Uniform(0, static_cast<int64_t>(std::size(kWords)) - 1)]; }

  Status Exec(const std::string& sql, const std::vector<db::Param>& params) {
    TQ_ASSIGN_OR_RETURN(auto r, c_.ExecParams(sql, params));
    (void)r;
    return Ok();
  }

  // A listing like `like`, for `event` (0: the same event).
  Status NewListing(int64_t like, int64_t event) {
    TQ_ASSIGN_OR_RETURN(
        auto r,
        c_.ExecParams(
            "INSERT INTO listings (event_id, seller_id, section, \"row\", quantity, "
            "quantity_available, price_minor, face_value_minor, currency, split, "
            "delivery) SELECT CASE WHEN $5::bigint = 0 THEN event_id ELSE $5 END, "
            "seller_id, 'E2E ' || $2::text, '9', $3::int, $3::int, $4::bigint, "
            "face_value_minor, currency, 'any', delivery FROM listings WHERE id = $1 "
            "RETURNING id",
            {S(like), S(Uniform(1, 99)), S(Uniform(1, 8)), S(Uniform(500, 900000)), S(event)}));
    for (int i = 0; i < r.rows(); ++i) listings_.push_back(r.GetInt(i, 0));
    return Ok();
  }

  // Runs `body` in one transaction.
  template <typename F>
  Status InTransaction(F body) {
    TQ_RETURN_IF_ERROR(c_.Exec("BEGIN"));
    Status s = body();
    if (!s.ok()) {
      (void)c_.Exec("ROLLBACK");
      return s;
    }
    TQ_RETURN_IF_ERROR(c_.Exec("COMMIT"));
    return Ok();
  }

  Status Do(Op op) {
    static const char* const kStatuses[] = {"scheduled", "scheduled", "cancelled", "postponed"};
    const int n = ++serial_;
    switch (op) {
      case Op::kPrice:
        return Exec("UPDATE listings SET price_minor = $2, updated_at = now() WHERE id = $1",
                    {S(Any(listings_)), S(Uniform(100, 2'000'000))});
      case Op::kQuantity:
        return Exec(
            "UPDATE listings SET quantity_available = least(quantity, $2::int), "
            "updated_at = now() WHERE id = $1",
            {S(Any(listings_)), S(Uniform(0, 12))});
      case Op::kNewListing:
        return NewListing(Any(listings_), 0);
      case Op::kWithdraw:
        return Exec("UPDATE listings SET status = 'withdrawn', updated_at = now() WHERE id = $1",
                    {S(Any(listings_))});
      case Op::kTitle: {
        const auto& [event, lang] = Any(m_.event_langs);
        return Exec(
            "UPDATE event_translations SET title = $3 WHERE event_id = $1 AND language_code = $2",
            {S(event), lang, fmt::format("{} {} e2e {} #{}", Word(), Word(), lang, n)});
      }
      case Op::kEventStatus:
        return Exec("UPDATE events SET status = $2, updated_at = now() WHERE id = $1",
                    {S(Any(events_)), kStatuses[Uniform(0, 3)]});
      case Op::kEventSite:
        // Removes the event from the site if it is listed there, adds it otherwise.
        return Exec(
            "WITH d AS (DELETE FROM event_sites WHERE event_id = $1::bigint AND "
            "site_code = $2::text RETURNING 1) "
            "INSERT INTO event_sites (event_id, site_code) SELECT $1::bigint, $2::text "
            "WHERE NOT EXISTS (SELECT 1 FROM d)",
            {S(Any(events_)), Any(m_.sites)});
      case Op::kNewEvent: {
        // A new event like an existing one, listed on a site, with a listing.
        const int64_t like = Any(m_.events);
        return InTransaction([&]() -> Status {
          TQ_ASSIGN_OR_RETURN(
              auto e, c_.ExecParams("INSERT INTO events (venue_id, category_id, starts_at) "
                                    "SELECT venue_id, category_id, now() + make_interval(hours => "
                                    "$2::int) FROM events WHERE id = $1 RETURNING id",
                                    {S(like), S(Uniform(72, 24 * 300))}));
          if (e.rows() != 1) return MakeError(ErrorCode::kInternal, "no event {}", like);
          const int64_t id = e.GetInt(0, 0);
          TQ_RETURN_IF_ERROR(
              Exec("INSERT INTO event_translations (event_id, language_code, title, description, "
                   "slug) SELECT $2, language_code, left($3 || ' ' || title, 300), description, "
                   "rtrim(left(slug, 150), '-') || '-e2e-' || $4 FROM event_translations "
                   "WHERE event_id = $1",
                   {S(like), S(id), fmt::format("{} new", Word()), S(n)}));
          TQ_RETURN_IF_ERROR(
              Exec("INSERT INTO event_performers (event_id, performer_id, position) "
                   "SELECT $2, performer_id, position FROM event_performers WHERE event_id = $1",
                   {S(like), S(id)}));
          TQ_RETURN_IF_ERROR(Exec("INSERT INTO event_sites (event_id, site_code) VALUES ($1, $2)",
                                  {S(id), Any(m_.sites)}));
          TQ_RETURN_IF_ERROR(NewListing(Any(listings_), id));
          events_.push_back(id);
          return Ok();
        });
      }
      case Op::kVenueMove:
        return Exec(
            "UPDATE venues SET latitude = greatest(-89, least(89, latitude + $2::float8)), "
            "longitude = greatest(-179, least(179, longitude + $3::float8)), "
            "updated_at = now() WHERE id = $1",
            {S(Any(m_.venues)), fmt::format("{:.4f}", (Uniform(0, 2000) - 1000) / 1000.0),
             fmt::format("{:.4f}", (Uniform(0, 2000) - 1000) / 1000.0)});
      case Op::kCategoryRename: {
        const auto& [category, lang] = Any(m_.category_langs);
        return Exec(
            "UPDATE category_translations SET name = $3 WHERE category_id = $1 AND "
            "language_code = $2",
            {S(category), lang, fmt::format("{} category {} #{}", Word(), lang, n)});
      }
      case Op::kMixed: {
        // An event's status, one of its titles and a new listing, in one transaction.
        const auto& [event, lang] = Any(m_.event_langs);
        return InTransaction([&]() -> Status {
          TQ_RETURN_IF_ERROR(Exec("UPDATE events SET status = $2, updated_at = now() WHERE id = $1",
                                  {S(event), kStatuses[Uniform(0, 3)]}));
          TQ_RETURN_IF_ERROR(
              Exec("UPDATE event_translations SET title = $3 WHERE event_id = $1 AND "
                   "language_code = $2",
                   {S(event), lang, fmt::format("{} mixed {} #{}", Word(), lang, n)}));
          TQ_ASSIGN_OR_RETURN(
              auto like,
              c_.ExecParams("SELECT id FROM listings WHERE event_id = $1 LIMIT 1", {S(event)}));
          if (like.rows() > 0) TQ_RETURN_IF_ERROR(NewListing(like.GetInt(0, 0), 0));
          return Ok();
        });
      }
    }
    return MakeError(ErrorCode::kInternal, "unknown op");
  }

  db::Connection c_;
  const Marketplace& m_;
  std::mt19937_64 rng_;
  std::vector<int64_t> listings_;
  std::vector<int64_t> events_;  // upcoming events, and the ones this writer made
  std::map<Op, int> counts_;
  int serial_ = 0;
};

// ---------------------------------------------------------------------------------------
// `taquilla search --json`, parsed.

struct SearchAnswer {
  int status = -1;
  std::string output;
  bool parsed = false;
  int64_t total = -1;
  std::vector<int64_t> ids;
  std::vector<std::string> titles;
  std::string facets;  // the facets object, serialized
  json::value facets_value;
};

SearchAnswer ParseSearch(CliResult r) {
  SearchAnswer a;
  a.status = r.status;
  a.output = std::move(r.output);
  // The JSON answer is the one line that starts with '{' (logs go to stderr).
  std::istringstream lines(a.output);
  std::string line, body;
  while (std::getline(lines, line)) {
    if (!line.empty() && line[0] == '{') body = line;
  }
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return a;
  const auto& o = v.as_object();
  const auto* total = o.if_contains("total");
  const auto* items = o.if_contains("items");
  const auto* facets = o.if_contains("facets");
  if (total == nullptr || !total->is_int64() || items == nullptr || !items->is_array() ||
      facets == nullptr) {
    return a;
  }
  a.total = total->as_int64();
  for (const auto& item : items->as_array()) {
    const auto* id = item.is_object() ? item.as_object().if_contains("id") : nullptr;
    const auto* title = item.is_object() ? item.as_object().if_contains("title") : nullptr;
    a.ids.push_back(id != nullptr && id->is_int64() ? id->as_int64() : -1);
    a.titles.push_back(title != nullptr && title->is_string() ? std::string(title->as_string())
                                                              : "");
  }
  a.facets = json::serialize(*facets);
  a.facets_value = *facets;
  a.parsed = true;
  return a;
}

bool Contains(const std::vector<int64_t>& v, int64_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// ---------------------------------------------------------------------------------------
// The fixture: a seeded database copy, a redis-server, sync with its own slot (streaming,
// every projection built); the indexer is started by each test.

class SearchE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pg_ = SeededDatabase("search_e2e");
    ASSERT_FALSE(pg_.empty()) << "no seeded database";
    dir_ = testing::MakeTempDir("taquilla-search-e2e");
    index_dir_ = dir_ + "/index";
    ASSERT_TRUE(MakeDirs(dir_ + "/redis").ok());
    int port = 0;
    auto redis = testing::StartEphemeralRedis(dir_ + "/redis", &port);
    ASSERT_TRUE(redis.ok()) << redis.error().message;
    redis_pid_ = *redis;
    redis_ = stack::RedisUrl(port);
    static std::atomic<int> counter{0};
    slot_ = fmt::format("search_e2e_{}_{}", getpid(), counter++);
    sync_ = std::make_unique<Daemon>(
        std::vector<std::string>{testing::TaquillaBin(), "sync", "--postgres-url", pg_,
                                 "--redis-url", redis_, "--slot", slot_},
        dir_ + "/sync.log");
    ASSERT_NO_FATAL_FAILURE(sync_->Start());
    ASSERT_TRUE(Eventually(
        [&] {
          return !sync_->Running() || (sync_->Metric("taquilla_sync_streaming") == 1 &&
                                       !RedisGet(redis_, "tq:lsn").empty());
        },
        120s))
        << "sync did not start streaming";
    ASSERT_TRUE(sync_->Running()) << "sync exited with status " << sync_->exit_status();
  }

  void TearDown() override {
    if (HasFailure()) {
      if (indexer_) {
        std::fprintf(stderr, "--- indexer log (last lines) ---\n%s\n",
                     indexer_->LogTail(80).c_str());
      }
      if (sync_) {
        std::fprintf(stderr, "--- sync log (last lines) ---\n%s\n", sync_->LogTail(40).c_str());
      }
    }
    if (tcpsrv_pid_ > 0) StopProcess(tcpsrv_pid_, SIGKILL, 10s);
    indexer_.reset();
    sync_.reset();
    if (redis_pid_ > 0) StopProcess(redis_pid_, SIGKILL, 10s);
    // Slots are cluster-wide and hold WAL back: drop this test's once it is released.
    auto admin = db::Connection::Open(testing::PostgresFixture::Get().AdminUrl());
    if (admin.ok() && !slot_.empty()) {
      (void)Eventually(
          [&] {
            (void)admin->ExecParams(
                "SELECT count(pg_drop_replication_slot(slot_name)) FROM pg_replication_slots "
                "WHERE slot_name = $1 AND NOT active",
                {slot_});
            auto left = admin->ExecParams(
                "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", {slot_});
            return left.ok() && left->GetInt(0, 0) == 0;
          },
          30s);
    }
    // The copy is only this test's (the cluster goes away when the binary exits).
    if (admin.ok() && !pg_.empty() && std::getenv("TAQUILLA_TEST_KEEP") == nullptr) {
      (void)admin->Exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", DbName(pg_)));
    }
    testing::RemoveTree(dir_);
  }

  // Options every command that touches the index takes (before the subcommand).
  std::vector<std::string> IndexSets() const {
    return {"--set", "search.fsync=false",      "--set", "queue.heartbeat_seconds=2",
            "--set", "search.dir=" + index_dir_};
  }

  // Starts the indexer and waits until it has built the index and drained the queue.
  void StartIndexer(int shards = 1) {
    std::vector<std::string> argv{testing::TaquillaBin()};
    for (const auto& s : IndexSets()) argv.push_back(s);
    for (const char* s : {"indexer", "--redis-url"}) argv.emplace_back(s);
    argv.push_back(redis_);
    argv.push_back("--index-dir");
    argv.push_back(index_dir_);
    argv.push_back("--shards");
    argv.push_back(std::to_string(shards));
    indexer_ = std::make_unique<Daemon>(argv, dir_ + "/indexer.log");
    const auto started = Steady::now();
    ASSERT_NO_FATAL_FAILURE(indexer_->Start());
    ASSERT_TRUE(Eventually(
        [&] {
          return !indexer_->Running() ||
                 (indexer_->Metric("taquilla_indexer_generation") >= 1 && QueueDrained(redis_));
        },
        120s))
        << "the indexer did not build the index";
    ASSERT_TRUE(indexer_->Running())
        << "the indexer exited with status " << indexer_->exit_status();
    std::fprintf(stderr, "indexer built %.0f documents in %.1f s\n",
                 indexer_->Metric("taquilla_indexer_documents"), SecondsSince(started));
  }

  // `taquilla search --json` on this test's index.
  SearchAnswer Search(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{"search",      "--redis-url", redis_,
                                  "--index-dir", index_dir_,    "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    return ParseSearch(RunCli(argv, kDeadline));
  }

  // The live generation (readlink <index>/current), 0 when there is none.
  int64_t LiveGeneration() const {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(index_dir_ + "/current", ec).string();
    if (ec || target.size() < 2 || target[0] != 'g') return 0;
    return std::strtoll(target.c_str() + 1, nullptr, 10);
  }

  // `taquilla verify --index`: Redis matches PostgreSQL and the index matches Redis.
  void ExpectNoDifferences(const std::string& when) {
    std::vector<std::string> argv = IndexSets();
    for (const std::string& s :
         {std::string("verify"), std::string("--index"), std::string("--postgres-url"), pg_,
          std::string("--redis-url"), redis_, std::string("--wait-ms"), std::string("60000")}) {
      argv.push_back(s);
    }
    const auto started = Steady::now();
    CliResult v = RunCli(argv, 180s);
    EXPECT_EQ(v.status, 0) << when << ":\n" << v.output;
    EXPECT_NE(v.output.find("compared with PostgreSQL: no differences"), std::string::npos)
        << when << ":\n"
        << v.output;
    EXPECT_NE(v.output.find("search documents expected"), std::string::npos) << when << ":\n"
                                                                             << v.output;
    EXPECT_NE(v.output.find("indexed: no differences"), std::string::npos) << when << ":\n"
                                                                           << v.output;
    std::fprintf(stderr, "verify --index (%s) took %.1f s\n", when.c_str(), SecondsSince(started));
  }

  // The dead letters of the "search" group as `taquilla queue stats` prints them.
  int64_t DeadLettersByCli() {
    CliResult r = RunCli({"queue", "stats", "--redis-url", redis_, "--group", "search"}, kDeadline);
    EXPECT_EQ(r.status, 0) << r.output;
    std::istringstream lines(r.output);
    std::string line;
    std::getline(lines, line);  // the header
    EXPECT_NE(line.find("dead"), std::string::npos) << r.output;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string group, depth, oldest, in_flight, dead;
      fields >> group >> depth >> oldest >> in_flight >> dead;
      if (group == "search") return std::strtoll(dead.c_str(), nullptr, 10);
    }
    ADD_FAILURE() << "no 'search' row in:\n" << r.output;
    return -1;
  }

  // `taquilla queue dead`: the dead letters, for a failure message.
  std::string DeadLetters() {
    return RunCli({"queue", "dead", "--redis-url", redis_, "--group", "search"}, kDeadline).output;
  }

  // The active site with the most upcoming scheduled events, and its default language.
  std::pair<std::string, std::string> BusiestSite(db::Connection& c) {
    auto r = c.Exec(
        "SELECT s.code, s.default_language FROM sites s JOIN event_sites es ON "
        "es.site_code = s.code JOIN events e ON e.id = es.event_id WHERE s.active AND "
        "e.status = 'scheduled' AND e.starts_at > now() + interval '1 day' "
        "GROUP BY 1, 2 ORDER BY count(*) DESC, 1 LIMIT 1");
    EXPECT_TRUE(r.ok() && r->rows() == 1) << (r.ok() ? "no site" : r.error().message);
    if (!r.ok() || r->rows() != 1) return {};
    return {r->GetString(0, 0), r->GetString(0, 1)};
  }

  std::string pg_, dir_, index_dir_, redis_, slot_;
  pid_t redis_pid_ = 0;
  pid_t tcpsrv_pid_ = 0;
  std::unique_ptr<Daemon> sync_, indexer_;
};

// ---------------------------------------------------------------------------------------
// 1. SIGKILL at random moments under a stream of writes.

TEST_F(SearchE2eTest, IndexerKilledRepeatedlyLosesNothing) {
  constexpr int kWrites = 3000;
  constexpr int kKills = 10;
  // The writer may run this many writes past a kill moment before that kill's restart has
  // caught up; the next kill comes 80-480 writes later, at a moment of the indexer's work
  // on fresh changes that nothing predicts.
  constexpr int kLead = 60;
  constexpr int kCheckpoint = kKills / 2;

  ASSERT_NO_FATAL_FAILURE(StartIndexer());
  auto setup = MustConnect(pg_);
  Marketplace market;
  ASSERT_NO_FATAL_FAILURE(market = LoadMarketplace(setup));

  std::mt19937_64 rng(kSeed);
  std::vector<int> kill_at;  // completed writes at which kill j happens
  for (int j = 0; j < kKills; ++j) {
    kill_at.push_back(150 + j * 280 + static_cast<int>(rng() % 200));
  }
  auto kills_due_before = [&](int n) {
    int due = 0;
    for (int t : kill_at) due += t + kLead <= n ? 1 : 0;
    return due;
  };

  std::mutex mu;
  std::condition_variable cv;
  int completed = 0, kills_done = 0;
  bool abort = false;
  std::string failure;
  std::map<Op, int> counts;
  std::thread writer([&] {
    MarketWriter w(MustConnect(pg_), market, kSeed * 31);
    for (int n = 0; n < kWrites; ++n) {
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return abort || kills_done >= kills_due_before(n); });
        if (abort) break;
      }
      Status s = w.WriteOne();
      std::lock_guard lock(mu);
      if (!s.ok()) {
        failure = s.error().message;
        abort = true;
        cv.notify_all();
        break;
      }
      ++completed;
      cv.notify_all();
    }
    std::lock_guard lock(mu);
    counts = w.counts();
  });
  // Whatever happens below, the writer ends before this scope does.
  struct Joiner {
    std::thread& thread;
    std::mutex& mu;
    std::condition_variable& cv;
    bool& abort;
    ~Joiner() {
      {
        std::lock_guard lock(mu);
        abort = true;
      }
      cv.notify_all();
      if (thread.joinable()) thread.join();
    }
  } joiner{writer, mu, cv, abort};

  const auto started = Steady::now();
  std::vector<double> restart_ms;
  int kills_holding = 0;  // kills that caught the indexer holding items
  int64_t items_held = 0;
  for (int j = 0; j < kKills; ++j) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return abort || completed >= kill_at[static_cast<size_t>(j)]; });
      ASSERT_FALSE(abort) << "writer failed: " << failure;
    }
    ASSERT_TRUE(indexer_->Running()) << "the indexer exited on its own (status "
                                     << indexer_->exit_status() << ") before kill " << j + 1;
    const std::string worker = WorkerId(indexer_->Log());
    ASSERT_FALSE(worker.empty()) << "the indexer did not log its worker id";
    const auto killed = Steady::now();
    indexer_->Kill();
    // What the killed process held: its processing list, which only the reaper empties.
    const int64_t held = RedisListLength(redis_, "tq:q:search:proc:" + worker);
    if (held > 0) ++kills_holding;
    items_held += held;
    ASSERT_NO_FATAL_FAILURE(indexer_->Start());
    // Restarted, and done with what the killed process held (the reaper gives its items
    // back once its heartbeat expires) and with the writes before the gate. Without this
    // wait an item caught by five kills in a row would go to the dead letters, as the queue
    // means it to: five deliveries that killed their worker.
    const bool caught_up =
        Eventually([&] { return !indexer_->Running() || QueueDrained(redis_); }, kDeadline);
    ASSERT_TRUE(indexer_->Running())
        << "the indexer exited with status " << indexer_->exit_status() << " after kill " << j + 1;
    ASSERT_TRUE(caught_up) << "after kill " << j + 1 << " the indexer did not drain the queue";
    EXPECT_LE(RedisListLength(redis_, "tq:q:search:proc:" + worker), 0)
        << "the killed worker's items were not given back";
    restart_ms.push_back(std::chrono::duration<double, std::milli>(Steady::now() - killed).count());
    if (j + 1 == kCheckpoint) {
      // A checkpoint: the writer stops at this kill's gate and the index must match. A
      // later write to an event rebuilds all of its documents and would hide a change lost
      // now, so the final verify alone would miss most losses.
      {
        std::unique_lock lock(mu);
        cv.wait(lock,
                [&] { return abort || completed >= kill_at[static_cast<size_t>(j)] + kLead; });
        ASSERT_FALSE(abort) << "writer failed: " << failure;
      }
      ASSERT_NO_FATAL_FAILURE(ExpectNoDifferences(fmt::format("after kill {}", j + 1)));
      ASSERT_FALSE(HasFailure());
    }
    {
      std::lock_guard lock(mu);
      kills_done = j + 1;
    }
    cv.notify_all();
  }
  writer.join();
  ASSERT_TRUE(failure.empty()) << "writer failed: " << failure;
  ASSERT_EQ(completed, kWrites);
  const double written = SecondsSince(started);
  for (const auto& [op, w] : kOpWeights) {
    EXPECT_GT(counts[op], 0) << "write kind '" << OpName(op) << "' never ran";
  }

  ASSERT_TRUE(indexer_->Running()) << "the indexer exited with status " << indexer_->exit_status();
  EXPECT_GT(kills_holding, 0) << "no kill caught the indexer holding items; the test proves little";
  ExpectNoDifferences("after the last kill");
  EXPECT_EQ(DeadLettersByCli(), 0) << DeadLetters();
  auto stats = SearchQueueStats(redis_);
  ASSERT_TRUE(stats.has_value());

  std::sort(restart_ms.begin(), restart_ms.end());
  std::fprintf(
      stderr,
      "indexer fault test (seed %llu): %d writes with %d kills in %.1f s; %d kills "
      "caught the indexer holding items (%lld in all), %lld items recovered from killed "
      "workers; kill to queue drained median %.0f ms, max %.0f ms; queue: %lld acked, %lld "
      "failed, %lld dead\n",
      static_cast<unsigned long long>(kSeed), kWrites, kKills, written, kills_holding,
      static_cast<long long>(items_held), static_cast<long long>(stats->recovered),
      restart_ms[restart_ms.size() / 2], restart_ms.back(), static_cast<long long>(stats->acked),
      static_cast<long long>(stats->failed), static_cast<long long>(stats->dead));
}

// ---------------------------------------------------------------------------------------
// 2. Freshness: a change is searchable within seconds.

TEST_F(SearchE2eTest, ChangeIsSearchableSoon) {
  ASSERT_NO_FATAL_FAILURE(StartIndexer());
  auto c = MustConnect(pg_);
  // An upcoming event on a site, with a title in the site's default language.
  auto r = c.Exec(
      "SELECT e.id, s.code, s.default_language FROM events e "
      "JOIN event_sites es ON es.event_id = e.id JOIN sites s ON s.code = es.site_code "
      "JOIN event_translations t ON t.event_id = e.id AND t.language_code = s.default_language "
      "WHERE s.active AND e.status = 'scheduled' AND e.starts_at > now() + interval '7 days' "
      "ORDER BY e.id LIMIT 1");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->rows(), 1);
  const int64_t id = r->GetInt(0, 0);
  const std::string site = r->GetString(0, 1), lang = r->GetString(0, 2);
  const std::string word = "zorblaxquint";
  const std::vector<std::string> query{"--site", site, "--lang", lang, word};

  SearchAnswer before = Search(query);
  ASSERT_TRUE(before.parsed) << before.output;
  EXPECT_EQ(before.total, 0) << "'" << word << "' is already in the index";

  auto u = c.ExecParams(
      "UPDATE event_translations SET title = left('Zorblaxquint ' || title, 300) "
      "WHERE event_id = $1 AND language_code = $2",
      {std::to_string(id), lang});
  ASSERT_TRUE(u.ok()) << u.error().message;
  auto changed = Steady::now();
  SearchAnswer last;
  int polls = 0;
  const bool found = Eventually(
      [&] {
        ++polls;
        last = Search(query);
        return last.parsed && Contains(last.ids, id);
      },
      10s);
  const double found_s = SecondsSince(changed);
  ASSERT_TRUE(found) << "event " << id << " not found by '" << word << "' on " << site << "/"
                     << lang << " after 10 s; last answer:\n"
                     << last.output;
  EXPECT_EQ(last.total, 1) << last.output;

  auto cancel =
      c.ExecParams("UPDATE events SET status = 'cancelled', updated_at = now() WHERE id = $1",
                   {std::to_string(id)});
  ASSERT_TRUE(cancel.ok()) << cancel.error().message;
  auto cancelled = Steady::now();
  const bool gone = Eventually(
      [&] {
        last = Search(query);
        return last.parsed && !Contains(last.ids, id);
      },
      10s);
  const double gone_s = SecondsSince(cancelled);
  ASSERT_TRUE(gone) << "cancelled event " << id << " still found after 10 s:\n" << last.output;
  EXPECT_EQ(last.total, 0) << last.output;
  std::fprintf(stderr,
               "freshness: a new title was searchable after %.2f s (%d searches), a cancelled "
               "event gone after %.2f s\n",
               found_s, polls, gone_s);
}

// ---------------------------------------------------------------------------------------
// 3. Remote shards: shard-1 through xapian-tcpsrv answers like the local one.

// A two-shard index with shard-1 served by xapian-tcpsrv, and queries drawn from the data
// of the busiest site.
class TwoShardsTest : public SearchE2eTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(SearchE2eTest::SetUp());
    ASSERT_NO_FATAL_FAILURE(StartIndexer(2));
    shard0_ = index_dir_ + "/current/shard-0";
    const std::string shard1 = index_dir_ + "/current/shard-1";
    ASSERT_TRUE(std::filesystem::exists(shard0_) && std::filesystem::exists(shard1));
    ASSERT_FALSE(std::filesystem::exists(index_dir_ + "/current/shard-2"));

    auto port = FindFreePort();
    ASSERT_TRUE(port.ok()) << port.error().message;
    port_ = *port;
    SpawnOptions o;
    o.argv = {"xapian-tcpsrv", "--port", std::to_string(port_), "--interface", "127.0.0.1", shard1};
    o.log_file = dir_ + "/tcpsrv.log";
    auto pid = Spawn(o);
    ASSERT_TRUE(pid.ok()) << "xapian-tcpsrv (Debian package xapian-tools) must be on PATH: "
                          << pid.error().message;
    tcpsrv_pid_ = *pid;
    std::optional<int> exited;
    ASSERT_TRUE(Eventually(
        [&] {
          return (exited = TryReap(tcpsrv_pid_)).has_value() || PortAccepts("127.0.0.1", port_);
        },
        kDeadline));
    if (exited) tcpsrv_pid_ = 0;
    ASSERT_FALSE(exited) << "xapian-tcpsrv exited with status " << *exited << ":\n"
                         << [&] {
                              auto log = ReadFile(o.log_file);
                              return log.ok() ? *log : std::string();
                            }();
    remote_ = fmt::format("{},127.0.0.1:{}", shard0_, port_);

    auto c = MustConnect(pg_);
    std::tie(site_, lang_) = BusiestSite(c);
    ASSERT_FALSE(site_.empty());
    all_ = Search({"--site", site_, "--per-page", "100"});
    ASSERT_TRUE(all_.parsed) << all_.output;
    ASSERT_GT(all_.total, 20) << all_.output;
    // The biggest category (its name as free text, and as a filter), a word of a title,
    // and a venue of the site's busiest one.
    const auto& cats = all_.facets_value.as_object().at("category").as_array();
    ASSERT_FALSE(cats.empty()) << all_.output;
    cat_id_ = std::to_string(cats[0].as_object().at("id").as_int64());
    cat_name_ = std::string(cats[0].as_object().at("name").as_string());
    for (const auto& t : all_.titles) {
      std::istringstream words(t);
      std::string w;
      while (words >> w) {
        if (w.size() > title_word_.size() &&
            std::all_of(w.begin(), w.end(), [](unsigned char ch) { return std::isalpha(ch); })) {
          title_word_ = w;
        }
      }
    }
    ASSERT_FALSE(title_word_.empty()) << all_.output;
    auto venue = c.ExecParams(
        "SELECT latitude, longitude FROM venues WHERE id = (SELECT e.venue_id FROM events e "
        "JOIN event_sites es ON es.event_id = e.id WHERE es.site_code = $1 AND "
        "e.status = 'scheduled' AND e.starts_at > now() + interval '1 day' "
        "GROUP BY e.venue_id ORDER BY count(*) DESC, e.venue_id LIMIT 1)",
        {site_});
    ASSERT_TRUE(venue.ok()) << venue.error().message;
    ASSERT_EQ(venue->rows(), 1);
    near_ = venue->GetString(0, 0) + "," + venue->GetString(0, 1);
  }

  void TearDown() override {
    if (tcpsrv_pid_ > 0) {
      EXPECT_FALSE(TryReap(tcpsrv_pid_).has_value()) << "xapian-tcpsrv exited";
    }
    SearchE2eTest::TearDown();
  }

  struct Compared {
    SearchAnswer local, mixed;
  };
  // The same search on both shards locally and on shard-0 locally + shard-1 remotely.
  Compared Both(const std::vector<std::string>& q) const {
    std::vector<std::string> args{"--site", site_};
    args.insert(args.end(), q.begin(), q.end());
    Compared c;
    c.local = Search(args);
    std::vector<std::string> remote_args{"--read-shards", remote_};
    remote_args.insert(remote_args.end(), args.begin(), args.end());
    c.mixed = Search(remote_args);
    return c;
  }

  static std::string Describe(const std::vector<std::string>& q) {
    std::string what;
    for (const auto& a : q) what += " " + a;
    return what.empty() ? " (no filter)" : what;
  }

  std::string shard0_, remote_, site_, lang_, cat_id_, cat_name_, title_word_, near_;
  int port_ = 0;
  SearchAnswer all_;
};

TEST_F(TwoShardsTest, TwoShardsThroughXapianTcpsrv) {
  // Every match on one page (per_page 100): the same ids in the same order, the same
  // total, the same facets.
  const std::vector<std::vector<std::string>> queries{
      {},
      {cat_name_},
      {title_word_},
      {"--category", cat_id_},
      {"--near", near_, "--radius-km", "100"},
      {"--sort", "price"},
      {"--sort", "price", "--available", "1"},
      {cat_name_, "--category", cat_id_, "--sort", "date"},
  };
  std::set<int64_t> parities;
  for (const auto& q : queries) {
    std::vector<std::string> args = q;
    args.insert(args.end(), {"--per-page", "100"});
    const std::string what = Describe(q);
    Compared c = Both(args);
    ASSERT_TRUE(c.local.parsed) << what << ":\n" << c.local.output;
    ASSERT_TRUE(c.mixed.parsed) << what << ":\n" << c.mixed.output;
    EXPECT_GT(c.local.total, 0) << what << " finds nothing; the comparison proves little";
    EXPECT_LE(c.local.total, 100) << what << " does not fit on one page";
    EXPECT_EQ(c.mixed.total, c.local.total) << what;
    EXPECT_EQ(c.mixed.ids, c.local.ids) << what;
    EXPECT_EQ(c.mixed.facets, c.local.facets) << what;
    for (int64_t id : c.local.ids) parities.insert(id % 2);
    std::fprintf(stderr, "query%s: %lld results\n", what.c_str(),
                 static_cast<long long>(c.local.total));
  }
  EXPECT_EQ(parities, (std::set<int64_t>{0, 1})) << "results from one shard only";

  // Pages of longer answers: the same ids and totals (facets: FacetsOfPagedAnswersMatch).
  for (const std::vector<std::string>& q : std::vector<std::vector<std::string>>{
           {},
           {"--page", "2"},
           {"--sort", "price", "--available", "1", "--page", "3", "--per-page", "10"},
           {title_word_, "--per-page", "3"}}) {
    const std::string what = Describe(q);
    Compared c = Both(q);
    ASSERT_TRUE(c.local.parsed) << what << ":\n" << c.local.output;
    ASSERT_TRUE(c.mixed.parsed) << what << ":\n" << c.mixed.output;
    EXPECT_FALSE(c.local.ids.empty()) << what;
    EXPECT_EQ(c.mixed.total, c.local.total) << what;
    EXPECT_EQ(c.mixed.ids, c.local.ids) << what;
  }

  // Only the remote shard: its events are all odd.
  SearchAnswer odd = Search(
      {"--read-shards", fmt::format("127.0.0.1:{}", port_), "--site", site_, "--per-page", "100"});
  ASSERT_TRUE(odd.parsed) << odd.output;
  EXPECT_GT(odd.total, 0);
  EXPECT_LT(odd.total, all_.total);
  for (int64_t id : odd.ids) EXPECT_EQ(id % 2, 1) << "event " << id << " in shard-1";
}

// With a remote shard, the facets of an answer with more matches than page * per_page:
// Xapian 1.4's matcher, on a value-sorted match, hands a candidate that sorts below the
// page's last item to the match spy without checking whether it came from a remote
// database, whose spy has already counted it (multimatch.cc: "Making note of match item
// which sorts lower than min_item"); the Searcher counts facets in a pass of their own.
TEST_F(TwoShardsTest, FacetsOfPagedAnswersMatch) {
  for (const std::vector<std::string>& q : std::vector<std::vector<std::string>>{
           {},
           {"--sort", "price"},
           {"--per-page", "50"},
           {"--sort", "price", "--available", "1", "--page", "2", "--per-page", "10"}}) {
    const std::string what = Describe(q);
    Compared c = Both(q);
    ASSERT_TRUE(c.local.parsed && c.mixed.parsed) << what;
    EXPECT_EQ(c.mixed.total, c.local.total) << what;
    EXPECT_EQ(c.mixed.facets, c.local.facets) << what;
  }
}

// ---------------------------------------------------------------------------------------
// 4. Reindex under writes: searches keep answering, nothing is lost.

class ReindexTest : public SearchE2eTest {
 protected:
  // The language most sites offer besides their default one.
  std::string SecondLanguage(db::Connection& c) {
    auto r = c.Exec(
        "SELECT l.language_code FROM site_languages l JOIN sites s ON s.code = l.site_code "
        "WHERE s.active AND l.language_code <> s.default_language GROUP BY 1 "
        "ORDER BY count(*) DESC, 1 LIMIT 1");
    EXPECT_TRUE(r.ok() && r->rows() == 1);
    return r.ok() && r->rows() == 1 ? r->GetString(0, 0) : "";
  }

  // Runs `taquilla reindex` with each of `runs` (extra flags: none, or --lang L) in turn
  // while a writer changes the marketplace, the indexer follows the queue and a loop of
  // `taquilla search` runs. Then every search has answered, each reindex has published the
  // next generation, the indexer writes the last one, and verify --index finds nothing.
  void ReindexUnderWrites(const std::vector<std::vector<std::string>>& runs) {
    constexpr int64_t kBacklog = 200;
    ASSERT_NO_FATAL_FAILURE(StartIndexer());
    const int64_t generation = LiveGeneration();
    ASSERT_GE(generation, 1);
    auto setup = MustConnect(pg_);
    Marketplace market;
    ASSERT_NO_FATAL_FAILURE(market = LoadMarketplace(setup));
    auto [site, site_lang] = BusiestSite(setup);
    ASSERT_FALSE(site.empty());

    std::atomic<bool> stop{false};
    std::atomic<int> writes{0}, searches{0};
    std::mutex mu;
    std::string write_failure;
    std::vector<std::string> search_failures;
    std::thread writer([&] {
      MarketWriter w(MustConnect(pg_), market, kSeed * 37);
      while (!stop) {
        // Back-pressure: the writer waits while the indexer has a backlog, so changes keep
        // arriving during the reindex at the rate the pipeline takes them.
        if (writes % 20 == 0) {
          Eventually([&] { return stop || RedisListLength(redis_, "tq:q:search") < kBacklog; },
                     kDeadline);
        }
        Status s = w.WriteOne();
        if (!s.ok()) {
          std::lock_guard lock(mu);
          write_failure = s.error().message;
          return;
        }
        ++writes;
      }
    });
    std::thread searcher([&] {
      while (!stop) {
        SearchAnswer a = Search({"--site", site});
        ++searches;
        if (a.status != 0 || !a.parsed || a.total <= 0) {
          std::lock_guard lock(mu);
          search_failures.push_back(
              fmt::format("status {}, total {}:\n{}", a.status, a.total, a.output));
        }
      }
    });
    // Whatever happens below, the threads end before this scope does.
    struct Stopper {
      std::atomic<bool>& stop;
      std::thread& a;
      std::thread& b;
      ~Stopper() {
        stop = true;
        if (a.joinable()) a.join();
        if (b.joinable()) b.join();
      }
    } stopper{stop, writer, searcher};

    int64_t expected = generation;
    for (const auto& extra : runs) {
      // Changes flow before each reindex.
      const int w0 = writes;
      ASSERT_TRUE(Eventually([&] { return writes >= w0 + 200; }, kDeadline));
      std::vector<std::string> argv = IndexSets();
      for (const std::string& s :
           {std::string("reindex"), std::string("--redis-url"), redis_, std::string("--index-dir"),
            index_dir_, std::string("--no-progress")}) {
        argv.push_back(s);
      }
      argv.insert(argv.end(), extra.begin(), extra.end());
      std::string what;
      for (const auto& a : extra) what += " " + a;
      const auto started = Steady::now();
      const int w1 = writes;
      CliResult r = RunCli(argv, 180s);
      std::fprintf(stderr, "reindex%s took %.1f s under %d writes: %s", what.c_str(),
                   SecondsSince(started), writes - w1, r.output.c_str());
      ++expected;
      ASSERT_EQ(r.status, 0) << "reindex" << what << ":\n" << r.output;
      EXPECT_NE(r.output.find(fmt::format("into generation {}:", expected)), std::string::npos)
          << "reindex" << what << ":\n"
          << r.output;
      if (extra.size() == 2 && extra[0] == "--lang") {
        EXPECT_NE(r.output.find(" in " + extra[1] + ", "), std::string::npos) << r.output;
      }
      EXPECT_EQ(LiveGeneration(), expected) << "after reindex" << what;
    }
    const int w2 = writes;
    ASSERT_TRUE(Eventually([&] { return writes >= w2 + 100 && searches >= 10; }, kDeadline));
    stop = true;
    writer.join();
    searcher.join();
    ASSERT_TRUE(write_failure.empty()) << "writer failed: " << write_failure;
    EXPECT_TRUE(search_failures.empty())
        << search_failures.size() << " of " << searches << " searches failed; the first:\n"
        << search_failures.front();

    ASSERT_TRUE(indexer_->Running())
        << "the indexer exited with status " << indexer_->exit_status();
    ExpectNoDifferences("after reindexing under writes");
    EXPECT_TRUE(Eventually(
        [&] { return indexer_->Metric("taquilla_indexer_generation") == expected; }, kDeadline))
        << "the indexer still writes generation " << indexer_->Metric("taquilla_indexer_generation")
        << ", not " << expected;
    EXPECT_EQ(DeadLettersByCli(), 0) << DeadLetters();
    // Generations before the one replaced last are deleted.
    if (runs.size() >= 2) {
      EXPECT_FALSE(std::filesystem::exists(fmt::format("{}/g{}", index_dir_, generation)));
    }
    std::fprintf(stderr,
                 "reindex test: %d writes, %d searches (%zu failed), generation %lld -> %lld, "
                 "%.0f batches replayed after a swap\n",
                 writes.load(), searches.load(), search_failures.size(),
                 static_cast<long long>(generation), static_cast<long long>(LiveGeneration()),
                 indexer_->Metric("taquilla_indexer_replays_total"));
  }
};

TEST_F(ReindexTest, ReindexWhileWritingLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(ReindexUnderWrites({{}, {}}));
}

// `reindex --lang L` copies the other languages' documents from the live generation while
// the indexer keeps committing to it (a reader's revision is discarded two commits later):
// the copy reopens and goes on. (A DatabaseModifiedError inside a write makes Xapian cancel
// every uncommitted change of the generation being built: the copy reads a document whole
// before it writes it.)
TEST_F(ReindexTest, ReindexOneLanguageWhileWritingLosesNothing) {
  auto c = MustConnect(pg_);
  const std::string lang = SecondLanguage(c);
  ASSERT_FALSE(lang.empty());
  ASSERT_NO_FATAL_FAILURE(ReindexUnderWrites({{}, {"--lang", lang}}));
}

// ---------------------------------------------------------------------------------------
// 5. Bad input: exit 2 naming the problem; syntax characters are not an error.

TEST_F(SearchE2eTest, BadInputFailsClearly) {
  ASSERT_NO_FATAL_FAILURE(StartIndexer());
  auto c = MustConnect(pg_);
  auto [site, lang] = BusiestSite(c);
  ASSERT_FALSE(site.empty());

  SearchAnswer r = Search({"--site", "zz", "rock"});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("taquilla search: error:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("no site 'zz'"), std::string::npos) << r.output;

  r = Search({"--site", site, std::string(300, 'a')});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("'q'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("256"), std::string::npos) << r.output;

  r = Search({"--site", site, "--near", "999,0"});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("'near'"), std::string::npos) << r.output;

  r = Search({"--site", site, "--sort", "cheapest"});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("'sort'"), std::string::npos) << r.output;

  r = Search({"--site", site, "--lang", "xx"});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("'xx'"), std::string::npos) << r.output;

  for (const char* q : {"\"((", "\"", "((", "*", "-", "\"\"\" ) ( +"}) {
    r = Search({"--site", site, "--", q});
    EXPECT_EQ(r.status, 0) << "query '" << q << "':\n" << r.output;
    EXPECT_TRUE(r.parsed) << "query '" << q << "':\n" << r.output;
  }

  // A query the parser cannot read is searched as plain words.
  SearchAnswer plain = Search({"--site", site, "--per-page", "5"});
  ASSERT_TRUE(plain.parsed && !plain.titles.empty()) << plain.output;
  std::string word;
  {
    std::istringstream words(plain.titles[0]);
    std::string w;
    while (words >> w) {
      if (w.size() > word.size() &&
          std::all_of(w.begin(), w.end(), [](unsigned char ch) { return std::isalpha(ch); })) {
        word = w;
      }
    }
  }
  ASSERT_FALSE(word.empty());
  SearchAnswer ok = Search({"--site", site, word});
  SearchAnswer broken = Search({"--site", site, "\"" + word + " (("});
  ASSERT_TRUE(ok.parsed) << ok.output;
  ASSERT_TRUE(broken.parsed) << broken.output;
  EXPECT_GT(ok.total, 0) << ok.output;
  EXPECT_EQ(broken.total, ok.total) << broken.output;
}

}  // namespace
}  // namespace taquilla
