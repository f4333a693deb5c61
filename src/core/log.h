// One logging facade: spdlog underneath, a named logger per module.
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace berth::log {

// Returns the module's logger, creating it on first use (thread-safe).
std::shared_ptr<spdlog::logger> get(const std::string& module);
// As get, but its lines go to stderr in batches: when 64 KiB are pending, and at least
// once a second. For the access log, where a write(2) per request under the sink's lock
// would cost the I/O threads more than the request itself. A crash loses at most the
// last second of lines; flush_all() at shutdown loses none.
std::shared_ptr<spdlog::logger> get_buffered(const std::string& module);
void flush_all();
void set_level(const std::string& level);  // trace|debug|info|warn|error|off

}  // namespace berth::log
