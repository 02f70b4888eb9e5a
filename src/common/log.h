// Logging: one spdlog logger per component ("sync", "stack", "seed" ...), all sharing
// the sinks set up once by InitLogging. Loggers are thread-safe (spdlog's _mt sinks).
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

namespace taquilla {

struct LogOptions {
  std::string level = "info";  // trace|debug|info|warn|error|off
  std::string file;            // also append to this file when set
  bool stderr_sink = true;
};

// Sets the sinks and level of every logger, existing and future. Call once from main;
// components that log before it get the default (stderr, info).
void InitLogging(const LogOptions& options);

// The logger of `component`, created on first use.
std::shared_ptr<spdlog::logger> Logger(std::string_view component);

// True if `level` names a level InitLogging accepts.
bool IsValidLogLevel(std::string_view level);

}  // namespace taquilla
