// `taquilla sync` end to end, under faults: the real binary as child processes against a
// real PostgreSQL (wal_level=logical, a copy of a demo-seeded database per test) and a
// redis-server each test starts itself on a free port (so it can kill and restart it).
//
//   KilledRepeatedlyUnderWritesLosesNothing  10,000 mixed writes from 3 threads while sync
//       is SIGKILLed 20 times; then `taquilla verify` finds no difference and the "search"
//       change queue holds every event the writer touched.
//   RedisMasterRestartedEmptyIsReconciled   redis-server killed and restarted empty (no
//       AOF, no RDB) on the same port under a running sync.
//   RedisMasterKilledMidStreamIsReconciled  the same while sync is writing a stream of
//       changes into it.
//   DroppedSlotIsRecreatedAndRebuilt        the slot dropped while sync is down: a new
//       slot, everything built from its snapshot, strays removed.
//   KilledDuringSnapshotBuildBuildsAgain    killed mid-build from a new slot.
//   RebuildRestoresDeletedKeys / RebuildRemovesStrayKeys   `taquilla rebuild` repairs
//       deleted event documents and removes keys no unit owns.
//   BadInputFailsClearly                    unreachable servers, a bad slot name.
//
// Randomness is seeded (kSeed); every wait polls a condition with a deadline.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/files.h"
#include "common/net.h"
#include "common/process.h"
#include "db/pg.h"
#include "e2e_support.h"
#include "redis/client.h"
#include "stack/servers.h"
#include "sync/lsn.h"
#include "testing/eventually.h"
#include "testing/http_client.h"
#include "testing/servers.h"

namespace taquilla {
namespace {

using namespace std::chrono_literals;
using e2e::CliResult;
using e2e::DbName;
using e2e::MustConnect;
using e2e::RedisGet;
using e2e::RunCli;
using e2e::SeededDatabase;
using testing::Eventually;

// The seed of every random choice; TAQUILLA_TEST_SEED=<n> replays another run.
const uint64_t kSeed = [] {
  const char* env = std::getenv("TAQUILLA_TEST_SEED");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : uint64_t{20240611};
}();
constexpr auto kDeadline = 60s;

// ---------------------------------------------------------------------------------------
// Running the CLI (RunCli, the seeded databases and RedisGet are in e2e_support.h).

CliResult Verify(const std::string& pg, const std::string& redis, int wait_ms = 60000) {
  return RunCli(
      {"verify", "--postgres-url", pg, "--redis-url", redis, "--wait-ms", std::to_string(wait_ms)},
      std::chrono::milliseconds(wait_ms) + 120s);
}

// pg_current_wal_lsn() as sync's 16-hex-digit key ("" on error).
std::string CurrentWal(db::Connection& c) {
  auto r = c.Exec("SELECT pg_current_wal_lsn()::text");
  if (!r.ok()) return "";
  auto lsn = sync::ParseLsn(r->GetString(0, 0));
  return lsn.ok() ? sync::LsnKey(*lsn) : "";
}

// ---------------------------------------------------------------------------------------
// A redis-server of the test's own: killed and restarted on the same port, never with
// persistence (no AOF, no RDB), so a restart comes back empty.

class RedisServer {
 public:
  RedisServer() : dir_(testing::MakeTempDir("taquilla-sync-e2e-redis")) {}
  ~RedisServer() {
    Kill();
    testing::RemoveTree(dir_);
  }

  // On a free port the first time; a restart keeps its port.
  void Start() {
    auto pid = testing::StartEphemeralRedis(dir_, &port_);
    ASSERT_TRUE(pid.ok()) << pid.error().message;
    pid_ = *pid;
  }

  // SIGKILL: whatever it held is gone.
  void Kill() {
    if (pid_ > 0) StopProcess(pid_, SIGKILL, 10s);
    pid_ = 0;
  }

  // Killed and started again, empty, on the same port.
  void Restart() {
    Kill();
    Start();
  }

  std::string url() const { return stack::RedisUrl(port_); }
  int port() const { return port_; }

 private:
  std::string dir_;
  int port_ = 0;
  pid_t pid_ = 0;
};

redis::Client MustRedis(const std::string& url) {
  auto c = redis::Client::Connect(url, 5s);
  if (!c.ok()) {
    std::fprintf(stderr, "cannot connect to %s: %s\n", url.c_str(), c.error().message.c_str());
    std::abort();
  }
  return std::move(c).value();
}

std::string MasterReplid(redis::Client& c) {
  auto r = c.Cmd("INFO", "replication");
  if (!r.ok()) return "";
  std::string text(r->str());
  auto at = text.find("master_replid:");
  if (at == std::string::npos) return "";
  at += 14;
  return text.substr(at, text.find_first_of("\r\n", at) - at);
}

// Every key matching `pattern` (SCAN).
std::vector<std::string> ScanKeys(redis::Client& c, const std::string& pattern) {
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    auto r = c.Cmd("SCAN", cursor, "MATCH", pattern, "COUNT", "1000");
    if (!r.ok() || r->size() != 2) break;
    cursor = std::string((*r)[0].str());
    auto batch = (*r)[1];
    for (size_t i = 0; i < batch.size(); ++i) keys.emplace_back(batch[i].str());
  } while (cursor != "0");
  return keys;
}

// ---------------------------------------------------------------------------------------
// `taquilla sync` as a child process; /metrics on a new free port at every start.

class SyncProcess : public e2e::Daemon {
 public:
  SyncProcess(const std::string& pg, const std::string& redis, std::string slot, std::string log)
      : Daemon({testing::TaquillaBin(), "sync", "--postgres-url", pg, "--redis-url", redis,
                "--slot", slot},
               std::move(log)),
        slot_(std::move(slot)) {}

