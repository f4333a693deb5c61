// ECR settings: repository creation settings, tag mutability, resource tags, registry
// and account settings.
#include <cctype>
#include <algorithm>
#include <array>
#include <set>

#include "crypto/seal.h"
#include "ecr/api.h"
#include "ecr/input.h"
#include "iam/policy.h"
#include "registry/repository_settings.h"

namespace berth::ecr {

Result<json> tag_mutability_settings(const json& in) {
  json out = json::object();
  BERTH_TRY(auto mutability, opt_string(in, "imageTagMutability"));
  const std::string m = mutability.value_or("MUTABLE");
  static const std::array<std::string_view, 4> kModes = {"MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION",
                                                          "MUTABLE_WITH_EXCLUSION"};
  if (std::find(kModes.begin(), kModes.end(), m) == kModes.end()) {
    return tl::unexpected(invalid("imageTagMutability must be one of MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, "
                                  "MUTABLE_WITH_EXCLUSION"));
  }
  out["imageTagMutability"] = m;
  auto filters = in.find("imageTagMutabilityExclusionFilters");
  const bool with_exclusion = m.find("_WITH_EXCLUSION") != std::string::npos;
  if (filters != in.end() && !filters->is_null()) {
    if (!filters->is_array() || filters->empty() || filters->size() > 5) {
      return tl::unexpected(invalid("imageTagMutabilityExclusionFilters must list 1 to 5 filters"));
    }
    for (const auto& f : *filters) {
      // ECR's model: ^[0-9a-zA-Z._*-]{1,128}$ (tag characters plus the wildcard).
      const auto allowed = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '*' || c == '-';
      };
      if (!f.is_object() || f.value("filterType", "") != "WILDCARD" || !f.contains("filter") ||
          !f["filter"].is_string() || f["filter"].get<std::string>().empty() ||
          f["filter"].get<std::string>().size() > 128 ||
          !std::all_of(f["filter"].get_ref<const std::string&>().begin(),
                       f["filter"].get_ref<const std::string&>().end(), allowed)) {
        return tl::unexpected(invalid("each exclusion filter needs filterType WILDCARD and a filter of 1-128 "
                                      "characters from [0-9a-zA-Z._*-]"));
      }
    }
    if (!with_exclusion) {
      return tl::unexpected(invalid("imageTagMutabilityExclusionFilters need a *_WITH_EXCLUSION imageTagMutability"));
    }
    out["imageTagMutabilityExclusionFilters"] = *filters;
  } else if (with_exclusion) {
    return tl::unexpected(invalid(m + " needs imageTagMutabilityExclusionFilters"));
  }
  return out;
}

Result<json> validated_tags(const json& tags) {
    if (!tags.is_array() || tags.size() > 50) return tl::unexpected(invalid("tags must be a list of at most 50"));
    std::set<std::string> keys;
    for (const auto& t : tags) {
      if (!t.is_object() || !t.contains("Key") || !t["Key"].is_string() || !t.contains("Value") ||
          !t["Value"].is_string()) {
        return tl::unexpected(Error{ErrorCode::kInvalidParameter, "each tag needs a string Key and Value"});
      }
      const auto key = t["Key"].get<std::string>();
      if (key.empty() || key.size() > 128 || t["Value"].get<std::string>().size() > 256 || !keys.insert(key).second) {
        return tl::unexpected(invalid("tag keys must be unique, 1-128 characters; values at most 256"));
      }
    }
  return tags;
}


Result<json> repository_settings(const json& in) {
  BERTH_TRY(json out, tag_mutability_settings(in));
  bool scan_on_push = false;
  if (auto sc = in.find("imageScanningConfiguration"); sc != in.end() && !sc->is_null()) {
    if (!sc->is_object()) return tl::unexpected(invalid("imageScanningConfiguration must be an object"));
    if (auto sop = sc->find("scanOnPush"); sop != sc->end()) {
      if (!sop->is_boolean()) return tl::unexpected(invalid("scanOnPush must be a boolean"));
      scan_on_push = sop->get<bool>();
    }
  }
  out["imageScanningConfiguration"] = {{"scanOnPush", scan_on_push}};
  json enc = {{"encryptionType", "AES256"}};
  if (auto e = in.find("encryptionConfiguration"); e != in.end() && !e->is_null()) {
    if (!e->is_object()) return tl::unexpected(invalid("encryptionConfiguration must be an object"));
    BERTH_TRY(auto type, required_string(*e, "encryptionType"));
    if (type != "AES256" && type != "KMS" && type != "KMS_DSSE") {
      return tl::unexpected(invalid("encryptionType must be AES256, KMS or KMS_DSSE"));
    }
    BERTH_TRY(auto key, opt_string(*e, "kmsKey"));
    if (key && type == "AES256") return tl::unexpected(invalid("kmsKey is only valid with KMS encryption"));
    enc = {{"encryptionType", type}};
    if (key) enc["kmsKey"] = *key;
  }
  out["encryptionConfiguration"] = enc;
  if (auto tags = in.find("tags"); tags != in.end() && !tags->is_null()) {
    BERTH_TRY(out["tags"], validated_tags(*tags));
  }
  return out;
}

