#include "db/migrate.h"

#include <sodium.h>

#include <algorithm>
#include <map>

#include "common/log.h"

namespace taquilla_migrations {
std::string_view Get(std::string_view path);
const std::vector<std::pair<std::string_view, std::string_view>>& All();
}  // namespace taquilla_migrations

namespace taquilla::db {
namespace {

constexpr int64_t kMigrationLock = 0x7471'6d69'6772;  // "tqmigr"

std::string Sha256Hex(std::string_view data) {
  unsigned char hash[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(hash, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  char hex[crypto_hash_sha256_BYTES * 2 + 1];
  sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
  return hex;
}

}  // namespace

const std::vector<Migration>& BuiltinMigrations() {
  static const std::vector<Migration> kMigrations = [] {
    std::vector<Migration> out;
    for (const auto& [name, sql] : taquilla_migrations::All()) {
      Migration m;
      m.name = std::string(name);
      m.version = std::stoi(m.name.substr(0, m.name.find('_')));
      m.sql = std::string(sql);
      m.checksum = Sha256Hex(sql);
      out.push_back(std::move(m));
    }
    std::sort(out.begin(), out.end(),
              [](const Migration& a, const Migration& b) { return a.version < b.version; });
    return out;
  }();
  return kMigrations;
}

Result<MigrateReport> Migrate(Connection& conn, const std::vector<Migration>& migrations) {
  auto log = Logger("migrate");
  TQ_RETURN_IF_ERROR(conn.Exec(fmt::format("SELECT pg_advisory_lock({})", kMigrationLock)));
  struct Unlock {
    Connection& c;
    ~Unlock() { (void)c.Exec(fmt::format("SELECT pg_advisory_unlock({})", kMigrationLock)); }
  } unlock{conn};

  TQ_RETURN_IF_ERROR(
      conn.Exec("SET client_min_messages = warning;"
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"));
  TQ_ASSIGN_OR_RETURN(PgResult applied,
                      conn.Exec("SELECT version, name, checksum FROM schema_migrations"));
  std::map<int, std::pair<std::string, std::string>> done;
  for (int i = 0; i < applied.rows(); ++i) {
    done[static_cast<int>(applied.GetInt(i, 0))] = {applied.GetString(i, 1),
                                                    applied.GetString(i, 2)};
  }

  MigrateReport report;
  for (const Migration& m : migrations) {
    if (auto it = done.find(m.version); it != done.end()) {
      if (it->second.second != m.checksum) {
        return MakeError(ErrorCode::kFailedPrecondition,
                         "migration {} was changed after it was applied (checksum {} in the "
                         "database, {} now); add a new migration instead",
                         m.name, it->second.second.substr(0, 12), m.checksum.substr(0, 12));
      }
      ++report.already;
      continue;
    }
    TQ_RETURN_IF_ERROR(conn.Exec("BEGIN"));
    auto run = conn.Exec(m.sql);
    if (run.ok()) {
      run = conn.ExecParams(
          "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
          {std::to_string(m.version), m.name, m.checksum});
    }
    if (!run.ok()) {
      (void)conn.Exec("ROLLBACK");
      return run.error().Wrap(fmt::format("migration {}", m.name));
    }
    TQ_RETURN_IF_ERROR(conn.Exec("COMMIT"));
    log->info("applied migration {}", m.name);
    report.applied.push_back(m.name);
  }
  // Versions in the database that this binary does not know: a newer binary migrated it.
  for (const auto& [version, info] : done) {
    bool known = std::any_of(migrations.begin(), migrations.end(),
                             [&](const Migration& m) { return m.version == version; });
    if (!known) {
      log->warn("database has migration {} that this binary does not know", info.first);
    }
  }
  return report;
}

}  // namespace taquilla::db
