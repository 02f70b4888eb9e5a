#include "sync/app.h"

#include <iostream>
#include <sstream>

#include "common/log.h"
#include "http/daemon.h"
#include "stack/endpoints.h"
#include "sync/tools.h"

namespace taquilla::sync {

namespace {

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : s + ",") {
    if (ch == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  return out;
}

ProjectorOptions ProjectorOptionsOf(const Config& config) {
  ProjectorOptions p{Keys(config.redis.prefix), config.sync.event_grace_seconds};
  return p;
}

}  // namespace

Result<SyncOptions> SyncOptionsOf(const Config& config) {
  SyncOptions o;
  TQ_ASSIGN_OR_RETURN(o.postgres_url, stack::ResolvePostgresUrl(config));
  TQ_ASSIGN_OR_RETURN(o.redis_url, stack::ResolveRedisMasterUrl(config));
  o.slot = config.sync.slot;
  o.projector = ProjectorOptionsOf(config);
  o.queues = SplitList(config.sync.queues);
  o.max_deliveries = config.queue.max_deliveries;
  o.batch_units = static_cast<size_t>(config.sync.batch_units);
  o.sweep_interval = std::chrono::seconds(config.sync.sweep_seconds);
  return o;
}

int RunSync(const Config& config) {
  auto log = Logger("sync");
  auto options = SyncOptionsOf(config);
  if (!options.ok()) {
    log->error("{}", options.error().message);
    return 2;
  }
  const auto listen =
      stack::ListenAddress(config, config.sync.listen, stack::PortOffsets::kSyncMetrics);
  SyncMetrics metrics;
  return http::RunDaemon(
      {"sync", listen.first, listen.second}, *log, [&metrics] { return metrics.Render(); },
      [&](int port) {
        log->info("sync metrics on http://{}:{}/metrics; PostgreSQL {}, Redis {}", listen.first,
                  port, options->postgres_url, options->redis_url);
      },
      [&](const std::atomic<bool>& stop) {
        SyncDaemon daemon(*options, metrics);
        return daemon.Run(stop);
      });
}

int RunRebuild(const Config& config, const Scope& scope, bool progress) {
  auto pg = stack::ResolvePostgresUrl(config);
  if (!pg.ok()) {
    std::cerr << "taquilla rebuild: error: " << pg.error().message << "\n";
    return 2;
  }
  auto redis = stack::ResolveRedisMasterUrl(config);
  if (!redis.ok()) {
    std::cerr << "taquilla rebuild: error: " << redis.error().message << "\n";
    return 2;
  }
  const bool whole = scope.site.empty() && scope.lang.empty();
  auto stats = Rebuild(*pg, *redis, ProjectorOptionsOf(config), scope, whole, progress);
  if (!stats.ok()) {
    std::cerr << "taquilla rebuild: error: " << stats.error().message << "\n";
    return 1;
  }
  std::cout << fmt::format(
      "rebuilt {} units at {}: {} written ({} keys), {} already newer, {} stray keys removed\n",
      stats->units, stats->lsn_key, stats->applied, stats->keys, stats->units - stats->applied,
      stats->removed);
  return 0;
}

int RunVerify(const Config& config, std::chrono::milliseconds wait) {
  auto pg = stack::ResolvePostgresUrl(config);
  auto redis = pg.ok() ? stack::ResolveRedisMasterUrl(config) : Result<std::string>(pg.error());
  if (!redis.ok()) {
    std::cerr << "taquilla verify: error: " << redis.error().message << "\n";
    return 2;
  }
  auto report = Verify(*pg, *redis, ProjectorOptionsOf(config), wait, std::cout);
  if (!report.ok()) {
    std::cerr << "taquilla verify: error: " << report.error().message << "\n";
    return 2;
  }
  std::cout << fmt::format(
      "verify: {} units, {} documents, {} sorted sets compared with PostgreSQL: {}\n",
      report->units, report->documents, report->sorted_sets,
      report->differences == 0 ? std::string("no differences")
                               : fmt::format("{} differences", report->differences));
  return report->differences == 0 ? 0 : 1;
}

}  // namespace taquilla::sync
