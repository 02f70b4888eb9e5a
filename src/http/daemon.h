// RunDaemon: the frame every background daemon (sync, the indexer) runs in. SIGINT and
// SIGTERM are blocked and awaited on a thread of their own; a small HTTP server on
// host:port answers /metrics (Prometheus text from `metrics`) and /healthz; `run(stop)`
// runs on the calling thread until a signal sets `stop` (or it returns by itself, which
// ends the process the same way). Call from the main thread before any other thread exists.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "common/log.h"
#include "common/result.h"

namespace taquilla::http {

struct DaemonOptions {
  std::string name;  // for the 404 message and the logs: "sync", "indexer"
  std::string host;
  int port = 0;
};

// Returns the process exit code: 0 after a clean stop; 1 when the server cannot listen or
// `run` fails (both logged on `log`). `on_listening(port)` is called once the server
// listens (to log where).
int RunDaemon(const DaemonOptions& options, spdlog::logger& log,
              std::function<std::string()> metrics, std::function<void(int port)> on_listening,
              std::function<Status(const std::atomic<bool>& stop)> run);

}  // namespace taquilla::http
