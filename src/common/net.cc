#include "common/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace taquilla {
namespace {

Result<sockaddr_in> Address(const std::string& host, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return MakeError(ErrorCode::kInvalidArgument, "'{}' is not an IPv4 address", host);
  }
  return addr;
}

}  // namespace

Result<int> FindFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return MakeError(ErrorCode::kInternal, "socket: {}", std::strerror(errno));
  sockaddr_in addr = *Address("127.0.0.1", 0);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    close(fd);
    return MakeError(ErrorCode::kInternal, "bind: {}", std::strerror(err));
  }
  close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

Status CheckPortFree(const std::string& host, int port) {
  TQ_ASSIGN_OR_RETURN(sockaddr_in addr, Address(host, port));
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return MakeError(ErrorCode::kInternal, "socket: {}", std::strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  if (rc == 0) rc = listen(fd, 1), err = errno;
  close(fd);
  if (rc != 0) {
    return MakeError(ErrorCode::kFailedPrecondition, "port {} on {} is already in use ({})", port,
                     host, std::strerror(err));
  }
  return Ok();
}

bool PortAccepts(const std::string& host, int port) {
  auto addr = Address(host, port);
  if (!addr.ok()) return false;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof(sockaddr_in)) == 0;
  close(fd);
  return ok;
}

}  // namespace taquilla
