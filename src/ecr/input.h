// Reading ECR request members: each helper answers InvalidParameterException with the
// member's name when it has the wrong type or is missing.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/result.h"

namespace berth::ecr {

using nlohmann::json;

inline Error invalid(std::string message) { return Error{ErrorCode::kInvalidParameter, std::move(message)}; }

// Optional string member; InvalidParameter when present but not a string.
inline Result<std::optional<std::string>> opt_string(const json& in, const char* key) {
  auto it = in.find(key);
  if (it == in.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return tl::unexpected(invalid(std::string(key) + " must be a string"));
  return std::optional<std::string>(it->get<std::string>());
}

inline Result<std::string> required_string(const json& in, const char* key) {
  BERTH_TRY(auto v, opt_string(in, key));
  if (!v) return tl::unexpected(invalid(std::string(key) + " is required"));
  return *v;
}

inline Result<void> check_registry_id(const json& in, const std::string& account) {
  BERTH_TRY(auto id, opt_string(in, "registryId"));
  if (id && *id != account) {
    return tl::unexpected(invalid("registryId " + *id + " is not this registry (" + account + ")"));
  }
  return {};
}

// maxResults: `fallback` when absent, else 1..`max`.
inline Result<size_t> max_results(const json& in, size_t fallback, size_t max) {
  auto mr = in.find("maxResults");
  if (mr == in.end() || mr->is_null()) return fallback;
  if (!mr->is_number_integer() || mr->get<int64_t>() < 1 || mr->get<int64_t>() > static_cast<int64_t>(max)) {
    return tl::unexpected(invalid("maxResults must be between 1 and " + std::to_string(max)));
  }
  return mr->get<size_t>();
}

// The position a nextToken (which berth issues as base64 of the last key listed) names;
// "" for the first page.
Result<std::string> page_after(const json& in);

inline Error repository_not_found(const std::string& name, const std::string& account) {
  return Error{ErrorCode::kNameUnknown, "The repository with name '" + name +
                                            "' does not exist in the registry with id '" + account + "'"};
}

// Settings validation shared by CreateRepository, PutImageTagMutability and TagResource
// (settings.cpp).
Result<json> tag_mutability_settings(const json& in);
Result<json> validated_tags(const json& tags);
Result<json> repository_settings(const json& in);

}  // namespace berth::ecr
