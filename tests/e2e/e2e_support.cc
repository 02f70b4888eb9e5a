#include "e2e_support.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <optional>

#include "common/files.h"
#include "common/process.h"
#include "redis/client.h"
#include "stack/servers.h"
#include "testing/eventually.h"
#include "testing/servers.h"

namespace taquilla::e2e {

using namespace std::chrono_literals;
using testing::Eventually;

CliResult RunCli(const std::vector<std::string>& args, std::chrono::milliseconds deadline) {
  static std::atomic<int> counter{0};
  const std::string log = fmt::format("/tmp/taquilla-e2e-cli-{}-{}.log", getpid(), counter++);
  SpawnOptions o;
  o.argv = {testing::TaquillaBin()};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.log_file = log;
  CliResult out;
  auto pid = Spawn(o);
  if (!pid.ok()) {
    out.output = "spawn failed: " + pid.error().message;
    std::remove(log.c_str());
    return out;
  }
  std::optional<int> status;
  if (!Eventually([&] { return (status = TryReap(*pid)).has_value(); }, deadline)) {
    status = StopProcess(*pid, SIGKILL, 5s);
    out.output = fmt::format("(killed after {} ms)\n", deadline.count());
  }
  out.status = *status;
  auto text = ReadFile(log);
  if (text.ok()) out.output += *text;
  std::remove(log.c_str());
  return out;
}

std::string DbName(const std::string& url) { return url.substr(url.rfind('/') + 1); }

const std::string& SeededTemplate() {
  static const std::string name = [] {
    std::string url = testing::PostgresFixture::Get().NewDatabase();
    auto started = std::chrono::steady_clock::now();
    CliResult r = RunCli({"seed", "--postgres-url", url, "--scale", "demo", "--no-progress"}, 300s);
    if (r.status != 0) {
      std::fprintf(stderr, "taquilla seed failed (status %d):\n%s\n", r.status, r.output.c_str());
      return std::string();
    }
    std::fprintf(stderr, "seeded the demo marketplace in %.1f s\n",
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return DbName(url);
  }();
  return name;
}

std::string SeededDatabase(const std::string& prefix) {
  const std::string& source = SeededTemplate();
  if (source.empty()) return "";
  auto& pg = testing::PostgresFixture::Get();
  static std::atomic<int> counter{0};
  std::string name = fmt::format("{}_{}_{}", prefix, getpid(), counter++);
  auto admin = db::Connection::Open(pg.AdminUrl());
  if (!admin.ok()) return "";
  // The seeding backend may take a moment to go away after `taquilla seed` exits.
  std::string last;
  bool made = Eventually(
      [&] {
        auto r = admin->Exec(fmt::format("CREATE DATABASE {} TEMPLATE {}", name, source));
        last = r.ok() ? "" : r.error().message;
        return r.ok();
      },
      60s);
  if (!made) {
    std::fprintf(stderr, "cannot copy the seeded database: %s\n", last.c_str());
    return "";
  }
  return stack::PostgresUrl(pg.port(), name);
}

db::Connection MustConnect(const std::string& url) {
  auto c = db::Connection::Open(url);
  if (!c.ok()) {
    std::fprintf(stderr, "cannot connect to %s: %s\n", url.c_str(), c.error().message.c_str());
    std::abort();
  }
  return std::move(c).value();
}

std::string RedisGet(const std::string& url, const std::string& key) {
  auto c = redis::Client::Connect(url, 2s);
  if (!c.ok()) return "";
  auto r = c->Cmd("GET", key);
  return r.ok() && !r->IsNil() ? std::string(r->str()) : "";
}

}  // namespace taquilla::e2e