  bool Streaming() const { return Metric("taquilla_sync_streaming") == 1; }
  const std::string& slot() const { return slot_; }

 private:
  std::string slot_;
};

// ---------------------------------------------------------------------------------------
// The writer: short transactions of the kinds the marketplace makes, on one connection,
// with its own seeded RNG. Each returns the event ids whose projection it changes directly
// (venue and category renames change many events through fan-out; they return none).

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
  ints("SELECT id FROM events ORDER BY id", m.events);
  pairs("SELECT event_id, language_code FROM event_translations ORDER BY 1, 2", m.event_langs);
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
  kEventStatus,
  kTitle,
  kVenueRename,
  kEventSite,
  kCategoryRename,
  kBulkPrices,
  kMixed,
};

// Weights per 1000 writes.
constexpr std::pair<Op, int> kOpWeights[] = {
    {Op::kPrice, 300},         {Op::kQuantity, 180},  {Op::kNewListing, 100}, {Op::kWithdraw, 60},
    {Op::kEventStatus, 80},    {Op::kTitle, 90},      {Op::kVenueRename, 30}, {Op::kEventSite, 100},
    {Op::kCategoryRename, 10}, {Op::kBulkPrices, 20}, {Op::kMixed, 30}};

class MarketWriter {
 public:
  MarketWriter(db::Connection c, const Marketplace& m, uint64_t seed)
      : c_(std::move(c)), m_(m), rng_(seed), listings_(m.listings) {}

