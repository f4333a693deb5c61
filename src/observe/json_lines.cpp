#include "observe/json_lines.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

namespace berth::observe {
namespace {

std::tm utc(int64_t unix_ms) {
  const std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return tm;
}

std::string day_of(int64_t unix_ms) {
  const std::tm tm = utc(unix_ms);
  return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

}  // namespace

std::string iso8601(int64_t unix_ms) {
  const std::tm tm = utc(unix_ms);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(((unix_ms % 1000) + 1000) % 1000));
}

Result<std::unique_ptr<JsonLinesFile>> JsonLinesFile::open(const std::filesystem::path& dir, const Clock& clock) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(ErrorCode::kInternal, "cannot create " + dir.string() + ": " + ec.message());
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                        std::filesystem::perms::group_exec,
                               ec);
  return std::unique_ptr<JsonLinesFile>(new JsonLinesFile(dir, clock));
}

JsonLinesFile::~JsonLinesFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::filesystem::path JsonLinesFile::file_for(int64_t ms) const { return dir_ / (day_of(ms) + ".jsonl"); }

Result<void> JsonLinesFile::append(std::string line) {
  line.push_back('\n');
  const int64_t now = clock_.now_ms();
  std::lock_guard lock(mu_);
  if (const std::string day = day_of(now); fd_ < 0 || day != day_) {
    const std::string path = file_for(now).string();
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return fail(ErrorCode::kInternal, "cannot open " + path + ": " + std::strerror(errno));
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
    day_ = day;
  }
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(ErrorCode::kInternal, std::string("cannot append to the log: ") + std::strerror(errno));
    done += static_cast<size_t>(n);
  }
  return {};
}

}  // namespace berth::observe
