// `taquilla up` end to end: the real binary, real PostgreSQL and Redis, free ports in a
// temporary data dir. Proves clean start, endpoints, crash restart, clean stop with no
// orphan processes, reuse of data, and clear errors for a taken port or a busy data dir.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "common/files.h"
#include "common/net.h"
#include "common/process.h"
#include "db/pg.h"
#include "testing/eventually.h"
#include "testing/http_client.h"
#include "testing/servers.h"

namespace taquilla {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string Bin() { return testing::TaquillaBin(); }

using testing::Eventually;

struct Up {
  std::string dir;
  int base = 0;
  pid_t pid = 0;
  std::string log;

  void Start(const std::string& scale = "none") {
    SpawnOptions o;
    o.argv = {Bin(),     "up", "--data-dir", dir, "--port-base", std::to_string(base),
              "--scale", scale};
    o.log_file = log;
    auto p = Spawn(o);
    ASSERT_TRUE(p.ok()) << p.error().message;
    pid = *p;
  }
  bool Ready() const { return fs::exists(dir + "/endpoints.json"); }
  boost::json::value Json(const std::string& name) const {
    auto text = ReadFile(dir + "/" + name);
    if (!text.ok()) return nullptr;
    boost::system::error_code ec;
    auto v = boost::json::parse(*text, ec);
    return ec ? boost::json::value(nullptr) : v;
  }
  pid_t ServicePid(const std::string& name) const {
    auto v = Json("state.json");
    if (!v.is_object()) return 0;
    return static_cast<pid_t>(v.at("services").at(name).at("pid").as_int64());
  }
  int Restarts(const std::string& name) const {
    auto v = Json("state.json");
    if (!v.is_object()) return -1;
    return static_cast<int>(v.at("services").at(name).at("restarts").as_int64());
  }
  // SIGINT and wait; returns the exit status.
  int Stop() {
    kill(pid, SIGINT);
    std::optional<int> status;
    Eventually([&] { return (status = TryReap(pid)).has_value(); }, 120s);
    pid = 0;
    return status.value_or(-1);
  }
  std::string Log() const { return ReadFile(log).ok() ? *ReadFile(log) : ""; }
};

std::string RedisCmd(int port, const std::string& cmd) {
  redisContext* c = redisConnect("127.0.0.1", port);
  if (c == nullptr || c->err) {
    if (c) redisFree(c);
    return "<no connection>";
  }
  auto* r = static_cast<redisReply*>(redisCommand(c, cmd.c_str()));
  std::string out = r && r->str ? std::string(r->str, r->len) : "";
  if (r) freeReplyObject(r);
  redisFree(c);
  return out;
}

// No process still runs with the data dir in its command line.
bool NoProcessMentions(const std::string& dir) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto cmdline = ReadFile(entry.path().string() + "/cmdline");
    if (!cmdline.ok()) continue;
    std::string s = *cmdline;
    for (char& ch : s)
      if (ch == '\0') ch = ' ';
    if (s.find(dir) != std::string::npos && std::stoi(name) != getpid()) return false;
  }
  return true;
}

class UpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    up_.dir = testing::MakeTempDir("taquilla-up");
    up_.base = testing::FreePortBase();
    ASSERT_GT(up_.base, 0) << "no free port range";
    up_.log = up_.dir + ".log";
  }
  void TearDown() override {
    if (up_.pid > 0) up_.Stop();
    if (HasFailure()) std::fprintf(stderr, "--- up log ---\n%s\n", up_.Log().c_str());
    testing::RemoveTree(up_.dir);
    std::remove(up_.log.c_str());
  }
  Up up_;
};

