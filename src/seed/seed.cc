#include "seed/seed.h"

#include <chrono>
#include <exception>
#include <thread>

#include "common/log.h"
#include "common/progress.h"
#include "db/pg.h"
#include "seed/data.h"
#include "seed/generate.h"
#include "seed/pipe.h"
#include "seed/text.h"

namespace taquilla::seed {

Result<Scale> ScaleByName(const std::string& name) {
  if (name == "demo") return Scale{"demo", 2000, 50000, 5000};
  if (name == "ticketbis") return Scale{"ticketbis", 20000, 500000, 100000};
  return MakeError(ErrorCode::kInvalidArgument, "unknown scale '{}' (use demo or ticketbis)", name);
}

namespace {

constexpr const char* kDemoPassword = "taquilla-demo";

// Loads every chunk of the channel into PostgreSQL; returns the first error.
Status Consume(db::Connection& conn, Channel& ch, Progress* progress) {
  Chunk c;
  bool in_copy = false;
  while (ch.Get(&c)) {
    switch (c.type) {
      case Chunk::kBegin:
        TQ_RETURN_IF_ERROR(conn.CopyBegin(c.text));
        in_copy = true;
        if (progress) progress->SetLabel(c.text.substr(5, c.text.find(' ', 5) - 5));
        break;
      case Chunk::kData:
        TQ_RETURN_IF_ERROR(conn.CopyPut(c.text));
        if (progress) progress->Add(static_cast<uint64_t>(c.rows));
        ch.GiveBuffer(std::move(c.text));
        break;
      case Chunk::kEnd:
        in_copy = false;
        TQ_RETURN_IF_ERROR(conn.CopyEnd());
        break;
    }
  }
  if (in_copy) return MakeError(ErrorCode::kInternal, "seed generator stopped mid-table");
  return Ok();
}

}  // namespace

Result<SeedCounts> Seed(const std::string& postgres_url, const SeedOptions& options) {
  auto start = std::chrono::steady_clock::now();
  auto log = Logger("seed");
  TQ_ASSIGN_OR_RETURN(Scale scale, ScaleByName(options.scale));
  TQ_ASSIGN_OR_RETURN(SeedData data, BuiltinSeedData());
  TQ_ASSIGN_OR_RETURN(db::Connection conn, db::Connection::Open(postgres_url));

  TQ_RETURN_IF_ERROR(conn.Exec(
      "BEGIN; SET LOCAL synchronous_commit = off; SET LOCAL client_min_messages = warning"));
  struct Rollback {
    db::Connection& c;
    bool armed = true;
    ~Rollback() {
      if (armed) (void)c.Exec("ROLLBACK");
    }
  } rollback{conn};

  TQ_ASSIGN_OR_RETURN(
      db::PgResult nonempty,
      conn.Exec("SELECT EXISTS(SELECT 1 FROM sites) OR EXISTS(SELECT 1 FROM events) OR "
                "EXISTS(SELECT 1 FROM users)"));
  if (nonempty.Get(0, 0) == "t") {
    if (!options.force) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "database already holds marketplace data; use --force to replace it");
    }
    std::string sql = "TRUNCATE ";
    bool first = true;
    for (const char* t : kMarketplaceTables) {
      if (!first) sql += ", ";
      first = false;
      sql += t;
    }
    sql += " RESTART IDENTITY CASCADE";
    TQ_RETURN_IF_ERROR(conn.Exec(sql));
    log->info("--force: removed the existing marketplace data");
  }

  // Every timestamp derives from the reference day (UTC midnight of "now").
  int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(options.clock->Now().time_since_epoch())
          .count();
  GenerateInput in;
  in.data = &data;
  in.scale = scale;
  in.seed = options.seed;
  in.base_day = now_s / 86400 - (now_s % 86400 < 0 ? 1 : 0);

  SeedCounts counts;
  Channel channel(8);
  std::exception_ptr producer_error;
  Status producer_status;
  std::thread producer([&] {
    try {
      auto hash = DemoPasswordHash(kDemoPassword, options.seed);
      if (!hash.ok()) {
        producer_status = hash.error();
      } else {
        in.password_hash = *hash;
        TableWriter writer(&channel);
        Generate(in, writer, &counts);
      }
    } catch (const PipeAborted&) {
    } catch (...) {
      producer_error = std::current_exception();
    }
    channel.Close();
  });

  uint64_t total_rows = static_cast<uint64_t>(scale.events) * (data.languages.size() + 4) +
                        static_cast<uint64_t>(scale.users) +
                        static_cast<uint64_t>(scale.tickets * 10 / 33) + 10000;
  std::unique_ptr<Progress> progress;
  if (options.progress) progress = std::make_unique<Progress>("seed", total_rows);
  Status consumed = Consume(conn, channel, progress.get());
  if (!consumed.ok()) channel.Abort();
  producer.join();
  if (progress) progress->Finish();
  if (producer_error) {
    try {
      std::rethrow_exception(producer_error);
    } catch (const std::exception& e) {
      return MakeError(ErrorCode::kInternal, "seed generator failed: {}", e.what());
    } catch (...) {
      return MakeError(ErrorCode::kInternal, "seed generator failed");
    }
  }
  if (!producer_status.ok()) return producer_status.error();
  if (!consumed.ok()) return consumed.error().Wrap("seed load");

  std::string setval;
  for (const char* t : kIdentityTables) {
    setval += fmt::format(
        "SELECT setval(pg_get_serial_sequence('{0}', 'id'), (SELECT max(id) FROM {0}));", t);
  }
  TQ_RETURN_IF_ERROR(conn.Exec(setval));
  TQ_RETURN_IF_ERROR(conn.Exec("COMMIT"));
  rollback.armed = false;

  counts.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log->info(
      "seeded scale {} (seed {}) in {:.1f}s: {} events, {} translations, {} users, {} "
      "listings, {} tickets",
      scale.name, options.seed, counts.seconds, counts.events, counts.event_translations,
      counts.users, counts.listings, counts.tickets);
  return counts;
}

std::string FormatCounts(const SeedCounts& c) {
  return fmt::format(
      "languages: {}\nsites: {}\nsite_languages: {}\ncategories: {}\ncities: {}\nvenues: {}\n"
      "performers: {}\nevents: {}\nevent_translations: {}\nusers: {}\nlistings: {}\n"
      "tickets: {}\nexchange_rates: {}\nseconds: {:.1f}\n",
      c.languages, c.sites, c.site_languages, c.categories, c.cities, c.venues, c.performers,
      c.events, c.event_translations, c.users, c.listings, c.tickets, c.exchange_rates, c.seconds);
}

}  // namespace taquilla::seed
