// ECR's tag mutability, as stored in a repository's settings: MUTABLE, IMMUTABLE, and
// the *_WITH_EXCLUSION forms whose WILDCARD filters name the tags that behave the
// other way. One rule for /v2/ manifest PUT and ECR PutImage.
#pragma once

#include <string>
#include <string_view>

namespace berth::registry {

bool tag_is_immutable(const std::string& settings_json, std::string_view tag);

}  // namespace berth::registry
