// The reliable queue against a real Redis (the shared throwaway server of RedisFixture).
// Each test uses its own key prefix, so tests sharing the server do not interfere.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "queue/ops.h"
#include "queue/reliable_queue.h"
#include "testing/eventually.h"
#include "testing/servers.h"

namespace taquilla::queue {
namespace {

using namespace std::chrono_literals;
using testing::Eventually;

redis::Client Connect() {
  auto c = redis::Client::Connect(testing::RedisFixture::Get().url());
  EXPECT_TRUE(c.ok()) << c.error().ToString();
  return std::move(c).value();
}

// A connection, after deleting every key under `prefix` (left by an earlier run).
redis::Client Fresh(const std::string& prefix) {
  redis::Client c = Connect();
  std::string cursor = "0";
  do {
    auto r = c.Cmd("SCAN", cursor, "MATCH", prefix + "*", "COUNT", "1000");
    EXPECT_TRUE(r.ok());
    if (!r.ok()) break;
    cursor = std::string((*r)[0].str());
    redis::Reply keys = (*r)[1];
    std::vector<std::string> argv = {"DEL"};
    for (size_t i = 0; i < keys.size(); ++i) argv.emplace_back(keys[i].str());
    if (argv.size() > 1) {
      EXPECT_TRUE(c.Command(argv).ok());
    }
  } while (cursor != "0");
  return c;
}

Options Opts(const std::string& prefix, const std::string& group = "search") {
  Options o;
  o.prefix = prefix;
  o.group = group;
  return o;
}

Queue Open(const Options& o) {
  auto q = Queue::Open(o);
  EXPECT_TRUE(q.ok()) << q.error().ToString();
  return std::move(q).value();
}

Worker StartWorker(const Options& o, const std::string& id) {
  auto w = Worker::Start(Connect(), o, id);
  EXPECT_TRUE(w.ok()) << w.error().ToString();
  return std::move(w).value();
}

std::vector<std::string> Items(const std::vector<Delivery>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) out.push_back(d.item);
  return out;
}

std::vector<std::string> Range(const std::string& stem, int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(stem + std::to_string(i));
  return out;
}

std::vector<std::string> ListAll(redis::Client& c, const std::string& key) {
  auto r = c.Cmd("LRANGE", key, "0", "-1");
  EXPECT_TRUE(r.ok());
  std::vector<std::string> out;
  for (size_t i = 0; i < r->size(); ++i) out.emplace_back((*r)[i].str());
  return out;
}

long long Integer(redis::Client& c, std::vector<std::string> argv) {
  auto r = c.Command(argv);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().ToString());
  return r.ok() ? r->integer() : -999;
}

Stats GetStats(const Queue& q, redis::Client& c) {
  auto s = q.GetStats(c);
  EXPECT_TRUE(s.ok()) << s.error().ToString();
  return s.ok() ? *s : Stats{};
}

// ---------------------------------------------------------------------------------------
// A consumer in a child process. The child connects on its own, registers as `id`, claims
// up to `claim` items, writes one byte ('c') on its pipe and then, while `heartbeat`,
// refreshes its heartbeat every 50 ms until the parent writes 'a' (ack everything and
// exit 0) or closes the pipe; without `heartbeat` it just waits to be killed.
class ChildWorker {
 public:
  ChildWorker(const Options& o, std::string id, size_t claim, bool heartbeat) {
    int to_parent[2], to_child[2];
    EXPECT_EQ(::pipe(to_parent), 0);
    EXPECT_EQ(::pipe(to_child), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::close(to_parent[0]);
      ::close(to_child[1]);
      ::_exit(RunChild(o, id, claim, heartbeat, to_child[0], to_parent[1]));
    }
    ::close(to_parent[1]);
    ::close(to_child[0]);
    from_child_ = to_parent[0];
    to_child_ = to_child[1];
  }
  ~ChildWorker() {
    if (pid_ > 0) Kill();
    ::close(from_child_);
    if (to_child_ >= 0) ::close(to_child_);
  }