Result<std::string> page_after(const json& in) {
  BERTH_TRY(auto token, opt_string(in, "nextToken"));
  if (!token) return std::string();
  auto decoded = crypto::unbase64(*token);
  if (!decoded) return tl::unexpected(invalid("nextToken is not one this registry issued"));
  return *decoded;
}

namespace {

// "arn:aws:ecr:REGION:ACCOUNT:repository/NAME" of this registry -> NAME.
Result<std::string> repository_from_arn(const json& in, const std::string& region, const std::string& account) {
  BERTH_TRY(auto arn, required_string(in, "resourceArn"));
  const std::string prefix = "arn:aws:ecr:" + region + ":" + account + ":repository/";
  if (arn.rfind(prefix, 0) != 0 || arn.size() == prefix.size()) {
    return tl::unexpected(invalid("resourceArn must be a repository ARN of this registry (" + prefix + "NAME)"));
  }
  return arn.substr(prefix.size());
}

constexpr std::array<std::pair<std::string_view, std::array<std::string_view, 2>>, 2> kAccountSettings = {{
    {"BASIC_SCAN_TYPE_VERSION", {"AWS_NATIVE", "CLAIR"}},
    {"REGISTRY_POLICY_SCOPE", {"V2", "V1"}},  // first value is the default
}};

Result<const std::array<std::string_view, 2>*> account_setting(const json& in) {
  BERTH_TRY(auto name, required_string(in, "name"));
  for (const auto& [n, values] : kAccountSettings) {
    if (n == name) return &values;
  }
  return tl::unexpected(invalid("unknown account setting " + name +
                                "; berth knows BASIC_SCAN_TYPE_VERSION and REGISTRY_POLICY_SCOPE"));
}

}  // namespace

Result<json> Api::put_image_tag_mutability(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto name, required_string(call.input, "repositoryName"));
  if (!call.input.contains("imageTagMutability")) return tl::unexpected(invalid("imageTagMutability is required"));
  BERTH_TRY(json mutability, tag_mutability_settings(call.input));
  BERTH_TRY_VOID(require_repository(s_, name));
  BERTH_TRY_VOID(s_.repositories.edit_settings(name, [&](json& settings) -> Result<void> {
    settings.erase("imageTagMutabilityExclusionFilters");
    settings.update(mutability);
    return {};
  }));
  json out = {{"registryId", s_.identity.account_id()}, {"repositoryName", name}};
  out.update(mutability);
  return out;
}

Result<json> Api::tag_resource(const Call& call) {
  BERTH_TRY(auto name, repository_from_arn(call.input, s_.region, s_.identity.account_id()));
  auto tags = call.input.find("tags");
  if (tags == call.input.end()) return tl::unexpected(invalid("tags is required"));
  BERTH_TRY(json added, validated_tags(*tags));
  BERTH_TRY_VOID(require_repository(s_, name));
  BERTH_TRY_VOID(s_.repositories.edit_settings(name, [&](json& settings) -> Result<void> {
    json merged = settings.value("tags", json::array());
    for (const auto& t : added) {
      merged.erase(std::remove_if(merged.begin(), merged.end(), [&](const json& e) { return e["Key"] == t["Key"]; }),
                   merged.end());
      merged.push_back(t);
    }
    if (merged.size() > 50) return tl::unexpected(invalid("a repository can have at most 50 tags"));
    settings["tags"] = std::move(merged);
    return {};
  }));
  return json::object();
}

Result<json> Api::untag_resource(const Call& call) {
  BERTH_TRY(auto name, repository_from_arn(call.input, s_.region, s_.identity.account_id()));
  auto keys = call.input.find("tagKeys");
  if (keys == call.input.end() || !keys->is_array()) return tl::unexpected(invalid("tagKeys must be a list"));
  BERTH_TRY_VOID(require_repository(s_, name));
  BERTH_TRY_VOID(s_.repositories.edit_settings(name, [&](json& settings) -> Result<void> {
    json tags = settings.value("tags", json::array());
    tags.erase(std::remove_if(tags.begin(), tags.end(),
                              [&](const json& e) { return std::find(keys->begin(), keys->end(), e["Key"]) != keys->end(); }),
               tags.end());
    settings["tags"] = std::move(tags);
    return {};
  }));
  return json::object();
}

