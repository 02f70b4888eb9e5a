// Hermetic tests of the queue's pure parts: key names, validation, report formatting.
#include "queue/reliable_queue.h"

#include <gtest/gtest.h>

#include <sstream>

#include "queue/ops.h"

namespace taquilla::queue {
namespace {

TEST(QueueKeys, FollowTheSchema) {
  Keys k("tq:", "search");
  EXPECT_EQ(k.ready, "tq:q:search");
  EXPECT_EQ(k.set, "tq:q:search:set");
  EXPECT_EQ(k.times, "tq:q:search:t");
  EXPECT_EQ(k.failures, "tq:q:search:n");
  EXPECT_EQ(k.workers, "tq:q:search:workers");
  EXPECT_EQ(k.dead, "tq:q:search:dead");
  EXPECT_EQ(k.dead_counts, "tq:q:search:dead:n");
  EXPECT_EQ(k.stats, "tq:q:search:stats");
  EXPECT_EQ(k.reaper, "tq:q:search:reaper");
  EXPECT_EQ(k.groups, "tq:queues");
  EXPECT_EQ(k.Processing("host:12:ab"), "tq:q:search:proc:host:12:ab");
  EXPECT_EQ(k.Heartbeat("w1"), "tq:q:search:hb:w1");
  EXPECT_EQ(Keys("", "webhooks").ready, "q:webhooks");
}

TEST(QueueValidation, GroupsAndWorkerIds) {
  EXPECT_TRUE(ValidateGroup("search").ok());
  EXPECT_TRUE(ValidateGroup("web-hooks_2.v1").ok());
  EXPECT_FALSE(ValidateGroup("").ok());
  EXPECT_FALSE(ValidateGroup("a:b").ok());
  EXPECT_FALSE(ValidateGroup("a b").ok());
  EXPECT_FALSE(ValidateGroup(std::string(65, 'a')).ok());
  EXPECT_TRUE(ValidateWorkerId("host:123:beef").ok());
  EXPECT_FALSE(ValidateWorkerId("").ok());
  EXPECT_FALSE(ValidateWorkerId("a b").ok());
  EXPECT_FALSE(ValidateWorkerId(std::string(201, 'w')).ok());
  EXPECT_TRUE(ValidateWorkerId(DefaultWorkerId()).ok()) << DefaultWorkerId();
  EXPECT_NE(DefaultWorkerId(), DefaultWorkerId());
}

TEST(QueueValidation, Options) {
  Options o;
  EXPECT_FALSE(ValidateOptions(o).ok());  // no group
  o.group = "search";
  EXPECT_TRUE(ValidateOptions(o).ok());
  EXPECT_EQ(o.prefix, "tq:");
  EXPECT_EQ(o.max_deliveries, 5);
  Options bad = o;
  bad.max_deliveries = 0;
  EXPECT_EQ(ValidateOptions(bad).error().code, ErrorCode::kInvalidArgument);
  bad = o;
  bad.heartbeat_ttl = std::chrono::milliseconds(5);
  EXPECT_FALSE(ValidateOptions(bad).ok());
  bad = o;
  bad.clock = nullptr;
  EXPECT_FALSE(ValidateOptions(bad).ok());
  EXPECT_FALSE(Queue::Open(bad).ok());
  auto q = Queue::Open(o);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->keys().ready, "tq:q:search");
}

TEST(QueueOps, FormatAge) {
  EXPECT_EQ(ops::FormatAge(-1), "-");
  EXPECT_EQ(ops::FormatAge(0), "0ms");
  EXPECT_EQ(ops::FormatAge(850), "850ms");
  EXPECT_EQ(ops::FormatAge(12'345), "12.3s");
  EXPECT_EQ(ops::FormatAge(245'000), "4m05s");
  EXPECT_EQ(ops::FormatAge((3 * 3600 + 2 * 60) * 1000LL), "3h02m");
  EXPECT_EQ(ops::FormatAge((2 * 86400 + 4 * 3600) * 1000LL), "2d04h");
}

TEST(QueueOps, StatsTable) {
  Stats s;
  s.group = "search";
  s.depth = 12;
  s.oldest_age_ms = 1500;
  s.in_flight = 3;
  s.dead = 1;
  s.workers = 2;
  s.live_workers = 1;
  s.enqueued = 100;
  s.acked = 84;
  s.failed = 7;
  s.recovered = 4;
  std::ostringstream out;
  ops::PrintStatsTable({s}, out);
  EXPECT_EQ(out.str(),
            "group       depth    oldest  in_flight    dead  workers    enqueued       acked  "
            " failed  recovered\n"
            "search         12      1.5s          3       1      1/2         100          84  "
            "      7          4\n");
}

}  // namespace
}  // namespace taquilla::queue