  // Waits for the child's 'c' (items claimed).
  bool WaitClaimed() {
    pollfd p{from_child_, POLLIN, 0};
    if (::poll(&p, 1, 20'000) != 1) return false;
    char b = 0;
    return ::read(from_child_, &b, 1) == 1 && b == 'c';
  }
  void Kill() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  // Tells a heartbeating child to ack what it holds; returns its exit status.
  int AckAndExit() {
    char a = 'a';
    EXPECT_EQ(::write(to_child_, &a, 1), 1);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  static int RunChild(const Options& o, const std::string& id, size_t claim, bool heartbeat, int in,
                      int out) {
    auto client = redis::Client::Connect(testing::RedisFixture::Get().url());
    if (!client.ok()) return 10;
    auto w = Worker::Start(std::move(client).value(), o, id);
    if (!w.ok()) return 11;
    auto got = w->Claim(claim, 0ms);
    if (!got.ok() || got->size() != claim) return 12;
    char c = 'c';
    if (::write(out, &c, 1) != 1) return 13;
    for (;;) {
      pollfd p{in, POLLIN, 0};
      int n = ::poll(&p, 1, 50);
      if (n == 0) {
        if (heartbeat && !w->Heartbeat().ok()) return 14;
        continue;
      }
      char b = 0;
      if (::read(in, &b, 1) != 1) return 0;  // parent closed the pipe
      if (b == 'a') {
        auto acked = w->Ack(Items(*got));
        return acked.ok() && acked->acked == claim && acked->not_held.empty() ? 0 : 15;
      }
    }
  }

  pid_t pid_ = -1;
  int from_child_ = -1;
  int to_child_ = -1;
};

TEST(ReliableQueue, KilledWorkerIsRecoveredOnlyAfterItsHeartbeatExpires) {
  Options o = Opts("t1:");
  o.heartbeat_ttl = 500ms;
  Queue q = Open(o);
  redis::Client c = Fresh(o.prefix);
  ASSERT_EQ(*q.Enqueue(c, Range("event:", 0, 10)), 10u);

  // The live worker takes 3 items, the dying one 4; 3 stay waiting.
  ChildWorker live(o, "live", 3, /*heartbeat=*/true);
  ASSERT_TRUE(live.WaitClaimed());
  ChildWorker dying(o, "dying", 4, /*heartbeat=*/false);
  ASSERT_TRUE(dying.WaitClaimed());
  dying.Kill();

  // Its heartbeat key still lives: the reaper must leave its items alone.
  auto first = q.RecoverExpired(c);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  ASSERT_GT(Integer(c, {"PTTL", q.keys().Heartbeat("dying")}), 0)
      << "the machine is too slow for a 500 ms heartbeat";
  EXPECT_FALSE(first->locked_out);
  EXPECT_TRUE(first->reaped_workers.empty());
  EXPECT_EQ(first->requeued, 0u);
  EXPECT_EQ(ListAll(c, q.keys().Processing("dying")).size(), 4u);
  EXPECT_EQ(ListAll(c, q.keys().Processing("live")).size(), 3u);
  EXPECT_EQ(Integer(c, {"LLEN", q.keys().ready}), 3);

  // Once the heartbeat expires, the reaper puts its 4 items back, and only those.
  RecoverReport reaped;
  ASSERT_TRUE(Eventually(
      [&] {
        auto r = q.RecoverExpired(c);
        if (!r.ok() || r->reaped_workers.empty()) return false;
        reaped = *r;
        return true;
      },
      20s));
  EXPECT_EQ(reaped.reaped_workers, std::vector<std::string>{"dying"});
  EXPECT_EQ(reaped.requeued, 4u);
  EXPECT_EQ(reaped.dead, 0u);
  EXPECT_EQ(Integer(c, {"LLEN", q.keys().Processing("dying")}), 0);
  EXPECT_EQ(Integer(c, {"SISMEMBER", q.keys().workers, "dying"}), 0);
  EXPECT_EQ(Integer(c, {"LLEN", q.keys().ready}), 7);

  // The live worker keeps heartbeating: for three more TTLs the reaper never takes its items.
  const auto until = std::chrono::steady_clock::now() + 3 * o.heartbeat_ttl;
  int rounds = 0;
  while (std::chrono::steady_clock::now() < until) {
    auto r = q.RecoverExpired(c);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(r->reaped_workers.empty()) << "reaped " << r->reaped_workers[0];
    ASSERT_EQ(Integer(c, {"LLEN", q.keys().Processing("live")}), 3);
    ++rounds;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_GT(rounds, 10);
  EXPECT_EQ(live.AckAndExit(), 0);

  // The recovered items are delivered again (their second delivery); the reaped worker's
  // items came back at the front, so they are claimed before the 3 that never left.
  Worker w = StartWorker(o, "after");
  auto again = w.Claim(100, 0ms);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 7u);
  std::vector<std::string> recovered;
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ((*again)[i].deliveries, 2) << (*again)[i].item;
    recovered.push_back((*again)[i].item);
  }
  EXPECT_EQ(recovered, Range("event:", 3, 7));
  EXPECT_EQ((*again)[4].item, "event:7");
  EXPECT_EQ((*again)[4].deliveries, 1);
  auto acked = w.Ack(Items(*again));
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(acked->acked, 7u);
  Stats s = GetStats(q, c);
  EXPECT_EQ(s.depth, 0);
  EXPECT_EQ(s.in_flight, 0);
  EXPECT_EQ(s.acked, 10);
  EXPECT_EQ(s.recovered, 4);
}

TEST(ReliableQueue, FailingItemGoesToDeadLettersAndRetryBringsItBack) {
  Options o = Opts("t2:");
  o.max_deliveries = 3;
  Queue q = Open(o);
  redis::Client c = Fresh(o.prefix);
  Worker w = StartWorker(o, "w");
  ASSERT_EQ(*q.Enqueue(c, {"event:9"}), 1u);
  for (int attempt = 1; attempt <= 3; ++attempt) {
    auto got = w.Claim(10, 0ms);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 1u) << "attempt " << attempt;
    EXPECT_EQ((*got)[0].deliveries, attempt);
    auto failed = w.Fail({"event:9"});
    ASSERT_TRUE(failed.ok());
    EXPECT_EQ(failed->requeued, attempt < 3 ? 1u : 0u);
    EXPECT_EQ(failed->dead, attempt < 3 ? 0u : 1u);
  }
  EXPECT_TRUE(w.Claim(10, 0ms)->empty());
  Stats s = GetStats(q, c);
  EXPECT_EQ(s.depth, 0);
  EXPECT_EQ(s.in_flight, 0);
  EXPECT_EQ(s.dead, 1);
  EXPECT_EQ(s.failed, 2);
  EXPECT_EQ(s.dead_lettered, 1);

  auto dead = q.ListDead(c);
  ASSERT_TRUE(dead.ok());
  EXPECT_EQ(dead->total, 1);
  ASSERT_EQ(dead->items.size(), 1u);
  EXPECT_EQ(dead->items[0].item, "event:9");
  EXPECT_EQ(dead->items[0].deliveries, 3);

  auto missing = q.Retry(c, std::string("event:404"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  auto retried = q.Retry(c, std::string("event:9"));
  ASSERT_TRUE(retried.ok()) << retried.error().ToString();
  EXPECT_EQ(*retried, 1u);
  EXPECT_EQ(q.ListDead(c)->total, 0);

  // A fresh delivery counter: delivered once more, then acked.
  auto got = w.Claim(10, 0ms);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].item, "event:9");
  EXPECT_EQ((*got)[0].deliveries, 1);
  auto acked = w.Ack({"event:9"});
  ASSERT_TRUE(acked.ok());
  EXPECT_EQ(acked->acked, 1u);
  EXPECT_EQ(Integer(c, {"HLEN", q.keys().failures}), 0);
  EXPECT_EQ(Integer(c, {"HLEN", q.keys().times}), 0);
  EXPECT_EQ(Integer(c, {"HLEN", q.keys().dead_counts}), 0);

  // Retry of all: several dead letters, oldest first.
  o.max_deliveries = 1;
  Worker quick = StartWorker(o, "quick");
  ASSERT_EQ(*q.Enqueue(c, Range("venue:", 0, 3)), 3u);
  ASSERT_EQ(quick.Claim(10, 0ms)->size(), 3u);
  EXPECT_EQ(quick.Fail(Range("venue:", 0, 3))->dead, 3u);
  EXPECT_EQ(q.ListDead(c)->total, 3);
  EXPECT_EQ(*q.Retry(c, std::nullopt), 3u);
  EXPECT_EQ(q.ListDead(c)->total, 0);
  EXPECT_EQ(Items(*w.Claim(10, 0ms)), Range("venue:", 0, 3));
}

TEST(ReliableQueue, DedupesWhileWaitingButNotWhileInFlight) {
  Options o = Opts("t3:");
  Queue q = Open(o);
  redis::Client c = Fresh(o.prefix);
  size_t queued = 0;
  for (int i = 0; i < 100; ++i) queued += *q.Enqueue(c, {"event:123"});
  EXPECT_EQ(queued, 1u);
  // A batch with the same entity several times counts it once.
  EXPECT_EQ(*q.Enqueue(c, {"event:123", "event:124", "event:124"}), 1u);
  EXPECT_EQ(Integer(c, {"LLEN", q.keys().ready}), 2);
  EXPECT_EQ(GetStats(q, c).enqueued, 2);

  Worker w1 = StartWorker(o, "w1");
  Worker w2 = StartWorker(o, "w2");
  auto first = w1.Claim(1, 0ms);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(Items(*first), std::vector<std::string>{"event:123"});
  // A change while it is in flight queues it again: a second delivery.
  EXPECT_EQ(*q.Enqueue(c, {"event:123"}), 1u);
  EXPECT_EQ(*q.Enqueue(c, {"event:123"}), 0u);
  auto rest = w2.Claim(10, 0ms);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(Items(*rest), (std::vector<std::string>{"event:124", "event:123"}));
  EXPECT_EQ((*rest)[1].deliveries, 1);  // the first delivery of the new change
  EXPECT_EQ(w1.Ack({"event:123"})->acked, 1u);
  EXPECT_EQ(w2.Ack({"event:123", "event:124"})->acked, 2u);
  EXPECT_TRUE(w1.Claim(10, 0ms)->empty());
  Stats s = GetStats(q, c);
  EXPECT_EQ(s.enqueued, 3);
  EXPECT_EQ(s.acked, 3);
}

TEST(ReliableQueue, AckOnlyByTheHolder) {
  Options o = Opts("t4:");
  Queue q = Open(o);
  redis::Client c = Fresh(o.prefix);
  Worker w1 = StartWorker(o, "w1");
  Worker w2 = StartWorker(o, "w2");
  ASSERT_EQ(*q.Enqueue(c, {"a", "b"}), 2u);
  ASSERT_EQ(w1.Claim(1, 0ms)->size(), 1u);  // "a"
  auto refused = w2.Ack({"a"});
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->acked, 0u);
  EXPECT_EQ(refused->not_held, std::vector<std::string>{"a"});
  EXPECT_EQ(w2.Fail({"a"})->not_held, std::vector<std::string>{"a"});
  auto mixed = w1.Ack({"a", "b"});  // "b" is still waiting, not held
  ASSERT_TRUE(mixed.ok());
  EXPECT_EQ(mixed->acked, 1u);
  EXPECT_EQ(mixed->not_held, std::vector<std::string>{"b"});
  EXPECT_EQ(w1.Ack({"a"})->not_held, std::vector<std::string>{"a"});  // twice: refused
  EXPECT_EQ(GetStats(q, c).depth, 1);
}

