// The sync side of the CLI: `taquilla sync` (the daemon and its /metrics), `taquilla
// rebuild` and `taquilla verify`. Each builds its options from the Config and returns the
// process exit code. Call from the main thread.
#pragma once

#include <chrono>
#include <string>

#include "common/config.h"
#include "sync/daemon.h"
#include "sync/projector.h"

namespace taquilla::sync {

// The daemon's options from the Config (URLs resolved from the stack when not set).
Result<SyncOptions> SyncOptionsOf(const Config& config);

int RunSync(const Config& config);
int RunRebuild(const Config& config, const Scope& scope, bool progress);
// Exit 0 when Redis matches PostgreSQL, 1 with a readable diff when not, 2 on errors.
int RunVerify(const Config& config, std::chrono::milliseconds wait);

}  // namespace taquilla::sync