  // One write transaction (retried after a deadlock, serialization failure or a
  // concurrent duplicate); the event ids it changed directly.
  Result<std::vector<int64_t>> WriteOne() {
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
      auto r = Do(op);
      if (r.ok() || attempt >= 20) return r;
      const std::string state = db::SqlStateOf(r.error());
      if (state != "40P01" && state != "40001" && state != "23505") return r;
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

  // Runs the statement; the first column of every returned row as ids.
  Result<std::vector<int64_t>> Ids(const std::string& sql, const std::vector<db::Param>& params) {
    TQ_ASSIGN_OR_RETURN(auto r, c_.ExecParams(sql, params));
    std::vector<int64_t> ids;
    for (int i = 0; i < r.rows(); ++i) ids.push_back(r.GetInt(i, 0));
    return ids;
  }

  Result<std::vector<int64_t>> NewListing(int64_t like) {
    TQ_ASSIGN_OR_RETURN(
        auto r,
        c_.ExecParams("INSERT INTO listings (event_id, seller_id, section, \"row\", quantity, "
                      "quantity_available, price_minor, face_value_minor, currency, split, "
                      "delivery) SELECT event_id, seller_id, 'E2E ' || $2::text, '9', $3::int, "
                      "$3::int, $4::bigint, face_value_minor, currency, 'any', delivery "
                      "FROM listings WHERE id = $1 RETURNING id, event_id",
                      {S(like), S(Uniform(1, 99)), S(Uniform(1, 8)), S(Uniform(500, 900000))}));
    std::vector<int64_t> events;
    for (int i = 0; i < r.rows(); ++i) {
      listings_.push_back(r.GetInt(i, 0));
      events.push_back(r.GetInt(i, 1));
    }
    return events;
  }

  Result<std::vector<int64_t>> Do(Op op) {
    static const char* const kStatuses[] = {"scheduled", "cancelled", "postponed"};
    const int n = ++serial_;
    switch (op) {
      case Op::kPrice:
        return Ids(
            "UPDATE listings SET price_minor = $2, updated_at = now() WHERE id = $1 "
            "RETURNING event_id",
            {S(Any(listings_)), S(Uniform(100, 2'000'000))});
      case Op::kQuantity:
        return Ids(
            "UPDATE listings SET quantity_available = least(quantity, $2::int), "
            "updated_at = now() WHERE id = $1 RETURNING event_id",
            {S(Any(listings_)), S(Uniform(0, 12))});
      case Op::kNewListing:
        return NewListing(Any(listings_));
      case Op::kWithdraw:
        return Ids(
            "UPDATE listings SET status = 'withdrawn', updated_at = now() WHERE id = $1 "
            "RETURNING event_id",
            {S(Any(listings_))});
      case Op::kEventStatus:
        return Ids("UPDATE events SET status = $2, updated_at = now() WHERE id = $1 RETURNING id",
                   {S(Any(m_.events)), kStatuses[Uniform(0, 2)]});
      case Op::kTitle: {
        const auto& [event, lang] = Any(m_.event_langs);
        return Ids(
            "UPDATE event_translations SET title = $3 WHERE event_id = $1 AND "
            "language_code = $2 RETURNING event_id",
            {S(event), lang, fmt::format("E2E title {} {} #{}", lang, event, n)});
      }
      case Op::kVenueRename: {
        TQ_RETURN_IF_ERROR(
            c_.ExecParams("UPDATE venues SET name = $2, updated_at = now() WHERE id = $1",
                          {S(Any(m_.venues)), fmt::format("E2E Venue #{}", n)}));
        return std::vector<int64_t>{};
      }
      case Op::kEventSite: {
        // Removes the event from the site if it is listed there, adds it otherwise.
        int64_t event = Any(m_.events);
        TQ_RETURN_IF_ERROR(c_.ExecParams(
            "WITH d AS (DELETE FROM event_sites WHERE event_id = $1::bigint AND "
            "site_code = $2::text RETURNING 1) "
            "INSERT INTO event_sites (event_id, site_code) SELECT $1::bigint, $2::text "
            "WHERE NOT EXISTS (SELECT 1 FROM d)",
            {S(event), Any(m_.sites)}));
        return std::vector<int64_t>{event};
      }
      case Op::kCategoryRename: {
        const auto& [category, lang] = Any(m_.category_langs);
        TQ_RETURN_IF_ERROR(
            c_.ExecParams("UPDATE category_translations SET name = $3 WHERE category_id = $1 AND "
                          "language_code = $2",
                          {S(category), lang, fmt::format("E2E category {} #{}", lang, n)}));
        return std::vector<int64_t>{};
      }
      case Op::kBulkPrices: {
        // 50 listings in one transaction.
        std::string ids = "{";
        for (int i = 0; i < 50; ++i) ids += (i ? "," : "") + S(Any(listings_));
        ids += "}";
        TQ_RETURN_IF_ERROR(c_.Exec("BEGIN"));
        auto r =
            Ids("UPDATE listings SET price_minor = 100 + (price_minor * 7 + $2) % 1000000, "
                "updated_at = now() WHERE id = ANY($1::bigint[]) RETURNING event_id",
                {ids, S(Uniform(1, 1000))});
        if (!r.ok()) {
          (void)c_.Exec("ROLLBACK");
          return r;
        }
        TQ_RETURN_IF_ERROR(c_.Exec("COMMIT"));
        return r;
      }
      case Op::kMixed: {
        // An event's status, one of its titles and a new listing, in one transaction.
        const auto& [event, lang] = Any(m_.event_langs);
        TQ_RETURN_IF_ERROR(c_.Exec("BEGIN"));
        auto body = [&]() -> Result<std::vector<int64_t>> {
          TQ_RETURN_IF_ERROR(
              c_.ExecParams("UPDATE events SET status = $2, updated_at = now() WHERE id = $1",
                            {S(event), kStatuses[Uniform(0, 2)]}));
          TQ_RETURN_IF_ERROR(
              c_.ExecParams("UPDATE event_translations SET title = $3 WHERE event_id = $1 AND "
                            "language_code = $2",
                            {S(event), lang, fmt::format("E2E mixed {} #{}", lang, n)}));
          TQ_ASSIGN_OR_RETURN(auto like, c_.ExecParams("SELECT id FROM listings WHERE "
                                                       "event_id = $1 LIMIT 1",
                                                       {S(event)}));
          std::vector<int64_t> events{event};
          if (like.rows() > 0) {
            TQ_ASSIGN_OR_RETURN(auto more, NewListing(like.GetInt(0, 0)));
            events.insert(events.end(), more.begin(), more.end());
          }
          return events;
        };
        auto r = body();
        if (!r.ok()) {
          (void)c_.Exec("ROLLBACK");
          return r;
        }
        TQ_RETURN_IF_ERROR(c_.Exec("COMMIT"));
        return r;
      }
    }
    return MakeError(ErrorCode::kInternal, "unknown op");
  }

  db::Connection c_;
  const Marketplace& m_;
  std::mt19937_64 rng_;
  std::vector<int64_t> listings_;
  std::map<Op, int> counts_;
  int serial_ = 0;
};

// `n` writes from one thread; adds the events they touched to `touched`.
void WriteSome(const std::string& pg, const Marketplace& m, uint64_t seed, int n,
               std::set<int64_t>* touched = nullptr) {
  MarketWriter w(MustConnect(pg), m, seed);
  for (int i = 0; i < n; ++i) {
    auto r = w.WriteOne();
    ASSERT_TRUE(r.ok()) << r.error().message;
    if (touched) touched->insert(r->begin(), r->end());
  }
}

// ---------------------------------------------------------------------------------------
// The fixture: a seeded database copy, a redis-server, a sync child with its own slot.

class SyncE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pg_ = SeededDatabase("sync_e2e");
    ASSERT_FALSE(pg_.empty()) << "no seeded database";
    redis_ = std::make_unique<RedisServer>();
    ASSERT_NO_FATAL_FAILURE(redis_->Start());
    static std::atomic<int> counter{0};
    slot_ = fmt::format("sync_e2e_{}_{}", getpid(), counter++);
    log_ = fmt::format("/tmp/taquilla-sync-e2e-{}.log", slot_);
    sync_ = std::make_unique<SyncProcess>(pg_, redis_->url(), slot_, log_);
  }

  void TearDown() override {
    if (HasFailure() && sync_) {
      std::fprintf(stderr, "--- sync log (last lines of %s) ---\n%s\n", log_.c_str(),
                   sync_->LogTail(80).c_str());
    }
    sync_.reset();
    redis_.reset();
    // Slots are cluster-wide and hold WAL back: drop this test's once it is released.
    auto admin = db::Connection::Open(testing::PostgresFixture::Get().AdminUrl());
    if (admin.ok()) {
      Eventually(
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
      // The copy is only this test's (the cluster goes away when the binary exits).
      if (!pg_.empty() && std::getenv("TAQUILLA_TEST_KEEP") == nullptr) {
        (void)admin->Exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", DbName(pg_)));
      }
    }
    if (!HasFailure() && std::getenv("TAQUILLA_TEST_KEEP") == nullptr) std::remove(log_.c_str());
  }

  // `taquilla verify` (after waiting for sync to catch up) finds no differences.
  void ExpectNoDifferences() {
    CliResult v = Verify(pg_, redis_->url());
    EXPECT_EQ(v.status, 0) << v.output;
    EXPECT_NE(v.output.find("no differences"), std::string::npos) << v.output;
  }

  // Starts sync and waits until it streams, having built every projection.
  void StartSyncAndWaitBuilt() {
    ASSERT_NO_FATAL_FAILURE(sync_->Start());
    ASSERT_TRUE(Eventually(
        [&] {
          return !sync_->Running() ||
                 (sync_->Streaming() && !RedisGet(redis_->url(), "tq:lsn").empty());
        },
        120s))
        << "sync did not start streaming";
    ASSERT_TRUE(sync_->Running()) << "sync exited with status " << sync_->exit_status();
  }

  std::string pg_, slot_, log_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<SyncProcess> sync_;
};

