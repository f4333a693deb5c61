#include "registry/pull_recorder.h"

#include <set>

#include <re2/re2.h>

#include "core/log.h"

namespace berth::registry {

bool is_user_or_role_arn(std::string_view arn) {
  static const RE2 kArn(R"(arn:aws(-[a-z]+)*:iam::[0-9]{12}:(role|user)/[\w+=,.@-]+(/[\w+=,.@-]+)*)");
  return arn.size() <= 200 && RE2::FullMatch(arn, kArn);
}

void PullRecorder::note(const std::string& repository, const Digest& digest, int64_t now_ms, std::string_view puller) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = pending_.try_emplace({repository, digest.str(), std::string(puller)}, digest, now_ms);
  if (!inserted && it->second.second < now_ms) it->second.second = now_ms;
}

size_t PullRecorder::flush() {
  decltype(pending_) batch;
  {
    std::lock_guard lock(mu_);
    batch.swap(pending_);
  }
  if (batch.empty()) return 0;
  std::set<std::string, std::less<>> excluded;
  auto listed = exclusions("", kMaxPullTimeExclusions);
  if (!listed) {
    // Recording a scanner's pull is worse than recording none: try again next time.
    log::get("registry")->warn("reading pull-time exclusions failed, pull times not recorded: {}",
                               listed.error().message);
    return 0;
  }
  excluded.insert(listed->begin(), listed->end());
  std::map<std::pair<std::string, std::string>, std::pair<Digest, int64_t>> newest;
  for (const auto& [key, value] : batch) {
    if (excluded.contains(std::get<2>(key))) continue;
    auto [it, inserted] = newest.try_emplace({std::get<0>(key), std::get<1>(key)}, value);
    if (!inserted && it->second.second < value.second) it->second.second = value.second;
  }
  size_t written = 0;
  for (const auto& [key, value] : newest) {
    auto r = meta_.record_pull(key.first, value.first, value.second);
    if (r) {
      ++written;
    } else if (r.error().code != ErrorCode::kManifestUnknown && r.error().code != ErrorCode::kNameUnknown) {
      log::get("registry")->warn("recording pull time failed: {}", r.error().message);
    }
  }
  return written;
}

Result<int64_t> PullRecorder::exclude(const std::string& principal_arn, int64_t now_ms) {
  if (!is_user_or_role_arn(principal_arn)) {
    return fail(ErrorCode::kInvalidParameter,
                "principalArn must be an IAM user or role ARN (arn:aws:iam::ACCOUNT:user/NAME or :role/NAME), got '" +
                    principal_arn + "'");
  }
  const std::string key = store::kPullTimeExclusionPrefix + principal_arn;
  BERTH_TRY(auto existing, meta_.get_setting(key));
  if (existing) return fail(ErrorCode::kExclusionExists, "principal " + principal_arn + " is already excluded");
  BERTH_TRY(auto all, exclusions("", kMaxPullTimeExclusions));
  if (all.size() >= kMaxPullTimeExclusions) {
    return fail(ErrorCode::kLimitExceeded,
                "a registry can have at most " + std::to_string(kMaxPullTimeExclusions) + " pull-time exclusions");
  }
  // First writer wins: of two racing registrations, the second sees the first's time.
  const std::string mine = std::to_string(now_ms);
  BERTH_TRY(auto stored, meta_.setting_or_init(key, mine));
  if (stored != mine) return fail(ErrorCode::kExclusionExists, "principal " + principal_arn + " is already excluded");
  return now_ms;
}

Result<void> PullRecorder::include(const std::string& principal_arn) {
  auto deleted = meta_.delete_setting(store::kPullTimeExclusionPrefix + principal_arn);
  if (!deleted && deleted.error().code == ErrorCode::kNotFound) {
    return fail(ErrorCode::kExclusionNotFound, "principal " + principal_arn + " is not excluded");
  }
  return deleted;
}

Result<std::vector<std::string>> PullRecorder::exclusions(const std::string& after, size_t limit) {
  const std::string prefix = store::kPullTimeExclusionPrefix;
  BERTH_TRY(auto rows, meta_.list_settings(prefix, after.empty() ? prefix : prefix + after, limit));
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (auto& [key, value] : rows) out.push_back(key.substr(prefix.size()));
  return out;
}

}  // namespace berth::registry
