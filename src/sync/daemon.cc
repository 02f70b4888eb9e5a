#include "sync/daemon.h"

#include <future>
#include <thread>

#include "common/log.h"
#include "queue/reliable_queue.h"
#include "redis/client.h"
#include "sync/deps.h"
#include "sync/stream.h"
#include "sync/tools.h"
#include "sync/writer.h"

namespace taquilla::sync {

namespace {

// master_replid from INFO replication ("" if absent).
Result<std::string> ReplicationId(redis::Client& redis) {
  TQ_ASSIGN_OR_RETURN(auto info, redis.Cmd("INFO", "replication"));
  std::string_view text = info.str();
  const std::string_view key = "master_replid:";
  auto at = text.find(key);
  if (at == std::string_view::npos) return std::string();
  auto end = text.find_first_of("\r\n", at);
  return std::string(text.substr(at + key.size(), end - at - key.size()));
}

// A lock id for the slot: standby instances of the same slot wait on it.
std::string LockId(const std::string& slot) {
  uint64_t h = 1469598103934665603ull;
  for (char ch : "taquilla sync " + slot)
    h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
  return std::to_string(static_cast<int64_t>(h >> 1));
}

}  // namespace

void SyncMetrics::SetQueue(const std::string& group, QueueGauge g) {
  std::lock_guard lock(mu_);
  queues_[group] = g;
}

std::string SyncMetrics::Render() const {
  std::string out;
  auto metric = [&out](const char* name, const char* type, const char* help, auto value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  metric("taquilla_sync_changes_total", "counter", "Row changes read from the replication slot.",
         changes.load());
  metric("taquilla_sync_transactions_total", "counter", "Committed transactions read.",
         transactions.load());
  metric("taquilla_sync_batches_total", "counter", "Batches applied to Redis.", batches.load());
  metric("taquilla_sync_units_total", "counter", "Projection units rebuilt.", units.load());
  metric("taquilla_sync_projection_writes_total", "counter",
         "Documents and sorted-set memberships written to Redis.", writes.load());
  metric("taquilla_sync_reconciles_total", "counter",
         "Full rebuilds after a new slot or a Redis master restart or failover.",
         reconciles.load());
  metric("taquilla_sync_errors_total", "counter", "Sessions ended by an error (then retried).",
         errors.load());
  metric("taquilla_sync_swept_total", "counter", "Started events removed from sorted sets.",
         swept.load());
  metric("taquilla_sync_confirmed_lsn", "gauge", "WAL position confirmed to PostgreSQL.",
         confirmed_lsn.load());
  metric("taquilla_sync_server_lsn", "gauge", "PostgreSQL's WAL position at the last check.",
         server_lsn.load());
  metric("taquilla_sync_lag_bytes", "gauge", "WAL bytes written but not yet applied to Redis.",
         lag_bytes.load());
  metric("taquilla_sync_lag_seconds", "gauge",
         "Seconds since sync was last caught up with PostgreSQL (0 when caught up).",
         fmt::format("{:.3f}", lag_seconds.load()));
  metric("taquilla_sync_slot_safe_wal_bytes", "gauge",
         "WAL bytes left before max_slot_wal_keep_size invalidates the slot (-1: no limit).",
         safe_wal_bytes.load());
  out +=
      "# HELP taquilla_sync_seconds_total Seconds spent per phase of applying changes.\n"
      "# TYPE taquilla_sync_seconds_total counter\n";
  out += fmt::format("taquilla_sync_seconds_total{{phase=\"read\"}} {:.3f}\n", seconds_read.load());
  out += fmt::format("taquilla_sync_seconds_total{{phase=\"wait\"}} {:.3f}\n", seconds_wait.load());
  out +=
      fmt::format("taquilla_sync_seconds_total{{phase=\"build\"}} {:.3f}\n", seconds_build.load());
  out +=
      fmt::format("taquilla_sync_seconds_total{{phase=\"write\"}} {:.3f}\n", seconds_write.load());
  metric("taquilla_sync_streaming", "gauge", "1 while streaming from the slot.",
         streaming.load() ? 1 : 0);
  std::lock_guard lock(mu_);
  const std::pair<const char*, const char*> gauges[] = {
      {"taquilla_queue_depth", "Items waiting in a change queue."},
      {"taquilla_queue_oldest_age_seconds", "Age of the oldest waiting item (-1: empty)."},
      {"taquilla_queue_in_flight", "Items held by workers."},
      {"taquilla_queue_dead", "Dead letters."},
      {"taquilla_queue_workers", "Registered workers."}};
  for (size_t k = 0; k < std::size(gauges); ++k) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", gauges[k].first, gauges[k].second,
                       gauges[k].first);
    for (const auto& [group, g] : queues_) {
      std::string v;
      switch (k) {
        case 0:
          v = std::to_string(g.depth);
          break;
        case 1:
          v = g.oldest_age_ms < 0 ? "-1" : fmt::format("{:.3f}", g.oldest_age_ms / 1000.0);
          break;
        case 2:
          v = std::to_string(g.in_flight);
          break;
        case 3:
          v = std::to_string(g.dead);
          break;
        default:
          v = std::to_string(g.workers);
          break;
      }
      out += fmt::format("{}{{group=\"{}\"}} {}\n", gauges[k].first, group, v);
    }
  }
  return out;
}

