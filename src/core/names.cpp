#include "core/names.h"

#include <re2/re2.h>

namespace berth {
namespace {

const RE2& name_pattern() {
  static const RE2 re("[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*)*");
  return re;
}

const RE2& tag_pattern() {
  static const RE2 re("[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}");
  return re;
}

}  // namespace

Result<void> validate_repository_name(std::string_view name) {
  if (name.empty()) return fail(ErrorCode::kNameInvalid, "repository name is empty");
  if (name.size() > kMaxRepositoryNameLength) {
    return fail(ErrorCode::kNameInvalid, "repository name is longer than 256 characters");
  }
  if (!RE2::FullMatch(re2::StringPiece(name.data(), name.size()), name_pattern())) {
    return fail(ErrorCode::kNameInvalid,
                "invalid repository name: use lowercase letters, digits and separators (. _ __ -), "
                "components joined by /");
  }
  return {};
}

bool is_tag(std::string_view reference) {
  return !reference.empty() && reference.size() <= kMaxTagLength &&
         RE2::FullMatch(re2::StringPiece(reference.data(), reference.size()), tag_pattern());
}

Result<void> validate_tag(std::string_view tag) {
  if (!is_tag(tag)) {
    return fail(ErrorCode::kTagInvalid,
                "invalid tag: up to 128 characters of [A-Za-z0-9_.-], not starting with . or -");
  }
  return {};
}

}  // namespace berth
