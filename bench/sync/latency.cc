// taquilla-synclat: commit-to-visible latency of the sync pipeline, measured where readers
// see it: on a Redis replica.
//
// Writer threads commit one-row listing price updates to PostgreSQL at a fixed open-loop
// rate, each on a different event; a subscriber on the replica receives a keyspace
// notification when the event's projection version key changes. Latency = notification
// time - the moment the commit returned to the writer. With --direct the writers SET a key
// on the Redis master instead of committing to PostgreSQL, which measures the floor that
// master -> replica replication alone costs (the reference of the same run).
//
//   taquilla-synclat --postgres URL --master redis://.. --replica redis://.. [--prefix tq:]
//                    [--rate 500] [--seconds 20] [--events 1000] [--direct]
// Prints one JSON line: commits, seen, p50_ms, p90_ms, p99_ms, max_ms, commit_p50_ms.
#include <hiredis/hiredis.h>
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string postgres, master, replica, prefix = "tq:";
  int rate = 500, seconds = 20, events = 1000;
  bool direct = false;
};

[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "taquilla-synclat: %s\n", msg.c_str());
  std::exit(1);
}

std::pair<std::string, int> HostPort(const std::string& url) {
  auto s = url.substr(url.find("//") + 2);
  auto colon = s.rfind(':');
  return {s.substr(0, colon), std::atoi(s.c_str() + colon + 1)};
}

redisContext* Connect(const std::string& url) {
  auto [h, p] = HostPort(url);
  redisContext* c = redisConnect(h.c_str(), p);
  if (c == nullptr || c->err) Die("cannot connect to " + url);
  return c;
}

