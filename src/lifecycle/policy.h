// ECR lifecycle policies: the JSON grammar and its validation, as ECR documents them
// (lifecycle_policy_parameters). Pure: no I/O, so PutLifecyclePolicy, the preview and the
// real run all read a policy the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace berth::lifecycle {

// ECR's LifecyclePolicyText limit (30 KiB).
inline constexpr size_t kMaxPolicyChars = 30 * 1024;
// ECR: "You can use up to four wildcards (*) per string".
inline constexpr size_t kMaxWildcardsPerPattern = 4;

enum class TagStatus { kTagged, kUntagged, kAny };
enum class CountType { kImageCountMoreThan, kSinceImagePushed, kSinceImagePulled };

struct Rule {
  int64_t priority = 0;
  std::string description;
  TagStatus tag_status = TagStatus::kAny;
  std::vector<std::string> tag_prefixes;  // every prefix must start some tag of the image
  std::vector<std::string> tag_patterns;  // every pattern must match some tag of the image
  CountType count_type = CountType::kImageCountMoreThan;
  int64_t count_number = 0;  // images for imageCountMoreThan, days for since*
};

struct Policy {
  std::vector<Rule> rules;  // ascending priority: the order they are applied in
};

// Errors are kInvalidParameter (ECR's InvalidParameterException) and name the rule.
Result<Policy> parse_policy(std::string_view text);

// Whole-string match where '*' stands for any run of characters (ECR tagPatternList).
bool pattern_matches(std::string_view pattern, std::string_view tag);

}  // namespace berth::lifecycle
