#include "sync/tools.h"

#include <map>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "common/clock.h"
#include "common/progress.h"
#include "sync/lsn.h"

namespace taquilla::sync {

namespace {

constexpr size_t kBatch = 400;

// Every key matching `pattern` (SCAN, so the server is never blocked).
Status ScanKeys(redis::Client& redis, const std::string& pattern,
                const std::function<void(const std::string&)>& fn) {
  std::string cursor = "0";
  do {
    TQ_ASSIGN_OR_RETURN(auto r, redis.Cmd("SCAN", cursor, "MATCH", pattern, "COUNT", "1000"));
    cursor = std::string(r[0].str());
    for (size_t i = 0; i < r[1].size(); ++i) fn(std::string(r[1][i].str()));
  } while (cursor != "0");
  return Ok();
}

const char* const kDocKinds[] = {"ev", "eo", "venue", "perf", "cats"};

// The sorted sets a complete projection has: key -> member -> score.
using ZsetMap = std::map<std::string, std::map<std::string, int64_t>>;

struct Walk {
  int64_t units = 0;
  std::unordered_set<std::string> doc_keys;
  ZsetMap zsets;
};

// Builds every unit of `scope` in batches, calling fn on each batch.
Result<Walk> WalkUnits(db::Connection& c, Projector& projector, const Scope& scope,
                       int64_t now_epoch, bool progress,
                       const std::function<Status(const std::vector<UnitState>&)>& fn) {
  TQ_ASSIGN_OR_RETURN(auto units, projector.AllUnits(c, scope, now_epoch));
  Walk walk;
  std::unique_ptr<Progress> bar;
  if (progress) bar = std::make_unique<Progress>("projections", units.size());
  for (size_t i = 0; i < units.size(); i += kBatch) {
    std::vector<Unit> batch(
        units.begin() + static_cast<ptrdiff_t>(i),
        units.begin() + static_cast<ptrdiff_t>(std::min(units.size(), i + kBatch)));
    TQ_ASSIGN_OR_RETURN(auto states, projector.Build(c, batch, now_epoch));
    for (const auto& st : states) {
      for (const auto& [k, v] : st.docs) walk.doc_keys.insert(k);
      for (const auto& [k, s] : st.zsets) walk.zsets[k][std::to_string(st.unit.id)] = s;
    }
    TQ_RETURN_IF_ERROR(fn(states));
    walk.units += static_cast<int64_t>(batch.size());
    if (bar) bar->Add(batch.size());
  }
  if (bar) bar->Finish();
  return walk;
}

// Events that have started (their sorted-set entries may wait for the sweeper).
Result<std::unordered_set<std::string>> StartedEvents(db::Connection& c, int64_t now_epoch) {
  TQ_ASSIGN_OR_RETURN(auto r, c.ExecParams("SELECT id FROM events WHERE "
                                           "extract(epoch FROM starts_at)::bigint <= $1::bigint",
                                           {std::to_string(now_epoch)}));
  std::unordered_set<std::string> out;
  for (int i = 0; i < r.rows(); ++i) out.insert(r.GetString(i, 0));
  return out;
}

Status BeginSnapshot(db::Connection& c) {
  return c.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").ok()
             ? Ok()
             : MakeError(ErrorCode::kUnavailable, "postgres: cannot begin a snapshot");
}

// Writes every unit within `scope` at `lsn_key`, read through `c` (already inside the
// snapshot that lsn_key describes).
Result<RebuildStats> RebuildInSnapshot(db::Connection& c, redis::Client& redis,
                                       Projector& projector, Writer& writer,
                                       const std::string& lsn_key, const Scope& scope,
                                       bool remove_strays, bool progress, int64_t now_epoch) {
  RebuildStats stats;
  stats.lsn_key = lsn_key;
  projector.Invalidate();
  TQ_ASSIGN_OR_RETURN(Walk walk, WalkUnits(c, projector, scope, now_epoch, progress,
                                           [&](const std::vector<UnitState>& states) -> Status {
                                             TQ_ASSIGN_OR_RETURN(
                                                 auto w, writer.Apply(redis, states, lsn_key, false,
                                                                      /*skip_unchanged=*/true));
                                             stats.applied += w.applied;
                                             stats.keys += w.keys;
                                             return Ok();
                                           }));
  stats.units = walk.units;
  if (remove_strays && scope.site.empty() && scope.lang.empty()) {
    // Every read first, then the removals in one pipeline (a client with queued commands
    // runs no other command).
    const Keys& keys = projector.keys();
    std::vector<std::vector<std::string>> removals;
    for (const char* kind : kDocKinds) {
      TQ_RETURN_IF_ERROR(ScanKeys(redis, keys.Pattern(kind), [&](const std::string& k) {
        if (!walk.doc_keys.count(k)) removals.push_back({"DEL", k});
      }));
    }
    std::vector<std::string> zkeys;
    TQ_RETURN_IF_ERROR(
        ScanKeys(redis, keys.Pattern("z"), [&](const std::string& k) { zkeys.push_back(k); }));
    for (const auto& k : zkeys) {
      auto it = walk.zsets.find(k);
      if (it == walk.zsets.end()) {
        removals.push_back({"DEL", k});
        continue;
      }
      TQ_ASSIGN_OR_RETURN(auto members, redis.Cmd("ZRANGE", k, "0", "-1"));
      for (size_t i = 0; i < members.size(); ++i) {
        std::string m(members[i].str());
        if (!it->second.count(m)) removals.push_back({"ZREM", k, m});
      }
    }
    for (size_t i = 0; i < removals.size(); ++i) {
      redis.Append(removals[i]);
      if (redis.pending() >= 1000 || i + 1 == removals.size()) {
        TQ_RETURN_IF_ERROR(redis.Flush());
      }
    }
    stats.removed = static_cast<int64_t>(removals.size());
  }
  return stats;
}

}  // namespace

int64_t NowEpoch() { return UnixSeconds(); }

Result<RebuildStats> RebuildOnConnection(db::Connection& c, redis::Client& redis,
                                         Projector& projector, Writer& writer, const Scope& scope,
                                         bool remove_strays, bool progress,
                                         const std::string& snapshot, Lsn snapshot_lsn) {
  Lsn lsn = snapshot_lsn;
  if (snapshot.empty()) {
    TQ_ASSIGN_OR_RETURN(auto pos, c.Exec("SELECT pg_current_wal_lsn()::text"));
    TQ_ASSIGN_OR_RETURN(lsn, ParseLsn(pos.GetString(0, 0)));
  }
  TQ_RETURN_IF_ERROR(BeginSnapshot(c));
  if (!snapshot.empty()) {
    auto set = c.ExecParams("SET TRANSACTION SNAPSHOT " + db::QuoteLiteral(snapshot), {});
    if (!set.ok()) {
      (void)c.Exec("ROLLBACK");
      return set.error();
    }
  }
  auto stats = RebuildInSnapshot(c, redis, projector, writer, LsnKey(lsn), scope, remove_strays,
                                 progress, NowEpoch());
  (void)c.Exec(stats.ok() ? "COMMIT" : "ROLLBACK");
  if (stats.ok()) stats->lsn = lsn;
  return stats;
}

Result<RebuildStats> Rebuild(const std::string& postgres_url, const std::string& redis_url,
                             const ProjectorOptions& options, const Scope& scope,
                             bool remove_strays, bool progress) {
  TQ_ASSIGN_OR_RETURN(auto c, db::Connection::Open(postgres_url));
  TQ_ASSIGN_OR_RETURN(auto redis, redis::Client::Connect(redis_url, std::chrono::seconds(30)));
  Projector projector(options);
  Writer writer(options.keys);
  return RebuildOnConnection(c, redis, projector, writer, scope, remove_strays, progress);
}

Result<VerifyReport> Verify(const std::string& postgres_url, const std::string& redis_url,
                            const ProjectorOptions& options, std::chrono::milliseconds wait,
                            std::ostream& out, int64_t max_shown) {
  TQ_ASSIGN_OR_RETURN(auto c, db::Connection::Open(postgres_url));
  TQ_ASSIGN_OR_RETURN(auto redis, redis::Client::Connect(redis_url, std::chrono::seconds(30)));
  const Keys& keys = options.keys;
  VerifyReport report;
  auto differ = [&](const std::string& line) {
    if (report.differences < max_shown) out << line << "\n";
    ++report.differences;
  };
  if (wait.count() > 0) {
    TQ_ASSIGN_OR_RETURN(auto pos, c.Exec("SELECT pg_current_wal_lsn()::text"));
    TQ_ASSIGN_OR_RETURN(Lsn target, ParseLsn(pos.GetString(0, 0)));
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
      TQ_ASSIGN_OR_RETURN(auto applied, redis.Cmd("GET", keys.AppliedLsn()));
      if (!applied.IsNil() && std::string(applied.str()) >= LsnKey(target)) break;
      if (std::chrono::steady_clock::now() > deadline) {
        return MakeError(ErrorCode::kDeadlineExceeded,
                         "sync has not applied WAL position {} within {} ms (applied: {}); is "
                         "taquilla sync running?",
                         FormatLsn(target), wait.count(),
                         applied.IsNil() ? std::string("nothing") : std::string(applied.str()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  TQ_RETURN_IF_ERROR(BeginSnapshot(c));
  const int64_t now = NowEpoch();
  Projector projector(options);
  TQ_ASSIGN_OR_RETURN(
      Walk walk,
      WalkUnits(
          c, projector, Scope{}, now, false, [&](const std::vector<UnitState>& states) -> Status {
            std::vector<const std::pair<std::string, std::string>*> docs;
            for (const auto& st : states) {
              for (const auto& d : st.docs) {
                docs.push_back(&d);
                redis.Append({"GET", d.first});
              }
            }
            TQ_ASSIGN_OR_RETURN(auto replies, redis.Flush());
            for (size_t i = 0; i < docs.size(); ++i) {
              ++report.documents;
              const auto& [key, want] = *docs[i];
              if (replies[i].IsNil()) {
                differ("missing    " + key);
                continue;
              }
              std::string_view got = replies[i].str();
              if (got == want) continue;
              size_t at = 0;
              while (at < got.size() && at < want.size() && got[at] == want[at]) ++at;
              size_t from = at > 30 ? at - 30 : 0;
              differ(fmt::format("differs    {} at byte {}:\n  expected …{}…\n  found    …{}…", key,
                                 at, want.substr(from, 80), got.substr(from, 80)));
            }
            return Ok();
          }));
  report.units = walk.units;
  for (const char* kind : kDocKinds) {
    TQ_RETURN_IF_ERROR(ScanKeys(redis, keys.Pattern(kind), [&](const std::string& k) {
      if (!walk.doc_keys.count(k)) differ("unexpected " + k);
    }));
  }
  TQ_ASSIGN_OR_RETURN(auto started, StartedEvents(c, now));
  std::set<std::string> zkeys;
  TQ_RETURN_IF_ERROR(
      ScanKeys(redis, keys.Pattern("z"), [&](const std::string& k) { zkeys.insert(k); }));
  for (const auto& [k, v] : walk.zsets) zkeys.insert(k);
  for (const auto& k : zkeys) {
    ++report.sorted_sets;
    TQ_ASSIGN_OR_RETURN(auto got, redis.Cmd("ZRANGE", k, "0", "-1", "WITHSCORES"));
    std::map<std::string, int64_t> have;
    for (size_t i = 0; i + 1 < got.size(); i += 2) {
      have[std::string(got[i].str())] = std::stoll(std::string(got[i + 1].str()));
    }
    static const std::map<std::string, int64_t> kNone;
    auto it = walk.zsets.find(k);
    const auto& want = it == walk.zsets.end() ? kNone : it->second;
    for (const auto& [m, s] : want) {
      auto h = have.find(m);
      if (h == have.end()) {
        differ(fmt::format("zset       {}: member {} missing (score {})", k, m, s));
      } else if (h->second != s) {
        differ(
            fmt::format("zset       {}: member {} has score {}, expected {}", k, m, h->second, s));
      }
    }
    for (const auto& [m, s] : have) {
      // An event that has started waits for the sweeper; that is not a difference.
      if (!want.count(m) && !started.count(m)) {
        differ(fmt::format("zset       {}: unexpected member {} (score {})", k, m, s));
      }
    }
  }
  (void)c.Exec("COMMIT");
  if (report.differences > max_shown) {
    out << fmt::format("… and {} more differences\n", report.differences - max_shown);
  }
  return report;
}

}  // namespace taquilla::sync