struct Pending {
  Clock::time_point committed{}, seen{};
  bool has_commit = false, has_seen = false;
};

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value for " + k);
      return argv[++i];
    };
    if (k == "--postgres")
      a.postgres = next();
    else if (k == "--master")
      a.master = next();
    else if (k == "--replica")
      a.replica = next();
    else if (k == "--prefix")
      a.prefix = next();
    else if (k == "--rate")
      a.rate = std::atoi(next().c_str());
    else if (k == "--seconds")
      a.seconds = std::atoi(next().c_str());
    else if (k == "--events")
      a.events = std::atoi(next().c_str());
    else if (k == "--direct")
      a.direct = true;
    else
      Die("unknown argument " + k);
  }
  if (a.replica.empty() || a.master.empty() || (!a.direct && a.postgres.empty())) {
    Die("usage: --postgres URL --master URL --replica URL [--rate N --seconds N --events N "
        "--direct]");
  }

  // One listing on each of `events` upcoming events.
  std::vector<std::pair<std::string, std::string>> targets;  // listing id, event id
  if (!a.direct) {
    PGconn* c = PQconnectdb(a.postgres.c_str());
    if (PQstatus(c) != CONNECTION_OK) Die(PQerrorMessage(c));
    std::string q =
        "SELECT DISTINCT ON (l.event_id) l.id, l.event_id FROM listings l JOIN events e ON e.id "
        "= l.event_id WHERE l.status = 'active' AND l.quantity_available > 0 AND e.status = "
        "'scheduled' AND e.starts_at > now() + interval '2 days' AND EXISTS (SELECT 1 FROM "
        "event_sites es WHERE es.event_id = e.id) ORDER BY l.event_id, l.id LIMIT " +
        std::to_string(a.events);
    PGresult* r = PQexec(c, q.c_str());
    for (int i = 0; i < PQntuples(r); ++i)
      targets.emplace_back(PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
    PQclear(r);
    PQfinish(c);
  } else {
    for (int i = 1; i <= a.events; ++i) targets.emplace_back("", std::to_string(i));
  }
  if (targets.empty()) Die("no upcoming events with listings");

  std::mutex mu;
  std::unordered_map<std::string, Pending> pending;  // event id -> its outstanding commit
  std::vector<double> latencies, commit_ms;
  std::atomic<bool> done{false};

  auto record = [&](const std::string& event, bool commit, Clock::time_point t) {
    std::lock_guard lock(mu);
    auto it = pending.find(event);
    if (it == pending.end()) return;
    Pending& p = it->second;
    if (commit) {
      p.committed = t;
      p.has_commit = true;
    } else if (!p.has_seen) {
      p.seen = t;
      p.has_seen = true;
    }
    if (p.has_commit && p.has_seen) {
      latencies.push_back(std::max(0.0, Ms(p.seen - p.committed)));
      pending.erase(it);
    }
  };

  // The subscriber on the replica.
  redisContext* cfg = Connect(a.replica);
  redisReply* r =
      static_cast<redisReply*>(redisCommand(cfg, "CONFIG SET notify-keyspace-events K$"));
  if (r == nullptr || r->type == REDIS_REPLY_ERROR) Die("CONFIG SET notify-keyspace-events failed");
  freeReplyObject(r);
  redisFree(cfg);
  const std::string pattern = a.direct ? "__keyspace@0__:" + a.prefix + "bench:direct:*"
                                       : "__keyspace@0__:" + a.prefix + "v:offers:*";
  const std::string id_after = a.direct ? a.prefix + "bench:direct:" : a.prefix + "v:offers:";
  redisContext* sub = Connect(a.replica);
  r = static_cast<redisReply*>(redisCommand(sub, "PSUBSCRIBE %s", pattern.c_str()));
  if (r == nullptr) Die("PSUBSCRIBE failed");
  freeReplyObject(r);
  timeval tv{0, 200000};
  redisSetTimeout(sub, tv);
  std::thread subscriber([&] {
    while (!done) {
      void* raw = nullptr;
      if (redisGetReply(sub, &raw) != REDIS_OK) {
        if (sub->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          sub->err = 0;
          continue;
        }
        break;
      }
      auto* m = static_cast<redisReply*>(raw);
      const auto now = Clock::now();
      if (m->type == REDIS_REPLY_ARRAY && m->elements == 4) {
        std::string channel(m->element[2]->str, m->element[2]->len);
        auto at = channel.find(id_after);
        if (at != std::string::npos) record(channel.substr(at + id_after.size()), false, now);
      }
      freeReplyObject(m);
    }
  });

  // Writers: open loop at `rate` commits/s in all, spread over 4 threads.
  const int kWriters = 4;
  const auto start = Clock::now() + std::chrono::milliseconds(100);
  const int total = a.rate * a.seconds;
  std::atomic<int> next_i{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&] {
      PGconn* pg = nullptr;
      redisContext* master = nullptr;
      if (a.direct) {
        master = Connect(a.master);
      } else {
        pg = PQconnectdb(a.postgres.c_str());
        if (PQstatus(pg) != CONNECTION_OK) Die(PQerrorMessage(pg));
        PQclear(PQprepare(pg, "u",
                          "UPDATE listings SET price_minor = price_minor + 1 WHERE id = $1::bigint",
                          1, nullptr));
      }
      for (;;) {
        int i = next_i.fetch_add(1);
        if (i >= total) break;
        auto due = start + std::chrono::microseconds(static_cast<int64_t>(i) * 1'000'000 / a.rate);
        std::this_thread::sleep_until(due);
        const auto& [listing, event] = targets[static_cast<size_t>(i) % targets.size()];
        {
          std::lock_guard lock(mu);
          if (pending.count(event)) continue;  // still outstanding: skip this slot
          pending[event] = Pending{};
        }
        const auto t0 = Clock::now();
        if (a.direct) {
          std::string key = a.prefix + "bench:direct:" + event;
          auto* rr = static_cast<redisReply*>(redisCommand(master, "SET %s %d", key.c_str(), i));
          if (rr == nullptr) Die("SET failed");
          freeReplyObject(rr);
        } else {
          const char* params[1] = {listing.c_str()};
          PGresult* res = PQexecPrepared(pg, "u", 1, params, nullptr, nullptr, 0);
          if (PQresultStatus(res) != PGRES_COMMAND_OK) Die(PQresultErrorMessage(res));
          PQclear(res);
        }
        const auto t1 = Clock::now();
        {
          std::lock_guard lock(mu);
          commit_ms.push_back(Ms(t1 - t0));
        }
        record(event, true, t1);
      }
      if (pg) PQfinish(pg);
      if (master) redisFree(master);
    });
  }
  for (auto& t : writers) t.join();
  // Wait (bounded) for the last notifications.
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline) {
    {
      std::lock_guard lock(mu);
      if (pending.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  done = true;
  subscriber.join();
  redisFree(sub);
  std::lock_guard lock(mu);
  std::printf(
      "{\"mode\":\"%s\",\"rate\":%d,\"commits\":%zu,\"seen\":%zu,\"unseen\":%zu,\"p50_ms\":%.3f,"
      "\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,\"commit_p50_ms\":%.3f}\n",
      a.direct ? "direct" : "sync", a.rate, commit_ms.size(), latencies.size(), pending.size(),
      Pct(latencies, 0.5), Pct(latencies, 0.9), Pct(latencies, 0.99), Pct(latencies, 1.0),
      Pct(commit_ms, 0.5));
  return pending.empty() ? 0 : 1;
}
