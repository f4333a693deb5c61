#include "registry/tag_mutability.h"

#include <nlohmann/json.hpp>

#include "iam/match.h"

namespace berth::registry {

bool tag_is_immutable(const std::string& settings_json, std::string_view tag) {
  const auto settings = nlohmann::json::parse(settings_json, nullptr, false);
  if (!settings.is_object()) return false;
  const std::string mode = settings.value("imageTagMutability", "MUTABLE");
  bool excluded = false;
  if (auto f = settings.find("imageTagMutabilityExclusionFilters"); f != settings.end() && f->is_array()) {
    for (const auto& filter : *f) {
      if (filter.is_object() && filter.contains("filter") && filter["filter"].is_string() &&
          iam::wildcard_match(filter["filter"].get<std::string>(), tag, iam::Case::kSensitive)) {
        excluded = true;
        break;
      }
    }
  }
  if (mode == "IMMUTABLE") return true;
  if (mode == "IMMUTABLE_WITH_EXCLUSION") return !excluded;
  if (mode == "MUTABLE_WITH_EXCLUSION") return excluded;
  return false;
}

std::string describe_tag_mutability(const std::string& settings_json) {
  const auto settings = nlohmann::json::parse(settings_json, nullptr, false);
  if (!settings.is_object()) return "imageTagMutability MUTABLE";
  std::string out = "imageTagMutability " + settings.value("imageTagMutability", std::string("MUTABLE"));
  std::string filters;
  if (auto f = settings.find("imageTagMutabilityExclusionFilters"); f != settings.end() && f->is_array()) {
    for (const auto& filter : *f) {
      if (!filter.is_object() || !filter.contains("filter") || !filter["filter"].is_string()) continue;
      filters.append(filters.empty() ? "" : ", ").append(filter["filter"].get<std::string>());
    }
  }
  if (!filters.empty()) out.append(" (exclusion filters: ").append(filters).append(")");
  return out;
}

}  // namespace berth::registry