// ---------------------------------------------------------------------------------------
// 1. SIGKILL at random moments under a stream of writes.

TEST_F(SyncE2eTest, KilledRepeatedlyUnderWritesLosesNothing) {
  constexpr int kWrites = 10'000;
  constexpr int kThreads = 3;
  constexpr int kKills = 20;
  // Writers may run this many writes past a kill moment before that kill's restart has
  // made progress: sync always restarts behind the writer, and the next kill comes after
  // ~50-650 more writes, at an unpredictable point of sync's work.
  constexpr int kLead = 100;

  const auto started = std::chrono::steady_clock::now();
  ASSERT_NO_FATAL_FAILURE(StartSyncAndWaitBuilt());
  const auto built = std::chrono::steady_clock::now();

  auto setup = MustConnect(pg_);
  Marketplace market;
  ASSERT_NO_FATAL_FAILURE(market = LoadMarketplace(setup));

  std::mt19937_64 rng(kSeed);
  std::vector<int> kill_at;  // completed writes at which kill j happens
  for (int j = 0; j < kKills; ++j) {
    kill_at.push_back(300 + j * 450 + static_cast<int>(rng() % 300));
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
  std::atomic<int> next{0};
  std::vector<std::set<int64_t>> touched(kThreads);
  std::vector<std::map<Op, int>> counts(kThreads);

  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      MarketWriter w(MustConnect(pg_), market, kSeed * 31 + static_cast<uint64_t>(t));
      for (;;) {
        const int n = next.fetch_add(1);
        if (n >= kWrites) break;
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return abort || kills_done >= kills_due_before(n); });
          if (abort) break;
        }
        auto r = w.WriteOne();
        std::lock_guard lock(mu);
        if (!r.ok()) {
          failure = r.error().message;
          abort = true;
          cv.notify_all();
          break;
        }
        touched[static_cast<size_t>(t)].insert(r->begin(), r->end());
        ++completed;
        cv.notify_all();
      }
      counts[static_cast<size_t>(t)] = w.counts();
    });
  }
  // Whatever happens below, the writers end before this scope does.
  struct Joiner {
    Joiner(std::vector<std::thread>& t, std::mutex& m, std::condition_variable& c, bool& a)
        : threads(t), mu(m), cv(c), abort(a) {}
    std::vector<std::thread>& threads;
    std::mutex& mu;
    std::condition_variable& cv;
    bool& abort;
    ~Joiner() {
      {
        std::lock_guard lock(mu);
        abort = true;
      }
      cv.notify_all();
      for (auto& th : threads) {
        if (th.joinable()) th.join();
      }
    }
  };
  std::optional<Joiner> joiner(std::in_place, writers, mu, cv, abort);

  auto status_db = MustConnect(pg_);
  std::vector<double> restart_ms;
  int checkpoints = 0;
  for (int j = 0; j < kKills; ++j) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return abort || completed >= kill_at[static_cast<size_t>(j)]; });
      ASSERT_FALSE(abort) << "writer failed: " << failure;
    }
    ASSERT_TRUE(sync_->Running()) << "sync exited on its own (status " << sync_->exit_status()
                                  << ") before kill " << j + 1;
    const std::string before = RedisGet(redis_->url(), "tq:lsn");
    const auto killed = std::chrono::steady_clock::now();
    sync_->Kill();
    ASSERT_NO_FATAL_FAILURE(sync_->Start());
    // Restarted and made progress: streaming again, and the applied LSN moved past where
    // the killed process left it (or sync has caught up with PostgreSQL).
    bool progressed = Eventually(
        [&] {
          if (!sync_->Running() || !sync_->Streaming()) return false;
          std::string now = RedisGet(redis_->url(), "tq:lsn");
          return now > before || (!now.empty() && now >= CurrentWal(status_db));
        },
        kDeadline);
    ASSERT_TRUE(progressed) << "after kill " << j + 1
                            << " sync made no progress (running: " << sync_->Running()
                            << ", applied " << before << " -> " << RedisGet(redis_->url(), "tq:lsn")
                            << ")";
    restart_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - killed)
            .count());
    if (j == kKills / 3 || j == 2 * kKills / 3) {
      // A checkpoint: the writers stop at this kill's gate, and Redis must match
      // PostgreSQL. A later write to an event rebuilds its whole projection and would
      // hide a change lost now, so the final verify alone would miss most losses.
      {
        std::unique_lock lock(mu);
        cv.wait(lock,
                [&] { return abort || completed >= kill_at[static_cast<size_t>(j)] + kLead; });
        ASSERT_FALSE(abort) << "writer failed: " << failure;
      }
      CliResult v = Verify(pg_, redis_->url());
      ASSERT_EQ(v.status, 0) << "after kill " << j + 1 << ":\n" << v.output;
      ++checkpoints;
    }
    {
      std::lock_guard lock(mu);
      kills_done = j + 1;
    }
    cv.notify_all();
  }
  // Let the writers finish.
  for (auto& th : writers) th.join();
  joiner.reset();
  ASSERT_TRUE(failure.empty()) << "writer failed: " << failure;
  ASSERT_EQ(completed, kWrites);
  const auto written = std::chrono::steady_clock::now();

  std::map<Op, int> total;
  std::set<int64_t> events;
  for (int t = 0; t < kThreads; ++t) {
    for (const auto& [op, n] : counts[static_cast<size_t>(t)]) total[op] += n;
    events.insert(touched[static_cast<size_t>(t)].begin(), touched[static_cast<size_t>(t)].end());
  }
  for (const auto& [op, w] : kOpWeights) {
    EXPECT_GT(total[op], 0) << "write kind " << static_cast<int>(op) << " never ran";
  }

  ASSERT_TRUE(sync_->Running()) << "sync exited with status " << sync_->exit_status();
  ExpectNoDifferences();
  const auto verified = std::chrono::steady_clock::now();

  // The "search" change queue holds every event the writer touched (no consumer runs).
  auto redis = MustRedis(redis_->url());
  auto members = redis.Cmd("SMEMBERS", "tq:q:search:set");
  ASSERT_TRUE(members.ok()) << members.error().message;
  std::set<std::string> in_set;
  for (size_t i = 0; i < members->size(); ++i) in_set.emplace((*members)[i].str());
  auto list = redis.Cmd("LRANGE", "tq:q:search", "0", "-1");
  ASSERT_TRUE(list.ok()) << list.error().message;
  std::set<std::string> in_list;
  for (size_t i = 0; i < list->size(); ++i) in_list.emplace((*list)[i].str());
  std::vector<std::string> missing;
  for (int64_t id : events) {
    std::string item = fmt::format("event:{}", id);
    if (!in_set.count(item) || !in_list.count(item)) missing.push_back(item);
  }
  EXPECT_TRUE(missing.empty()) << missing.size() << " of " << events.size()
                               << " touched events are not queued, e.g. " << missing.front();

  std::sort(restart_ms.begin(), restart_ms.end());
  std::fprintf(stderr, "fault test seed: %llu\n", static_cast<unsigned long long>(kSeed));
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  std::fprintf(stderr,
               "fault test: initial build %.1f s; %d writes (%zu events touched) with %d kills "
               "in %.1f s (%d verified checkpoints); kill-to-progress median %.0f ms, max %.0f ms; "
               "verify %.1f s; "
               "queue holds %zu items\n",
               secs(started, built), kWrites, events.size(), kKills, secs(built, written),
               checkpoints, restart_ms[restart_ms.size() / 2], restart_ms.back(),
               secs(written, verified), in_set.size());
}

