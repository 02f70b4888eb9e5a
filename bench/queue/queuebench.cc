// taquilla-queuebench: end-to-end throughput of the reliable queue (src/queue) against a Redis
// it is given. One producer thread enqueues N distinct items ("event:<i>") in batches
// (Queue::AppendEnqueue, `--pipeline` batches per round trip) while `--consumers` worker
// threads, each with its own connection, Claim batches and Ack them. The clock runs from the
// first enqueue to the last ack.
//
//   taquilla-queuebench --redis redis://127.0.0.1:6379 [--items 200000] [--batch 500]
//       [--consumers 2] [--pipeline 4] [--group bench]
//
// Keys go under a fresh prefix ("qb:<pid>:<time>:") that is deleted afterwards, so it may run
// against a shared server. Prints one JSON line on stdout:
//   {"items","batch","consumers","pipeline","seconds","items_per_s","enqueue_seconds",
//    "claims","duplicates","missing","depth_after","in_flight_after","acked_counter"}
// and exits 1 when an item was lost or delivered twice, or the counters do not add up.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "queue/reliable_queue.h"
#include "redis/client.h"

namespace {

using namespace taquilla;
using Steady = std::chrono::steady_clock;

struct Args {
  std::string redis;
  size_t items = 200'000;
  size_t batch = 500;
  int consumers = 2;
  int pipeline = 4;
  std::string group = "bench";
};

[[noreturn]] void Usage(const std::string& why) {
  std::cerr << "taquilla-queuebench: " << why
            << "\nusage: taquilla-queuebench --redis URL [--items N] [--batch B] "
               "[--consumers C] [--pipeline P] [--group G]\n";
  std::exit(2);
}

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string_view k = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Usage(std::string(k) + " needs a value");
      return argv[++i];
    };
    auto number = [&]() -> long {
      std::string v = next();
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || n < 1) Usage(std::string(k) + ": not a count");
      return n;
    };
    if (k == "--redis") {
      a.redis = next();
    } else if (k == "--items") {
      a.items = static_cast<size_t>(number());
    } else if (k == "--batch") {
      a.batch = static_cast<size_t>(number());
    } else if (k == "--consumers") {
      a.consumers = static_cast<int>(number());
    } else if (k == "--pipeline") {
      a.pipeline = static_cast<int>(number());
    } else if (k == "--group") {
      a.group = next();
    } else {
      Usage("unknown argument " + std::string(k));
    }
  }
  if (a.redis.empty()) Usage("--redis is required");
  return a;
}

redis::Client MustConnect(const std::string& url) {
  auto c = redis::Client::Connect(url, std::chrono::seconds(10));
  if (!c.ok()) {
    std::cerr << "taquilla-queuebench: " << c.error().ToString() << "\n";
    std::exit(1);
  }
  return std::move(c).value();
}

double Seconds(Steady::duration d) { return std::chrono::duration<double>(d).count(); }

