// Loopback ports: finding a free one for tests, and checking that a configured one is
// free before a server is started on it. Stateless; thread-safe.
#pragma once

#include <string>

#include "common/result.h"

namespace taquilla {

// A port the kernel reports free on 127.0.0.1 right now (bind to port 0).
Result<int> FindFreePort();

// OK if nothing listens on host:port; an error naming the port otherwise.
Status CheckPortFree(const std::string& host, int port);

// True once something accepts TCP connections on host:port.
bool PortAccepts(const std::string& host, int port);

}  // namespace taquilla