// ---------------------------------------------------------------------------------------
// 2. The Redis master restarts empty (no persistence) under a running sync.

TEST_F(SyncE2eTest, RedisMasterRestartedEmptyIsReconciled) {
  ASSERT_NO_FATAL_FAILURE(StartSyncAndWaitBuilt());
  auto setup = MustConnect(pg_);
  Marketplace market;
  ASSERT_NO_FATAL_FAILURE(market = LoadMarketplace(setup));
  ASSERT_NO_FATAL_FAILURE(WriteSome(pg_, market, kSeed + 2, 20));
  // Sync has applied everything so far.
  ASSERT_TRUE(Eventually([&] { return RedisGet(redis_->url(), "tq:lsn") >= CurrentWal(setup); },
                         kDeadline));
  const double reconciles = sync_->Metric("taquilla_sync_reconciles_total");
  EXPECT_GE(reconciles, 1);

  ASSERT_NO_FATAL_FAILURE(redis_->Restart());
  {
    auto redis = MustRedis(redis_->url());
    auto size = redis.Cmd("DBSIZE");
    ASSERT_TRUE(size.ok());
    EXPECT_EQ(size->integer(), 0) << "the restarted Redis must come back empty";
  }
  ASSERT_NO_FATAL_FAILURE(WriteSome(pg_, market, kSeed + 3, 20));

  ExpectNoDifferences();
  EXPECT_TRUE(sync_->Running()) << "sync exited with status " << sync_->exit_status();
  // It noticed the new master and reconciled, recording the new replication id.
  EXPECT_GT(sync_->Metric("taquilla_sync_reconciles_total"), reconciles);
  auto redis = MustRedis(redis_->url());
  auto replid = redis.Cmd("HGET", "tq:sync", "replid");
  ASSERT_TRUE(replid.ok());
  EXPECT_EQ(std::string(replid->str()), MasterReplid(redis));
}

