#include "read/cache.h"

#include <mutex>

namespace taquilla::read {

namespace {
// A build that took longer than this is not cached: its tombstones may be gone.
constexpr auto kTicketMaxAge = std::chrono::seconds(10);
constexpr auto kTombstoneAge = std::chrono::seconds(12);

int64_t Ns(SteadyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}
}  // namespace

ResponseCache::Ticket ResponseCache::TakeTicket(SteadyClock::time_point now) const {
  std::shared_lock lock(mu_);
  return Ticket{seq_, now};
}

bool ResponseCache::Live(SteadyClock::time_point now) const {
  const int64_t confirmed = confirmed_ns_.load(std::memory_order_acquire);
  return confirmed != INT64_MIN &&
         Ns(now) - confirmed <= std::chrono::nanoseconds(options_.max_stale).count();
}

std::shared_ptr<const CachedResponse> ResponseCache::Find(std::string_view key,
                                                          SteadyClock::time_point now) {
  if (!Live(now)) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  std::shared_ptr<const CachedResponse> value;
  {
    std::shared_lock lock(mu_);
    auto it = entries_.find(std::string(key));
    if (it != entries_.end()) value = it->second.value;
  }
  (value ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
  return value;
}

bool ResponseCache::Insert(std::string key, std::vector<std::string> deps,
                           std::shared_ptr<const CachedResponse> value, Ticket ticket,
                           SteadyClock::time_point now) {
  std::unique_lock lock(mu_);
  bool stale = now - ticket.at > kTicketMaxAge || all_seq_ > ticket.seq;
  for (size_t i = 0; i < deps.size() && !stale; ++i) {
    auto t = tombstones_.find(deps[i]);
    stale = t != tombstones_.end() && t->second.seq > ticket.seq;
  }
  if (stale || value->bytes() > options_.max_bytes / 4) {
    ++refused_;
    return false;
  }
  EraseLocked(key);
  Entry e;
  e.bytes = value->bytes() + key.size();
  e.order = ++order_;
  e.value = std::move(value);
  for (const auto& d : deps) by_dep_[d].insert(key);
  e.deps = std::move(deps);
  bytes_ += e.bytes;
  fifo_.emplace_back(e.order, key);
  entries_.emplace(std::move(key), std::move(e));
  ++inserts_;
  while (bytes_ > options_.max_bytes && !fifo_.empty()) {
    auto [order, old] = std::move(fifo_.front());
    fifo_.pop_front();
    auto it = entries_.find(old);
    if (it != entries_.end() && it->second.order == order) {
      EraseLocked(old);
      ++evictions_;
    }
  }
  // Orders of erased or replaced entries linger in fifo_; compact when they dominate.
  if (fifo_.size() > 2 * entries_.size() + 64) {
    std::deque<std::pair<uint64_t, std::string>> live;
    for (auto& [order, k] : fifo_) {
      auto it = entries_.find(k);
      if (it != entries_.end() && it->second.order == order) live.emplace_back(order, k);
    }
    fifo_.swap(live);
  }
  return true;
}

void ResponseCache::EraseLocked(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  for (const auto& d : it->second.deps) {
    auto dep = by_dep_.find(d);
    if (dep == by_dep_.end()) continue;
    dep->second.erase(key);
    if (dep->second.empty()) by_dep_.erase(dep);
  }
  bytes_ -= it->second.bytes;
  entries_.erase(it);
}

void ResponseCache::TrimTombstonesLocked(SteadyClock::time_point now) {
  while (!tombstone_times_.empty() && now - tombstone_times_.front().first > kTombstoneAge) {
    // A key invalidated again later keeps its tombstone until that later entry goes.
    const auto& [at, key] = tombstone_times_.front();
    auto t = tombstones_.find(key);
    if (t != tombstones_.end() && t->second.at == at) tombstones_.erase(t);
    tombstone_times_.pop_front();
  }
}

void ResponseCache::Invalidate(std::string_view redis_key, SteadyClock::time_point now) {
  std::unique_lock lock(mu_);
  ++seq_;
  ++invalidations_;
  std::string key(redis_key);
  auto dep = by_dep_.find(key);
  if (dep != by_dep_.end()) {
    std::vector<std::string> victims(dep->second.begin(), dep->second.end());
    for (const auto& v : victims) EraseLocked(v);
  }
  tombstones_.insert_or_assign(key, Tombstone{seq_, now});
  tombstone_times_.emplace_back(now, std::move(key));
  TrimTombstonesLocked(now);
}

void ResponseCache::InvalidateAll(SteadyClock::time_point now) {
  std::unique_lock lock(mu_);
  ++seq_;
  ++invalidations_;
  all_seq_ = seq_;
  entries_.clear();
  by_dep_.clear();
  fifo_.clear();
  bytes_ = 0;
  TrimTombstonesLocked(now);
}

void ResponseCache::Confirm(SteadyClock::time_point upto) {
  const int64_t ns = Ns(upto);
  int64_t cur = confirmed_ns_.load(std::memory_order_relaxed);
  while ((cur == INT64_MIN || ns > cur) &&
         !confirmed_ns_.compare_exchange_weak(cur, ns, std::memory_order_release)) {
  }
}

void ResponseCache::Unconfirm() { confirmed_ns_.store(INT64_MIN, std::memory_order_release); }

CacheStats ResponseCache::Stats() const {
  std::shared_lock lock(mu_);
  CacheStats s;
  s.hits = hits_.load(std::memory_order_relaxed);
  s.misses = misses_.load(std::memory_order_relaxed);
  s.inserts = inserts_;
  s.refused = refused_;
  s.invalidations = invalidations_;
  s.evictions = evictions_;
  s.entries = entries_.size();
  s.bytes = bytes_;
  return s;
}

}  // namespace taquilla::read
