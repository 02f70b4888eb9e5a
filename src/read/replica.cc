#include "read/replica.h"

#include <boost/json.hpp>
#include <unordered_map>

namespace taquilla::read {

namespace json = boost::json;

namespace {
std::atomic<uint64_t> next_replica_id{1};

}  // namespace

Replica::Replica(std::string url, std::string prefix, std::chrono::milliseconds max_stale)
    : url_(std::move(url)),
      keys_(std::move(prefix)),
      max_stale_(max_stale),
      id_(next_replica_id.fetch_add(1)) {}

Result<redis::Client*> Replica::Connection() {
  thread_local std::unordered_map<uint64_t, std::unique_ptr<redis::Client>> connections;
  auto& c = connections[id_];
  if (c && c->broken()) c.reset();
  if (!c) {
    auto made = redis::Client::Connect(url_, std::chrono::milliseconds(1000));
    if (!made.ok()) {
      errors_.fetch_add(1, std::memory_order_relaxed);
      return made.error();
    }
    c = std::make_unique<redis::Client>(std::move(*made));
    (void)c->SetTimeout(std::chrono::milliseconds(2000));
  }
  return c.get();
}

Result<std::vector<redis::Reply>> Replica::Run(
    const std::vector<std::vector<std::string>>& commands) {
  TQ_ASSIGN_OR_RETURN(redis::Client * c, Connection());
  for (const auto& cmd : commands) c->Append(cmd);
  auto replies = c->Flush();
  if (!replies.ok()) errors_.fetch_add(1, std::memory_order_relaxed);
  return replies;
}

Result<redis::Reply> Replica::Run1(std::vector<std::string> command) {
  TQ_ASSIGN_OR_RETURN(std::vector<redis::Reply> r, Run({std::move(command)}));
  if (r[0].IsError()) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    return MakeError(ErrorCode::kInternal, "redis: {}", r[0].str());
  }
  return r[0];
}

Result<std::shared_ptr<const SiteDirectory>> Replica::Sites() {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(sites_mu_);
    if (sites_ && !sites_stale_.load(std::memory_order_acquire) && now - sites_at_ < max_stale_) {
      return sites_;
    }
  }
  // Cleared before the read: a change reported while it runs marks it stale again.
  sites_stale_.store(false, std::memory_order_release);
  TQ_ASSIGN_OR_RETURN(redis::Reply r, Run1({"GET", keys_.Sites()}));
  TQ_ASSIGN_OR_RETURN(std::shared_ptr<const SiteDirectory> dir,
                      SiteDirectory::Parse(r.IsNil() ? std::string_view() : r.str()));
  std::lock_guard lock(sites_mu_);
  sites_ = dir;
  sites_at_ = now;
  return dir;
}

Result<uint64_t> Replica::AppliedLsn() {
  TQ_ASSIGN_OR_RETURN(redis::Reply r, Run1({"GET", keys_.AppliedLsn()}));
  if (r.IsNil()) return uint64_t{0};
  auto lsn = ParseLsn(r.str());
  return lsn.value_or(0);
}

std::optional<uint64_t> ParseLsn(std::string_view text) {
  auto hex = [](std::string_view s) -> std::optional<uint64_t> {
    if (s.empty() || s.size() > 16) return std::nullopt;
    uint64_t v = 0;
    for (char c : s) {
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) return std::nullopt;
      v = v * 16 + static_cast<uint64_t>(d);
    }
    return v;
  };
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return hex(text);
  auto hi = hex(text.substr(0, slash));
  auto lo = hex(text.substr(slash + 1));
  if (!hi || !lo || slash > 8 || text.size() - slash - 1 > 8) return std::nullopt;
  return (*hi << 32) | *lo;
}

}  // namespace taquilla::read
