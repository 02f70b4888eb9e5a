// ResponseCache: the read server's in-process cache of rendered answers (an event page,
// its JSON, a list), so the hottest pages cost no Redis round trip and no rendering.
//
// Each entry names the Redis keys it was built from. The Invalidator (invalidator.h)
// reports every key the replica changes; Invalidate(key) drops the entries built from it.
// Two rules keep an entry from ever being older than the replica by more than
// `max_stale`:
//   - Find answers only while the invalidation channel is confirmed current: Confirm(t)
//     says every change the replica applied before t has been reported. When the channel
//     falls behind or breaks, the cache answers nothing until it is confirmed again.
//   - A builder takes a Ticket() before reading Redis; Insert drops its entry when one of
//     its keys was invalidated after that ticket (the value read may already be old).
// Entries are evicted oldest first beyond `max_bytes`.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "http/server.h"

namespace taquilla::read {

using SteadyClock = std::chrono::steady_clock;

// A rendered answer: the identity response (with its ETag) and, when worth it, its body
// gzipped.
struct CachedResponse {
  http::Response response;
  std::string gzip;
  int route = 0;  // the route that built it, for /metrics
  size_t bytes() const { return response.body().size() + gzip.size() + 256; }
};

struct CacheStats {
  uint64_t hits = 0, misses = 0, inserts = 0, refused = 0, invalidations = 0, evictions = 0;
  uint64_t entries = 0, bytes = 0;
};

class ResponseCache {
 public:
  struct Options {
    size_t max_bytes = 64u << 20;
    std::chrono::milliseconds max_stale{500};
  };
  struct Ticket {
    uint64_t seq = 0;
    SteadyClock::time_point at;
  };

  explicit ResponseCache(Options options) : options_(options) {}

  Ticket TakeTicket(SteadyClock::time_point now) const;
  // The entry of `key`, or null (missing, or the channel is not confirmed current).
  std::shared_ptr<const CachedResponse> Find(std::string_view key, SteadyClock::time_point now);
  // Stores `value` built from `deps` after `ticket` was taken; refused (false) when a dep
  // was invalidated since, or the ticket is too old to tell.
  bool Insert(std::string key, std::vector<std::string> deps,
              std::shared_ptr<const CachedResponse> value, Ticket ticket,
              SteadyClock::time_point now);
  void Invalidate(std::string_view redis_key, SteadyClock::time_point now);
  void InvalidateAll(SteadyClock::time_point now);
  // Every change before `upto` has been passed to Invalidate.
  void Confirm(SteadyClock::time_point upto);
  // Nothing is known to be current (the channel broke): Find answers nothing.
  void Unconfirm();
  bool Live(SteadyClock::time_point now) const;
  CacheStats Stats() const;

 private:
  struct Entry {
    std::shared_ptr<const CachedResponse> value;
    std::vector<std::string> deps;
    size_t bytes = 0;
    uint64_t order = 0;
  };
  void EraseLocked(const std::string& key);
  void TrimTombstonesLocked(SteadyClock::time_point now);

  const Options options_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::unordered_map<std::string, std::unordered_set<std::string>> by_dep_;
  std::deque<std::pair<uint64_t, std::string>> fifo_;  // (order, key), oldest first
  // Keys invalidated recently: the sequence number and time of their last invalidation.
  struct Tombstone {
    uint64_t seq = 0;
    SteadyClock::time_point at;
  };
  std::unordered_map<std::string, Tombstone> tombstones_;
  std::deque<std::pair<SteadyClock::time_point, std::string>> tombstone_times_;
  uint64_t seq_ = 0;      // invalidations so far
  uint64_t all_seq_ = 0;  // seq_ at the last InvalidateAll
  uint64_t order_ = 0;
  size_t bytes_ = 0;
  std::atomic<int64_t> confirmed_ns_{INT64_MIN};
  mutable std::atomic<uint64_t> hits_{0}, misses_{0};
  uint64_t inserts_ = 0, refused_ = 0, invalidations_ = 0, evictions_ = 0;
};

}  // namespace taquilla::read
