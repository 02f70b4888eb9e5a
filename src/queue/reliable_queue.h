// The reliable queue: per consumer group ("search", "webhooks"), a Redis list of entity
// names ("event:123") that producers fill and workers drain with at-least-once delivery.
//
// Keys, for prefix p (default "tq:") and group g (see Keys):
//   {p}q:{g}               ready list: producers LPUSH, workers take from the right
//   {p}q:{g}:set           dedupe set: an item waiting there is not enqueued again
//   {p}q:{g}:t             hash item -> enqueue time (ms since the epoch), for the oldest age
//   {p}q:{g}:n             hash item -> its deliveries that ended without an ack (a Fail,
//                          a dead worker); absent for items that never failed
//   {p}q:{g}:proc:{w}      worker w's processing list (items claimed and not yet acked)
//   {p}q:{g}:hb:{w}        worker w's heartbeat (a key with a TTL)
//   {p}q:{g}:workers       set of registered workers
//   {p}q:{g}:dead          dead letters (items delivered max_deliveries times)
//   {p}q:{g}:dead:n        hash dead item -> its deliveries when it died
//   {p}q:{g}:stats         hash of counters: enqueued, acked, failed, dead, recovered
//   {p}q:{g}:reaper        the reaper's lock (SET NX PX)
//   {p}queues              set of the groups that were ever used (for operator commands)
//
// Every state change is one Lua script, so a process killed at any point loses no item:
// a claim moves items from the ready list into the worker's processing list and out of the
// dedupe set (a change that arrives while an item is in flight queues it again), an ack
// removes an item only from the acking worker's own processing list, and the reaper moves
// items back only from workers whose heartbeat key has expired — never from a live worker.
// The scripts reach per-worker keys by name, so the keys of a group must live on one Redis
// server (no Redis Cluster), which is the deployment of DESIGN.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "redis/client.h"

namespace taquilla::queue {

// The Redis key names of one group. A plain value; pure, thread-safe to share.
struct Keys {
  Keys(std::string_view prefix, std::string_view group);

  std::string ready;        // {p}q:{g}
  std::string set;          // {p}q:{g}:set
  std::string times;        // {p}q:{g}:t
  std::string failures;     // {p}q:{g}:n
  std::string workers;      // {p}q:{g}:workers
  std::string dead;         // {p}q:{g}:dead
  std::string dead_counts;  // {p}q:{g}:dead:n
  std::string stats;        // {p}q:{g}:stats
  std::string reaper;       // {p}q:{g}:reaper
  std::string groups;       // {p}queues
  std::string proc_prefix;  // {p}q:{g}:proc:
  std::string hb_prefix;    // {p}q:{g}:hb:

