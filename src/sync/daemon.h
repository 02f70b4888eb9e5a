// SyncDaemon: the `taquilla sync` loop. It reads committed changes from a PostgreSQL
// logical replication slot (ReplicationStream), maps each row to the projection units it
// affects (deps.h), rebuilds those units from PostgreSQL in batches (Projector) and writes
// them to the Redis master with an LSN compare-and-set (Writer), enqueuing every changed
// unit to each change queue. Only then does it confirm the commit LSN to PostgreSQL, so a
// crash at any point loses nothing: the server replays from the last confirmed commit and
// the compare-and-set makes the replay harmless.
//
// It also: builds everything from the slot's exported snapshot when it creates the slot
// (and recreates a lost slot the same way); reconciles Redis against PostgreSQL when the
// master's replication id changes (a restart without persistence or a failover can drop
// acknowledged writes); sweeps started events out of the sorted sets; and keeps the
// metrics /metrics serves. A second instance waits on a PostgreSQL advisory lock until the
// first one dies (a standby).
//
// Run() is called from one thread; Metrics may be read from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "sync/projector.h"

namespace taquilla::sync {

struct SyncOptions {
  std::string postgres_url;
  std::string redis_url;
  std::string slot = "taquilla";
  ProjectorOptions projector;
  std::vector<std::string> queues = {"search"};
  int max_deliveries = 5;
  size_t batch_units = 2000;
  std::chrono::seconds sweep_interval{60};
  std::chrono::milliseconds check_interval{1000};  // replication id, slot and queue checks
};

// Counters and gauges of a running daemon, rendered as Prometheus text. Thread-safe.
class SyncMetrics {
 public:
  std::atomic<int64_t> changes{0};       // row changes read from the slot
  std::atomic<int64_t> transactions{0};  // commits read
  std::atomic<int64_t> batches{0};
  std::atomic<int64_t> units{0};   // units rebuilt
  std::atomic<int64_t> writes{0};  // documents and memberships written
  std::atomic<int64_t> reconciles{0};
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> swept{0};
  std::atomic<uint64_t> confirmed_lsn{0};
  std::atomic<uint64_t> server_lsn{0};  // pg_current_wal_lsn() at the last check
  std::atomic<int64_t> lag_bytes{0};
  std::atomic<double> lag_seconds{0};
  std::atomic<int64_t> safe_wal_bytes{-1};
  std::atomic<bool> streaming{false};
  // Seconds spent per phase of applying batches (wait = for commits to become visible).
  std::atomic<double> seconds_wait{0}, seconds_build{0}, seconds_write{0}, seconds_read{0};

  struct QueueGauge {
    int64_t depth = 0, oldest_age_ms = -1, in_flight = 0, dead = 0, workers = 0;
  };
  void SetQueue(const std::string& group, QueueGauge g);
  std::string Render() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, QueueGauge> queues_;
};

class SyncDaemon {
 public:
  SyncDaemon(SyncOptions options, SyncMetrics& metrics);
  ~SyncDaemon();

  // Runs until `stop` becomes true (noticed within about 100 ms), reconnecting with
  // backoff after errors. Returns an error only for configuration problems.
  Status Run(const std::atomic<bool>& stop);

 private:
  class Session;
  SyncOptions options_;
  SyncMetrics& metrics_;
};

}  // namespace taquilla::sync
