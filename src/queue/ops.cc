#include "queue/ops.h"

#include <fmt/format.h>

#include <algorithm>

namespace taquilla::queue::ops {

namespace {

Result<std::vector<std::string>> GroupsOrAll(redis::Client& client, const std::string& prefix,
                                             const std::vector<std::string>& groups) {
  if (!groups.empty()) return groups;
  return KnownGroups(client, prefix);
}

Result<Queue> OpenGroup(const std::string& prefix, const std::string& group,
                        int max_deliveries = 5) {
  Options o;
  o.prefix = prefix;
  o.group = group;
  o.max_deliveries = max_deliveries;
  return Queue::Open(std::move(o));
}

}  // namespace

Result<std::vector<std::string>> KnownGroups(redis::Client& client, const std::string& prefix) {
  TQ_ASSIGN_OR_RETURN(redis::Reply r, client.Cmd("SMEMBERS", Keys(prefix, "").groups));
  std::vector<std::string> out;
  for (size_t i = 0; i < r.size(); ++i) out.emplace_back(r[i].str());
  std::sort(out.begin(), out.end());
  return out;
}

std::string FormatAge(int64_t ms) {
  if (ms < 0) return "-";
  if (ms < 1000) return fmt::format("{}ms", ms);
  if (ms < 60'000) return fmt::format("{:.1f}s", static_cast<double>(ms) / 1000.0);
  const int64_t s = ms / 1000;
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}d{:02}h", s / 86400, (s % 86400) / 3600);
}

void PrintStatsTable(const std::vector<Stats>& stats, std::ostream& out) {
  size_t w = 5;
  for (const auto& s : stats) w = std::max(w, s.group.size());
  out << fmt::format("{:<{}}  {:>9}  {:>8}  {:>9}  {:>6}  {:>7}  {:>10}  {:>10}  {:>7}  {:>9}\n",
                     "group", w, "depth", "oldest", "in_flight", "dead", "workers", "enqueued",
                     "acked", "failed", "recovered");
  for (const auto& s : stats) {
    out << fmt::format("{:<{}}  {:>9}  {:>8}  {:>9}  {:>6}  {:>7}  {:>10}  {:>10}  {:>7}  {:>9}\n",
                       s.group, w, s.depth, FormatAge(s.oldest_age_ms), s.in_flight, s.dead,
                       fmt::format("{}/{}", s.live_workers, s.workers), s.enqueued, s.acked,
                       s.failed, s.recovered);
  }
}

Status PrintStats(redis::Client& client, const std::string& prefix,
                  const std::vector<std::string>& groups, std::ostream& out) {
  TQ_ASSIGN_OR_RETURN(std::vector<std::string> names, GroupsOrAll(client, prefix, groups));
  if (names.empty()) {
    out << fmt::format("no queue groups under prefix '{}'\n", prefix);
    return Ok();
  }
  std::vector<Stats> all;
  for (const auto& g : names) {
    TQ_ASSIGN_OR_RETURN(Queue q, OpenGroup(prefix, g));
    TQ_ASSIGN_OR_RETURN(Stats s, q.GetStats(client));
    all.push_back(std::move(s));
  }
  PrintStatsTable(all, out);
  return Ok();
}

Status Recover(redis::Client& client, const std::string& prefix,
               const std::vector<std::string>& groups, int max_deliveries, std::ostream& out) {
  TQ_ASSIGN_OR_RETURN(std::vector<std::string> names, GroupsOrAll(client, prefix, groups));
  if (names.empty()) {
    out << fmt::format("no queue groups under prefix '{}'\n", prefix);
    return Ok();
  }
  for (const auto& g : names) {
    TQ_ASSIGN_OR_RETURN(Queue q, OpenGroup(prefix, g, max_deliveries));
    TQ_ASSIGN_OR_RETURN(RecoverReport r, q.RecoverExpired(client));
    if (r.locked_out) {
      out << fmt::format("{}: another reaper is running; nothing done\n", g);
      continue;
    }
    out << fmt::format(
        "{}: {} expired worker(s) removed; {} item(s) moved back to the queue, {} already "
        "waiting, {} to dead letters\n",
        g, r.reaped_workers.size(), r.requeued, r.already_waiting, r.dead);
    for (const auto& w : r.reaped_workers) out << fmt::format("  removed worker {}\n", w);
  }
  return Ok();
}

Status PrintDead(redis::Client& client, const std::string& prefix,
                 const std::vector<std::string>& groups, size_t limit, std::ostream& out) {
  TQ_ASSIGN_OR_RETURN(std::vector<std::string> names, GroupsOrAll(client, prefix, groups));
  if (names.empty()) {
    out << fmt::format("no queue groups under prefix '{}'\n", prefix);
    return Ok();
  }
  for (const auto& g : names) {
    TQ_ASSIGN_OR_RETURN(Queue q, OpenGroup(prefix, g));
    TQ_ASSIGN_OR_RETURN(DeadList d, q.ListDead(client, limit));
    out << fmt::format("{}: {} dead letter(s)", g, d.total);
    if (static_cast<int64_t>(d.items.size()) < d.total) {
      out << fmt::format(" (the newest {} shown)", d.items.size());
    }
    out << "\n";
    for (const auto& it : d.items) {
      out << fmt::format("  {}  deliveries={}\n", it.item, it.deliveries);
    }
  }
  return Ok();
}

Status Retry(redis::Client& client, const std::string& prefix,
             const std::vector<std::string>& groups, const std::optional<std::string>& item,
             std::ostream& out) {
  TQ_ASSIGN_OR_RETURN(std::vector<std::string> names, GroupsOrAll(client, prefix, groups));
  bool found = false;
  for (const auto& g : names) {
    TQ_ASSIGN_OR_RETURN(Queue q, OpenGroup(prefix, g));
    auto moved = q.Retry(client, item);
    if (!moved.ok()) {
      if (item && moved.error().code == ErrorCode::kNotFound) continue;
      return moved.error();
    }
    found = true;
    out << fmt::format("{}: {} dead letter(s) moved back to the queue\n", g, *moved);
  }
  if (item && !found) {
    return MakeError(ErrorCode::kNotFound, "'{}' is not a dead letter in any queue group", *item);
  }
  return Ok();
}

}  // namespace taquilla::queue::ops
