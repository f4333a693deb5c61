#include "observe/audit.h"

#include "core/log.h"
#include "core/ids.h"
#include "observe/json_text.h"

namespace berth::observe {

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::kSuccess: return "success";
    case Outcome::kDenied: return "denied";
    case Outcome::kFailed: return "failed";
  }
  return "failed";
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::filesystem::path& dir, const Clock& clock) {
  BERTH_TRY(auto file, JsonLinesFile::open(dir, clock));
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(file), clock));
}

void AuditLog::record(const AuditRecord& r) noexcept {
  try {
    nlohmann::json line = {
        {"time", iso8601(clock_.now_ms())},
        {"eventId", new_uuid()},
        {"source", r.source},
        {"action", r.action},
        {"principal", r.principal.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.principal)},
        {"sourceIp", r.source_ip},
        {"resource", r.resource},
        {"result", to_string(r.outcome)},
    };
    if (!r.access_key_id.empty()) line["accessKeyId"] = r.access_key_id;
    if (!r.user_agent.empty()) line["userAgent"] = r.user_agent;
    if (r.outcome != Outcome::kSuccess) {
      line["errorCode"] = r.error_code;
      line["errorMessage"] = r.message;
    }
    if (!r.detail.is_null()) line["detail"] = r.detail;
    if (auto written = file_->append(json_text(line)); !written) {
      log::get("audit")->error("{}", written.error().message);
    }
  } catch (const std::exception& e) {
    log::get("audit")->error("cannot record {}: {}", r.action, e.what());
  }
}

}  // namespace berth::observe
