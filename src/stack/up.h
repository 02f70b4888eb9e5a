// `taquilla up`: starts, supervises and stops the whole local stack in the foreground.
//
// Order: PostgreSQL (initdb on first use), migrations, Redis master, Redis replica, the
// seed data (only into an empty database), then endpoints.json. A child that dies is
// restarted with exponential backoff; SIGINT/SIGTERM stop every child in reverse order
// and wait for it. Every child runs in its own process group with a parent-death signal,
// so none outlives the supervisor even if it is killed. One data dir, one supervisor: a
// lock file refuses a second `up` on the same data dir.
//
// RunUp blocks SIGINT/SIGTERM/SIGHUP/SIGCHLD for the calling thread and must be called
// from the main thread before any other thread starts.
#pragma once

#include <string>

#include "common/config.h"

namespace taquilla::stack {

struct UpOptions {
  std::string self_exe;  // this binary, to run `taquilla seed` as a child
};

// Returns the process exit code: 0 after a clean stop, 1 if the stack could not start.
int RunUp(const Config& config, const UpOptions& options);

}  // namespace taquilla::stack
