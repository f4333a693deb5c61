// The audit trail: every call that changes state, and every call that was refused, as one
// JSON line in DATA/audit/YYYY-MM-DD.jsonl (CloudTrail-like; see README "Audit trail").
// Both APIs, `berth admin`, and the background jobs (lifecycle, gc) write here.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "observe/json_lines.h"

namespace berth::observe {

enum class Outcome { kSuccess, kDenied, kFailed };

struct AuditRecord {
  std::string source;         // "ecr" (JSON API), "registry" (/v2/), "admin", "lifecycle", "gc"
  std::string action;         // "ecr:PutImage"; what the caller asked for
  std::string principal;      // the caller's ARN; empty for anonymous or unauthenticated
  std::string access_key_id;  // the key the caller signed or logged in with, when known
  std::string source_ip;
  std::string user_agent;
  std::string resource;  // ARN, or "*"
  Outcome outcome = Outcome::kSuccess;
  std::string error_code;        // ECR exception name or OCI error code when not kSuccess
  std::string message;           // the error message the caller got
  nlohmann::json detail = nullptr;  // request facts worth keeping (tag, digest, ...); never secrets
};

class AuditLog {
 public:
  // Opens (creating) DIR; `data_dir`/audit is the convention.
  static Result<std::unique_ptr<AuditLog>> open(const std::filesystem::path& dir, const Clock& clock);

  // Never throws and never fails the caller's request: a write failure is logged.
  void record(const AuditRecord& r) noexcept;

  const std::filesystem::path& dir() const { return file_->dir(); }

 private:
  explicit AuditLog(std::unique_ptr<JsonLinesFile> file, const Clock& clock)
      : file_(std::move(file)), clock_(clock) {}
  std::unique_ptr<JsonLinesFile> file_;
  const Clock& clock_;
};

std::string_view to_string(Outcome o);

}  // namespace berth::observe
