// End-to-end tests of `taquilla secure` and `taquilla admin create-user` with the real
// binary against a real PostgreSQL: the first admin, a clean stop, and a database that is
// down answering 503 instead of failing.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include "common/net.h"
#include "common/process.h"
#include "testing/eventually.h"
#include "testing/http_client.h"
#include "testing/servers.h"

namespace taquilla {
namespace {

using namespace std::chrono_literals;

std::string Bin() { return testing::TaquillaBin(); }

using testing::Eventually;

struct Secure {
  pid_t pid = 0;
  int port = 0;
  explicit Secure(const std::string& pg_url) {
    auto p = FindFreePort();
    EXPECT_TRUE(p.ok());
    port = *p;
    SpawnOptions o;
    o.argv = {Bin(),  "secure",   "--postgres-url",
              pg_url, "--listen", "127.0.0.1:" + std::to_string(port)};
    auto pid_or = Spawn(o);
    EXPECT_TRUE(pid_or.ok()) << pid_or.error().message;
    pid = pid_or.ok() ? *pid_or : 0;
    EXPECT_TRUE(Eventually([&] { return PortAccepts("127.0.0.1", port); }));
  }
  ~Secure() {
    if (pid > 0) StopProcess(pid, SIGKILL, 5s);
  }
};

TEST(SecureE2eTest, FirstAdminCreatedFromTheCliCanUseTheBackoffice) {
  std::string url = testing::PostgresFixture::Get().NewDatabase();
  // Bad input is refused and changes nothing.
  auto bad = RunCapture({Bin(), "admin", "create-user", "--postgres-url", url, "--email",
                         "root@example.test", "--password", "short"});
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 2) << bad->output;
  EXPECT_NE(bad->output.find("at least 10"), std::string::npos) << bad->output;
  auto bad_role =
      RunCapture({Bin(), "admin", "create-user", "--postgres-url", url, "--email",
                  "root@example.test", "--password", "long-enough-1", "--role", "emperor"});
  ASSERT_TRUE(bad_role.ok());
  EXPECT_NE(bad_role->status, 0);

  auto made = RunCapture({Bin(), "admin", "create-user", "--postgres-url", url, "--email",
                          "root@example.test", "--password", "long-enough-1"});
  ASSERT_TRUE(made.ok());
  ASSERT_EQ(made->status, 0) << made->output;
  // The same email twice is a clear error.
  auto twice = RunCapture({Bin(), "admin", "create-user", "--postgres-url", url, "--email",
                           "ROOT@example.test", "--password", "long-enough-1"});
  ASSERT_TRUE(twice.ok());
  EXPECT_NE(twice->status, 0);
  EXPECT_NE(twice->output.find("already exists"), std::string::npos) << twice->output;

  Secure secure(url);
  testing::HttpClient c("127.0.0.1", secure.port);
  auto login =
      c.Post("/api/v1/sessions", {{"email", "root@example.test"}, {"password", "long-enough-1"}});
  ASSERT_EQ(login.status, 201) << login.body;
  EXPECT_EQ(login.json().at("user").at("role").as_string(), "admin");
  std::string token(login.json().at("token").as_string());
  auto lang = c.Post("/api/v1/admin/languages", {{"code", "eu"}, {"name", "Euskara"}},
                     {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(lang.status, 201) << lang.body;
  EXPECT_FALSE(lang.header("x-taquilla-lsn").empty());

  // SIGTERM stops it cleanly.
  EXPECT_EQ(StopProcess(secure.pid, SIGTERM, 10s), 0);
  secure.pid = 0;
  EXPECT_FALSE(PortAccepts("127.0.0.1", secure.port));
}

TEST(SecureE2eTest, DatabaseDownIs503WithRetryAfter) {
  auto closed = FindFreePort();
  ASSERT_TRUE(closed.ok());
  Secure secure("postgresql://taquilla@127.0.0.1:" + std::to_string(*closed) + "/nothing");
  testing::HttpClient c("127.0.0.1", secure.port);
  EXPECT_EQ(c.Get("/healthz").status, 200);
  auto ready = c.Get("/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_FALSE(ready.header("retry-after").empty());
  auto login =
      c.Post("/api/v1/sessions", {{"email", "a@example.test"}, {"password", "whatever-123"}});
  EXPECT_EQ(login.status, 503) << login.body;
  EXPECT_EQ(login.error_code(), "unavailable");
  EXPECT_FALSE(login.header("retry-after").empty());
}

}  // namespace
}  // namespace taquilla