TEST(ReliableQueue, ReapedWorkerCannotAckAndItsItemIsNotQueuedTwice) {
  Options o = Opts("t5:");
  Queue q = Open(o);
  redis::Client c = Fresh(o.prefix);
  Worker w = StartWorker(o, "slow");
  ASSERT_EQ(*q.Enqueue(c, {"x", "y"}), 2u);
  ASSERT_EQ(w.Claim(10, 0ms)->size(), 2u);
  ASSERT_EQ(*q.Enqueue(c, {"x"}), 1u);  // changed again while in flight: waiting again
  ASSERT_EQ(Integer(c, {"DEL", q.keys().Heartbeat("slow")}), 1);  // as if it had expired
  auto r = q.RecoverExpired(c);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->reaped_workers, std::vector<std::string>{"slow"});
  EXPECT_EQ(r->requeued, 1u);
  EXPECT_EQ(r->already_waiting, 1u);
  EXPECT_EQ(ListAll(c, q.keys().ready), (std::vector<std::string>{"x", "y"}));
  // The slow worker comes back: its acks are refused (the items were given to others).
  auto late = w.Ack({"x", "y"});
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->acked, 0u);
  EXPECT_EQ(late->not_held.size(), 2u);
  // A worker of its own is re-registered by its next claim.
  ASSERT_EQ(w.Claim(10, 0ms)->size(), 2u);
  EXPECT_EQ(Integer(c, {"SISMEMBER", q.keys().workers, "slow"}), 1);

  // Its connection is killed: the next call fails, the one after reconnects.
  const long long id = Integer(w.client(), {"CLIENT", "ID"});
  ASSERT_EQ(Integer(c, {"CLIENT", "KILL", "ID", std::to_string(id)}), 1);
  EXPECT_FALSE(w.Heartbeat().ok());
  ASSERT_TRUE(w.Heartbeat().ok());
  EXPECT_EQ(w.Ack({"x", "y"})->acked, 2u);
}

