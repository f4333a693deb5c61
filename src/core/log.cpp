#include "core/log.h"

#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace berth::log {

std::shared_ptr<spdlog::logger> get(const std::string& module) {
  static std::mutex mu;
  std::lock_guard lock(mu);
  if (auto existing = spdlog::get(module)) return existing;
  auto logger = spdlog::stderr_color_mt(module);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %n %v", spdlog::pattern_time_type::utc);
  return logger;
}

void set_level(const std::string& level) { spdlog::set_level(spdlog::level::from_str(level)); }

}  // namespace berth::log