// The master SIGKILLed while sync streams writes into it (a batch's write is then in
// flight beside the next batch's build): the write fails, the session starts over from the
// last confirmed commit, notices the new (empty) master and reconciles; nothing is lost.
TEST_F(SyncE2eTest, RedisMasterKilledMidStreamIsReconciled) {
  ASSERT_NO_FATAL_FAILURE(StartSyncAndWaitBuilt());
  auto setup = MustConnect(pg_);
  Marketplace market;
  ASSERT_NO_FATAL_FAILURE(market = LoadMarketplace(setup));
  const double reconciles = sync_->Metric("taquilla_sync_reconciles_total");
  const double changes = sync_->Metric("taquilla_sync_changes_total");

  std::thread writer([&] { WriteSome(pg_, market, kSeed + 4, 600); });
  // Mid-stream: sync is applying the writers' changes.
  const bool streaming = Eventually(
      [&] { return sync_->Metric("taquilla_sync_changes_total") >= changes + 100; }, kDeadline);
  if (streaming) redis_->Restart();
  writer.join();
  ASSERT_TRUE(streaming) << "sync applied no changes";
  ASSERT_NO_FATAL_FAILURE(WriteSome(pg_, market, kSeed + 5, 20));

  ExpectNoDifferences();
  EXPECT_TRUE(sync_->Running()) << "sync exited with status " << sync_->exit_status();
  EXPECT_GT(sync_->Metric("taquilla_sync_reconciles_total"), reconciles);
}

// ---------------------------------------------------------------------------------------
// 3. Lost slots and lost keys.

// Drops the test's slot once the stopped sync has released it.
void DropSlot(db::Connection& admin, const std::string& slot) {
  std::string error;
  ASSERT_TRUE(Eventually(
      [&] {
        auto r = admin.ExecParams("SELECT pg_drop_replication_slot($1)", {slot});
        error = r.ok() ? "" : r.error().message;
        return r.ok();
      },
      kDeadline))
      << error;
}

// An upcoming event listed on at least one site, with documents in Redis.
int64_t ListedEvent(db::Connection& c, redis::Client& redis) {
  auto r = c.Exec(
      "SELECT e.id FROM events e WHERE e.status = 'scheduled' AND "
      "e.starts_at > now() + interval '30 days' AND EXISTS (SELECT 1 FROM event_sites s "
      "WHERE s.event_id = e.id) ORDER BY e.id LIMIT 20");
  EXPECT_TRUE(r.ok());
  if (!r.ok()) return 0;
  for (int i = 0; i < r->rows(); ++i) {
    int64_t id = r->GetInt(i, 0);
    if (!ScanKeys(redis, fmt::format("tq:ev:*:{}", id)).empty()) return id;
  }
  ADD_FAILURE() << "no upcoming listed event with documents in Redis";
  return 0;
}