TEST(ReliableQueue, ReaperSendsOverDeliveredItemsToDeadLettersAndRespectsItsLock) {
  Options o = Opts("t6:");
  o.max_deliveries = 2;
  Queue q = Open(o);
  redis::Client c = Fresh(o.prefix);
  ASSERT_EQ(*q.Enqueue(c, {"poison", "fine"}), 2u);
  for (int round = 1; round <= 2; ++round) {
    Worker w = StartWorker(o, "crash" + std::to_string(round));
    auto got = w.Claim(1, 0ms);
    ASSERT_EQ(Items(*got), std::vector<std::string>{"poison"});
    EXPECT_EQ((*got)[0].deliveries, round);
    ASSERT_EQ(Integer(c, {"DEL", q.keys().Heartbeat(w.id())}), 1);
    auto r = q.RecoverExpired(c);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->requeued, round == 1 ? 1u : 0u);
    EXPECT_EQ(r->dead, round == 1 ? 0u : 1u);
  }
  EXPECT_EQ(q.ListDead(c)->items[0].deliveries, 2);
  EXPECT_EQ(ListAll(c, q.keys().ready), std::vector<std::string>{"fine"});

  // Another reaper holds the lock: nothing is done.
  Worker w = StartWorker(o, "w");
  ASSERT_EQ(w.Claim(1, 0ms)->size(), 1u);
  ASSERT_EQ(Integer(c, {"DEL", q.keys().Heartbeat("w")}), 1);
  ASSERT_TRUE(c.Cmd("SET", q.keys().reaper, "someone", "PX", "60000").ok());
  auto locked = q.RecoverExpired(c);
  ASSERT_TRUE(locked.ok());
  EXPECT_TRUE(locked->locked_out);
  EXPECT_EQ(Integer(c, {"LLEN", q.keys().Processing("w")}), 1);
  ASSERT_TRUE(c.Cmd("DEL", q.keys().reaper).ok());
  auto r = q.RecoverExpired(c);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->requeued, 1u);
  EXPECT_EQ(Integer(c, {"EXISTS", q.keys().reaper}), 0);  // released
}

