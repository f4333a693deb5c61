// Appends JSON lines to one file per UTC day under a directory (DIR/YYYY-MM-DD.jsonl), the
// form both the audit trail and the event log take. Each line leaves in one write(2) on
// an O_APPEND descriptor, so lines from several threads or processes (the server and a
// `berth admin` next to it) never interleave.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "core/clock.h"
#include "core/result.h"

namespace berth::observe {

class JsonLinesFile {
 public:
  // Creates DIR (0750) when missing.
  static Result<std::unique_ptr<JsonLinesFile>> open(const std::filesystem::path& dir, const Clock& clock);
  ~JsonLinesFile();
  JsonLinesFile(const JsonLinesFile&) = delete;
  JsonLinesFile& operator=(const JsonLinesFile&) = delete;

  // `line` must not contain a newline; one is added.
  Result<void> append(std::string line);

  const std::filesystem::path& dir() const { return dir_; }
  // The file a line written at `ms` (Unix milliseconds) goes to.
  std::filesystem::path file_for(int64_t ms) const;

 private:
  JsonLinesFile(std::filesystem::path dir, const Clock& clock) : dir_(std::move(dir)), clock_(clock) {}

  std::filesystem::path dir_;
  const Clock& clock_;
  std::mutex mu_;
  int fd_ = -1;
  std::string day_;  // the day fd_ was opened for
};

// ISO 8601 UTC with milliseconds: 2026-11-25T07:04:05.123Z.
std::string iso8601(int64_t unix_ms);

}  // namespace berth::observe
