// docs/openapi.yaml against the real secure app: tests/openapi/check_openapi.py checks the
// spec's structure, that its secure operations are exactly the routes SecureApi registers,
// and that every operation, called without credentials on the real binary over a migrated
// database, answers a status the spec documents with a body of the documented shape.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/files.h"
#include "common/net.h"
#include "common/process.h"
#include "db/pool.h"
#include "secure/api.h"
#include "secure/market.h"
#include "secure/payment.h"
#include "testing/eventually.h"
#include "testing/servers.h"

namespace taquilla {
namespace {

using namespace std::chrono_literals;

std::string Bin() { return testing::TaquillaBin(); }
using testing::Eventually;

std::string SourceDir() {
  const char* s = getenv("TAQUILLA_TEST_SOURCE_DIR");
  return s ? s : ".";
}

// Debian's interpreter, where scripts/setup installs python3-yaml; else the one in PATH.
std::string Python() {
  return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
}

std::string Checker() { return SourceDir() + "/tests/openapi/check_openapi.py"; }
std::string SpecPath() { return SourceDir() + "/docs/openapi.yaml"; }

std::string LogOf(const std::string& path) {
  auto text = ReadFile(path);
  return text.ok() ? *text : "(no log at " + path + ")";
}

// The JSON API routes the secure app registers ("METHOD /pattern"), HTML pages left out.
// Building SecureApi does not touch the database (the Pool connects lazily).
std::string SecureRoutes(const std::string& pg_url) {
  db::Pool pool(pg_url, 1, 1000ms);
  secure::TestCardProvider payments;
  secure::Market market(pool, SystemClock::Instance(), payments, secure::MarketOptions{});
  secure::SecureApi api(market, SystemClock::Instance(), secure::ApiOptions{});
  std::string out;
  for (const auto& r : api.Routes()) {
    auto space = r.find(' ');
    std::string path = space == std::string::npos ? "" : r.substr(space + 1);
    if (path.rfind("/api/v1/", 0) == 0 || path == "/healthz" || path == "/readyz") {
      out += r + "\n";
    }
  }
  return out;
}

class OpenApiE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("tq-openapi"); }
  void TearDown() override {
    if (pid_ > 0) StopProcess(pid_, SIGTERM, 10s);
    testing::RemoveTree(dir_);
  }
  std::string dir_;
  pid_t pid_ = 0;
};

TEST_F(OpenApiE2eTest, SpecMatchesTheSecureAppRoutesAndAnswers) {
  std::string url = testing::PostgresFixture::Get().NewDatabase();
  std::string routes = SecureRoutes(url);
  ASSERT_NE(routes.find("POST /api/v1/holds\n"), std::string::npos) << routes;
  std::string routes_file = dir_ + "/routes.txt";
  ASSERT_TRUE(WriteFileAtomic(routes_file, routes).ok());

  auto port = FindFreePort();
  ASSERT_TRUE(port.ok());
  std::string log = dir_ + "/secure.log";
  SpawnOptions o;
  o.argv = {Bin(), "secure",   "--postgres-url",
            url,   "--listen", "127.0.0.1:" + std::to_string(*port)};
  o.log_file = log;
  auto pid = Spawn(o);
  ASSERT_TRUE(pid.ok()) << pid.error().message;
  pid_ = *pid;
  bool exited = false;
  ASSERT_TRUE(Eventually([&] {
    if (TryReap(pid_)) {
      exited = true;
      return true;
    }
    return PortAccepts("127.0.0.1", *port);
  }));
  if (exited) {
    pid_ = 0;
    FAIL() << "taquilla secure exited early:\n" << LogOf(log);
  }

  auto run = RunCapture({Python(), Checker(), "--spec", SpecPath(), "--routes", routes_file,
                         "--url", "http://127.0.0.1:" + std::to_string(*port)});
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_EQ(run->status, 0) << run->output << "\nroutes:\n" << routes;

  EXPECT_EQ(StopProcess(pid_, SIGTERM, 10s), 0) << LogOf(log);
  pid_ = 0;
}

// The route comparison is not vacuous: a route the spec lacks, and a documented operation
// the server does not route, are both named.
TEST_F(OpenApiE2eTest, CheckerNamesRoutesMissingFromEitherSide) {
  std::string routes = SecureRoutes("postgresql://taquilla@127.0.0.1:1/unused");
  // Drop one documented route and add one the spec does not know.
  auto at = routes.find("GET /api/v1/me/sales\n");
  ASSERT_NE(at, std::string::npos) << routes;
  routes.erase(at, std::string("GET /api/v1/me/sales\n").size());
  routes += "POST /api/v1/refunds\n";
  std::string routes_file = dir_ + "/routes.txt";
  ASSERT_TRUE(WriteFileAtomic(routes_file, routes).ok());
  auto run = RunCapture({Python(), Checker(), "--spec", SpecPath(), "--routes", routes_file});
  ASSERT_TRUE(run.ok()) << run.error().message;
  EXPECT_EQ(run->status, 1) << run->output;
  EXPECT_NE(run->output.find("route not in the spec: POST /api/v1/refunds"), std::string::npos)
      << run->output;
  EXPECT_NE(run->output.find("spec operation the server does not route: GET /api/v1/me/sales"),
            std::string::npos)
      << run->output;
}

}  // namespace
}  // namespace taquilla