TEST_F(UpTest, StartsSupervisesAndStopsCleanly) {
  up_.Start();
  ASSERT_TRUE(Eventually([&] { return up_.Ready() || TryReap(up_.pid); }, 120s));
  ASSERT_TRUE(up_.Ready()) << up_.Log();

  // endpoints.json names every endpoint at its documented offset.
  auto e = up_.Json("endpoints.json");
  ASSERT_TRUE(e.is_object());
  std::string pg_url = std::string(e.at("postgres").as_string());
  EXPECT_EQ(pg_url, fmt::format("postgresql://taquilla@127.0.0.1:{}/taquilla", up_.base + 20));
  EXPECT_EQ(e.at("redis_master").as_string(), fmt::format("redis://127.0.0.1:{}", up_.base + 21));
  EXPECT_EQ(e.at("redis_replicas").as_array().at(0).as_string(),
            fmt::format("redis://127.0.0.1:{}", up_.base + 22));
  EXPECT_EQ(e.at("secure").as_string(), fmt::format("http://127.0.0.1:{}", up_.base + 1));
  EXPECT_TRUE(e.as_object().contains("public"));
  EXPECT_TRUE(e.as_object().contains("read"));
  {
    // The secure app serves from the stack's database (this stack has no seed data).
    taquilla::testing::HttpClient secure("127.0.0.1", up_.base + 1);
    EXPECT_EQ(secure.Get("/readyz").status, 200);
    auto login = secure.Post("/api/v1/sessions",
                             {{"email", "nobody@example.test"}, {"password", "taquilla-demo"}});
    EXPECT_EQ(login.status, 401) << login.body;
    EXPECT_EQ(login.error_code(), "invalid_credentials");
  }
  EXPECT_NE(up_.Log().find(pg_url), std::string::npos);  // printed at start
  EXPECT_NE(up_.Log().find("\"redis_replicas\":["), std::string::npos);

  // PostgreSQL: migrated, logical decoding on, slot WAL bounded.
  auto conn = db::Connection::Open(pg_url);
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  auto r = conn->Exec(
      "SELECT current_setting('wal_level'), current_setting('max_slot_wal_keep_size'),"
      " (SELECT count(*) FROM schema_migrations)");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->GetString(0, 0), "logical");
  EXPECT_NE(r->GetString(0, 1), "-1");
  EXPECT_GE(r->GetInt(0, 2), 1);
  // Logical decoding works with the plugins the sync daemon may use.
  auto slot = conn->Exec(
      "SELECT pg_create_logical_replication_slot('probe_pgoutput', 'pgoutput');"
      "SELECT pg_drop_replication_slot('probe_pgoutput');"
      "SELECT pg_create_logical_replication_slot('probe_wal2json', 'wal2json');"
      "SELECT pg_drop_replication_slot('probe_wal2json')");
  EXPECT_TRUE(slot.ok()) << slot.error().message;

  // sync streams from its slot into the master and the indexer follows its queue; verify
  // (projections and index) and the queue tools find the stack.
  EXPECT_EQ(e.at("sync_metrics").as_string(),
            fmt::format("http://127.0.0.1:{}/metrics", up_.base + 2));
  EXPECT_EQ(e.at("indexer_metrics").as_string(),
            fmt::format("http://127.0.0.1:{}/metrics", up_.base + 3));
  {
    taquilla::testing::HttpClient indexer("127.0.0.1", up_.base + 3);
    EXPECT_NE(indexer.Get("/metrics").body.find("taquilla_indexer_generation 1"),
              std::string::npos);
  }
  {
    taquilla::testing::HttpClient metrics("127.0.0.1", up_.base + 2);
    ASSERT_TRUE(Eventually(
        [&] {
          return metrics.Get("/metrics").body.find("taquilla_sync_streaming 1") !=
                 std::string::npos;
        },
        60s));
    auto cats = conn->Exec("INSERT INTO languages (code, name) VALUES ('eu', 'Euskara')");
    ASSERT_TRUE(cats.ok()) << cats.error().message;
    auto verify =
        RunCapture({Bin(), "verify", "--data-dir", up_.dir, "--wait-ms", "30000", "--index"});
    ASSERT_TRUE(verify.ok());
    EXPECT_EQ(verify->status, 0) << verify->output;
    EXPECT_NE(verify->output.find("no differences"), std::string::npos) << verify->output;
    EXPECT_NE(verify->output.find("search documents expected"), std::string::npos)
        << verify->output;
    auto stats = RunCapture({Bin(), "queue", "stats", "--data-dir", up_.dir});
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(stats->status, 0) << stats->output;
    EXPECT_NE(stats->output.find("search"), std::string::npos) << stats->output;
  }

  // The replica follows the master.
  RedisCmd(up_.base + 21, "SET tq:probe 1");
  EXPECT_TRUE(Eventually([&] { return RedisCmd(up_.base + 22, "GET tq:probe") == "1"; }, 10s));

  // A second `up` on the same data dir is refused with a clear error.
  {
    auto second = RunCapture({Bin(), "up", "--data-dir", up_.dir, "--port-base",
                              std::to_string(up_.base + 100), "--scale", "none"});
    ASSERT_TRUE(second.ok());
    EXPECT_NE(second->status, 0);
    EXPECT_NE(second->output.find("another `taquilla up`"), std::string::npos) << second->output;
  }

  // A crashed child is restarted, and the crash logged.
  pid_t replica = up_.ServicePid("redis-replica-0");
  ASSERT_GT(replica, 0);
  kill(replica, SIGKILL);
  ASSERT_TRUE(Eventually(
      [&] {
        pid_t now = up_.ServicePid("redis-replica-0");
        return now > 0 && now != replica && up_.Restarts("redis-replica-0") == 1 &&
               PortAccepts("127.0.0.1", up_.base + 22);
      },
      30s));
  EXPECT_TRUE(Eventually([&] { return RedisCmd(up_.base + 22, "GET tq:probe") == "1"; }, 10s));
  auto up_log = ReadFile(up_.dir + "/logs/up.log");
  ASSERT_TRUE(up_log.ok());
  EXPECT_NE(up_log->find("redis-replica-0 exited"), std::string::npos);
  EXPECT_TRUE(fs::exists(up_.dir + "/logs/postgres.log"));
  EXPECT_TRUE(fs::exists(up_.dir + "/logs/redis-master.log"));

  // SIGINT stops everything: no process left, no port held.
  std::vector<pid_t> children = {up_.ServicePid("postgres"),        up_.ServicePid("redis-master"),
                                 up_.ServicePid("redis-replica-0"), up_.ServicePid("sync"),
                                 up_.ServicePid("indexer"),         up_.ServicePid("secure")};
  EXPECT_EQ(up_.Stop(), 0);
  for (pid_t c : children) EXPECT_FALSE(ProcessAlive(c)) << c;
  for (int off : {1, 2, 3, 20, 21, 22})
    EXPECT_FALSE(PortAccepts("127.0.0.1", up_.base + off)) << off;
  EXPECT_TRUE(Eventually([&] { return NoProcessMentions(up_.dir); }, 10s));
  EXPECT_FALSE(fs::exists(up_.dir + "/endpoints.json"));
}

