// ECR lifecycle policies and their preview, and pull-time update exclusions. The policy
// and the preview request live in the repository's settings; the preview is computed by
// the same Expirer::evaluate a real run uses, when it is asked for.
#include <algorithm>
#include <set>

#include "crypto/seal.h"
#include "ecr/api.h"
#include "ecr/image_ids.h"
#include "ecr/input.h"
#include "expiry/expirer.h"
#include "lifecycle/policy.h"
#include "registry/repository_settings.h"

namespace berth::ecr {
namespace {

constexpr char kPreviewSetting[] = "lifecyclePolicyPreview";

double seconds(int64_t ms) { return static_cast<double>(ms) / 1000.0; }

// InvalidParameterException naming the rule, and nothing stored.
Result<lifecycle::Policy> parsed_policy(const std::string& text) {
  auto policy = lifecycle::parse_policy(text);
  if (!policy) {
    return tl::unexpected(invalid(policy.error().message));  // the parser's words, already ECR's
  }
  return policy;
}

}  // namespace

Result<json> Api::put_lifecycle_policy(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto name, required_string(call.input, "repositoryName"));
  BERTH_TRY(auto text, required_string(call.input, "lifecyclePolicyText"));
  BERTH_TRY_VOID(require_repository(s_, name));
  BERTH_TRY_VOID(parsed_policy(text));
  // A new policy has not been evaluated yet: lastEvaluatedAt starts over.
  BERTH_TRY_VOID(s_.repositories.edit_settings(name, [&](json& settings) -> Result<void> {
    expiry::set_policy(settings, expiry::StoredPolicy{text, std::nullopt});
    return {};
  }));
  return json{{"registryId", s_.identity.account_id()}, {"repositoryName", name}, {"lifecyclePolicyText", text}};
}

Result<json> Api::get_lifecycle_policy(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto name, required_string(call.input, "repositoryName"));
  BERTH_TRY_VOID(require_repository(s_, name));
  BERTH_TRY(auto repo, s_.repositories.get(name));
  const auto stored = expiry::stored_policy(repo);
  if (!stored) {
    return fail(ErrorCode::kLifecyclePolicyNotFound, "Lifecycle policy does not exist for the repository with name '" +
                                                         name + "' in the registry with id '" +
                                                         s_.identity.account_id() + "'");
  }
  json out = {{"registryId", s_.identity.account_id()},
              {"repositoryName", name},
              {"lifecyclePolicyText", stored->text}};
  if (stored->last_evaluated_at_ms) out["lastEvaluatedAt"] = seconds(*stored->last_evaluated_at_ms);
  return out;
}

Result<json> Api::delete_lifecycle_policy(const Call& call) {
  BERTH_TRY(auto current, get_lifecycle_policy(call));
  const std::string name = current["repositoryName"].get<std::string>();
  BERTH_TRY_VOID(s_.repositories.edit_settings(name, [](json& settings) -> Result<void> {
    expiry::set_policy(settings, std::nullopt);
    return {};
  }));
  return current;
}

// The preview is computed when it is read, so it is never IN_PROGRESS and always reflects
// the repository as it is; Start records which policy text to preview.
Result<json> Api::start_lifecycle_policy_preview(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto name, required_string(call.input, "repositoryName"));
  BERTH_TRY(auto given, opt_string(call.input, "lifecyclePolicyText"));
  BERTH_TRY_VOID(require_repository(s_, name));
  BERTH_TRY(auto repo, s_.repositories.get(name));
  std::string text;
  if (given) {
    text = *given;
  } else if (auto stored = expiry::stored_policy(repo)) {
    text = stored->text;
  } else {
    return fail(ErrorCode::kLifecyclePolicyNotFound,
                "Lifecycle policy does not exist for the repository with name '" + name + "' in the registry with id '" +
                    s_.identity.account_id() + "'; pass lifecyclePolicyText to preview one");
  }
  BERTH_TRY_VOID(parsed_policy(text));
  BERTH_TRY_VOID(s_.repositories.edit_settings(name, [&](json& settings) -> Result<void> {
    settings[kPreviewSetting] = {{"text", text}, {"startedAt", s_.clock.now_ms()}};
    return {};
  }));
  return json{{"registryId", s_.identity.account_id()},
              {"repositoryName", name},
              {"lifecyclePolicyText", text},
              {"status", "COMPLETE"}};
}

