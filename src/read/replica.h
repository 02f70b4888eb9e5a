// Replica: the read server's access to its Redis replica. Each thread that calls it gets
// a connection of its own (made on first use, remade after an error), so handler threads
// never share or wait for one. The site directory (sync/sites.h) is read from {p}sites and kept
// until the invalidation channel says the key changed (MarkSitesStale) or it is older than the
// freshness bound.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "redis/client.h"
#include "sync/keys.h"
#include "sync/sites.h"

namespace taquilla::read {

using sync::Site;
using sync::SiteDirectory;
using sync::SiteLanguage;

class Replica {
 public:
  Replica(std::string url, std::string prefix, std::chrono::milliseconds max_stale);

  const sync::Keys& keys() const { return keys_; }
  const std::string& url() const { return url_; }

  // Runs the commands in one pipelined round trip on this thread's connection.
  Result<std::vector<redis::Reply>> Run(const std::vector<std::vector<std::string>>& commands);
  Result<redis::Reply> Run1(std::vector<std::string> command);

  // The site directory (an empty one when sync has not written it yet).
  Result<std::shared_ptr<const SiteDirectory>> Sites();
  void MarkSitesStale() { sites_stale_.store(true, std::memory_order_release); }

  // The commit LSN the replica has applied ({p}lsn), 0 when unknown.
  Result<uint64_t> AppliedLsn();

  // Redis errors so far (for /metrics).
  uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }

 private:
  Result<redis::Client*> Connection();

  const std::string url_;
  const sync::Keys keys_;
  const std::chrono::milliseconds max_stale_;
  const uint64_t id_;
  std::mutex sites_mu_;
  std::shared_ptr<const SiteDirectory> sites_;
  std::chrono::steady_clock::time_point sites_at_;
  std::atomic<bool> sites_stale_{true};
  std::atomic<uint64_t> errors_{0};
};

// "0/3BF33A8" or 16 hex digits as a number; nullopt when it is neither.
std::optional<uint64_t> ParseLsn(std::string_view text);

}  // namespace taquilla::read