// Sync stopped, its slot dropped, writes made meanwhile (one of them takes an event off
// every site, so its documents are strays no unit owns): restarted, sync creates a new slot
// and builds everything from its snapshot, removing the strays.
TEST_F(SyncE2eTest, DroppedSlotIsRecreatedAndRebuilt) {
  ASSERT_NO_FATAL_FAILURE(StartSyncAndWaitBuilt());
  auto setup = MustConnect(pg_);
  Marketplace market;
  ASSERT_NO_FATAL_FAILURE(market = LoadMarketplace(setup));
  ASSERT_NO_FATAL_FAILURE(WriteSome(pg_, market, kSeed + 4, 20));
  auto redis = MustRedis(redis_->url());
  const int64_t gone = ListedEvent(setup, redis);
  ASSERT_GT(gone, 0);

  EXPECT_EQ(sync_->Stop(), 0) << "sync should stop cleanly on SIGTERM";
  auto admin = MustConnect(testing::PostgresFixture::Get().AdminUrl());
  ASSERT_NO_FATAL_FAILURE(DropSlot(admin, slot_));

  // Changes nobody streams: only the new slot's snapshot can bring them to Redis.
  ASSERT_NO_FATAL_FAILURE(WriteSome(pg_, market, kSeed + 5, 200));
  auto off =
      setup.ExecParams("DELETE FROM event_sites WHERE event_id = $1", {std::to_string(gone)});
  ASSERT_TRUE(off.ok()) << off.error().message;

  ASSERT_NO_FATAL_FAILURE(sync_->Start());
  ASSERT_TRUE(Eventually([&] { return !sync_->Running() || sync_->Streaming(); }, 120s));
  ASSERT_TRUE(sync_->Running()) << "sync exited with status " << sync_->exit_status();
  auto slot =
      admin.ExecParams("SELECT plugin FROM pg_replication_slots WHERE slot_name = $1", {slot_});
  ASSERT_TRUE(slot.ok()) << slot.error().message;
  ASSERT_EQ(slot->rows(), 1) << "sync did not create its slot again";
  EXPECT_NE(sync_->Log().find("created replication slot '" + slot_ + "'"), std::string::npos);

  ExpectNoDifferences();
  EXPECT_EQ(ScanKeys(redis, fmt::format("tq:e?:*:{}", gone)).size(), 0u)
      << "documents of event " << gone << ", now on no site, are still in Redis";
}

// Killed while it builds from a new slot's snapshot, sync must build again when it
// restarts: the slot already exists then, but Redis does not hold what it reflects.
TEST_F(SyncE2eTest, KilledDuringSnapshotBuildBuildsAgain) {
  ASSERT_NO_FATAL_FAILURE(StartSyncAndWaitBuilt());
  EXPECT_EQ(sync_->Stop(), 0);
  auto admin = MustConnect(testing::PostgresFixture::Get().AdminUrl());
  ASSERT_NO_FATAL_FAILURE(DropSlot(admin, slot_));

  // Changes only a build from the new slot's snapshot brings to Redis (prices, titles,
  // statuses: no event leaves its sites).
  auto c = MustConnect(pg_);
  for (const char* sql :
       {"UPDATE listings SET price_minor = price_minor + 1 WHERE id IN "
        "(SELECT id FROM listings WHERE status = 'active' ORDER BY id LIMIT 300)",
        "UPDATE event_translations SET title = left(title, 280) || ' (while down)' "
        "WHERE event_id IN (SELECT id FROM events ORDER BY id LIMIT 60)",
        "UPDATE events SET status = 'postponed' WHERE id IN "
        "(SELECT id FROM events WHERE status = 'scheduled' ORDER BY id DESC LIMIT 40)"}) {
    auto r = c.Exec(sql);
    ASSERT_TRUE(r.ok()) << sql << ": " << r.error().message;
  }

  const size_t from = sync_->Log().size();
  const std::string created = "created replication slot '" + slot_ + "'";
  ASSERT_NO_FATAL_FAILURE(sync_->Start());
  ASSERT_TRUE(Eventually(
      [&] { return !sync_->Running() || sync_->Log().find(created, from) != std::string::npos; },
      kDeadline))
      << "sync did not create its slot";
  sync_->Kill();
  const std::string during = sync_->Log().substr(from);
  ASSERT_EQ(during.find("built "), std::string::npos)
      << "the kill came after the build finished; the test proves nothing:\n"
      << during;

  ASSERT_NO_FATAL_FAILURE(sync_->Start());
  ASSERT_TRUE(Eventually([&] { return !sync_->Running() || sync_->Streaming(); }, 120s));
  ASSERT_TRUE(sync_->Running()) << "sync exited with status " << sync_->exit_status();
  ExpectNoDifferences();
}

// Part of the event documents deleted from Redis: verify reports them, `taquilla rebuild`
// writes them again.
TEST_F(SyncE2eTest, RebuildRestoresDeletedKeys) {
  ASSERT_NO_FATAL_FAILURE(StartSyncAndWaitBuilt());
  auto redis = MustRedis(redis_->url());
  std::vector<std::string> keys = ScanKeys(redis, "tq:ev:*");
  ASSERT_GT(keys.size(), 100u);
  std::sort(keys.begin(), keys.end());
  std::mt19937_64 rng(kSeed + 6);
  std::shuffle(keys.begin(), keys.end(), rng);
  keys.resize(std::min<size_t>(keys.size() / 3, 500));
  std::vector<std::string> del = {"DEL"};
  del.insert(del.end(), keys.begin(), keys.end());
  auto deleted = redis.Command(del);
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(deleted->integer(), static_cast<long long>(keys.size()));

  CliResult broken = Verify(pg_, redis_->url(), 0);
  EXPECT_EQ(broken.status, 1) << broken.output;
  EXPECT_NE(broken.output.find("missing    tq:ev:"), std::string::npos) << broken.output;
  EXPECT_NE(broken.output.find(fmt::format("{} differences", keys.size())), std::string::npos)
      << broken.output;

  CliResult rebuilt =
      RunCli({"rebuild", "--postgres-url", pg_, "--redis-url", redis_->url(), "--no-progress"});
  EXPECT_EQ(rebuilt.status, 0) << rebuilt.output;
  EXPECT_NE(rebuilt.output.find("rebuilt "), std::string::npos) << rebuilt.output;
  for (const auto& k : keys) {
    auto exists = redis.Cmd("EXISTS", k);
    ASSERT_TRUE(exists.ok());
    if (exists->integer() == 1) continue;
    // Say which version the unit holds: rebuild writes "only if newer" than it.
    const std::string unit = "event:" + k.substr(k.rfind(':') + 1);
    auto version = redis.Cmd("GET", "tq:v:" + unit);
    auto wal = MustConnect(pg_);
    FAIL() << k << " was not restored; " << unit << " is at "
           << (version.ok() && !version->IsNil() ? std::string(version->str()) : "?")
           << ", PostgreSQL's WAL at " << CurrentWal(wal) << "; rebuild said:\n"
           << rebuilt.output;
  }
  ExpectNoDifferences();
  EXPECT_TRUE(sync_->Running()) << "sync exited with status " << sync_->exit_status();
}