Result<json> Api::get_lifecycle_policy_preview(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto name, required_string(call.input, "repositoryName"));
  BERTH_TRY(auto status, tag_status(call.input));
  BERTH_TRY(auto limit, max_results(call.input, 100, 100));
  BERTH_TRY(auto after, page_after(call.input));
  std::optional<std::vector<ImageId>> ids;
  if (call.input.contains("imageIds") && !call.input["imageIds"].is_null()) {
    BERTH_TRY(ids, image_ids(call.input, 100));
  }
  BERTH_TRY_VOID(require_repository(s_, name));
  BERTH_TRY(auto repo, s_.repositories.get(name));
  const json settings = registry::settings_object(repo.settings_json);
  const auto preview = settings.find(kPreviewSetting);
  if (preview == settings.end() || !preview->is_object() || !preview->contains("text")) {
    return fail(ErrorCode::kLifecyclePreviewNotFound,
                "There is no lifecycle policy preview for the repository with name '" + name +
                    "' in the registry with id '" + s_.identity.account_id() + "'; start one with "
                    "StartLifecyclePolicyPreview");
  }
  const std::string text = (*preview)["text"].get<std::string>();
  BERTH_TRY(auto policy, parsed_policy(text));
  if (!s_.expirer) return fail(ErrorCode::kUnsupported, "lifecycle previews are not available in this server");
  BERTH_TRY(auto decisions, s_.expirer->evaluate(name, policy));

  std::optional<std::set<std::string>> wanted;
  if (ids) {
    wanted.emplace();
    for (const auto& id : *ids) {
      if (auto r = resolve(s_.manifests, name, id); r.digest) wanted->insert(r.digest->str());
    }
  }
  json results = json::array();
  size_t expiring = 0;
  std::optional<std::string> next_token;
  for (const auto& d : decisions) {  // digest order
    if (!d.decision.expired) continue;
    ++expiring;
    const std::string digest = d.image.digest.str();
    if (!keep(status, d.image.tags) || (wanted && !wanted->contains(digest)) || digest <= after) continue;
    if (results.size() == limit) {
      next_token = crypto::base64(results.back()["imageDigest"].get<std::string>());
      continue;  // keep counting the summary
    }
    json r = {{"imageDigest", digest},
              {"imagePushedAt", seconds(d.image.pushed_at_ms)},
              {"action", {{"type", "EXPIRE"}}},
              // Beyond ECR: why (its own rule, its index's, or its subject's).
              {"reason", expiry::to_string(d.decision.reason)}};
    if (!d.image.tags.empty()) r["imageTags"] = d.image.tags;
    if (d.decision.rule_priority) r["appliedRulePriority"] = *d.decision.rule_priority;
    results.push_back(std::move(r));
  }
  json out = {{"registryId", s_.identity.account_id()},
              {"repositoryName", name},
              {"lifecyclePolicyText", text},
              {"status", "COMPLETE"},
              {"previewResults", results},
              {"summary", {{"expiringImageTotalCount", expiring}}}};
  if (next_token) out["nextToken"] = *next_token;
  return out;
}

Result<json> Api::register_pull_time_update_exclusion(const Call& call) {
  BERTH_TRY(auto arn, required_string(call.input, "principalArn"));
  if (!s_.pulls) return fail(ErrorCode::kUnsupported, "pull-time exclusions are not available in this server");
  BERTH_TRY(auto created, s_.pulls->exclude(arn, s_.clock.now_ms()));
  return json{{"principalArn", arn}, {"createdAt", seconds(created)}};
}

Result<json> Api::deregister_pull_time_update_exclusion(const Call& call) {
  BERTH_TRY(auto arn, required_string(call.input, "principalArn"));
  if (!registry::is_user_or_role_arn(arn)) {
    return tl::unexpected(invalid("principalArn must be an IAM user or role ARN, got '" + arn + "'"));
  }
  if (!s_.pulls) return fail(ErrorCode::kUnsupported, "pull-time exclusions are not available in this server");
  BERTH_TRY_VOID(s_.pulls->include(arn));
  return json{{"principalArn", arn}};
}

Result<json> Api::list_pull_time_update_exclusions(const Call& call) {
  BERTH_TRY(auto limit, max_results(call.input, 100, 1000));
  BERTH_TRY(auto after, page_after(call.input));
  if (!s_.pulls) return fail(ErrorCode::kUnsupported, "pull-time exclusions are not available in this server");
  BERTH_TRY(auto arns, s_.pulls->exclusions(after, limit + 1));
  const bool more = arns.size() > limit;
  if (more) arns.resize(limit);
  json out = {{"pullTimeUpdateExclusions", arns}};
  if (more) out["nextToken"] = crypto::base64(arns.back());
  return out;
}

}  // namespace berth::ecr
