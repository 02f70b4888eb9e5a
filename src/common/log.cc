#include "common/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>
#include <vector>

namespace taquilla {
namespace {

struct Registry {
  std::mutex mu;
  std::vector<spdlog::sink_ptr> sinks;
  spdlog::level::level_enum level = spdlog::level::info;
  bool initialized = false;
};

Registry& Reg() {
  static Registry* r = new Registry();  // never destroyed: loggers outlive statics
  return *r;
}

constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ [%n] %v";

void EnsureDefaultSinks(Registry& r) {
  if (r.sinks.empty()) {
    r.sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
    r.sinks.back()->set_pattern(kPattern);
  }
}

}  // namespace

bool IsValidLogLevel(std::string_view level) {
  return level == "trace" || level == "debug" || level == "info" || level == "warn" ||
         level == "error" || level == "off";
}

void InitLogging(const LogOptions& options) {
  Registry& r = Reg();
  std::lock_guard lock(r.mu);
  r.sinks.clear();
  if (options.stderr_sink)
    r.sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  if (!options.file.empty()) {
    r.sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file));
  }
  for (auto& sink : r.sinks) sink->set_pattern(kPattern);
  r.level = spdlog::level::from_str(options.level);
  r.initialized = true;
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) {
    l->sinks() = r.sinks;
    l->set_level(r.level);
  });
}

std::shared_ptr<spdlog::logger> Logger(std::string_view component) {
  Registry& r = Reg();
  std::lock_guard lock(r.mu);
  std::string name(component);
  if (auto existing = spdlog::get(name)) return existing;
  EnsureDefaultSinks(r);
  auto logger = std::make_shared<spdlog::logger>(name, r.sinks.begin(), r.sinks.end());
  logger->set_level(r.level);
  logger->flush_on(spdlog::level::warn);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace taquilla
