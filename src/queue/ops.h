// Operator commands for the reliable queue (`taquilla queue stats|recover|dead|retry`):
// plain functions over a connected redis::Client that print a readable report to `out`.
// They own nothing; each uses the given Client from the calling thread only. An empty
// `groups` list means every group that was ever used under the prefix ({p}queues).
#pragma once

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "common/result.h"
#include "queue/reliable_queue.h"
#include "redis/client.h"

namespace taquilla::queue::ops {

// The groups registered under `prefix`, sorted.
Result<std::vector<std::string>> KnownGroups(redis::Client& client, const std::string& prefix);

// One row per group: depth, oldest age, in flight, dead, live/registered workers, and the
// enqueued/acked/failed/dead/recovered counters.
Status PrintStats(redis::Client& client, const std::string& prefix,
                  const std::vector<std::string>& groups, std::ostream& out);

// Forces a reap of the workers whose heartbeat expired, in each group; reports the workers
// removed and how many items went back (or to the dead letters).
Status Recover(redis::Client& client, const std::string& prefix,
               const std::vector<std::string>& groups, int max_deliveries, std::ostream& out);

// Lists each group's dead letters (newest first, up to `limit`, 0 = all) with their
// delivery counts.
Status PrintDead(redis::Client& client, const std::string& prefix,
                 const std::vector<std::string>& groups, size_t limit, std::ostream& out);

// Moves dead letters back to the ready list: `item` only, or all of them. A named item
// that is dead in none of the groups is kNotFound.
Status Retry(redis::Client& client, const std::string& prefix,
             const std::vector<std::string>& groups, const std::optional<std::string>& item,
             std::ostream& out);

// Pure formatting, used by the commands above.
std::string FormatAge(int64_t ms);  // "-", "850ms", "12.3s", "4m05s", "3h02m", "2d04h"
void PrintStatsTable(const std::vector<Stats>& stats, std::ostream& out);

}  // namespace taquilla::queue::ops