// Deletes every key under the prefix (SCAN + UNLINK).
void DeletePrefix(redis::Client& c, const std::string& prefix) {
  std::string cursor = "0";
  do {
    auto r = c.Cmd("SCAN", cursor, "MATCH", prefix + "*", "COUNT", "1000");
    if (!r.ok() || r->size() != 2) return;
    cursor = std::string((*r)[0].str());
    redis::Reply keys = (*r)[1];
    if (keys.size() == 0) continue;
    std::vector<std::string> argv = {"UNLINK"};
    for (size_t i = 0; i < keys.size(); ++i) argv.emplace_back(keys[i].str());
    (void)c.Command(argv);
  } while (cursor != "0");
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = Parse(argc, argv);
  queue::Options opts;
  opts.prefix = "qb:" + std::to_string(::getpid()) + ":" +
                std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) + ":";
  opts.group = args.group;
  auto opened = queue::Queue::Open(opts);
  if (!opened.ok()) Usage(opened.error().ToString());
  const queue::Queue q = std::move(opened).value();

  // Every consumer connects and registers before the clock starts.
  std::vector<queue::Worker> workers;
  for (int i = 0; i < args.consumers; ++i) {
    auto w = queue::Worker::Start(MustConnect(args.redis), opts, "bench-" + std::to_string(i));
    if (!w.ok()) {
      std::cerr << "taquilla-queuebench: " << w.error().ToString() << "\n";
      return 1;
    }
    workers.push_back(std::move(w).value());
  }
  redis::Client producer_client = MustConnect(args.redis);

  std::unique_ptr<std::atomic<uint8_t>[]> seen(new std::atomic<uint8_t>[args.items]);
  for (size_t i = 0; i < args.items; ++i) seen[i].store(0, std::memory_order_relaxed);
  std::atomic<size_t> acked{0}, duplicates{0}, claims{0};
  std::atomic<bool> failed{false};
  const auto give_up = Steady::now() + std::chrono::minutes(10);

  const auto start = Steady::now();
  Steady::time_point enqueued_at;
  std::thread producer([&] {
    std::vector<std::string> batch;
    size_t next = 0;
    while (next < args.items) {
      int appended = 0;
      for (; appended < args.pipeline && next < args.items; ++appended) {
        batch.clear();
        for (size_t i = 0; i < args.batch && next < args.items; ++i, ++next) {
          batch.push_back("event:" + std::to_string(next));
        }
        q.AppendEnqueue(producer_client, batch);
      }
      auto replies = producer_client.Flush();
      if (!replies.ok()) {
        std::cerr << "enqueue: " << replies.error().ToString() << "\n";
        failed = true;
        return;
      }
      for (const auto& r : *replies) {
        if (!queue::Queue::EnqueuedCount(r).ok()) {
          std::cerr << "enqueue: " << queue::Queue::EnqueuedCount(r).error().ToString() << "\n";
          failed = true;
          return;
        }
      }
    }
    enqueued_at = Steady::now();
  });
  std::vector<std::thread> consumers;
  for (auto& w : workers) {
    consumers.emplace_back([&] {
      std::vector<std::string> items;
      while (acked.load() < args.items && !failed.load() && Steady::now() < give_up) {
        auto got = w.Claim(args.batch, std::chrono::milliseconds(50));
        if (!got.ok()) {
          std::cerr << "claim: " << got.error().ToString() << "\n";
          failed = true;
          return;
        }
        if (got->empty()) continue;
        claims.fetch_add(1);
        items.clear();
        for (const auto& d : *got) {
          size_t n = std::strtoull(d.item.c_str() + 6, nullptr, 10);  // "event:<n>"
          if (n < args.items && seen[n].fetch_add(1) != 0) duplicates.fetch_add(1);
          items.push_back(d.item);
        }
        auto a = w.Ack(items);
        if (!a.ok() || a->acked != items.size()) {
          std::cerr << "ack: " << (a.ok() ? "refused items" : a.error().ToString()) << "\n";
          failed = true;
          return;
        }
        acked.fetch_add(items.size());
      }
    });
  }
  producer.join();
  for (auto& t : consumers) t.join();
  const auto end = Steady::now();

  size_t missing = 0;
  for (size_t i = 0; i < args.items; ++i) missing += seen[i].load() == 0 ? 1 : 0;
  redis::Client admin = MustConnect(args.redis);
  auto stats = q.GetStats(admin);
  for (auto& w : workers) (void)w.Leave();
  DeletePrefix(admin, opts.prefix);

  const double secs = Seconds(end - start);
  const bool ok = !failed && missing == 0 && duplicates == 0 && stats.ok() && stats->depth == 0 &&
                  stats->in_flight == 0 && stats->acked == static_cast<int64_t>(args.items) &&
                  stats->enqueued == static_cast<int64_t>(args.items);
  std::printf(
      "{\"items\":%zu,\"batch\":%zu,\"consumers\":%d,\"pipeline\":%d,\"seconds\":%.3f,"
      "\"items_per_s\":%.0f,\"enqueue_seconds\":%.3f,\"claims\":%zu,\"duplicates\":%zu,"
      "\"missing\":%zu,\"depth_after\":%lld,\"in_flight_after\":%lld,\"acked_counter\":%lld,"
      "\"ok\":%s}\n",
      args.items, args.batch, args.consumers, args.pipeline, secs,
      static_cast<double>(args.items) / secs,
      enqueued_at == Steady::time_point{} ? -1.0 : Seconds(enqueued_at - start), claims.load(),
      duplicates.load(), missing, stats.ok() ? static_cast<long long>(stats->depth) : -1LL,
      stats.ok() ? static_cast<long long>(stats->in_flight) : -1LL,
      stats.ok() ? static_cast<long long>(stats->acked) : -1LL, ok ? "true" : "false");
  return ok ? 0 : 1;
}