TEST_F(UpTest, SecondUpReusesTheData) {
  up_.Start("demo");
  ASSERT_TRUE(Eventually([&] { return up_.Ready() || TryReap(up_.pid); }, 300s));
  ASSERT_TRUE(up_.Ready()) << up_.Log();
  std::string url = fmt::format("postgresql://taquilla@127.0.0.1:{}/taquilla", up_.base + 20);
  auto count = [&](const char* sql) -> int64_t {
    auto c = db::Connection::Open(url);
    if (!c.ok()) return -1;
    auto r = c->Exec(sql);
    return r.ok() ? r->GetInt(0, 0) : -1;
  };
  EXPECT_EQ(count("SELECT count(*) FROM sites"), 40);
  EXPECT_EQ(count("SELECT count(*) FROM events"), 2000);
  auto seed_log = ReadFile(up_.dir + "/logs/seed.log");
  ASSERT_TRUE(seed_log.ok());
  EXPECT_NE(seed_log->find("seeded scale demo"), std::string::npos);
  EXPECT_NE(up_.Log().find("tickets: 50000"), std::string::npos);  // counts printed
  ASSERT_EQ(
      count(
          "SELECT count(*) FROM (SELECT pg_create_logical_replication_slot('kept', 'pgoutput')) s"),
      1);
  RedisCmd(up_.base + 21, "SET tq:kept yes");
  EXPECT_EQ(up_.Stop(), 0);

  up_.Start("demo");
  ASSERT_TRUE(Eventually([&] { return up_.Ready() || TryReap(up_.pid); }, 120s));
  ASSERT_TRUE(up_.Ready()) << up_.Log();
  EXPECT_EQ(count("SELECT count(*) FROM events"), 2000);  // not seeded twice
  EXPECT_EQ(count("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'kept'"), 1);
  EXPECT_EQ(RedisCmd(up_.base + 21, "GET tq:kept"), "yes");  // the master persisted
  EXPECT_NE(up_.Log().find("already holds data"), std::string::npos);
}

TEST_F(UpTest, KilledSupervisorTakesItsChildrenWithIt) {
  up_.Start();
  ASSERT_TRUE(Eventually([&] { return up_.Ready() || TryReap(up_.pid); }, 120s));
  ASSERT_TRUE(up_.Ready()) << up_.Log();
  std::vector<pid_t> children = {up_.ServicePid("postgres"),        up_.ServicePid("redis-master"),
                                 up_.ServicePid("redis-replica-0"), up_.ServicePid("sync"),
                                 up_.ServicePid("indexer"),         up_.ServicePid("secure")};
  kill(up_.pid, SIGKILL);
  Eventually([&] { return TryReap(up_.pid).has_value(); }, 10s);
  up_.pid = 0;
  EXPECT_TRUE(Eventually([&] { return NoProcessMentions(up_.dir); }, 60s));
  for (int off : {20, 21, 22}) {
    EXPECT_TRUE(Eventually([&] { return !PortAccepts("127.0.0.1", up_.base + off); }, 30s)) << off;
  }
  (void)children;
}