TEST(ReliableQueue, BatchClaimAndAckInOrder) {
  Options o = Opts("t7:");
  Queue q = Open(o);
  redis::Client c = Fresh(o.prefix);
  const auto items = Range("listing:", 0, 2500);
  ASSERT_EQ(*q.Enqueue(c, items), 2500u);  // more than one Lua chunk
  Worker w = StartWorker(o, "w");
  std::vector<std::string> seen;
  for (;;) {
    auto got = w.Claim(700, 0ms);
    ASSERT_TRUE(got.ok());
    if (got->empty()) break;
    EXPECT_LE(got->size(), 700u);
    auto acked = w.Ack(Items(*got));
    ASSERT_TRUE(acked.ok());
    EXPECT_EQ(acked->acked, got->size());
    for (const auto& d : *got) seen.push_back(d.item);
  }
  EXPECT_EQ(seen, items);  // first in, first out
  Stats s = GetStats(q, c);
  EXPECT_EQ(s.enqueued, 2500);
  EXPECT_EQ(s.acked, 2500);
  EXPECT_EQ(s.in_flight, 0);
  EXPECT_EQ(Integer(c, {"EXISTS", q.keys().set, q.keys().times, q.keys().failures}), 0);

  // An empty item is refused before anything is sent.
  std::vector<std::string> bad = {"ok", ""};
  EXPECT_EQ(q.Enqueue(c, bad).error().code, ErrorCode::kInvalidArgument);
}

