#include "e2e_support.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <optional>
#include <sstream>

#include "common/files.h"
#include "common/net.h"
#include "common/process.h"
#include "redis/client.h"
#include "stack/servers.h"
#include "testing/eventually.h"
#include "testing/http_client.h"
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

void Daemon::Start() {
  auto port = FindFreePort();
  ASSERT_TRUE(port.ok()) << port.error().message;
  port_ = *port;
  SpawnOptions o;
  o.argv = argv_;
  o.argv.push_back("--listen");
  o.argv.push_back(fmt::format("127.0.0.1:{}", port_));
  o.log_file = log_;
  auto pid = Spawn(o);
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  pid_ = *pid;
  ++starts_;
}

void Daemon::Kill() {
  if (pid_ > 0) StopProcess(pid_, SIGKILL, 10s);
  pid_ = 0;
}

int Daemon::Stop() {
  int status = pid_ > 0 ? StopProcess(pid_, SIGTERM, 30s) : -1;
  pid_ = 0;
  return status;
}

bool Daemon::Running() {
  if (pid_ <= 0) return false;
  if (auto status = TryReap(pid_)) {
    exit_status_ = *status;
    pid_ = 0;
    return false;
  }
  return true;
}

std::map<std::string, std::string> Daemon::Metrics() const {
  std::map<std::string, std::string> out;
  if (pid_ <= 0) return out;
  testing::HttpClient http("127.0.0.1", port_);
  auto reply = http.Get("/metrics");
  if (reply.status != 200) return out;
  std::istringstream lines(reply.body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    if (space != std::string::npos) out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

double Daemon::Metric(const std::string& name) const {
  auto m = Metrics();
  auto it = m.find(name);
  return it == m.end() ? -1 : std::atof(it->second.c_str());
}

std::string Daemon::Log() const {
  auto text = ReadFile(log_);
  return text.ok() ? *text : "";
}

std::string Daemon::LogTail(size_t lines) const {
  std::string text = Log();
  size_t at = text.size();
  for (size_t n = 0; n <= lines && at > 0; ++n) {
    at = text.rfind('\n', at - 1);
    if (at == std::string::npos) return text;
  }
  return text.substr(at);
}

}  // namespace taquilla::e2e
