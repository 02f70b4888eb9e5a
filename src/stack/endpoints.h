// Endpoints: where each service of a running stack listens. `taquilla up` writes them to
// <data-dir>/endpoints.json; every CLI command given --data-dir reads them to find the
// stack. Plain value type.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/result.h"

namespace taquilla::stack {

// Fixed offsets from stack.port_base; the README documents them.
struct PortOffsets {
  static constexpr int kPublic = 0;
  static constexpr int kSecure = 1;
  static constexpr int kSyncMetrics = 2;
  static constexpr int kIndexerMetrics = 3;
  static constexpr int kRead = 10;  // read server i listens on kRead + i
  static constexpr int kPostgres = 20;
  static constexpr int kRedisMaster = 21;
  static constexpr int kRedisReplica = 22;  // replica i on kRedisReplica + i
};

struct Endpoints {
  std::optional<std::string> public_url;  // HAProxy, once the read servers land
  std::optional<std::string> secure_url;
  std::optional<std::string> sync_metrics_url;     // sync's /metrics
  std::optional<std::string> indexer_metrics_url;  // the indexer's /metrics
  std::vector<std::string> read_urls;
  std::string postgres;
  std::string redis_master;
  std::vector<std::string> redis_replicas;
};

std::string EndpointsPath(const std::string& data_dir);
std::string ToJson(const Endpoints& e);
Result<Endpoints> ParseEndpoints(const std::string& json);
// Reads <data-dir>/endpoints.json; a clear error when the stack is not running there.
Result<Endpoints> LoadEndpoints(const std::string& data_dir);

// The PostgreSQL URL a command should use: postgres.url if set, else the stack's.
Result<std::string> ResolvePostgresUrl(const Config& config);
// host and port a daemon listens on: `listen` (host:port, validated by the config) or, when
// empty, 127.0.0.1 and the stack's port base plus `offset`.
std::pair<std::string, int> ListenAddress(const Config& config, const std::string& listen,
                                          int offset);

// The Redis master URL: redis.master_url if set, else the stack's.
Result<std::string> ResolveRedisMasterUrl(const Config& config);
// The Redis replica a read server uses: redis.replica_url if set, else the stack's first.
Result<std::string> ResolveRedisReplicaUrl(const Config& config);

}  // namespace taquilla::stack
