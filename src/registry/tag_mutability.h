// ECR's tag mutability, as stored in a repository's settings: MUTABLE, IMMUTABLE, and
// the *_WITH_EXCLUSION forms whose WILDCARD filters name the tags that behave the
// other way. One rule for /v2/ manifest PUT and ECR PutImage.
#pragma once

#include <string>
#include <string_view>

namespace berth::registry {

bool tag_is_immutable(const std::string& settings_json, std::string_view tag);
// The setting in words, for refusals: "imageTagMutability IMMUTABLE_WITH_EXCLUSION
// (exclusion filters: latest*, dev-*)".
std::string describe_tag_mutability(const std::string& settings_json);

}  // namespace berth::registry
