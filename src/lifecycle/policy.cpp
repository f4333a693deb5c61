#include "lifecycle/policy.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

namespace berth::lifecycle {
namespace {

using nlohmann::json;

tl::unexpected<Error> invalid(std::string message) {
  return fail(ErrorCode::kInvalidParameter, "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: " +
                                                std::move(message));
}

// ECR rejects what it does not know, so a typo cannot silently widen a rule.
Result<void> only_keys(const json& object, std::initializer_list<std::string_view> allowed, const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return invalid(where + ": unknown field '" + key + "'");
    }
  }
  return {};
}

Result<std::vector<std::string>> string_list(const json& value, const std::string& where, const char* field) {
  if (!value.is_array() || value.empty()) return invalid(where + ": '" + field + "' must be a non-empty list of strings");
  std::vector<std::string> out;
  for (const auto& item : value) {
    if (!item.is_string() || item.get_ref<const std::string&>().empty()) {
      return invalid(where + ": '" + field + "' must hold non-empty strings");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<int64_t> positive_integer(const json& value, const std::string& where, const char* field) {
  if (!value.is_number_integer()) return invalid(where + ": '" + field + "' must be an integer");
  if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
    return invalid(where + ": '" + field + "' is out of range");
  }
  const auto n = value.get<int64_t>();
  if (n < 1 || n > std::numeric_limits<int32_t>::max()) return invalid(where + ": '" + field + "' must be at least 1");
  return n;
}

Result<Rule> parse_rule(const json& j, size_t index) {
  std::string where = "rule " + std::to_string(index + 1);
  if (!j.is_object()) return invalid(where + ": must be an object");
  BERTH_TRY_VOID(only_keys(j, {"rulePriority", "description", "selection", "action"}, where));
  Rule rule;
  const auto priority = j.find("rulePriority");
  if (priority == j.end()) return invalid(where + ": 'rulePriority' is required");
  BERTH_TRY(rule.priority, positive_integer(*priority, where, "rulePriority"));
  where = "rule with rulePriority " + std::to_string(rule.priority);
  if (const auto d = j.find("description"); d != j.end()) {
    if (!d->is_string()) return invalid(where + ": 'description' must be a string");
    rule.description = d->get<std::string>();
  }

  const auto action = j.find("action");
  if (action == j.end() || !action->is_object()) return invalid(where + ": 'action' is required");
  BERTH_TRY_VOID(only_keys(*action, {"type"}, where + " action"));
  if (action->value("type", json()) != "expire") return invalid(where + ": 'action.type' must be 'expire'");

  const auto sel = j.find("selection");
  if (sel == j.end() || !sel->is_object()) return invalid(where + ": 'selection' is required");
  BERTH_TRY_VOID(only_keys(*sel, {"tagStatus", "tagPrefixList", "tagPatternList", "countType", "countUnit", "countNumber"},
                           where + " selection"));
  const auto status = sel->value("tagStatus", json());
  if (status == "tagged") {
    rule.tag_status = TagStatus::kTagged;
  } else if (status == "untagged") {
    rule.tag_status = TagStatus::kUntagged;
  } else if (status == "any") {
    rule.tag_status = TagStatus::kAny;
  } else {
    return invalid(where + ": 'tagStatus' must be one of tagged, untagged, any");
  }
  const bool has_prefixes = sel->contains("tagPrefixList");
  const bool has_patterns = sel->contains("tagPatternList");
  if (rule.tag_status == TagStatus::kTagged) {
    if (has_prefixes && has_patterns) {
      return invalid(where + ": specify tagPrefixList or tagPatternList, not both");
    }
    if (!has_prefixes && !has_patterns) {
      return invalid(where + ": tagStatus 'tagged' requires tagPrefixList or tagPatternList");
    }
  } else if (has_prefixes || has_patterns) {
    return invalid(where + ": tagPrefixList and tagPatternList are only allowed with tagStatus 'tagged'");
  }
  if (has_prefixes) {
    BERTH_TRY(rule.tag_prefixes, string_list(sel->at("tagPrefixList"), where, "tagPrefixList"));
  }
  if (has_patterns) {
    BERTH_TRY(rule.tag_patterns, string_list(sel->at("tagPatternList"), where, "tagPatternList"));
    for (const auto& p : rule.tag_patterns) {
      if (static_cast<size_t>(std::count(p.begin(), p.end(), '*')) > kMaxWildcardsPerPattern) {
        return invalid(where + ": tag pattern '" + p + "' has more than 4 wildcards");
      }
    }
  }

  const auto type = sel->value("countType", json());
  if (type == "imageCountMoreThan") {
    rule.count_type = CountType::kImageCountMoreThan;
  } else if (type == "sinceImagePushed") {
    rule.count_type = CountType::kSinceImagePushed;
  } else if (type == "sinceImagePulled") {
    rule.count_type = CountType::kSinceImagePulled;
  } else {
    return invalid(where + ": 'countType' must be one of imageCountMoreThan, sinceImagePushed, sinceImagePulled");
  }
  const bool since = rule.count_type != CountType::kImageCountMoreThan;
  if (const auto unit = sel->find("countUnit"); unit != sel->end()) {
    if (!since) return invalid(where + ": 'countUnit' is only allowed with sinceImagePushed or sinceImagePulled");
    if (*unit != "days") return invalid(where + ": 'countUnit' must be 'days'");
  } else if (since) {
    return invalid(where + ": 'countUnit' is required with " + type.get<std::string>());
  }
  const auto number = sel->find("countNumber");
  if (number == sel->end()) return invalid(where + ": 'countNumber' is required");
  BERTH_TRY(rule.count_number, positive_integer(*number, where, "countNumber"));
  return rule;
}

}  // namespace

bool pattern_matches(std::string_view pattern, std::string_view tag) {
  // Greedy glob with backtracking to the last '*': linear enough for tag-sized strings.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < tag.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == tag[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Result<Policy> parse_policy(std::string_view text) {
  if (text.size() > kMaxPolicyChars) {
    return invalid("policy is " + std::to_string(text.size()) + " characters; the limit is " +
                   std::to_string(kMaxPolicyChars));
  }
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return invalid("policy is not valid JSON");
  if (!doc.is_object()) return invalid("policy must be a JSON object");
  BERTH_TRY_VOID(only_keys(doc, {"rules"}, "policy"));
  const auto rules = doc.find("rules");
  if (rules == doc.end() || !rules->is_array() || rules->empty()) {
    return invalid("policy: 'rules' must be a non-empty list");
  }
  Policy policy;
  for (size_t i = 0; i < rules->size(); ++i) {
    BERTH_TRY(auto rule, parse_rule((*rules)[i], i));
    policy.rules.push_back(std::move(rule));
  }
  std::stable_sort(policy.rules.begin(), policy.rules.end(),
                   [](const Rule& a, const Rule& b) { return a.priority < b.priority; });
  std::set<int64_t> seen;
  for (const auto& r : policy.rules) {
    if (!seen.insert(r.priority).second) {
      return invalid("rulePriority " + std::to_string(r.priority) + " is used by more than one rule");
    }
  }
  size_t any_rules = 0;
  for (const auto& r : policy.rules) any_rules += r.tag_status == TagStatus::kAny ? 1 : 0;
  if (any_rules > 1) return invalid("only one rule may have tagStatus 'any'");
  if (any_rules == 1 && policy.rules.back().tag_status != TagStatus::kAny) {
    const auto any = std::find_if(policy.rules.begin(), policy.rules.end(),
                                  [](const Rule& r) { return r.tag_status == TagStatus::kAny; });
    return invalid("rule with rulePriority " + std::to_string(any->priority) +
                   ": the rule with tagStatus 'any' must have the highest rulePriority (rule " +
                   std::to_string(policy.rules.back().priority) + " is higher)");
  }
  return policy;
}

}  // namespace berth::lifecycle
