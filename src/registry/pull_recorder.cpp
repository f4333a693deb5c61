#include "registry/pull_recorder.h"

#include <vector>

#include "core/log.h"

namespace berth::registry {

void PullRecorder::note(const std::string& repository, const Digest& digest, int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = pending_.try_emplace({repository, digest.str()}, digest, now_ms);
  if (!inserted && it->second.second < now_ms) it->second.second = now_ms;
}

size_t PullRecorder::flush() {
  decltype(pending_) batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(pending_);
  }
  size_t written = 0;
  for (const auto& [key, value] : batch) {
    auto r = meta_.record_pull(key.first, value.first, value.second);
    if (r) {
      ++written;
    } else if (r.error().code != ErrorCode::kManifestUnknown && r.error().code != ErrorCode::kNameUnknown) {
      log::get("registry")->warn("recording pull time failed: {}", r.error().message);
    }
  }
  return written;
}

}  // namespace berth::registry
