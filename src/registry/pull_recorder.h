// Pull times, coalesced: recording every manifest GET as a write would put a database
// write on the hottest read path. Pulls are noted in memory and written in batches;
// ECR itself only promises the time to within a day.
//
// Pull-time update exclusions (ECR RegisterPullTimeUpdateExclusion): pulls by an excluded
// IAM user or role (scanners, CI) are not recorded, so lifecycle rules on
// sinceImagePulled see only real use. Exclusions are applied when a batch is written, so
// checking them costs nothing per pull.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/digest.h"
#include "store/meta/meta_store.h"

namespace berth::registry {

// ECR's quota on pull-time update exclusions per registry.
inline constexpr size_t kMaxPullTimeExclusions = 100;

class PullRecorder {
 public:
  explicit PullRecorder(store::MetaStore& meta) : meta_(meta) {}
  // `puller`: the IAM user or role ARN that pulled (a role session's role); "" when anonymous.
  void note(const std::string& repository, const Digest& digest, int64_t now_ms, std::string_view puller = {});
  // Writes the pending pull times of principals not excluded; returns how many were written.
  size_t flush();

  // kInvalidParameter unless an IAM user or role ARN; kExclusionExists; kLimitExceeded.
  // Returns the registration time.
  Result<int64_t> exclude(const std::string& principal_arn, int64_t now_ms);
  Result<void> include(const std::string& principal_arn);  // kExclusionNotFound
  // Excluded ARNs in order, strictly after `after`, at most `limit`.
  Result<std::vector<std::string>> exclusions(const std::string& after, size_t limit);

 private:
  store::MetaStore& meta_;
  std::mutex mu_;
  // (repository, digest, puller) -> newest pull time
  std::map<std::tuple<std::string, std::string, std::string>, std::pair<Digest, int64_t>> pending_;
};

// arn:aws:iam::ACCOUNT:user/NAME or :role/NAME, as ECR's model constrains principalArn.
bool is_user_or_role_arn(std::string_view arn);

}  // namespace berth::registry
