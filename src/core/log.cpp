#include "core/log.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <mutex>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace berth::log {
namespace {

constexpr char kPattern[] = "%Y-%m-%dT%H:%M:%S.%eZ %l %n %v";

class BufferedStderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  ~BufferedStderrSink() override { write_out(); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    pending_.append(line.data(), line.size());
    if (pending_.size() >= kBatchBytes) write_out();
  }
  void flush_() override { write_out(); }

 private:
  static constexpr size_t kBatchBytes = 64 * 1024;

  void write_out() {
    size_t done = 0;
    while (done < pending_.size()) {
      const ssize_t n = ::write(STDERR_FILENO, pending_.data() + done, pending_.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // stderr is gone: the lines cannot be written anywhere
      done += static_cast<size_t>(n);
    }
    pending_.clear();
  }

  std::string pending_;
};

std::mutex& registry_mu() {
  static std::mutex mu;
  return mu;
}

}  // namespace

std::shared_ptr<spdlog::logger> get(const std::string& module) {
  std::lock_guard lock(registry_mu());
  if (auto existing = spdlog::get(module)) return existing;
  auto logger = spdlog::stderr_color_mt(module);
  logger->set_pattern(kPattern, spdlog::pattern_time_type::utc);
  return logger;
}

std::shared_ptr<spdlog::logger> get_buffered(const std::string& module) {
  std::lock_guard lock(registry_mu());
  if (auto existing = spdlog::get(module)) return existing;
  auto logger = std::make_shared<spdlog::logger>(module, std::make_shared<BufferedStderrSink>());
  spdlog::initialize_logger(logger);  // registered, at the level set_level() chose
  logger->set_pattern(kPattern, spdlog::pattern_time_type::utc);
  static std::once_flag every_second;
  std::call_once(every_second, [] { spdlog::flush_every(std::chrono::seconds(1)); });
  return logger;
}

void flush_all() {
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
}

void set_level(const std::string& level) { spdlog::set_level(spdlog::level::from_str(level)); }

}  // namespace berth::log