TEST(ReliableQueue, StatsAreExact) {
  FakeClock clock;
  Options o = Opts("t8:", "webhooks");
  o.clock = &clock;
  o.max_deliveries = 2;
  Queue q = Open(o);
  redis::Client c = Fresh(o.prefix);
  Stats empty = GetStats(q, c);
  EXPECT_EQ(empty.group, "webhooks");
  EXPECT_EQ(empty.depth, 0);
  EXPECT_EQ(empty.oldest_age_ms, -1);

  ASSERT_EQ(*q.Enqueue(c, {"e1", "e2", "e3"}), 3u);
  clock.Advance(1500ms);
  ASSERT_EQ(*q.Enqueue(c, {"e4", "e5", "e1"}), 2u);
  clock.Advance(250ms);
  Stats s = GetStats(q, c);
  EXPECT_EQ(s.depth, 5);
  EXPECT_EQ(s.oldest_age_ms, 1750);
  EXPECT_EQ(s.enqueued, 5);

  Worker w1 = StartWorker(o, "w1");
  Worker w2 = StartWorker(o, "w2");
  ASSERT_EQ(Items(*w1.Claim(2, 0ms)), (std::vector<std::string>{"e1", "e2"}));
  ASSERT_EQ(Items(*w2.Claim(2, 0ms)), (std::vector<std::string>{"e3", "e4"}));
  s = GetStats(q, c);
  EXPECT_EQ(s.depth, 1);
  EXPECT_EQ(s.oldest_age_ms, 250);  // e5
  EXPECT_EQ(s.in_flight, 4);
  EXPECT_EQ(s.workers, 2);
  EXPECT_EQ(s.live_workers, 2);

  clock.Advance(100ms);
  EXPECT_EQ(w1.Ack({"e1"})->acked, 1u);
  EXPECT_EQ(w1.Fail({"e2"})->requeued, 1u);  // back at the end, enqueued now
  s = GetStats(q, c);
  EXPECT_EQ(s.depth, 2);
  EXPECT_EQ(s.oldest_age_ms, 350);
  EXPECT_EQ(s.in_flight, 2);
  EXPECT_EQ(s.acked, 1);
  EXPECT_EQ(s.failed, 1);

  ASSERT_EQ(Items(*w1.Claim(5, 0ms)), (std::vector<std::string>{"e5", "e2"}));
  EXPECT_EQ(w1.Fail({"e2"})->dead, 1u);  // second delivery of e2 with max 2
  ASSERT_EQ(Integer(c, {"DEL", q.keys().Heartbeat("w2")}), 1);
  s = GetStats(q, c);
  EXPECT_EQ(s.depth, 0);
  EXPECT_EQ(s.oldest_age_ms, -1);
  EXPECT_EQ(s.in_flight, 3);  // e5 (w1), e3 and e4 (w2, whose heartbeat is gone)
  EXPECT_EQ(s.dead, 1);
  EXPECT_EQ(s.dead_lettered, 1);
  EXPECT_EQ(s.workers, 2);
  EXPECT_EQ(s.live_workers, 1);

  clock.Advance(1000ms);
  auto r = q.RecoverExpired(c);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->requeued, 2u);
  s = GetStats(q, c);
  EXPECT_EQ(s.depth, 2);
  EXPECT_EQ(s.oldest_age_ms, 2850);  // e3 keeps its first enqueue time
  EXPECT_EQ(s.in_flight, 1);
  EXPECT_EQ(s.workers, 1);
  EXPECT_EQ(s.live_workers, 1);
  EXPECT_EQ(s.recovered, 2);
  EXPECT_EQ(s.enqueued, 5);
  EXPECT_EQ(s.acked, 1);
  EXPECT_EQ(s.failed, 1);

  // Leave hands e5 back to the front (not counted as a delivery) and deregisters.
  EXPECT_EQ(*w1.Leave(), 1u);
  s = GetStats(q, c);
  EXPECT_EQ(s.depth, 3);
  EXPECT_EQ(s.in_flight, 0);
  EXPECT_EQ(s.workers, 0);
  EXPECT_EQ(Integer(c, {"EXISTS", q.keys().Heartbeat("w1")}), 0);
  Worker w3 = StartWorker(o, "w3");
  auto got = w3.Claim(10, 0ms);
  ASSERT_EQ(Items(*got), (std::vector<std::string>{"e5", "e3", "e4"}));
  EXPECT_EQ((*got)[0].deliveries, 1);
  EXPECT_EQ((*got)[1].deliveries, 2);
  EXPECT_EQ((*got)[2].deliveries, 2);
}

