#include "queue/reliable_queue.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <random>

namespace taquilla::queue {

namespace {

// Prepended to every script. Lua's unpack() is bounded by the C stack (8000 slots in
// Redis), so batch commands go in chunks of CHUNK items. dead_letter moves an item that was
// delivered c times to the dead letters; q names the group's keys.
constexpr std::string_view kPrelude = R"lua(
local CHUNK = 1000
local function dead_letter(q, it, c)
  redis.call('HDEL', q.failures, it)
  if redis.call('HSET', q.dead_counts, it, c) == 1 then redis.call('LPUSH', q.dead, it) end
  if redis.call('SISMEMBER', q.set, it) == 0 then redis.call('HDEL', q.times, it) end
  redis.call('HINCRBY', q.stats, 'dead', 1)
end
)lua";

std::string Lua(std::string_view body) { return std::string(kPrelude) + std::string(body); }

// KEYS: ready, set, times, stats, groups. ARGV: now_ms, group, items...
// One SMISMEMBER per chunk finds the items already waiting; a Lua table drops repeats
// within the batch; the rest is added with one SADD, LPUSH and HSET per chunk.
const redis::Script kEnqueue(Lua(R"lua(
local fresh, n, seen = {}, 0, {}
for s = 3, #ARGV, CHUNK do
  local e = math.min(s + CHUNK - 1, #ARGV)
  local waiting = redis.call('SMISMEMBER', KEYS[2], unpack(ARGV, s, e))
  for i = s, e do
    local it = ARGV[i]
    if waiting[i - s + 1] == 0 and it ~= '' and not seen[it] then
      seen[it] = true
      n = n + 1
      fresh[n] = it
    end
  end
end
for s = 1, n, CHUNK do
  local e = math.min(s + CHUNK - 1, n)
  redis.call('SADD', KEYS[2], unpack(fresh, s, e))
  redis.call('LPUSH', KEYS[1], unpack(fresh, s, e))
  local kv = {}
  for j = s, e do
    kv[#kv + 1] = fresh[j]
    kv[#kv + 1] = ARGV[1]
  end
  redis.call('HSET', KEYS[3], unpack(kv))
end
if n > 0 then redis.call('HINCRBY', KEYS[4], 'enqueued', n) end
redis.call('SADD', KEYS[5], ARGV[2])
return n
)lua"));

// KEYS: ready, set, failures, proc, hb, workers. ARGV: max, worker, hb_ttl_ms.
// Returns item1, deliveries1, item2, deliveries2, ... where deliveries is the item's failed
// deliveries so far plus this one. The failures hash only holds items that failed, so in
// the common case it does not exist and reading it costs nothing.
const redis::Script kClaim(Lua(R"lua(
redis.call('SET', KEYS[5], '1', 'PX', ARGV[3])
redis.call('SADD', KEYS[6], ARGV[2])
local items = redis.call('RPOP', KEYS[1], ARGV[1])
if not items then return {} end
local n = #items
local out = {}
for s = 1, n, CHUNK do
  local e = math.min(s + CHUNK - 1, n)
  redis.call('LPUSH', KEYS[4], unpack(items, s, e))
  redis.call('SREM', KEYS[2], unpack(items, s, e))
  local failed = redis.call('HMGET', KEYS[3], unpack(items, s, e))
  for i = s, e do
    out[2 * i - 1] = items[i]
    out[2 * i] = (tonumber(failed[i - s + 1]) or 0) + 1
  end
end
return out
)lua"));

// KEYS: proc, set, times, failures, stats. ARGV: items. Returns 1 (acked) or 0 (not held)
// per item. Items are claimed oldest first and LPUSHed, so the oldest sits at the tail:
// LREM from the tail (count -1) finds items acked in claim order at once.
const redis::Script kAck(Lua(R"lua(
local out, held, h = {}, {}, 0
for i = 1, #ARGV do
  if redis.call('LREM', KEYS[1], -1, ARGV[i]) > 0 then
    h = h + 1
    held[h] = ARGV[i]
    out[i] = 1
  else
    out[i] = 0
  end
end
for s = 1, h, CHUNK do
  local e = math.min(s + CHUNK - 1, h)
  redis.call('HDEL', KEYS[4], unpack(held, s, e))
  local waiting = redis.call('SMISMEMBER', KEYS[2], unpack(held, s, e))
  local gone = {}
  for i = s, e do
    if waiting[i - s + 1] == 0 then gone[#gone + 1] = held[i] end
  end
  if #gone > 0 then redis.call('HDEL', KEYS[3], unpack(gone)) end
end
if h > 0 then redis.call('HINCRBY', KEYS[5], 'acked', h) end
return out
)lua"));

// KEYS: proc, ready, set, times, failures, dead, dead_counts, stats.
// ARGV: now_ms, max_deliveries, items. Per item: 0 not held, 1 requeued, 2 already waiting
// again, 3 dead.
const redis::Script kFail(Lua(R"lua(
local q = {set = KEYS[3], times = KEYS[4], failures = KEYS[5], dead = KEYS[6],
           dead_counts = KEYS[7], stats = KEYS[8]}
local now, max = ARGV[1], tonumber(ARGV[2])
local out, failed = {}, 0
for i = 3, #ARGV do
  local it = ARGV[i]
  local r = 0
  if redis.call('LREM', KEYS[1], -1, it) > 0 then
    local c = (tonumber(redis.call('HGET', KEYS[5], it)) or 0) + 1
    if c >= max then
      dead_letter(q, it, c)
      r = 3
    else
      redis.call('HSET', KEYS[5], it, c)
      failed = failed + 1
      if redis.call('SADD', KEYS[3], it) == 1 then
        redis.call('LPUSH', KEYS[2], it)
        redis.call('HSET', KEYS[4], it, now)
        r = 1
      else
        r = 2
      end
    end
  end
  out[i - 2] = r
end
if failed > 0 then redis.call('HINCRBY', KEYS[8], 'failed', failed) end
return out
)lua"));

// One worker's recovery. KEYS: hb, proc, ready, set, times, failures, dead, dead_counts,
// workers, stats. ARGV: worker, now_ms, max_deliveries, mode ("reap": only if the
// heartbeat expired, and each item's delivery counts as failed; "leave": the worker itself
// hands its items back, which does not count). Returns {requeued, already_waiting, dead},
// or {-1} when the worker is alive. Items go back to the front (right end) of the ready
// list in claim order, keeping their original enqueue time.
const redis::Script kRecover(Lua(R"lua(
local q = {set = KEYS[4], times = KEYS[5], failures = KEYS[6], dead = KEYS[7],
           dead_counts = KEYS[8], stats = KEYS[10]}
local leave = ARGV[4] == 'leave'
if not leave and redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end
local max = tonumber(ARGV[3])
local requeued, waiting, dead = 0, 0, 0
while true do
  local it = redis.call('LPOP', KEYS[2])
  if not it then break end
  local back = true
  if not leave then
    local c = (tonumber(redis.call('HGET', KEYS[6], it)) or 0) + 1
    if c >= max then
      dead_letter(q, it, c)
      dead = dead + 1
      back = false
    else
      redis.call('HSET', KEYS[6], it, c)
    end
  end
  if back then
    if redis.call('SADD', KEYS[4], it) == 1 then
      redis.call('RPUSH', KEYS[3], it)
      redis.call('HSETNX', KEYS[5], it, ARGV[2])
      requeued = requeued + 1
    else
      waiting = waiting + 1
    end
  end
end
redis.call('SREM', KEYS[9], ARGV[1])
if leave then
  redis.call('DEL', KEYS[1])
elseif requeued > 0 then
  redis.call('HINCRBY', KEYS[10], 'recovered', requeued)
end
return {requeued, waiting, dead}
)lua"));

// KEYS: ready, times, workers, dead, stats. ARGV: proc prefix, hb prefix.
const redis::Script kStats(Lua(R"lua(
local depth = redis.call('LLEN', KEYS[1])
local oldest = -1
if depth > 0 then
  local it = redis.call('LINDEX', KEYS[1], -1)
  local t = it and redis.call('HGET', KEYS[2], it)
  if t then oldest = tonumber(t) end
end
local workers = redis.call('SMEMBERS', KEYS[3])
local in_flight, live = 0, 0
for _, w in ipairs(workers) do
  in_flight = in_flight + redis.call('LLEN', ARGV[1] .. w)
  live = live + redis.call('EXISTS', ARGV[2] .. w)
end
local s = redis.call('HMGET', KEYS[5], 'enqueued', 'acked', 'failed', 'dead', 'recovered')
local out = {depth, oldest, in_flight, redis.call('LLEN', KEYS[4]), #workers, live}
for i = 1, 5 do out[#out + 1] = tonumber(s[i]) or 0 end
return out
)lua"));

// KEYS: dead, dead_counts. ARGV: limit (0: all). Returns total, item1, count1, ...
const redis::Script kListDead(Lua(R"lua(
local total = redis.call('LLEN', KEYS[1])
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local out = {total}
for _, it in ipairs(items) do
  out[#out + 1] = it
  out[#out + 1] = tonumber(redis.call('HGET', KEYS[2], it)) or 0
end
return out
)lua"));

// KEYS: dead, dead_counts, ready, set, times, failures. ARGV: now_ms, item ("" = the
// oldest batch of up to 1000). Returns how many dead letters were moved back.
const redis::Script kRetry(Lua(R"lua(
local items
if ARGV[2] ~= '' then
  if redis.call('LREM', KEYS[1], 0, ARGV[2]) == 0 then return 0 end
  items = {ARGV[2]}
else
  items = redis.call('RPOP', KEYS[1], CHUNK)
  if not items then return 0 end
end
for _, it in ipairs(items) do
  redis.call('HDEL', KEYS[2], it)
  redis.call('HDEL', KEYS[6], it)
  if redis.call('SADD', KEYS[4], it) == 1 then
    redis.call('LPUSH', KEYS[3], it)
    redis.call('HSET', KEYS[5], it, ARGV[1])
  end
end
return #items
)lua"));

// KEYS: lock. ARGV: token.
const redis::Script kUnlock(Lua(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua"));

std::string Millis(std::chrono::milliseconds d) { return std::to_string(d.count()); }

std::vector<std::string> EnqueueKeys(const Keys& k) {
  return {k.ready, k.set, k.times, k.stats, k.groups};
}

std::vector<std::string> EnqueueArgs(int64_t now_ms, const std::string& group,
                                     std::span<const std::string> items) {
  std::vector<std::string> args;
  args.reserve(items.size() + 2);
  args.push_back(std::to_string(now_ms));
  args.push_back(group);
  args.insert(args.end(), items.begin(), items.end());
  return args;
}

Error BadReply(std::string_view what) {
  return MakeError(ErrorCode::kInternal, "queue: unexpected reply to {}", what);
}

std::string RandomHex(size_t bytes) {
  static thread_local std::mt19937_64 rng(std::random_device{}() ^
                                          (static_cast<uint64_t>(::getpid()) << 32));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (size_t i = 0; i < bytes; ++i) {
    auto b = static_cast<unsigned>(rng() & 0xff);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

// The BLMOVE timeout in seconds with millisecond precision ("0.100").
std::string Seconds(std::chrono::milliseconds d) {
  return fmt::format("{}.{:03}", d.count() / 1000, d.count() % 1000);
}

}  // namespace

Keys::Keys(std::string_view prefix, std::string_view group) {
  const std::string base = fmt::format("{}q:{}", prefix, group);
  ready = base;
  set = base + ":set";
  times = base + ":t";
  failures = base + ":n";
  workers = base + ":workers";
  dead = base + ":dead";
  dead_counts = base + ":dead:n";
  stats = base + ":stats";
  reaper = base + ":reaper";
  groups = fmt::format("{}queues", prefix);
  proc_prefix = base + ":proc:";
  hb_prefix = base + ":hb:";
}

Status ValidateGroup(std::string_view group) {
  const bool ok =
      !group.empty() && group.size() <= 64 && std::all_of(group.begin(), group.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '.' || c == '-';
      });
  if (!ok) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "queue group '{}' is not 1-64 characters of [A-Za-z0-9_.-]", group);
  }
  return Ok();
}

Status ValidateWorkerId(std::string_view id) {
  const bool ok = !id.empty() && id.size() <= 200 &&
                  std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 127; });
  if (!ok) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "queue worker id '{}' is not 1-200 printable characters without spaces", id);
  }
  return Ok();
}

Status ValidateOptions(const Options& o) {
  TQ_RETURN_IF_ERROR(ValidateGroup(o.group));
  if (o.prefix.find(' ') != std::string::npos) {
    return MakeError(ErrorCode::kInvalidArgument, "queue prefix '{}' has a space", o.prefix);
  }
  if (o.max_deliveries < 1) {
    return MakeError(ErrorCode::kInvalidArgument, "queue max_deliveries must be at least 1");
  }
  if (o.heartbeat_ttl < std::chrono::milliseconds(30)) {
    return MakeError(ErrorCode::kInvalidArgument, "queue heartbeat TTL must be at least 30 ms");
  }
  if (o.reaper_lock_ttl < std::chrono::milliseconds(1)) {
    return MakeError(ErrorCode::kInvalidArgument, "queue reaper lock TTL must be positive");
  }
  if (o.command_timeout < std::chrono::milliseconds(1)) {
    return MakeError(ErrorCode::kInvalidArgument, "queue command timeout must be positive");
  }
  if (o.clock == nullptr) return MakeError(ErrorCode::kInvalidArgument, "queue clock is null");
  return Ok();
}

std::string DefaultWorkerId() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    std::snprintf(host, sizeof(host), "host");
  }
  std::string h(host);
  for (char& c : h) {
    if (c <= ' ' || c >= 127) c = '_';
  }
  if (h.size() > 150) h.resize(150);
  return fmt::format("{}:{}:{}", h, ::getpid(), RandomHex(4));
}

// ---------------------------------------------------------------------------------------
// Queue

Result<Queue> Queue::Open(Options options) {
  TQ_RETURN_IF_ERROR(ValidateOptions(options));
  Keys keys(options.prefix, options.group);
  return Queue(std::move(options), std::move(keys));
}

int64_t Queue::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             options_.clock->Now().time_since_epoch())
      .count();
}

Result<size_t> Queue::Enqueue(redis::Client& client, std::span<const std::string> items) const {
  if (items.empty()) return size_t{0};
  for (const auto& it : items) {
    if (it.empty()) return MakeError(ErrorCode::kInvalidArgument, "queue: empty item");
  }
  TQ_ASSIGN_OR_RETURN(redis::Reply r, client.Eval(kEnqueue, EnqueueKeys(keys_),
                                                  EnqueueArgs(NowMs(), options_.group, items)));
  return EnqueuedCount(r);
}

void Queue::AppendEnqueue(redis::Client& client, std::span<const std::string> items) const {
  std::vector<std::string> keys = EnqueueKeys(keys_);
  std::vector<std::string> args = EnqueueArgs(NowMs(), options_.group, items);
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVAL");
  argv.push_back(kEnqueue.source());
  argv.push_back(std::to_string(keys.size()));
  for (auto& k : keys) argv.push_back(std::move(k));
  for (auto& a : args) argv.push_back(std::move(a));
  client.Append(argv);
}

Result<size_t> Queue::EnqueuedCount(const redis::Reply& reply) {
  if (reply.IsError()) {
    return MakeError(ErrorCode::kInternal, "queue enqueue: redis: {}", reply.str());
  }
  if (!reply.IsInteger() || reply.integer() < 0) return BadReply("enqueue");
  return static_cast<size_t>(reply.integer());
}

Result<Stats> Queue::GetStats(redis::Client& client) const {
  TQ_ASSIGN_OR_RETURN(
      redis::Reply r,
      client.Eval(kStats, {keys_.ready, keys_.times, keys_.workers, keys_.dead, keys_.stats},
                  {keys_.proc_prefix, keys_.hb_prefix}));
  if (r.size() != 11) return BadReply("stats");
  Stats s;
  s.group = options_.group;
  s.depth = r[0].integer();
  const int64_t oldest = r[1].integer();
  s.oldest_age_ms = oldest < 0 ? -1 : std::max<int64_t>(0, NowMs() - oldest);
  s.in_flight = r[2].integer();
  s.dead = r[3].integer();
  s.workers = r[4].integer();
  s.live_workers = r[5].integer();
  s.enqueued = r[6].integer();
  s.acked = r[7].integer();
  s.failed = r[8].integer();
  s.dead_lettered = r[9].integer();
  s.recovered = r[10].integer();
  return s;
}

Result<RecoverReport> Queue::RecoverExpired(redis::Client& client) const {
  RecoverReport report;
  const std::string token = RandomHex(16);
  TQ_ASSIGN_OR_RETURN(redis::Reply lock, client.Cmd("SET", keys_.reaper, token, "NX", "PX",
                                                    Millis(options_.reaper_lock_ttl)));
  if (lock.IsNil()) {
    report.locked_out = true;
    return report;
  }
  auto reap = [&]() -> Status {
    TQ_ASSIGN_OR_RETURN(redis::Reply members, client.Cmd("SMEMBERS", keys_.workers));
    std::vector<std::string> workers;
    for (size_t i = 0; i < members.size(); ++i) workers.emplace_back(members[i].str());
    if (workers.empty()) return Ok();
    for (const auto& w : workers) client.Append({"EXISTS", keys_.Heartbeat(w)});
    TQ_ASSIGN_OR_RETURN(std::vector<redis::Reply> alive, client.Flush());
    const std::string now = std::to_string(NowMs());
    const std::string max = std::to_string(options_.max_deliveries);
    for (size_t i = 0; i < workers.size(); ++i) {
      if (alive[i].integer() != 0) continue;
      const std::string& w = workers[i];
      // The script checks the heartbeat again: a worker that came back meanwhile is kept.
      TQ_ASSIGN_OR_RETURN(
          redis::Reply r,
          client.Eval(kRecover,
                      {keys_.Heartbeat(w), keys_.Processing(w), keys_.ready, keys_.set, keys_.times,
                       keys_.failures, keys_.dead, keys_.dead_counts, keys_.workers, keys_.stats},
                      {w, now, max, "reap"}));
      if (r.size() == 1 && r[0].integer() == -1) continue;
      if (r.size() != 3) return BadReply("recover");
      report.reaped_workers.push_back(w);
      report.requeued += static_cast<size_t>(r[0].integer());
      report.already_waiting += static_cast<size_t>(r[1].integer());
      report.dead += static_cast<size_t>(r[2].integer());
    }
    return Ok();
  };
  Status st = reap();
  // Free the lock (only if it is still ours) even when reaping failed midway.
  auto unlocked = client.Eval(kUnlock, {keys_.reaper}, {token});
  if (!st.ok()) return st.error();
  if (!unlocked.ok()) return unlocked.error();
  return report;
}

Result<DeadList> Queue::ListDead(redis::Client& client, size_t limit) const {
  TQ_ASSIGN_OR_RETURN(redis::Reply r, client.Eval(kListDead, {keys_.dead, keys_.dead_counts},
                                                  {std::to_string(limit)}));
  if (r.size() < 1 || r.size() % 2 != 1) return BadReply("dead list");
  DeadList out;
  out.total = r[0].integer();
  for (size_t i = 1; i + 1 < r.size(); i += 2) {
    out.items.push_back(DeadItem{std::string(r[i].str()), r[i + 1].integer()});
  }
  return out;
}

Result<size_t> Queue::Retry(redis::Client& client, const std::optional<std::string>& item) const {
  if (item && item->empty()) return MakeError(ErrorCode::kInvalidArgument, "queue: empty item");
  const std::vector<std::string> keys = {keys_.dead, keys_.dead_counts, keys_.ready,
                                         keys_.set,  keys_.times,       keys_.failures};
  size_t moved = 0;
  for (;;) {
    TQ_ASSIGN_OR_RETURN(redis::Reply r,
                        client.Eval(kRetry, keys, {std::to_string(NowMs()), item.value_or("")}));
    if (!r.IsInteger()) return BadReply("retry");
    moved += static_cast<size_t>(r.integer());
    if (item || r.integer() == 0) break;
  }
  if (item && moved == 0) {
    return MakeError(ErrorCode::kNotFound, "queue {}: '{}' is not a dead letter", options_.group,
                     *item);
  }
  return moved;
}

// ---------------------------------------------------------------------------------------
// Worker

Result<Worker> Worker::Start(redis::Client client, Options options, std::string id) {
  TQ_ASSIGN_OR_RETURN(Queue queue, Queue::Open(std::move(options)));
  if (id.empty()) id = DefaultWorkerId();
  TQ_RETURN_IF_ERROR(ValidateWorkerId(id));
  TQ_RETURN_IF_ERROR(client.SetTimeout(queue.options().command_timeout));
  Worker w(std::move(client), std::move(queue), std::move(id));
  TQ_RETURN_IF_ERROR(w.Heartbeat());
  return w;
}

Status Worker::Reconnect() {
  if (!client_.broken()) return Ok();
  TQ_ASSIGN_OR_RETURN(redis::Client c,
                      redis::Client::Connect(client_.url(), queue_.options().command_timeout));
  client_ = std::move(c);
  return Ok();
}

Status Worker::Heartbeat() {
  TQ_RETURN_IF_ERROR(Reconnect());
  const Keys& k = queue_.keys();
  client_.Append({"SET", k.Heartbeat(id_), "1", "PX", Millis(queue_.options().heartbeat_ttl)});
  client_.Append({"SADD", k.workers, id_});
  client_.Append({"SADD", k.groups, queue_.options().group});
  TQ_ASSIGN_OR_RETURN(std::vector<redis::Reply> replies, client_.Flush());
  for (const auto& r : replies) {
    if (r.IsError()) return MakeError(ErrorCode::kInternal, "queue heartbeat: {}", r.str());
  }
  return Ok();
}

Result<std::vector<Delivery>> Worker::ClaimNow(size_t max) {
  TQ_RETURN_IF_ERROR(Reconnect());
  const Keys& k = queue_.keys();
  TQ_ASSIGN_OR_RETURN(
      redis::Reply r,
      client_.Eval(kClaim,
                   {k.ready, k.set, k.failures, k.Processing(id_), k.Heartbeat(id_), k.workers},
                   {std::to_string(max), id_, Millis(queue_.options().heartbeat_ttl)}));
  if (r.size() % 2 != 0) return BadReply("claim");
  std::vector<Delivery> out;
  out.reserve(r.size() / 2);
  for (size_t i = 0; i + 1 < r.size(); i += 2) {
    out.push_back(Delivery{std::string(r[i].str()), r[i + 1].integer()});
  }
  return out;
}

Result<std::vector<Delivery>> Worker::Claim(size_t max, std::chrono::milliseconds wait) {
  using std::chrono::milliseconds;
  if (max == 0) return MakeError(ErrorCode::kInvalidArgument, "queue claim: max must be >= 1");
  const auto deadline = std::chrono::steady_clock::now() + wait;
  const milliseconds cap = std::max(milliseconds(10), queue_.options().heartbeat_ttl / 3);
  for (;;) {
    TQ_ASSIGN_OR_RETURN(std::vector<Delivery> got, ClaimNow(max));
    if (!got.empty()) return got;
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left < milliseconds(1)) return got;
    const milliseconds block = std::min(left, cap);
    // BLMOVE of the ready list's head back onto its head returns as soon as an item is
    // there and leaves the list as it was, so nothing is ever held outside a script.
    TQ_RETURN_IF_ERROR(client_.SetTimeout(block + queue_.options().command_timeout));
    const std::string& ready = queue_.keys().ready;
    auto woke = client_.Cmd("BLMOVE", ready, ready, "RIGHT", "RIGHT", Seconds(block));
    TQ_RETURN_IF_ERROR(client_.SetTimeout(queue_.options().command_timeout));
    if (!woke.ok()) return woke.error();
  }
}

Result<AckReport> Worker::Ack(std::span<const std::string> items) {
  AckReport report;
  if (items.empty()) return report;
  TQ_RETURN_IF_ERROR(Reconnect());
  const Keys& k = queue_.keys();
  TQ_ASSIGN_OR_RETURN(redis::Reply r,
                      client_.Eval(kAck, {k.Processing(id_), k.set, k.times, k.failures, k.stats},
                                   std::vector<std::string>(items.begin(), items.end())));
  if (r.size() != items.size()) return BadReply("ack");
  for (size_t i = 0; i < items.size(); ++i) {
    if (r[i].integer() == 1) {
      ++report.acked;
    } else {
      report.not_held.push_back(items[i]);
    }
  }
  return report;
}

Result<FailReport> Worker::Fail(std::span<const std::string> items) {
  FailReport report;
  if (items.empty()) return report;
  TQ_RETURN_IF_ERROR(Reconnect());
  const Keys& k = queue_.keys();
  std::vector<std::string> args;
  args.reserve(items.size() + 2);
  args.push_back(std::to_string(queue_.NowMs()));
  args.push_back(std::to_string(queue_.options().max_deliveries));
  args.insert(args.end(), items.begin(), items.end());
  TQ_ASSIGN_OR_RETURN(redis::Reply r, client_.Eval(kFail,
                                                   {k.Processing(id_), k.ready, k.set, k.times,
                                                    k.failures, k.dead, k.dead_counts, k.stats},
                                                   args));
  if (r.size() != items.size()) return BadReply("fail");
  for (size_t i = 0; i < items.size(); ++i) {
    switch (r[i].integer()) {
      case 1:
      case 2:
        ++report.requeued;
        break;
      case 3:
        ++report.dead;
        break;
      default:
        report.not_held.push_back(items[i]);
    }
  }
  return report;
}

Result<size_t> Worker::Leave() {
  TQ_RETURN_IF_ERROR(Reconnect());
  const Keys& k = queue_.keys();
  TQ_ASSIGN_OR_RETURN(redis::Reply r,
                      client_.Eval(kRecover,
                                   {k.Heartbeat(id_), k.Processing(id_), k.ready, k.set, k.times,
                                    k.failures, k.dead, k.dead_counts, k.workers, k.stats},
                                   {id_, std::to_string(queue_.NowMs()),
                                    std::to_string(queue_.options().max_deliveries), "leave"}));
  if (r.size() != 3) return BadReply("leave");
  return static_cast<size_t>(r[0].integer() + r[1].integer());
}

}  // namespace taquilla::queue
