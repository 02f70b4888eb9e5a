// Rebuild and verify: the projection set recomputed from PostgreSQL, either written to
// Redis (rebuild, also sync's initial build and its reconcile after a Redis failover) or
// compared with it (verify). Both walk every unit in batches inside one REPEATABLE READ
// snapshot, so memory stays bounded at any scale. Plain functions; each call owns its
// connections.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

#include "common/result.h"
#include "db/pg.h"
#include "redis/client.h"
#include "sync/lsn.h"
#include "sync/projector.h"
#include "sync/writer.h"

namespace taquilla::sync {

struct RebuildStats {
  int64_t units = 0, applied = 0, keys = 0, removed = 0;
  Lsn lsn = 0;
  std::string lsn_key;
};

// Seconds since the epoch, now.
int64_t NowEpoch();

// Rebuilds every unit within `scope` from `c` in one REPEATABLE READ transaction it opens
// and ends. With `snapshot` (exported by a new slot at `snapshot_lsn`) it reads that state;
// otherwise it first reads the current WAL position and stamps the units with it, so every
// change committed later is newer and sync still applies it. remove_strays (whole scope
// only): deletes projection keys and sorted-set members no unit owns any more. progress:
// draw a progress bar.
Result<RebuildStats> RebuildOnConnection(db::Connection& c, redis::Client& redis,
                                         Projector& projector, Writer& writer, const Scope& scope,
                                         bool remove_strays, bool progress,
                                         const std::string& snapshot = "", Lsn snapshot_lsn = 0);

// RebuildOnConnection at the current position, on connections of its own. Changes committed
// later reach Redis through sync as usual.
Result<RebuildStats> Rebuild(const std::string& postgres_url, const std::string& redis_url,
                             const ProjectorOptions& options, const Scope& scope,
                             bool remove_strays, bool progress);

struct VerifyReport {
  int64_t units = 0, documents = 0, sorted_sets = 0, differences = 0;
};

// Compares Redis with the projection set computed from PostgreSQL, printing each
// difference (at most max_shown, then a count) to `out`. First waits, up to `wait`, until
// sync has applied the WAL position PostgreSQL is at (0 = do not wait).
Result<VerifyReport> Verify(const std::string& postgres_url, const std::string& redis_url,
                            const ProjectorOptions& options, std::chrono::milliseconds wait,
                            std::ostream& out, int64_t max_shown = 50);

}  // namespace taquilla::sync
