// Writer: puts computed projection units into the Redis master. Each unit goes through one
// Lua compare-and-set ("only if newer": the unit's version key holds the LSN of the state
// it reflects, 16 hex digits), which also deletes the keys and sorted-set memberships the
// unit owned before and no longer has. A batch of units, their queue entries and the
// applied-LSN marker travel in pipelined MULTI/EXEC transactions, so replicas never see
// half a batch. Replays are harmless: an older or equal LSN changes nothing, while the
// queue entries are still written (the queue dedupes them).
//
// Owned by one thread; it uses the client it is given.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "redis/client.h"
#include "sync/keys.h"
#include "sync/projector.h"

namespace taquilla::sync {

struct WriteStats {
  int64_t units = 0;    // units sent
  int64_t applied = 0;  // units whose LSN was newer (written)
  int64_t keys = 0;     // documents and memberships written by applied units
};

class Writer {
 public:
  // Appends the commands that enqueue `items` (unit names) to the change queues on the
  // client's pipeline; empty = no queues.
  using EnqueueFn = std::function<void(redis::Client&, const std::vector<std::string>& items)>;

  explicit Writer(Keys keys, EnqueueFn enqueue = nullptr);

  // Loads the Lua scripts (after connecting, and again after a server restart).
  Status Prepare(redis::Client& redis);

  // Writes `units` at `lsn_key` (16 hex digits), in MULTI/EXEC chunks; when
  // set_applied_lsn, the last chunk also records lsn_key as the applied LSN. Retries once
  // after loading the scripts if the server lost them.
  // skip_unchanged: read each document first and write only those that differ (rebuilds,
  // where most are unchanged; the stream's changes rewrite most of what they touch).
  Result<WriteStats> Apply(redis::Client& redis, const std::vector<UnitState>& units,
                           const std::string& lsn_key, bool set_applied_lsn,
                           bool skip_unchanged = false);

  // Records lsn_key as the applied LSN unless a later one is recorded already.
  Status RaiseAppliedLsn(redis::Client& redis, const std::string& lsn_key);
  // The same, queued on the client's pipeline (inside a caller's MULTI/EXEC).
  void AppendRaiseAppliedLsn(redis::Client& redis, const std::string& lsn_key);

  // Removes past events from every sorted set: date-scored sets by score, price sets by
  // the members their site's date set holds in the past. Returns members removed.
  Result<int64_t> SweepPast(redis::Client& redis, int64_t now_epoch);

  const Keys& keys() const { return keys_; }

 private:
  Result<WriteStats> ApplyOnce(redis::Client& redis, const std::vector<UnitState>& units,
                               const std::string& lsn_key, bool set_applied_lsn,
                               bool skip_unchanged);
  Keys keys_;
  EnqueueFn enqueue_;
};

}  // namespace taquilla::sync