// One connected lifetime: Redis, PostgreSQL and the stream, until an error or stop.
namespace {
void Add(std::atomic<double>& counter, std::chrono::steady_clock::time_point since) {
  const double d = std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
  double cur = counter.load();
  while (!counter.compare_exchange_weak(cur, cur + d)) {
  }
}
}  // namespace

class SyncDaemon::Session {
 public:
  Session(const SyncOptions& o, SyncMetrics& m, const std::atomic<bool>& stop)
      : o_(o), m_(m), stop_(stop), projector_(o.projector), log_(Logger("sync")) {}

  Status Run() {
    TQ_ASSIGN_OR_RETURN(pg_, db::Connection::Open(o_.postgres_url));
    TQ_RETURN_IF_ERROR(WaitForLock());
    TQ_ASSIGN_OR_RETURN(redis_, redis::Client::Connect(o_.redis_url, std::chrono::seconds(30)));
    for (const auto& g : o_.queues) {
      queue::Options qo;
      qo.prefix = o_.projector.keys.prefix();
      qo.group = g;
      qo.max_deliveries = o_.max_deliveries;
      TQ_ASSIGN_OR_RETURN(auto q, queue::Queue::Open(qo));
      queues_.push_back(std::move(q));
    }
    writer_ = std::make_unique<Writer>(
        o_.projector.keys, [this](redis::Client& r, const std::vector<std::string>& items) {
          for (const auto& q : queues_) q.AppendEnqueue(r, items);
        });
    TQ_RETURN_IF_ERROR(writer_->Prepare(*redis_));

    TQ_ASSIGN_OR_RETURN(stream_, ReplicationStream::Open(o_.postgres_url));
    // A slot about to be created means Redis must be built from its snapshot: mark the
    // state unbuilt first, so a crash before the build completes leads to a reconcile.
    if (auto existing = ReplicationStream::QuerySlot(*pg_, o_.slot);
        !existing.ok() && existing.error().code == ErrorCode::kNotFound) {
      TQ_RETURN_IF_ERROR(redis_->Cmd("HDEL", o_.projector.keys.SyncState(), "replid"));
    }
    auto slot = stream_->EnsureSlot(o_.slot);
    if (!slot.ok() && slot.error().reason == "slot_lost") {
      log_->error(
          "replication slot '{}' was lost (PostgreSQL removed WAL it needed, see "
          "max_slot_wal_keep_size); dropping it and rebuilding Redis from a new one",
          o_.slot);
      TQ_RETURN_IF_ERROR(redis_->Cmd("HDEL", o_.projector.keys.SyncState(), "replid"));
      TQ_RETURN_IF_ERROR(ReplicationStream::DropSlot(o_.postgres_url, o_.slot));
      slot = stream_->EnsureSlot(o_.slot);
    }
    if (!slot.ok()) return slot.error();
    Lsn from = 0;
    if (slot->created) {
      log_->info(
          "created replication slot '{}' at {}; building every projection from its "
          "snapshot",
          o_.slot, FormatLsn(slot->consistent_point));
      TQ_RETURN_IF_ERROR(RebuildAll(slot->snapshot_name, slot->consistent_point));
      from = slot->consistent_point;
    } else {
      TQ_RETURN_IF_ERROR(CheckReplicationId());
    }
    TQ_RETURN_IF_ERROR(stream_->Start(o_.slot, from, ProjectedTables()));
    m_.streaming = true;
    m_.confirmed_lsn = stream_->confirmed();
    std::thread gauges([this] { GaugeLoop(); });
    log_->info("streaming changes from slot '{}' (resuming after {})", o_.slot,
               FormatLsn(slot->consistent_point));
    Status s = Loop();
    gauges_stop_ = true;
    gauges.join();
    m_.streaming = false;
    if (stream_) (void)stream_->Close(std::chrono::seconds(2));
    return s;
  }

