// Local servers of the stack: a PostgreSQL cluster (initialised on first use, configured
// for logical decoding, run as its own OS user when started as root) and Redis servers
// (a master and replicas). These functions prepare directories and build the command
// lines; the caller (the `up` supervisor or the test harness) owns the processes.
// Stateless; thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "common/process.h"
#include "common/result.h"

namespace taquilla::stack {

struct PostgresOptions {
  std::string dir;  // cluster directory (PG_VERSION lives here)
  int port = 0;
  std::string bin_dir = "/usr/lib/postgresql/15/bin";
  std::string os_user = "postgres";  // used only when running as root
  std::string log_file;
  std::string max_slot_wal_keep_size = "4GB";
  bool durable = true;  // false for tests: fsync and full_page_writes off
};

// The database and role the stack creates.
inline constexpr const char* kDatabase = "taquilla";
inline constexpr const char* kRole = "taquilla";

// Creates the cluster with initdb unless it exists, and (re)writes taquilla.conf, which
// postgresql.conf includes. Fails with a clear message if the OS user cannot reach `dir`.
Status PreparePostgres(const PostgresOptions& options);
SpawnOptions PostgresCommand(const PostgresOptions& options);
// Where the cluster of a stack whose data dir is `data_dir` lives: <data-dir>/postgres
// when the PostgreSQL OS user can enter the data dir; otherwise (a data dir under /root,
// say) /var/lib/taquilla/clusters/<path-derived name>, linked from <data-dir>/postgres.
Result<std::string> ClusterDirFor(const std::string& data_dir, const std::string& os_user);
std::string PostgresUrl(int port, const std::string& database = kDatabase);
// Polls until PostgreSQL accepts connections, `pid` exits, or the deadline passes.
Status WaitPostgresReady(int port, pid_t pid, std::chrono::milliseconds timeout);
// Creates the taquilla database if it is missing.
Status EnsureDatabase(int port);

struct RedisOptions {
  std::string dir;
  int port = 0;
  int replica_of_port = 0;  // non-zero: a replica of 127.0.0.1:<port>
  bool append_only = true;  // persistence for the master of the stack; off for tests
  std::string server_bin = "redis-server";
  std::string log_file;
};

Status PrepareRedis(const RedisOptions& options);
SpawnOptions RedisCommand(const RedisOptions& options);
std::string RedisUrl(int port);
// Polls until Redis answers PING (and, for a replica, reports its master link up).
Status WaitRedisReady(int port, bool replica, pid_t pid, std::chrono::milliseconds timeout);

}  // namespace taquilla::stack
