// The OCI distribution grammars for repository names and tags. Every name that passes
// is safe to use in a storage key: no `..`, no uppercase, no leading slash.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace berth {

// ECR's limit; the OCI spec lets registries cap the name length.
inline constexpr size_t kMaxRepositoryNameLength = 256;
inline constexpr size_t kMaxTagLength = 128;

Result<void> validate_repository_name(std::string_view name);  // NAME_INVALID
Result<void> validate_tag(std::string_view tag);                // TAG_INVALID (as MANIFEST_INVALID on /v2/)
bool is_tag(std::string_view reference);                        // grammar check only

}  // namespace berth