 private:
  Status WaitForLock() {
    bool told = false;
    while (!stop_) {
      TQ_ASSIGN_OR_RETURN(
          auto r, pg_->ExecParams("SELECT pg_try_advisory_lock($1::bigint)", {LockId(o_.slot)}));
      if (r.GetString(0, 0) == "t") return Ok();
      if (!told) {
        log_->info("another sync holds slot '{}'; standing by until it stops", o_.slot);
        told = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return MakeError(ErrorCode::kUnavailable, "stopped");
  }

  // Rebuilds every unit and removes what no unit owns: from a new slot's exported
  // snapshot, or (no snapshot) at the current WAL position, with later changes still to
  // apply. Then records the master's replication id and the applied LSN.
  Status RebuildAll(const std::string& snapshot = "", Lsn snapshot_lsn = 0) {
    auto stats =
        RebuildOnConnection(*pg_, *redis_, projector_, *writer_, Scope{},
                            /*remove_strays=*/true, /*progress=*/false, snapshot, snapshot_lsn);
    if (!stats.ok()) return stats.error();
    ++m_.reconciles;
    log_->info("built {} units at {} ({} written, {} keys; {} stray keys removed)", stats->units,
               FormatLsn(stats->lsn), stats->applied, stats->keys, stats->removed);
    return MarkApplied(std::max(stats->lsn, stream_->confirmed()));
  }

  Status Reconcile(const std::string& why) {
    log_->warn("reconciling Redis with PostgreSQL: {}", why);
    return RebuildAll();
  }

  Status MarkApplied(Lsn lsn) {
    TQ_ASSIGN_OR_RETURN(replid_, ReplicationId(*redis_));
    const Keys& k = o_.projector.keys;
    redis_->Append({"MULTI"});
    redis_->Append({"HSET", k.SyncState(), "replid", replid_, "slot", o_.slot});
    writer_->AppendRaiseAppliedLsn(*redis_, LsnKey(lsn));
    redis_->Append({"EXEC"});
    TQ_ASSIGN_OR_RETURN(auto replies, redis_->Flush());
    for (const auto& r : replies) {
      if (r.IsError()) return MakeError(ErrorCode::kInternal, "redis: {}", r.str());
    }
    return Ok();
  }

  // A master whose replication id is not the one sync last wrote to may have lost writes.
  Status CheckReplicationId() {
    TQ_ASSIGN_OR_RETURN(std::string now, ReplicationId(*redis_));
    TQ_ASSIGN_OR_RETURN(auto stored, redis_->Cmd("HGET", o_.projector.keys.SyncState(), "replid"));
    if (!stored.IsNil() && stored.str() == now) {
      replid_ = now;
      return Ok();
    }
    std::string why = stored.IsNil() ? "Redis holds no sync state (new or emptied master)"
                                     : fmt::format(
                                           "the master's replication id changed ({} -> "
                                           "{}): restart or failover",
                                           stored.str(), now);
    return Reconcile(why);
  }

  Status Loop() {
    auto next_check = std::chrono::steady_clock::now();
    auto next_sweep = std::chrono::steady_clock::now();
    while (!stop_) {
      if (inflight_.valid() &&
          inflight_.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
        TQ_RETURN_IF_ERROR(Drain());
      }
      idle_ = targets_.empty() && !commits_pending_ && !in_tx_ && !inflight_.valid();
      const bool pending = !targets_.empty() || commits_pending_;
      const auto t_read = std::chrono::steady_clock::now();
      // While a write is in flight, look back soon to confirm it.
      auto next = stream_->Next(pending             ? std::chrono::milliseconds(0)
                                : inflight_.valid() ? std::chrono::milliseconds(1)
                                                    : std::chrono::milliseconds(100));
      if (pending) Add(m_.seconds_read, t_read);
      if (!next.ok()) return next.error();
      if (next->has_value()) {
        TQ_RETURN_IF_ERROR(Handle(**next));
        if (pending_units_estimate_ >= o_.batch_units) TQ_RETURN_IF_ERROR(Flush());
      } else if (pending) {
        TQ_RETURN_IF_ERROR(Flush());
      } else if (!in_tx_ && !inflight_.valid() &&
                 stream_->server_wal_end() > stream_->confirmed()) {
        // Idle and everything received is applied: the server has decoded up to its
        // position, so later commits lie beyond it.
        Lsn end = stream_->server_wal_end();
        TQ_RETURN_IF_ERROR(MarkAppliedLsnOnly(end));
        TQ_RETURN_IF_ERROR(stream_->Confirm(end));
        m_.confirmed_lsn = end;
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= next_check) {
        next_check = now + o_.check_interval;
        TQ_RETURN_IF_ERROR(Drain());
        TQ_RETURN_IF_ERROR(CheckReplicationId());
      }
      if (now >= next_sweep) {
        next_sweep = now + o_.sweep_interval;
        TQ_RETURN_IF_ERROR(Drain());
        TQ_ASSIGN_OR_RETURN(int64_t n, writer_->SweepPast(*redis_, NowEpoch()));
        m_.swept += n;
      }
    }
    if (!targets_.empty() || commits_pending_) TQ_RETURN_IF_ERROR(Flush());
    return Drain();
  }

  // Writing a batch to Redis overlaps with reading and building the next one: at most one
  // write is in flight, on its own thread, and it alone uses redis_ until Drain() has
  // collected it. The commit it carries is confirmed to PostgreSQL only then, so the slot
  // never moves past what Redis holds. Every other use of redis_ drains first.
  Status Submit(std::vector<UnitState> states, Lsn stamp, bool set_applied, Lsn confirm) {
    TQ_RETURN_IF_ERROR(Drain());
    inflight_confirm_ = confirm;
    inflight_ = std::async(std::launch::async,
                           [this, states = std::move(states), stamp, set_applied]() -> Status {
                             const auto t0 = std::chrono::steady_clock::now();
                             auto w = writer_->Apply(*redis_, states, LsnKey(stamp), set_applied);
                             Add(m_.seconds_write, t0);
                             if (!w.ok()) return w.error();
                             m_.units += w->units;
                             m_.writes += w->keys;
                             return Ok();
                           });
    return Ok();
  }

  Status Drain() {
    if (!inflight_.valid()) return Ok();
    Status s = inflight_.get();
    const Lsn confirm = std::exchange(inflight_confirm_, 0);
    TQ_RETURN_IF_ERROR(s);
    if (confirm != 0) {
      TQ_RETURN_IF_ERROR(stream_->Confirm(confirm));
      m_.confirmed_lsn = confirm;
    }
    return Ok();
  }

  Status MarkAppliedLsnOnly(Lsn lsn) { return writer_->RaiseAppliedLsn(*redis_, LsnKey(lsn)); }

  // The gauges (slot lag, queue depths) on a thread of their own with its own connections,
  // so their queries never stall the stream.
  void GaugeLoop() {
    auto pg = db::Connection::Open(o_.postgres_url);
    auto redis = redis::Client::Connect(o_.redis_url);
    if (!pg.ok() || !redis.ok()) return;
    auto caught_up_at = std::chrono::steady_clock::now();
    while (!stop_ && !gauges_stop_) {
      auto st = ReplicationStream::QuerySlot(*pg, o_.slot);
      if (st.ok()) {
        m_.server_lsn = st->current_wal;
        const Lsn confirmed = m_.confirmed_lsn.load();
        const int64_t lag =
            st->current_wal > confirmed ? static_cast<int64_t>(st->current_wal - confirmed) : 0;
        m_.lag_bytes = lag;
        const auto now = std::chrono::steady_clock::now();
        if (lag == 0 || idle_) caught_up_at = now;
        m_.lag_seconds = std::chrono::duration<double>(now - caught_up_at).count();
        m_.safe_wal_bytes = st->safe_wal_size ? *st->safe_wal_size : -1;
      } else if (pg->raw() == nullptr || PQstatus(pg->raw()) != CONNECTION_OK) {
        return;
      }
      for (const auto& q : queues_) {
        auto s = q.GetStats(*redis);
        if (!s.ok()) {
          if (redis->broken()) return;
          continue;
        }
        m_.SetQueue(q.options().group,
                    {s->depth, s->oldest_age_ms, s->in_flight, s->dead, s->live_workers});
      }
      const auto until = std::chrono::steady_clock::now() + o_.check_interval;
      while (!stop_ && !gauges_stop_ && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }

  Status Handle(const Change& c) {
    switch (c.kind) {
      case Change::kBegin:
        in_tx_ = true;
        tx_commit_ = c.commit_lsn;
        tx_xid_ = c.xid;
        if (c.xid != 0) batch_xids_.push_back(c.xid);
        return Ok();
      case Change::kCommit:
        in_tx_ = false;
        last_commit_ = c.commit_lsn != 0 ? c.commit_lsn : c.lsn;
        commits_pending_ = true;
        ++m_.transactions;
        return Ok();
      case Change::kMessage:
        return Ok();
      default:
        break;
    }
    ++m_.changes;
    if (c.commit_lsn != 0) tx_commit_ = c.commit_lsn;
    auto now = [&c](std::string_view col) {
      const auto* v = c.Get(col);
      return v ? *v : std::nullopt;
    };
    auto old = [&c](std::string_view col) {
      const auto* v = c.GetOld(col);
      return v ? *v : std::nullopt;
    };
    Targets t = DependenciesOf(c.table, now, old, c.kind == Change::kTruncate);
    const size_t before = targets_.units.size() + targets_.fanouts.size();
    targets_.Merge(t);
    pending_units_estimate_ += targets_.units.size() + targets_.fanouts.size() - before;
    return Ok();
  }

  // Applies everything received so far; confirms the last commit when at a boundary.
  Status Flush() {
    const bool boundary = !in_tx_;
    const Lsn stamp = in_tx_ ? tx_commit_ : last_commit_;
    // The commit to confirm once this batch is in Redis (0: none, mid-transaction).
    Lsn confirm = boundary && commits_pending_ ? last_commit_ : 0;
    if (!targets_.empty()) {
      if (targets_.fanouts.count(Fanout{Fanout::Kind::kEverything, 0, ""})) {
        TQ_RETURN_IF_ERROR(Drain());
        TQ_RETURN_IF_ERROR(Reconcile("a projected table was truncated"));
      } else {
        const auto t0 = std::chrono::steady_clock::now();
        TQ_RETURN_IF_ERROR(BeginSnapshotSeeing(batch_xids_));
        Add(m_.seconds_wait, t0);
        Status s = BuildAndWrite(stamp, boundary, confirm);
        (void)pg_->Exec(s.ok() ? "COMMIT" : "ROLLBACK");
        TQ_RETURN_IF_ERROR(s);
        confirm = 0;  // the batch's last write confirms it
      }
    } else if (boundary && commits_pending_) {
      TQ_RETURN_IF_ERROR(Drain());
      TQ_RETURN_IF_ERROR(MarkAppliedLsnOnly(stamp));
    }
    targets_ = Targets{};
    batch_xids_.clear();
    if (in_tx_ && tx_xid_ != 0) batch_xids_.push_back(tx_xid_);
    pending_units_estimate_ = 0;
    ++m_.batches;
    if (confirm != 0) {
      TQ_RETURN_IF_ERROR(Drain());
      TQ_RETURN_IF_ERROR(stream_->Confirm(confirm));
      m_.confirmed_lsn = confirm;
    }
    if (boundary) commits_pending_ = false;
    return Ok();
  }

  // Begins the snapshot the batch is built from, once it sees every transaction of the
  // batch. The walsender can decode a commit a moment before the committing backend has
  // made it visible to new snapshots; a snapshot taken in that moment would miss it.
  Status BeginSnapshotSeeing(const std::vector<uint32_t>& xids) {
    if (xids.empty())
      return pg_->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").ok()
                 ? Ok()
                 : MakeError(ErrorCode::kUnavailable, "postgres: BEGIN failed");
    std::string arr = "{";
    for (size_t i = 0; i < xids.size(); ++i) arr += (i ? "," : "") + std::to_string(xids[i]);
    arr += "}";
    // BEGIN and the check travel in one round trip (the ids are our own numbers).
    const std::string sql =
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; "
        "WITH s AS (SELECT pg_current_snapshot() AS snap) "
        "SELECT coalesce(bool_and(NOT EXISTS (SELECT 1 FROM pg_snapshot_xip(s.snap) x "
        "WHERE x::text::bigint % 4294967296 = b.xid) AND "
        "(pg_snapshot_xmax(s.snap)::text::bigint % 4294967296 - b.xid + 4294967296) "
        "% 4294967296 BETWEEN 1 AND 2147483647), true) "
        "FROM s, unnest('" +
        arr + "'::bigint[]) AS b(xid)";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (int attempt = 0;; ++attempt) {
      TQ_ASSIGN_OR_RETURN(auto r, pg_->Exec(sql));
      if (r.GetString(0, 0) == "t") return Ok();
      TQ_RETURN_IF_ERROR(pg_->Exec("ROLLBACK"));
      if (std::chrono::steady_clock::now() > deadline) {
        return MakeError(ErrorCode::kDeadlineExceeded,
                         "transactions {} decoded but not visible after 10 s", arr);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(attempt < 10 ? 200 : 2000));
    }
  }

  // Builds the batch's units in chunks; each chunk's write overlaps the next chunk's build.
  // The last write raises the applied LSN (at a commit boundary) and carries `confirm`.
  Status BuildAndWrite(Lsn stamp, bool boundary, Lsn confirm) {
    const int64_t now = NowEpoch();
    if (targets_.context_changed) projector_.Invalidate();
    std::set<Unit> units = targets_.units;
    if (!targets_.fanouts.empty()) {
      TQ_ASSIGN_OR_RETURN(auto more,
                          ResolveFanouts(*pg_, targets_.fanouts, now, o_.projector.grace_seconds));
      units.insert(more.begin(), more.end());
    }
    std::vector<Unit> all(units.begin(), units.end());
    const size_t chunk = 400;
    for (size_t i = 0; i < all.size() || i == 0; i += chunk) {
      std::vector<Unit> part(all.begin() + static_cast<ptrdiff_t>(std::min(i, all.size())),
                             all.begin() + static_cast<ptrdiff_t>(std::min(all.size(), i + chunk)));
      const auto t0 = std::chrono::steady_clock::now();
      TQ_ASSIGN_OR_RETURN(auto states, projector_.Build(*pg_, part, now));
      Add(m_.seconds_build, t0);
      const bool last = i + chunk >= all.size();
      TQ_RETURN_IF_ERROR(
          Submit(std::move(states), stamp, last && boundary, last ? confirm : Lsn{0}));
      if (all.empty()) break;
    }
    return Ok();
  }

  const SyncOptions& o_;
  SyncMetrics& m_;
  const std::atomic<bool>& stop_;
  Projector projector_;
  std::shared_ptr<spdlog::logger> log_;
  std::optional<db::Connection> pg_;
  std::optional<redis::Client> redis_;
  std::optional<ReplicationStream> stream_;
  std::vector<queue::Queue> queues_;
  std::unique_ptr<Writer> writer_;
  std::string replid_;
  std::atomic<bool> idle_{true};
  std::atomic<bool> gauges_stop_{false};

  Targets targets_;
  size_t pending_units_estimate_ = 0;
  std::vector<uint32_t> batch_xids_;  // transactions whose changes the batch holds
  uint32_t tx_xid_ = 0;
  bool in_tx_ = false;
  bool commits_pending_ = false;
  Lsn tx_commit_ = 0;
  Lsn last_commit_ = 0;

  // The write in flight (Submit/Drain). Last, so it is destroyed (waited for) first.
  Lsn inflight_confirm_ = 0;
  std::future<Status> inflight_;
};

SyncDaemon::SyncDaemon(SyncOptions options, SyncMetrics& metrics)
    : options_(std::move(options)), metrics_(metrics) {}
SyncDaemon::~SyncDaemon() = default;

Status SyncDaemon::Run(const std::atomic<bool>& stop) {
  auto log = Logger("sync");
  auto backoff = std::chrono::milliseconds(250);
  while (!stop) {
    Session session(options_, metrics_, stop);
    const auto started = std::chrono::steady_clock::now();
    Status s = session.Run();
    // A session that streamed for a while was healthy: the next failure starts afresh.
    if (std::chrono::steady_clock::now() - started > std::chrono::seconds(30)) {
      backoff = std::chrono::milliseconds(250);
    }
    if (stop) break;
    ++metrics_.errors;
    log->warn("sync session ended: {}; retrying in {} ms",
              s.ok() ? "stream closed" : s.error().message, backoff.count());
    auto until = std::chrono::steady_clock::now() + backoff;
    while (!stop && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    backoff = std::min(backoff * 2, std::chrono::milliseconds(10'000));
  }
  return Ok();
}

}  // namespace taquilla::sync
