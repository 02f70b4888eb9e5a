// Throwaway servers for tests: a PostgreSQL cluster and a Redis server started on free
// loopback ports in a temporary directory, shared by every test of one test binary and
// stopped (directory removed) when the process exits. Each test asks for a fresh
// database (a copy of a migrated template) so tests stay independent.
//
// Thread-safety: Get() and NewDatabase() may be called from any thread.
#pragma once

#include <string>

#include "common/result.h"

namespace taquilla::testing {

class PostgresFixture {
 public:
  // The shared server, started on first use. Aborts the test binary with a clear message
  // if PostgreSQL cannot start.
  static PostgresFixture& Get();

  // Creates a new database with every migration applied; returns its URL.
  std::string NewDatabase();
  // Creates a new empty database (no migrations); returns its URL.
  std::string NewEmptyDatabase();
  // URL of the maintenance database "postgres".
  std::string AdminUrl() const;
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }

 private:
  PostgresFixture() = default;
  void Start();
  std::string dir_;
  int port_ = 0;
  int pid_ = 0;
  bool template_ready_ = false;
};

class RedisFixture {
 public:
  // The shared server, started on first use.
  static RedisFixture& Get();
  std::string url() const;
  int port() const { return port_; }

 private:
  RedisFixture() = default;
  void Start();
  std::string dir_;
  int port_ = 0;
  int pid_ = 0;
};

// Starts a redis-server without persistence (no AOF, no RDB) in `dir`, logging to
// dir/redis.log, and waits until it answers. *port 0 picks a free port (retrying when
// another process takes it first) and is set; otherwise that port is used, once.
// Returns the server's pid.
Result<int> StartEphemeralRedis(const std::string& dir, int* port);

// The first of `count` consecutive loopback ports (from 20000, in steps of 100) that are
// all free right now, for a whole `taquilla up` stack; 0 when none is found.
int FreePortBase(int count = 24);

// A new directory under /tmp that the PostgreSQL OS user can traverse; removed by the
// caller (or left for debugging when TAQUILLA_TEST_KEEP is set).
std::string MakeTempDir(const std::string& prefix);
void RemoveTree(const std::string& path);

}  // namespace taquilla::testing