TEST_F(UpTest, DataDirThePostgresUserCannotEnterStillWorks) {
  if (!RunningAsRoot()) GTEST_SKIP() << "only root switches to the postgres user";
  // A data dir inside a 0700 directory, like a clone under /root.
  std::string closed = up_.dir + "/closed";
  ASSERT_EQ(mkdir(closed.c_str(), 0700), 0);
  up_.dir = closed + "/data";
  up_.Start();
  ASSERT_TRUE(Eventually([&] { return up_.Ready() || TryReap(up_.pid); }, 120s));
  ASSERT_TRUE(up_.Ready()) << up_.Log();
  std::string link = up_.dir + "/postgres";
  ASSERT_TRUE(fs::is_symlink(link));
  std::string cluster = fs::read_symlink(link).string();
  EXPECT_EQ(cluster.rfind("/var/lib/taquilla/clusters/", 0), 0u) << cluster;
  EXPECT_TRUE(fs::exists(cluster + "/PG_VERSION"));
  EXPECT_EQ(up_.Stop(), 0);
  // The next start finds the same cluster.
  up_.Start();
  ASSERT_TRUE(Eventually([&] { return up_.Ready() || TryReap(up_.pid); }, 120s));
  ASSERT_TRUE(up_.Ready()) << up_.Log();
  EXPECT_EQ(fs::read_symlink(link).string(), cluster);
  EXPECT_EQ(up_.Stop(), 0);
  testing::RemoveTree(cluster);
  up_.dir = closed.substr(0, closed.size() - std::string("/closed").size());
}

TEST_F(UpTest, TakenPortIsAClearError) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(up_.base + 21));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  auto out = RunCapture({Bin(), "up", "--data-dir", up_.dir, "--port-base",
                         std::to_string(up_.base), "--scale", "none"});
  close(fd);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->status, 1);
  EXPECT_NE(out->output.find(fmt::format("port {}", up_.base + 21)), std::string::npos)
      << out->output;
  EXPECT_FALSE(PortAccepts("127.0.0.1", up_.base + 20));  // nothing was left running
  EXPECT_TRUE(NoProcessMentions(up_.dir));
}

TEST(CliTest, BadInputGivesClearErrors) {
  auto scale = RunCapture({Bin(), "seed", "--postgres-url", "postgresql://taquilla@127.0.0.1:1/x",
                           "--scale", "galactic"});
  ASSERT_TRUE(scale.ok());
  EXPECT_NE(scale->status, 0);
  EXPECT_NE(scale->output.find("unknown scale 'galactic'"), std::string::npos) << scale->output;

  auto unreachable =
      RunCapture({Bin(), "seed", "--postgres-url", "postgresql://taquilla@127.0.0.1:1/x"});
  ASSERT_TRUE(unreachable.ok());
  EXPECT_EQ(unreachable->status, 1);
  EXPECT_NE(unreachable->output.find("cannot connect to PostgreSQL"), std::string::npos)
      << unreachable->output;

  auto no_stack = RunCapture({Bin(), "migrate", "--data-dir", "/nonexistent-taquilla"});
  ASSERT_TRUE(no_stack.ok());
  EXPECT_NE(no_stack->status, 0);
  EXPECT_NE(no_stack->output.find("taquilla up"), std::string::npos) << no_stack->output;

  auto bad_key = RunCapture({Bin(), "--set", "stack.nope=1", "config", "show"});
  ASSERT_TRUE(bad_key.ok());
  EXPECT_EQ(bad_key->status, 2);
  EXPECT_NE(bad_key->output.find("stack.nope"), std::string::npos);

  auto show = RunCapture({Bin(), "--set", "stack.port_base=8100", "config", "show"});
  ASSERT_TRUE(show.ok());
  EXPECT_EQ(show->status, 0);
  EXPECT_NE(show->output.find("port_base = 8100"), std::string::npos) << show->output;
}

TEST(CliTest, ReadmeDocumentsEveryConfigurationKey) {
  const char* src = getenv("TAQUILLA_TEST_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  auto readme = ReadFile(std::string(src) + "/README.md");
  ASSERT_TRUE(readme.ok());
  auto doc = RunCapture({Bin(), "config", "doc"});
  ASSERT_TRUE(doc.ok());
  // Every row `taquilla config doc` prints stands in the README as it is.
  size_t start = 0;
  while (start < doc->output.size()) {
    size_t end = doc->output.find('\n', start);
    if (end == std::string::npos) end = doc->output.size();
    std::string row = doc->output.substr(start, end - start);
    if (!row.empty()) {
      EXPECT_NE(readme->find(row), std::string::npos) << "README lacks: " << row;
    }
    start = end + 1;
  }
}

}  // namespace
}  // namespace taquilla
