// `taquilla secure`: the secure app's process. Builds the connection pool, the Market,
// the HTTP API and server from the Config, runs the hold-expiry sweeper, and serves until
// SIGINT/SIGTERM. Call from the main thread before other threads start.
#pragma once

#include <string>

#include "common/config.h"
#include "common/result.h"

namespace taquilla::secure {

// Returns the process exit code.
int RunSecure(const Config& config);

// `taquilla admin create-user`: makes an account with any role (the first admin).
Status CreateUser(const Config& config, const std::string& email, const std::string& password,
                  const std::string& display_name, const std::string& locale,
                  const std::string& role);

// host and port of secure.listen, defaulting to the local stack's port.
Result<std::pair<std::string, int>> SecureListen(const Config& config);

}  // namespace taquilla::secure