// Keys no unit owns (a document and a sorted-set member of an event that does not
// exist): a whole rebuild removes them.
TEST_F(SyncE2eTest, RebuildRemovesStrayKeys) {
  ASSERT_NO_FATAL_FAILURE(StartSyncAndWaitBuilt());
  auto redis = MustRedis(redis_->url());
  std::vector<std::string> dates = ScanKeys(redis, "tq:z:*:date");
  ASSERT_FALSE(dates.empty());
  const std::string date_key = dates.front();
  const std::string site = date_key.substr(5, date_key.size() - 5 - 5);  // tq:z:<site>:date
  const std::string doc = fmt::format("tq:ev:{}:en:987654321", site);
  ASSERT_TRUE(redis.Cmd("SET", doc, "{\"stray\":true}").ok());
  ASSERT_TRUE(redis.Cmd("ZADD", date_key, "4102444800", "987654321").ok());

  CliResult broken = Verify(pg_, redis_->url(), 0);
  EXPECT_EQ(broken.status, 1) << broken.output;
  EXPECT_NE(broken.output.find("unexpected " + doc), std::string::npos) << broken.output;

  CliResult rebuilt =
      RunCli({"rebuild", "--postgres-url", pg_, "--redis-url", redis_->url(), "--no-progress"});
  EXPECT_EQ(rebuilt.status, 0) << rebuilt.output;
  auto exists = redis.Cmd("EXISTS", doc);
  ASSERT_TRUE(exists.ok());
  EXPECT_EQ(exists->integer(), 0) << doc << " is still there";
  auto score = redis.Cmd("ZSCORE", date_key, "987654321");
  ASSERT_TRUE(score.ok());
  EXPECT_TRUE(score->IsNil()) << "member 987654321 is still in " << date_key;
  ExpectNoDifferences();
}

// ---------------------------------------------------------------------------------------
// 4. Bad input: clear errors, the documented exit codes, nothing started.

TEST(SyncBadInputE2eTest, BadInputFailsClearly) {
  const std::string pg = testing::PostgresFixture::Get().NewDatabase();
  RedisServer redis;
  ASSERT_NO_FATAL_FAILURE(redis.Start());
  auto free_port = FindFreePort();
  ASSERT_TRUE(free_port.ok());
  const std::string port = std::to_string(*free_port);

  // Redis unreachable.
  CliResult r = RunCli({"verify", "--postgres-url", pg, "--redis-url", "redis://127.0.0.1:" + port,
                        "--wait-ms", "1000"},
                       60s);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("taquilla verify: error:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("redis://127.0.0.1:" + port), std::string::npos) << r.output;

  // PostgreSQL unreachable.
  r = RunCli({"verify", "--postgres-url", "postgresql://taquilla@127.0.0.1:" + port + "/nothing",
              "--redis-url", redis.url(), "--wait-ms", "1000"},
             60s);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("taquilla verify: error:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("PostgreSQL"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(port), std::string::npos) << r.output;

  // Both reachable but no sync has ever applied anything: verify says so instead of
  // reporting every projection missing.
  r = RunCli({"verify", "--postgres-url", pg, "--redis-url", redis.url(), "--wait-ms", "300"}, 60s);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("is taquilla sync running?"), std::string::npos) << r.output;

  // A slot name PostgreSQL would refuse (upper case, a dash) is refused up front.
  r = RunCli({"sync", "--postgres-url", pg, "--redis-url", redis.url(), "--listen",
              "127.0.0.1:" + port, "--slot", "Bad-Name"},
             30s);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("sync.slot"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Bad-Name"), std::string::npos) << r.output;
  EXPECT_TRUE(CheckPortFree("127.0.0.1", *free_port).ok()) << "a refused sync must not listen";
  auto admin = MustConnect(testing::PostgresFixture::Get().AdminUrl());
  auto slots = admin.Exec("SELECT count(*) FROM pg_replication_slots WHERE slot_name ILIKE 'bad%'");
  ASSERT_TRUE(slots.ok());
  EXPECT_EQ(slots->GetInt(0, 0), 0);
}

}  // namespace
}  // namespace taquilla