TEST(ReliableQueue, ClaimWaitsForItemsWithoutSpinning) {
  Options o = Opts("t9:");
  o.heartbeat_ttl = 300ms;  // waits are cut into 100 ms slices with a heartbeat between
  Queue q = Open(o);
  redis::Client c = Fresh(o.prefix);
  Worker w = StartWorker(o, "w");

  auto t0 = std::chrono::steady_clock::now();
  auto none = w.Claim(10, 250ms);
  auto waited = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(none.ok()) << none.error().ToString();
  EXPECT_TRUE(none->empty());
  EXPECT_GE(waited, 240ms);
  EXPECT_LT(waited, 5s);

  // A claim blocked on the empty queue wakes when a producer enqueues.
  Result<std::vector<Delivery>> got = std::vector<Delivery>{};
  std::thread consumer([&] { got = w.Claim(10, 20s); });
  ASSERT_TRUE(Eventually([&] {
    auto r = c.Cmd("CLIENT", "LIST");
    return r.ok() && r->str().find("cmd=blmove") != std::string_view::npos;
  }));
  t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(*q.Enqueue(c, {"event:1", "event:2"}), 2u);
  consumer.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(Items(*got), (std::vector<std::string>{"event:1", "event:2"}));
  EXPECT_EQ(Integer(c, {"LLEN", q.keys().ready}), 0);
  EXPECT_EQ(Integer(c, {"SCARD", q.keys().set}), 0);
  EXPECT_EQ(Integer(c, {"EXISTS", q.keys().Heartbeat("w")}), 1);
}

