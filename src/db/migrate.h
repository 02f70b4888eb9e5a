// Migrations: the versioned SQL files of migrations/ (compiled into the binary), applied
// in order, each in its own transaction, recorded in schema_migrations with a checksum.
// Applying is idempotent and serialised across processes by an advisory lock; a
// migration edited after it was applied is an error, not silently skipped.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "db/pg.h"

namespace taquilla::db {

struct Migration {
  int version;
  std::string name;  // file name, e.g. "0001_schema.sql"
  std::string sql;
  std::string checksum;  // hex SHA-256 of sql
};

// The compiled-in migrations, sorted by version.
const std::vector<Migration>& BuiltinMigrations();

struct MigrateReport {
  std::vector<std::string> applied;  // names applied by this call
  int already = 0;                   // migrations that were applied before
};

Result<MigrateReport> Migrate(Connection& conn,
                              const std::vector<Migration>& migrations = BuiltinMigrations());

}  // namespace taquilla::db
