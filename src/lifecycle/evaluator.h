// Applies a parsed lifecycle policy to a repository's images at a given instant. Pure:
// the same function answers GetLifecyclePolicyPreview and drives the real expiry.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lifecycle/policy.h"

namespace berth::lifecycle {

struct Image {
  std::string digest;
  std::vector<std::string> tags;
  int64_t pushed_at_ms = 0;
  std::optional<int64_t> last_pulled_ms;  // none: never pulled (since-pull counts from the push)
  std::string media_type;
  std::vector<std::string> children;  // manifests an index references
  std::string subject;                // digest this artifact refers to, if any
};

enum class Reason {
  kRule,      // the rule in `rule_priority` selected it
  kUnmatched, // no rule selected it: kept
  kIndex,     // follows the index (or indexes) that reference it
  kSubject,   // follows the image its `subject` names
};

struct Decision {
  std::string digest;
  bool expired = false;
  Reason reason = Reason::kUnmatched;
  std::optional<int64_t> rule_priority;  // the rule that expired or kept it (or its index's / subject's)
};

// One decision per input image, in input order.
std::vector<Decision> evaluate(const Policy& policy, const std::vector<Image>& images, int64_t now_ms);

}  // namespace berth::lifecycle