TEST(ReliableQueue, AppendEnqueueJoinsACallersTransaction) {
  Options o = Opts("t10:");
  Queue q = Open(o);
  redis::Client c = Fresh(o.prefix);
  ASSERT_TRUE(c.Cmd("SCRIPT", "FLUSH").ok());  // no script cached: still no NOSCRIPT
  c.Append({"MULTI"});
  c.Append({"SET", "t10:doc:event:1", "{}"});
  const std::vector<std::string> batch = {"event:1", "event:2", "event:1"};
  q.AppendEnqueue(c, batch);
  c.Append({"EXEC"});
  auto replies = c.Flush();
  ASSERT_TRUE(replies.ok());
  ASSERT_EQ(replies->size(), 4u);
  const redis::Reply& exec = (*replies)[3];
  ASSERT_EQ(exec.size(), 2u);
  auto n = Queue::EnqueuedCount(exec[1]);
  ASSERT_TRUE(n.ok()) << n.error().ToString();
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(ListAll(c, q.keys().ready), (std::vector<std::string>{"event:2", "event:1"}));
  // Pipelined outside a transaction too, and deduplicated against what waits.
  q.AppendEnqueue(c, batch);
  auto more = c.Flush();
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(*Queue::EnqueuedCount((*more)[0]), 0u);
}

TEST(ReliableQueue, OperatorCommandsReport) {
  const std::string p = "t11:";
  Options search = Opts(p, "search");
  Options hooks = Opts(p, "webhooks");
  search.max_deliveries = 1;
  redis::Client c = Fresh(p);
  Queue qs = Open(search);
  Queue qh = Open(hooks);
  ASSERT_EQ(*qs.Enqueue(c, {"event:1", "event:2", "event:3"}), 3u);
  ASSERT_EQ(*qh.Enqueue(c, {"order:7"}), 1u);
  Worker w = StartWorker(search, "w1");
  ASSERT_EQ(w.Claim(2, 0ms)->size(), 2u);
  EXPECT_EQ(w.Fail({"event:1"})->dead, 1u);

  std::ostringstream stats;
  ASSERT_TRUE(ops::PrintStats(c, p, {}, stats).ok());
  const std::string table = stats.str();
  EXPECT_NE(table.find("group"), std::string::npos) << table;
  EXPECT_NE(table.find("search"), std::string::npos) << table;
  EXPECT_NE(table.find("webhooks"), std::string::npos) << table;
  // search: depth 1, 1 in flight, 1 dead, 1/1 workers, 3 enqueued.
  std::istringstream lines(table);
  std::string header, first, second;
  std::getline(lines, header);
  std::getline(lines, first);
  std::getline(lines, second);
  std::istringstream fields(first);
  std::vector<std::string> f;
  for (std::string x; fields >> x;) f.push_back(x);
  ASSERT_EQ(f.size(), 10u) << first;
  EXPECT_EQ(f[0], "search");
  EXPECT_EQ(f[1], "1");
  EXPECT_EQ(f[3], "1");
  EXPECT_EQ(f[4], "1");
  EXPECT_EQ(f[5], "1/1");
  EXPECT_EQ(f[6], "3");
  EXPECT_EQ(second.substr(0, 8), "webhooks");

  std::ostringstream dead;
  ASSERT_TRUE(ops::PrintDead(c, p, {"search"}, 0, dead).ok());
  EXPECT_EQ(dead.str(), "search: 1 dead letter(s)\n  event:1  deliveries=1\n");

  ASSERT_EQ(Integer(c, {"DEL", qs.keys().Heartbeat("w1")}), 1);
  std::ostringstream recover;
  ASSERT_TRUE(ops::Recover(c, p, {"search"}, 5, recover).ok());
  EXPECT_EQ(recover.str(),
            "search: 1 expired worker(s) removed; 1 item(s) moved back to the queue, 0 already "
            "waiting, 0 to dead letters\n  removed worker w1\n");

  std::ostringstream retry;
  ASSERT_TRUE(ops::Retry(c, p, {}, std::string("event:1"), retry).ok());
  EXPECT_EQ(retry.str(), "search: 1 dead letter(s) moved back to the queue\n");
  std::ostringstream nothing;
  auto missing = ops::Retry(c, p, {}, std::string("event:1"), nothing);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(GetStats(qs, c).depth, 3);

  std::ostringstream none;
  ASSERT_TRUE(ops::PrintStats(c, "t11-none:", {}, none).ok());
  EXPECT_EQ(none.str(), "no queue groups under prefix 't11-none:'\n");
}

}  // namespace
}  // namespace taquilla::queue
