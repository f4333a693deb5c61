// One logging facade: spdlog underneath, a named logger per module.
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace berth::log {

// Returns the module's logger, creating it on first use (thread-safe).
std::shared_ptr<spdlog::logger> get(const std::string& module);
void set_level(const std::string& level);  // trace|debug|info|warn|error|off

}  // namespace berth::log
