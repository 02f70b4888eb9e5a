// Invalidator: keeps a ResponseCache in step with the Redis replica it was filled from,
// on a thread of its own. It subscribes one connection to __redis__:invalidate and turns
// on broadcast client-side caching (CLIENT TRACKING … BCAST PREFIX …) for the projection
// prefixes on another, redirected to the first, so the replica reports every key it
// changes, including the writes it receives from the master. Reported keys go to
// ResponseCache::Invalidate (the site list and category trees, which every page uses, to
// `on_global` and InvalidateAll); a flush drops everything.
//
// Freshness: it sends PING on the subscribed connection every `ping_interval`, one at a
// time. When the reply to ping k arrives, every change the replica applied before ping
// k-1 was sent has been reported (its invalidation left the replica before the reply to
// the later ping), so it calls Confirm(sent time of ping k-1). No reply within
// `max_stale`, or a broken connection, unconfirms the cache and reconnects.
//
// Thread-safety: Start and Stop from one owning thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "read/cache.h"

namespace taquilla::read {

struct InvalidatorOptions {
  std::string replica_url;
  std::string prefix = "tq:";
  std::chrono::milliseconds ping_interval{50};
  std::chrono::milliseconds max_stale{500};
};

class Invalidator {
 public:
  Invalidator(InvalidatorOptions options, ResponseCache& cache, std::function<void()> on_global);
  ~Invalidator();
  Invalidator(const Invalidator&) = delete;
  Invalidator& operator=(const Invalidator&) = delete;

  void Start();
  void Stop();
  // Invalidation messages received, and reconnects, for /metrics.
  uint64_t messages() const { return messages_.load(std::memory_order_relaxed); }
  uint64_t reconnects() const { return reconnects_.load(std::memory_order_relaxed); }

 private:
  void Run();
  void Session();
  void Handle(std::string_view key);

  const InvalidatorOptions options_;
  ResponseCache& cache_;
  std::function<void()> on_global_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::atomic<uint64_t> messages_{0}, reconnects_{0};
};

}  // namespace taquilla::read
