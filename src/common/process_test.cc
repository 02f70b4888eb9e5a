#include "common/process.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/net.h"

namespace taquilla {
namespace {

TEST(ProcessTest, RunCaptureReturnsStatusAndOutput) {
  auto out = RunCapture({"sh", "-c", "echo hello; echo err >&2; exit 3"});
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out->status, 3);
  EXPECT_NE(out->output.find("hello"), std::string::npos);
  EXPECT_NE(out->output.find("err"), std::string::npos);
}

TEST(ProcessTest, MissingExecutableIsAnError) {
  auto pid = Spawn({.argv = {"/nonexistent/binary"}});
  ASSERT_FALSE(pid.ok());
  EXPECT_NE(pid.error().message.find("/nonexistent/binary"), std::string::npos);
}

TEST(ProcessTest, StopEscalatesToSigkill) {
  // A child that ignores SIGTERM is killed after the grace period.
  std::string ready = "/tmp/taquilla-trap-" + std::to_string(getpid());
  std::remove(ready.c_str());
  auto pid =
      Spawn({.argv = {"sh", "-c", "trap '' TERM; touch " + ready + "; while :; do sleep 1; done"}});
  ASSERT_TRUE(pid.ok());
  // Wait (bounded) until the trap is installed.
  for (int i = 0; i < 5000 && access(ready.c_str(), F_OK) != 0; ++i) usleep(1000);
  ASSERT_EQ(access(ready.c_str(), F_OK), 0);
  std::remove(ready.c_str());
  int status = StopProcess(*pid, SIGTERM, std::chrono::milliseconds(200));
  EXPECT_EQ(status, 128 + SIGKILL);
  EXPECT_FALSE(TryReap(*pid).has_value() && ProcessAlive(*pid));
}

TEST(ProcessTest, EnvironmentIsPassed) {
  SpawnOptions o{.argv = {"sh", "-c", "test \"$TQ_X\" = 42"}};
  o.env["TQ_X"] = "42";
  auto status = RunAndWait(o);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(*status, 0);
}

TEST(NetTest, FreePortIsFreeAndTakenPortIsNamed) {
  auto port = FindFreePort();
  ASSERT_TRUE(port.ok());
  EXPECT_TRUE(CheckPortFree("127.0.0.1", *port).ok());
  EXPECT_FALSE(PortAccepts("127.0.0.1", *port));

  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(*port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  Status taken = CheckPortFree("127.0.0.1", *port);
  ASSERT_FALSE(taken.ok());
  EXPECT_NE(taken.error().message.find(std::to_string(*port)), std::string::npos);
  EXPECT_TRUE(PortAccepts("127.0.0.1", *port));
  close(fd);
}

}  // namespace
}  // namespace taquilla