  std::string Processing(std::string_view worker) const {
    return proc_prefix + std::string(worker);
  }
  std::string Heartbeat(std::string_view worker) const { return hb_prefix + std::string(worker); }
};

struct Options {
  std::string prefix = "tq:";
  std::string group;
  // An item delivered this many times without an ack goes to the dead letters when it
  // fails (Fail) or its worker dies (RecoverExpired).
  int max_deliveries = 5;
  // A worker whose heartbeat key is older than this is dead; Claim and Heartbeat refresh
  // it. A worker that processes one batch for longer must call Heartbeat meanwhile.
  std::chrono::milliseconds heartbeat_ttl{30'000};
  // The reaper's lock lives this long at most (a reaper that dies frees it by expiry).
  std::chrono::milliseconds reaper_lock_ttl{10'000};
  // A worker's socket timeout for each command outside its blocking waits.
  std::chrono::milliseconds command_timeout{2'000};
  // Enqueue times and ages are read from this clock (not owned; must outlive the queue).
  const Clock* clock = &SystemClock::Instance();
};

// Group names: 1-64 characters of [A-Za-z0-9_.-]. Worker ids: 1-200 printable ASCII
// characters, no spaces. Items: non-empty.
Status ValidateGroup(std::string_view group);
Status ValidateWorkerId(std::string_view id);
Status ValidateOptions(const Options& options);
// hostname:pid:random, unique enough for a worker id.
std::string DefaultWorkerId();

struct Delivery {
  std::string item;
  // 1 on the first delivery of the item's current change (an enqueue while the item is in
  // flight is a new change), plus its failed deliveries since.
  int64_t deliveries = 0;
};

struct AckReport {
  size_t acked = 0;
  std::vector<std::string> not_held;  // items this worker does not hold (refused)
};

struct FailReport {
  size_t requeued = 0;  // back in the ready list (or already waiting there again)
  size_t dead = 0;      // moved to the dead letters
  std::vector<std::string> not_held;
};

struct Stats {
  std::string group;
  int64_t depth = 0;           // items waiting in the ready list
  int64_t oldest_age_ms = -1;  // age of the item that waited longest; -1 when empty
  int64_t in_flight = 0;       // items in the processing lists of registered workers
  int64_t dead = 0;            // dead letters
  int64_t workers = 0;         // registered workers
  int64_t live_workers = 0;    // of which the heartbeat is alive
  // Counters since the group was created.
  int64_t enqueued = 0;  // items newly queued (a deduplicated enqueue does not count)
  int64_t acked = 0;
  int64_t failed = 0;  // items a Fail put back in the ready list
  int64_t dead_lettered = 0;
  int64_t recovered = 0;  // items the reaper put back from dead workers
};

struct RecoverReport {
  bool locked_out = false;  // another process holds the reaper lock; nothing was done
  std::vector<std::string> reaped_workers;  // workers found dead (and removed)
  size_t requeued = 0;                      // items put back in the ready list
  size_t already_waiting = 0;               // items that were already waiting again
  size_t dead = 0;                          // items that went to the dead letters
};

struct DeadItem {
  std::string item;
  int64_t deliveries = 0;
};

struct DeadList {
  int64_t total = 0;            // dead letters in all
  std::vector<DeadItem> items;  // the newest first, up to the limit asked
};

// Queue: a handle on one group for producers, operators and the reaper. It owns its
// options and key names only; every call takes the redis::Client to use, so one Queue is
// shared freely (all methods are const and thread-safe; each Client is used by one thread
// at a time, as redis::Client requires).
class Queue {
 public:
  static Result<Queue> Open(Options options);

  const Options& options() const { return options_; }
  const Keys& keys() const { return keys_; }

  // Queues the items not already waiting, in one round trip (one script over the batch);
  // returns how many were newly queued. Duplicates within the batch count once.
  Result<size_t> Enqueue(redis::Client& client, std::span<const std::string> items) const;
  Result<size_t> Enqueue(redis::Client& client, std::initializer_list<std::string> items) const {
    return Enqueue(client, std::span<const std::string>(items.begin(), items.size()));
  }
  // Appends exactly one command (EVAL with the script's source, so it never meets
  // NOSCRIPT, even inside MULTI/EXEC) to the client's pipeline; its reply (inside
  // MULTI/EXEC: its element of EXEC's reply), read with EnqueuedCount, is the number of
  // items newly queued. Items must be non-empty strings
  // (not checked here: an empty item is skipped by the script).
  void AppendEnqueue(redis::Client& client, std::span<const std::string> items) const;
  static Result<size_t> EnqueuedCount(const redis::Reply& reply);

  Result<Stats> GetStats(redis::Client& client) const;

  // The reaper: under the group's reaper lock (SET NX PX), puts back the items of every
  // registered worker whose heartbeat key has expired (items delivered max_deliveries
  // times go to the dead letters instead) and removes that worker. A live worker's items
  // are never touched. Each worker is handled by one script, so a reaper killed midway
  // loses nothing.
  Result<RecoverReport> RecoverExpired(redis::Client& client) const;

  // Dead letters, newest first; limit 0 lists them all.
  Result<DeadList> ListDead(redis::Client& client, size_t limit = 0) const;
  // Moves one dead item (or all when `item` is empty) back to the ready list with a fresh
  // delivery counter; returns how many. kNotFound when the named item is not dead.
  Result<size_t> Retry(redis::Client& client, const std::optional<std::string>& item) const;

 private:
  Queue(Options options, Keys keys) : options_(std::move(options)), keys_(std::move(keys)) {}
  int64_t NowMs() const;
  friend class Worker;

  Options options_;
  Keys keys_;
};

// Worker: one consumer of one group. It owns its redis::Client (a connection of its own,
// because Claim blocks on it) and its id. A call that meets a connection error returns it;
// the next call reconnects to the same URL first. Not thread-safe: one thread uses a Worker
// at a time; move it, don't share it. Typical loop:
//
//   auto w = Worker::Start(std::move(client), options);
//   for (;;) {
//     auto batch = w->Claim(100, 1s);       // blocks up to 1 s when the queue is empty
//     ... process; call w->Heartbeat() if a batch takes long ...
//     w->Ack(done); w->Fail(failed);
//   }
//   w->Leave();                              // on shutdown: hand back what it still holds
class Worker {
 public:
  // Registers the worker (heartbeat key and the workers set). An empty id picks
  // DefaultWorkerId().
  static Result<Worker> Start(redis::Client client, Options options, std::string id = "");

  Worker(Worker&&) noexcept = default;
  Worker& operator=(Worker&&) noexcept = default;

  const std::string& id() const { return id_; }
  const Queue& queue() const { return queue_; }
  redis::Client& client() { return client_; }

  // Claims up to `max` items (oldest first) in one script: moves them into this worker's
  // processing list and out of the dedupe set, and refreshes the heartbeat. When the queue
  // is empty it waits up to `wait` for items: BLMOVE of the ready list's head back onto its
  // head wakes it without taking anything or changing the order, then the script claims.
  // Each wait is capped at a third of the heartbeat TTL, and the heartbeat is refreshed
  // between waits. Returns an empty vector when nothing came.
  Result<std::vector<Delivery>> Claim(size_t max, std::chrono::milliseconds wait);
  // Acknowledges processed items: removes each from this worker's processing list and
  // clears its failure count. Items it does not hold (e.g. recovered by the reaper
  // after its heartbeat expired) are refused and reported in not_held.
  Result<AckReport> Ack(std::span<const std::string> items);
  Result<AckReport> Ack(std::initializer_list<std::string> items) {
    return Ack(std::span<const std::string>(items.begin(), items.size()));
  }
  // Gives items back after a failed attempt: to the ready list, or to the dead letters
  // once delivered max_deliveries times.
  Result<FailReport> Fail(std::span<const std::string> items);
  Result<FailReport> Fail(std::initializer_list<std::string> items) {
    return Fail(std::span<const std::string>(items.begin(), items.size()));
  }
  // Refreshes the heartbeat key (and re-registers the worker if it had been reaped).
  Status Heartbeat();
  // Graceful exit: hands every held item back to the front of the ready list (not counted
  // as a delivery), deletes the heartbeat and deregisters. Returns how many went back.
  Result<size_t> Leave();

 private:
  Worker(redis::Client client, Queue queue, std::string id)
      : client_(std::move(client)), queue_(std::move(queue)), id_(std::move(id)) {}
  Result<std::vector<Delivery>> ClaimNow(size_t max);
  Status Reconnect();  // a new connection when the last one broke

  redis::Client client_;
  Queue queue_;
  std::string id_;
};

}  // namespace taquilla::queue