Result<json> Api::list_tags_for_resource(const Call& call) {
  BERTH_TRY(auto name, repository_from_arn(call.input, s_.region, s_.identity.account_id()));
  BERTH_TRY_VOID(require_repository(s_, name));
  BERTH_TRY(auto repo, s_.repositories.get(name));
  return json{{"tags", registry::settings_object(repo.settings_json).value("tags", json::array())}};
}

Result<json> Api::describe_registry(const Call&) {
  return json{{"registryId", s_.identity.account_id()}, {"replicationConfiguration", {{"rules", json::array()}}}};
}

Result<json> Api::get_account_setting(const Call& call) {
  BERTH_TRY(auto values, account_setting(call.input));
  const std::string name = call.input["name"].get<std::string>();
  BERTH_TRY(auto stored, s_.repositories.account_setting(name));
  return json{{"name", name}, {"value", stored.value_or(std::string((*values)[0]))}};
}

Result<json> Api::put_account_setting(const Call& call) {
  BERTH_TRY(auto values, account_setting(call.input));
  const std::string name = call.input["name"].get<std::string>();
  BERTH_TRY(auto value, required_string(call.input, "value"));
  if (std::find(values->begin(), values->end(), value) == values->end()) {
    return tl::unexpected(invalid("value for " + name + " must be " + std::string((*values)[0]) + " or " +
                                  std::string((*values)[1])));
  }
  BERTH_TRY_VOID(s_.repositories.put_account_setting(name, value));
  return json{{"name", name}, {"value", value}};
}

Result<json> Api::set_repository_policy(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto name, required_string(call.input, "repositoryName"));
  BERTH_TRY(auto text, required_string(call.input, "policyText"));
  BERTH_TRY_VOID(require_repository(s_, name));
  auto parsed = iam::parse_policy(text, iam::PolicyKind::kResource, iam::kMaxRepositoryPolicyChars);
  if (!parsed) {
    return tl::unexpected(invalid("Invalid parameter at 'PolicyText' failed to satisfy constraint: '" +
                                  parsed.error().message + "'"));
  }
  BERTH_TRY_VOID(s_.repositories.set_policy(name, text));
  return json{{"registryId", s_.identity.account_id()}, {"repositoryName", name}, {"policyText", text}};
}

Result<json> Api::get_repository_policy(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto name, required_string(call.input, "repositoryName"));
  BERTH_TRY_VOID(require_repository(s_, name));
  BERTH_TRY(auto text, s_.repositories.policy(name));
  if (!text) {
    return fail(ErrorCode::kPolicyNotFound, "Repository policy does not exist for the repository with name '" + name +
                                                "' in the registry with id '" + s_.identity.account_id() + "'");
  }
  return json{{"registryId", s_.identity.account_id()}, {"repositoryName", name}, {"policyText", *text}};
}

Result<json> Api::delete_repository_policy(const Call& call) {
  BERTH_TRY(auto current, get_repository_policy(call));
  BERTH_TRY_VOID(s_.repositories.delete_policy(current["repositoryName"].get<std::string>()));
  return current;
}

// The registry policy: a resource policy over the whole registry, combined with identity
// and repository policies by the one evaluator (the Authorizer reads it on every request).
Result<json> Api::put_registry_policy(const Call& call) {
  BERTH_TRY(auto text, required_string(call.input, "policyText"));
  auto parsed = iam::parse_policy(text, iam::PolicyKind::kResource, iam::kMaxRepositoryPolicyChars);
  if (!parsed) {
    return tl::unexpected(invalid("Invalid parameter at 'PolicyText' failed to satisfy constraint: '" +
                                  parsed.error().message + "'"));
  }
  BERTH_TRY_VOID(s_.repositories.set_registry_policy(text));
  return json{{"registryId", s_.identity.account_id()}, {"policyText", text}};
}

Result<json> Api::get_registry_policy(const Call&) {
  BERTH_TRY(auto text, s_.repositories.registry_policy());
  if (!text) {
    return fail(ErrorCode::kRegistryPolicyNotFound,
                "Registry policy does not exist in the registry with id '" + s_.identity.account_id() + "'");
  }
  return json{{"registryId", s_.identity.account_id()}, {"policyText", *text}};
}

Result<json> Api::delete_registry_policy(const Call& call) {
  BERTH_TRY(auto current, get_registry_policy(call));
  auto deleted = s_.repositories.delete_registry_policy();
  if (!deleted && deleted.error().code == ErrorCode::kNotFound) return get_registry_policy(call);  // raced
  if (!deleted) return tl::unexpected(deleted.error());
  return current;
}

}  // namespace berth::ecr
