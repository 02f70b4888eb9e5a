#include "testing/servers.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <random>

#include "common/net.h"
#include "common/process.h"
#include "db/migrate.h"
#include "db/pg.h"
#include "stack/servers.h"

namespace taquilla::testing {
namespace {

std::mutex g_mu;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "test harness: %s\n", what.c_str());
  std::fflush(stderr);
  std::_Exit(2);
}

template <typename T>
T Must(Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what + ": " + r.error().message);
  return std::move(r).value();
}

void Must(Status s, const std::string& what) {
  if (!s.ok()) Die(what + ": " + s.error().message);
}

bool KeepTemp() { return getenv("TAQUILLA_TEST_KEEP") != nullptr; }

}  // namespace

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  char* made = mkdtemp(tmpl.data());
  if (made == nullptr) Die("mkdtemp failed");
  chmod(made, 0755);  // the PostgreSQL user must be able to enter it
  return made;
}

void RemoveTree(const std::string& path) {
  if (KeepTemp() || path.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

PostgresFixture& PostgresFixture::Get() {
  static PostgresFixture* instance = [] {
    auto* f = new PostgresFixture();
    f->Start();
    return f;
  }();
  return *instance;
}

void PostgresFixture::Start() {
  dir_ = MakeTempDir("taquilla-pg");
  // Two attempts: another process may take the free port between finding and binding.
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = Must(FindFreePort(), "free port");
    stack::PostgresOptions o;
    o.dir = dir_ + "/data";
    o.port = port_;
    o.durable = false;
    o.log_file = dir_ + "/postgres.log";
    Must(stack::PreparePostgres(o), "prepare PostgreSQL");
    SpawnOptions spawn = stack::PostgresCommand(o);
    spawn.log_file = o.log_file;
    pid_ = Must(Spawn(spawn), "start PostgreSQL");
    if (stack::WaitPostgresReady(port_, pid_, std::chrono::seconds(60)).ok()) break;
    StopProcess(pid_, SIGINT, std::chrono::seconds(10));
    pid_ = 0;
  }
  if (pid_ == 0) Die("PostgreSQL did not start; see " + dir_ + "/postgres.log");
  std::atexit([] {
    auto& f = PostgresFixture::Get();
    if (f.pid_ > 0) StopProcess(f.pid_, SIGINT, std::chrono::seconds(20));
    RemoveTree(f.dir_);
  });
}

std::string PostgresFixture::AdminUrl() const { return stack::PostgresUrl(port_, "postgres"); }

std::string PostgresFixture::NewEmptyDatabase() {
  static std::atomic<int> counter{0};
  std::string name = "t" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  auto admin = Must(db::Connection::Open(AdminUrl()), "connect");
  Must(admin.Exec("CREATE DATABASE " + name), "create database");
  return stack::PostgresUrl(port_, name);
}

std::string PostgresFixture::NewDatabase() {
  std::lock_guard lock(g_mu);
  auto admin = Must(db::Connection::Open(AdminUrl()), "connect");
  if (!template_ready_) {
    Must(admin.Exec("DROP DATABASE IF EXISTS tq_template"), "drop template");
    Must(admin.Exec("CREATE DATABASE tq_template"), "create template");
    auto conn = Must(db::Connection::Open(stack::PostgresUrl(port_, "tq_template")), "connect");
    Must(db::Migrate(conn), "migrate template");
    template_ready_ = true;
  }
  static std::atomic<int> counter{0};
  std::string name = "m" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  Must(admin.Exec("CREATE DATABASE " + name + " TEMPLATE tq_template"), "create database");
  return stack::PostgresUrl(port_, name);
}

RedisFixture& RedisFixture::Get() {
  static RedisFixture* instance = [] {
    auto* f = new RedisFixture();
    f->Start();
    return f;
  }();
  return *instance;
}

Result<int> StartEphemeralRedis(const std::string& dir, int* port) {
  const bool any_port = *port == 0;
  Error last = MakeError(ErrorCode::kUnavailable, "Redis did not start");
  for (int attempt = 0; attempt < (any_port ? 3 : 1); ++attempt) {
    if (any_port) {
      TQ_ASSIGN_OR_RETURN(*port, FindFreePort());
    }
    stack::RedisOptions o;
    o.dir = dir;
    o.port = *port;
    o.append_only = false;
    SpawnOptions spawn = stack::RedisCommand(o);
    spawn.log_file = dir + "/redis.log";
    TQ_ASSIGN_OR_RETURN(pid_t pid, Spawn(spawn));
    Status ready = stack::WaitRedisReady(*port, false, pid, std::chrono::seconds(20));
    if (ready.ok()) return static_cast<int>(pid);
    StopProcess(pid, SIGKILL, std::chrono::seconds(1));
    last = ready.error();
  }
  return MakeError(ErrorCode::kUnavailable,
                   "redis-server did not start on port {}: {}; see {}/redis.log", *port,
                   last.message, dir);
}

void RedisFixture::Start() {
  dir_ = MakeTempDir("taquilla-redis");
  auto pid = StartEphemeralRedis(dir_, &port_);
  if (!pid.ok()) Die(pid.error().message);
  pid_ = *pid;
  std::atexit([] {
    auto& f = RedisFixture::Get();
    if (f.pid_ > 0) StopProcess(f.pid_, SIGTERM, std::chrono::seconds(10));
    RemoveTree(f.dir_);
  });
}

std::string RedisFixture::url() const { return stack::RedisUrl(port_); }

int FreePortBase(int count) {
  std::mt19937 rng(static_cast<unsigned>(getpid()) * 7919u + static_cast<unsigned>(time(nullptr)));
  for (int attempt = 0; attempt < 200; ++attempt) {
    int base = 20000 + static_cast<int>(rng() % 400) * 100;
    bool free = true;
    for (int i = 0; i < count && free; ++i) free = CheckPortFree("127.0.0.1", base + i).ok();
    if (free) return base;
  }
  return 0;
}

}  // namespace taquilla::testing
