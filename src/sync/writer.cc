#include "sync/writer.h"

namespace taquilla::sync {

namespace {

// KEYS: 1 version key, 2 owned-keys set, 3 sorted-set registry.
// ARGV: lsn, expire_at (0 = none), member, compare (1: skip unchanged documents), n_docs, n_docs x
// (key, json), n_z, n_z x (key, score). Returns 1 when written, 0 when the stored LSN is newer.
const redis::Script kApplyUnit(R"lua(
local lsn = ARGV[1]
local cur = redis.call('GET', KEYS[1])
-- Equal is rewritten: both states reflect at least that LSN (rebuild relies on it).
if cur and cur > lsn then return 0 end
local exp = tonumber(ARGV[2])
local member = ARGV[3]
local compare = ARGV[4] == '1'
local i = 5
local n = tonumber(ARGV[i]); i = i + 1
local wanted = {}
local docs = {}
for _ = 1, n do
  docs[#docs + 1] = i
  wanted['k' .. ARGV[i]] = true
  i = i + 2
end
local nz = tonumber(ARGV[i]); i = i + 1
local zs = {}
for _ = 1, nz do
  zs[#zs + 1] = i
  wanted['z' .. ARGV[i]] = true
  i = i + 2
end
-- What the unit no longer owns goes. With compare, only changed documents are written
-- (an unchanged one costs a read, not a write that replicas and the AOF would copy).
local had = {}
for _, old in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  had[old] = true
  if not wanted[old] then
    local key = string.sub(old, 2)
    if string.sub(old, 1, 1) == 'k' then
      redis.call('DEL', key)
    else
      redis.call('ZREM', key, member)
    end
    redis.call('SREM', KEYS[2], old)
  end
end
for _, j in ipairs(docs) do
  local key, value = ARGV[j], ARGV[j + 1]
  if not compare or redis.call('GET', key) ~= value then
    if exp > 0 then
      redis.call('SET', key, value, 'EXAT', exp)
    else
      redis.call('SET', key, value)
    end
  elseif exp > 0 then
    if redis.call('EXPIRETIME', key) ~= exp then redis.call('EXPIREAT', key, exp) end
  elseif redis.call('TTL', key) >= 0 then
    redis.call('PERSIST', key)
  end
end
for _, j in ipairs(zs) do
  redis.call('ZADD', ARGV[j], ARGV[j + 1], member)
  redis.call('SADD', KEYS[3], ARGV[j])
end
local added = {}
for k, _ in pairs(wanted) do
  if not had[k] then
    added[#added + 1] = k
    if #added == 500 then
      redis.call('SADD', KEYS[2], unpack(added))
      added = {}
    end
  end
end
if #added > 0 then redis.call('SADD', KEYS[2], unpack(added)) end
if exp > 0 then
  if redis.call('EXPIRETIME', KEYS[2]) ~= exp then redis.call('EXPIREAT', KEYS[2], exp) end
  redis.call('SET', KEYS[1], lsn, 'EXAT', exp)
elseif n + nz == 0 then
  redis.call('SET', KEYS[1], lsn, 'EX', 86400)
else
  redis.call('SET', KEYS[1], lsn)
end
return 1
)lua");

// KEYS: 1 sorted-set registry. ARGV: now (epoch seconds), suffix of price sets, suffix of
// date sets, then the sorted-set keys to sweep (a chunk of the registry, so Redis is never
// blocked for long). Removes past members; forgets empty sets. Returns members removed.
const redis::Script kSweep(R"lua(
local now = ARGV[1]
local price_suffix = ARGV[2]
local date_suffix = ARGV[3]
local removed = 0
for i = 4, #ARGV do
  local key = ARGV[i]
  if string.sub(key, -#price_suffix) == price_suffix then
    local date_key = string.sub(key, 1, #key - #price_suffix) .. date_suffix
    local past = redis.call('ZRANGEBYSCORE', date_key, '-inf', now)
    for _, m in ipairs(past) do removed = removed + redis.call('ZREM', key, m) end
  end
end
for i = 4, #ARGV do
  local key = ARGV[i]
  if string.sub(key, -#price_suffix) ~= price_suffix then
    removed = removed + redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  end
  if redis.call('EXISTS', key) == 0 then redis.call('SREM', KEYS[1], key) end
end
return removed
)lua");

// Sets KEYS[1] to ARGV[1] unless it already holds a later LSN: the applied LSN only grows,
// even when an older batch is replayed.
constexpr const char* kRaiseLsn =
    "local c = redis.call('GET', KEYS[1]) if not c or c < ARGV[1] then "
    "redis.call('SET', KEYS[1], ARGV[1]) end return 1";

constexpr size_t kUnitsPerTransaction = 256;
constexpr size_t kBytesPerTransaction = 8 << 20;

}  // namespace

Writer::Writer(Keys keys, EnqueueFn enqueue)
    : keys_(std::move(keys)), enqueue_(std::move(enqueue)) {}

Status Writer::Prepare(redis::Client& redis) {
  TQ_RETURN_IF_ERROR(redis.Preload(kApplyUnit));
  return redis.Preload(kSweep);
}

Result<WriteStats> Writer::Apply(redis::Client& redis, const std::vector<UnitState>& units,
                                 const std::string& lsn_key, bool set_applied_lsn,
                                 bool skip_unchanged) {
  auto r = ApplyOnce(redis, units, lsn_key, set_applied_lsn, skip_unchanged);
  if (!r.ok() && r.error().message.find("NOSCRIPT") != std::string::npos) {
    TQ_RETURN_IF_ERROR(Prepare(redis));
    return ApplyOnce(redis, units, lsn_key, set_applied_lsn, skip_unchanged);
  }
  return r;
}

Result<WriteStats> Writer::ApplyOnce(redis::Client& redis, const std::vector<UnitState>& units,
                                     const std::string& lsn_key, bool set_applied_lsn,
                                     bool skip_unchanged) {
  if (kApplyUnit.sha().empty()) TQ_RETURN_IF_ERROR(Prepare(redis));
  WriteStats stats;
  size_t i = 0;
  do {
    size_t bytes = 0, n = 0;
    redis.Append({"MULTI"});
    std::vector<std::string> items;
    while (i < units.size() && n < kUnitsPerTransaction && bytes < kBytesPerTransaction) {
      const UnitState& u = units[i];
      const std::string name = u.unit.Name();
      std::vector<std::string> args;
      args.reserve(6 + u.docs.size() * 2 + u.zsets.size() * 2);
      args.push_back(lsn_key);
      args.push_back(std::to_string(u.expire_at));
      args.push_back(std::to_string(u.unit.id));
      args.push_back(skip_unchanged ? "1" : "0");
      args.push_back(std::to_string(u.docs.size()));
      for (const auto& [k, v] : u.docs) {
        args.push_back(k);
        args.push_back(v);
        bytes += k.size() + v.size();
      }
      args.push_back(std::to_string(u.zsets.size()));
      for (const auto& [k, s] : u.zsets) {
        args.push_back(k);
        args.push_back(std::to_string(s));
        bytes += k.size() + 20;
      }
      redis.AppendEval(kApplyUnit, {keys_.Version(name), keys_.Owned(name), keys_.ZsetRegistry()},
                       args);
      stats.keys += static_cast<int64_t>(u.docs.size() + u.zsets.size());
      // An event's two units are one entity for the queues' consumers.
      std::string entity = u.unit.Entity();
      if (items.empty() || items.back() != entity) items.push_back(std::move(entity));
      ++i;
      ++n;
    }
    if (enqueue_ && !items.empty()) enqueue_(redis, items);
    const bool last = i >= units.size();
    if (last && set_applied_lsn) AppendRaiseAppliedLsn(redis, lsn_key);
    redis.Append({"EXEC"});
    TQ_ASSIGN_OR_RETURN(auto replies, redis.Flush());
    const auto& exec = replies.back();
    if (!exec.IsArray()) {
      // The transaction was discarded: a queued command was refused (EXECABORT).
      for (const auto& r : replies) {
        if (r.IsError()) return MakeError(ErrorCode::kInternal, "redis: {}", r.str());
      }
      return MakeError(ErrorCode::kInternal, "redis: EXEC returned no results");
    }
    for (size_t k = 0; k < exec.size(); ++k) {
      if (exec[k].IsError()) return MakeError(ErrorCode::kInternal, "redis: {}", exec[k].str());
    }
    for (size_t k = 0; k < n; ++k) stats.applied += exec[k].integer() == 1 ? 1 : 0;
    stats.units += static_cast<int64_t>(n);
  } while (i < units.size());
  return stats;
}

void Writer::AppendRaiseAppliedLsn(redis::Client& redis, const std::string& lsn_key) {
  redis.Append({"EVAL", kRaiseLsn, "1", keys_.AppliedLsn(), lsn_key});
}

Status Writer::RaiseAppliedLsn(redis::Client& redis, const std::string& lsn_key) {
  TQ_RETURN_IF_ERROR(redis.Cmd("EVAL", kRaiseLsn, "1", keys_.AppliedLsn(), lsn_key));
  return Ok();
}

Result<int64_t> Writer::SweepPast(redis::Client& redis, int64_t now_epoch) {
  // The registry in chunks; within a chunk, price sets first so they still find their
  // site's past members in the date set.
  int64_t removed = 0;
  std::string cursor = "0";
  std::vector<std::string> price, other;
  do {
    TQ_ASSIGN_OR_RETURN(auto r, redis.Cmd("SSCAN", keys_.ZsetRegistry(), cursor, "COUNT", "500"));
    cursor = std::string(r[0].str());
    for (size_t i = 0; i < r[1].size(); ++i) {
      std::string key(r[1][i].str());
      (key.size() > 6 && key.compare(key.size() - 6, 6, ":price") == 0 ? price : other)
          .push_back(std::move(key));
    }
  } while (cursor != "0");
  std::vector<std::string> all = std::move(price);
  all.insert(all.end(), other.begin(), other.end());
  for (size_t i = 0; i < all.size(); i += 500) {
    std::vector<std::string> args{std::to_string(now_epoch), ":price", ":date"};
    args.insert(args.end(), all.begin() + static_cast<ptrdiff_t>(i),
                all.begin() + static_cast<ptrdiff_t>(std::min(all.size(), i + 500)));
    TQ_ASSIGN_OR_RETURN(auto r, redis.Eval(kSweep, {keys_.ZsetRegistry()}, args));
    removed += r.integer();
  }
  return removed;
}

}  // namespace taquilla::sync
