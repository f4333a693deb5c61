#include "ecr/api.h"

#include <array>
#include <set>

#include "auth/sigv4.h"
#include "core/log.h"
#include "crypto/hash.h"
#include "crypto/seal.h"
#include "ecr/errors.h"
#include "ecr/input.h"
#include "http/offload.h"
#include "registry/repository_settings.h"

namespace berth::ecr {
namespace {

using nlohmann::json;

constexpr std::string_view kTargetPrefix = "AmazonEC2ContainerRegistry_V20150921.";
// UploadLayerPart carries its part base64-encoded in the JSON body: a 20 MiB part is ~27 MiB.
constexpr size_t kMaxRequestBytes = 32 * 1024 * 1024;
// Bodies above this (PutImage's manifest, UploadLayerPart's part) are held whole in
// memory, so each takes one of the server's upload slots (--max-uploads) first.
constexpr size_t kSmallRequestBytes = 64 * 1024;

// Every operation of the ECR service model (botocore 1.43). Those without a handler yet
// answer UnsupportedOperationException, never a silent success.
const std::set<std::string, std::less<>>& model_operations() {
  static const std::set<std::string, std::less<>> ops = {
      "BatchCheckLayerAvailability", "BatchDeleteImage", "BatchGetImage", "BatchGetRepositoryScanningConfiguration",
      "CompleteLayerUpload", "CreatePullThroughCacheRule", "CreateRepository", "CreateRepositoryCreationTemplate",
      "DeleteLifecyclePolicy", "DeletePullThroughCacheRule", "DeleteRegistryPolicy", "DeleteRepository",
      "DeleteRepositoryCreationTemplate", "DeleteRepositoryPolicy", "DeleteSigningConfiguration",
      "DeregisterPullTimeUpdateExclusion", "DescribeImageReplicationStatus", "DescribeImageScanFindings",
      "DescribeImageSigningStatus", "DescribeImages", "DescribePullThroughCacheRules", "DescribeRegistry",
      "DescribeRepositories", "DescribeRepositoryCreationTemplates", "GetAccountSetting", "GetAuthorizationToken",
      "GetDownloadUrlForLayer", "GetLifecyclePolicy", "GetLifecyclePolicyPreview", "GetRegistryPolicy",
      "GetRegistryScanningConfiguration", "GetRepositoryPolicy", "GetSigningConfiguration", "InitiateLayerUpload",
      "ListImageReferrers", "ListImages", "ListPullTimeUpdateExclusions", "ListTagsForResource", "PutAccountSetting",
      "PutImage", "PutImageScanningConfiguration", "PutImageTagMutability", "PutLifecyclePolicy",
      "PutRegistryPolicy", "PutRegistryScanningConfiguration", "PutReplicationConfiguration",
      "PutSigningConfiguration", "RegisterPullTimeUpdateExclusion", "SetRepositoryPolicy", "StartImageScan",
      "StartLifecyclePolicyPreview", "TagResource", "UntagResource", "UpdateImageStorageClass",
      "UpdatePullThroughCacheRule", "UpdateRepositoryCreationTemplate", "UploadLayerPart",
      "ValidatePullThroughCacheRule"};
  return ops;
}

// Operations that only read: audited only when refused.
bool is_read_only(std::string_view op) {
  if (op == "GetAuthorizationToken") return false;  // hands out credentials: always kept
  return op.starts_with("Describe") || op.starts_with("List") || op.starts_with("Get") || op == "BatchGetImage" ||
         op == "BatchCheckLayerAvailability" || op == "BatchGetRepositoryScanningConfiguration";
}

bool is_refusal(ErrorCode c) {
  switch (c) {
    case ErrorCode::kDenied:
    case ErrorCode::kUnauthorized:
    case ErrorCode::kMissingAuthentication:
    case ErrorCode::kIncompleteSignature:
    case ErrorCode::kInvalidSignature:
    case ErrorCode::kSignatureExpired:
    case ErrorCode::kUnrecognizedClient:
    case ErrorCode::kExpiredToken: return true;
    default: return false;
  }
}

}  // namespace

Result<void> require_repository(const Services& s, const std::string& repo) {
  auto found = s.repositories.get(repo);
  if (!found && found.error().code == ErrorCode::kNameUnknown) {
    return tl::unexpected(repository_not_found(repo, s.identity.account_id()));
  }
  if (!found) return tl::unexpected(found.error());
  return {};
}

bool Api::handles(const http::Request& req) {
  return req.method == "POST" && req.path == "/" && req.header("x-amz-target").has_value();
}

std::string Api::host_of(const http::Request& req) const { return std::string(req.header("host").value_or("localhost")); }

json Api::repository_shape(const store::Repository& repo, const http::Request& req) const {
  const json settings = registry::settings_object(repo.settings_json);
  json out = {
      {"repositoryArn", "arn:aws:ecr:" + s_.region + ":" + s_.identity.account_id() + ":repository/" + repo.name},
      {"registryId", s_.identity.account_id()},
      {"repositoryName", repo.name},
      {"repositoryUri", host_of(req) + "/" + repo.name},
      {"createdAt", static_cast<double>(repo.created_at_ms) / 1000.0},
      {"imageTagMutability", settings.value("imageTagMutability", "MUTABLE")},
      {"imageScanningConfiguration", settings.value("imageScanningConfiguration", json{{"scanOnPush", false}})},
      {"encryptionConfiguration", settings.value("encryptionConfiguration", json{{"encryptionType", "AES256"}})},
  };
  if (settings.contains("imageTagMutabilityExclusionFilters")) {
    out["imageTagMutabilityExclusionFilters"] = settings["imageTagMutabilityExclusionFilters"];
  }
  return out;
}

http::awaitable<http::Response> Api::handle(http::Exchange& ex) {
  const auto& req = ex.request();
  const std::string target(req.header("x-amz-target").value_or(""));
  if (target.substr(0, kTargetPrefix.size()) != kTargetPrefix) {
    co_return error_response(400, "UnknownOperationException", "unknown X-Amz-Target " + target);
  }
  const std::string operation = target.substr(kTargetPrefix.size());
  http::Exchange::Permit slot;  // held until the answer: the parsed input copies the body
  if (ex.body_larger_than(kSmallRequestBytes)) {
    // Only a caller with a known key may wait for a slot: anyone else could hold every
    // slot the pushes need by trickling bodies in. The signature covers the body, which
    // is not read yet, so all of SigV4 but the signature's value is checked now, the
    // body's declared hash (if any) standing in for its own.
    const auth::SignedRequest head_only = auth::signed_request(
        req.method, req.path, req.target, req.headers, std::string(req.header("x-amz-content-sha256").value_or("")));
    auto known = co_await http::offload(pool_, [&]() -> Result<void> {
      bool key_found = false;
      auto verified = auth::verify(
          head_only,
          [&](std::string_view id) {
            auto secret = s_.identity.secret(id);
            key_found = secret.has_value();
            return secret;
          },
          s_.clock.now_ms(), "ecr");
      if (verified || (verified.error().code == ErrorCode::kInvalidSignature && key_found)) return {};
      return tl::unexpected(verified.error());
    });
    if (!known) {
      audit(operation, req, head_only, std::nullopt, json::object(), tl::unexpected(known.error()));
      co_return error_response(known.error());
    }
    auto got = co_await ex.upload_slot();
    if (!got) co_return error_response(got.error());
    slot = std::move(*got);
  }
  auto body = co_await ex.read_all(kMaxRequestBytes);
  if (!body) co_return error_response(body.error());

  const auth::SignedRequest signed_request =
      auth::signed_request(req.method, req.path, req.target, req.headers, crypto::sha256(*body).hex());
  // Key lookups unseal secrets from SQLite: off the I/O thread.
  std::optional<auth::Caller> who;
  json input = json::object();
  auto outcome = co_await http::offload(pool_, [&]() -> Result<json> {
    BERTH_TRY(auto verified, auth::verify(
                                 signed_request,
                                 [this](std::string_view id) { return s_.identity.secret(id); },
                                 s_.clock.now_ms(), "ecr"));
    BERTH_TRY(auto caller, s_.identity.caller(verified.access_key_id));
    who = caller;
    if (!body->empty()) input = json::parse(*body, nullptr, false);
    if (input.is_discarded() || !input.is_object()) {
      input = json::object();
      return fail(ErrorCode::kSerialization, "the request body is not a JSON object");
    }
    // Operations outside the model are answered as unknown whoever asks.
    if (model_operations().contains(operation)) BERTH_TRY_VOID(authorize(operation, caller, input, req));
    return dispatch(operation, Call{req, caller, input});
  });
  audit(operation, req, signed_request, who, input, outcome);
  if (!outcome) {
    if (outcome.error().code == ErrorCode::kUnsupported && !model_operations().contains(operation)) {
      co_return error_response(400, "UnknownOperationException", "unknown operation " + operation);
    }
    co_return error_response(outcome.error());
  }
  co_return json_response(outcome->dump());
}

// What the audit trail keeps of a call: every call that changes state or hands out
// credentials, and every refused call, whatever the operation.
void Api::audit(const std::string& operation, const http::Request& req, const auth::SignedRequest& signed_request, const std::optional<auth::Caller>& caller,
                const json& input, const Result<json>& result) const {
  if (!s_.audit) return;
  const bool refused = !result && is_refusal(result.error().code);
  if (!refused && is_read_only(operation)) return;
  observe::AuditRecord r;
  r.source = "ecr";
  r.action = "ecr:" + operation;
  if (caller) {
    r.principal = caller->principal_arn;
    r.access_key_id = caller->access_key_id;
  } else {
    r.access_key_id = auth::claimed_access_key_id(signed_request);
  }
  r.source_ip = req.remote_address;
  r.user_agent = std::string(req.header("user-agent").value_or(""));
  r.resource = "*";
  if (auto name = input.find("repositoryName"); name != input.end() && name->is_string()) {
    r.resource = s_.authorizer.repository_arn(name->get<std::string>());
  } else if (auto arn = input.find("resourceArn"); arn != input.end() && arn->is_string()) {
    r.resource = arn->get<std::string>();
  }
  if (!result) {
    r.outcome = refused ? observe::Outcome::kDenied : observe::Outcome::kFailed;
    r.error_code = std::string(to_wire(result.error().code).type);
    r.message = result.error().message;
  }
  json detail = json::object();
  for (const char* key : {"imageTag", "imageDigest", "imageId", "imageIds", "imageTagMutability", "force", "tagKeys", "principalArn",
                          "imageScanningConfiguration", "scanType", "rules"}) {
    if (auto it = input.find(key); it != input.end()) detail[key] = *it;
  }
  if (!detail.empty()) r.detail = std::move(detail);
  s_.audit->record(r);
}

// The resource an operation acts on, as ECR's IAM documentation lists them: the
// repository named in the request (each one for DescribeRepositories with names), "*" for
// GetAuthorizationToken, and all repositories for registry-wide listings.
Result<void> Api::authorize(const std::string& operation, const auth::Caller& caller, const json& input,
                            const http::Request& req) {
  auth::AccessRequest access{.caller = &caller, .action = "ecr:" + operation, .repository = {}, .resource = {},
                             .source_ip = req.remote_address};
  // aws:RequestTag/KEY and aws:TagKeys, for tag-based access control.
  if (auto tags = input.find("tags"); tags != input.end() && tags->is_array()) {
    for (const auto& t : *tags) {
      if (t.is_object() && t.contains("Key") && t["Key"].is_string() && t.contains("Value") && t["Value"].is_string()) {
        access.request_tags.emplace_back(t["Key"].get<std::string>(), t["Value"].get<std::string>());
      }
    }
  }
  if (auto keys = input.find("tagKeys"); keys != input.end() && keys->is_array()) {
    for (const auto& k : *keys) {
      if (k.is_string()) access.tag_keys.push_back(k.get<std::string>());
    }
  }
  if (operation == "GetAuthorizationToken") {
    access.resource = "*";
    return s_.authorizer.authorize(access);
  }
  if (auto name = input.find("repositoryName"); name != input.end() && name->is_string()) {
    access.repository = name->get<std::string>();
    return s_.authorizer.authorize(access);
  }
  if (auto arn = input.find("resourceArn"); arn != input.end() && arn->is_string()) {  // TagResource, ...
    access.resource = arn->get<std::string>();
    constexpr std::string_view kRepositoryArn = ":repository/";
    if (const auto at = access.resource.find(kRepositoryArn); at != std::string::npos) {
      access.repository = access.resource.substr(at + kRepositoryArn.size());  // its policy applies too
    }
    return s_.authorizer.authorize(access);
  }
  if (auto names = input.find("repositoryNames"); names != input.end() && names->is_array() && !names->empty()) {
    for (const auto& n : *names) {
      if (!n.is_string()) continue;  // the handler refuses the request
      access.repository = n.get<std::string>();
      BERTH_TRY_VOID(s_.authorizer.authorize(access));
    }
    return {};
  }
  return s_.authorizer.authorize(access);
}

Result<json> Api::dispatch(const std::string& operation, const Call& call) {
  if (operation == "GetAuthorizationToken") return get_authorization_token(call);
  if (operation == "CreateRepository") return create_repository(call);
  if (operation == "DescribeRepositories") return describe_repositories(call);
  if (operation == "DeleteRepository") return delete_repository(call);
  if (operation == "ListImages") return list_images(call);
  if (operation == "DescribeImages") return describe_images(call);
  if (operation == "BatchGetImage") return batch_get_image(call);
  if (operation == "BatchDeleteImage") return batch_delete_image(call);
  if (operation == "BatchCheckLayerAvailability") return batch_check_layer_availability(call);
  if (operation == "PutImage") return put_image(call);
  if (operation == "InitiateLayerUpload") return initiate_layer_upload(call);
  if (operation == "UploadLayerPart") return upload_layer_part(call);
  if (operation == "CompleteLayerUpload") return complete_layer_upload(call);
  if (operation == "GetDownloadUrlForLayer") return get_download_url_for_layer(call);
  if (operation == "PutImageTagMutability") return put_image_tag_mutability(call);
  if (operation == "TagResource") return tag_resource(call);
  if (operation == "UntagResource") return untag_resource(call);
  if (operation == "ListTagsForResource") return list_tags_for_resource(call);
  if (operation == "DescribeRegistry") return describe_registry(call);
  if (operation == "GetAccountSetting") return get_account_setting(call);
  if (operation == "PutAccountSetting") return put_account_setting(call);
  if (operation == "SetRepositoryPolicy") return set_repository_policy(call);
  if (operation == "GetRepositoryPolicy") return get_repository_policy(call);
  if (operation == "DeleteRepositoryPolicy") return delete_repository_policy(call);
  if (operation == "PutRegistryPolicy") return put_registry_policy(call);
  if (operation == "GetRegistryPolicy") return get_registry_policy(call);
  if (operation == "DeleteRegistryPolicy") return delete_registry_policy(call);
  if (operation == "PutLifecyclePolicy") return put_lifecycle_policy(call);
  if (operation == "GetLifecyclePolicy") return get_lifecycle_policy(call);
  if (operation == "DeleteLifecyclePolicy") return delete_lifecycle_policy(call);
  if (operation == "StartLifecyclePolicyPreview") return start_lifecycle_policy_preview(call);
  if (operation == "GetLifecyclePolicyPreview") return get_lifecycle_policy_preview(call);
  if (operation == "RegisterPullTimeUpdateExclusion") return register_pull_time_update_exclusion(call);
  if (operation == "DeregisterPullTimeUpdateExclusion") return deregister_pull_time_update_exclusion(call);
  if (operation == "ListPullTimeUpdateExclusions") return list_pull_time_update_exclusions(call);
  if (operation == "PutImageScanningConfiguration") return put_image_scanning_configuration(call);
  if (operation == "PutRegistryScanningConfiguration") return put_registry_scanning_configuration(call);
  if (operation == "GetRegistryScanningConfiguration") return get_registry_scanning_configuration(call);
  if (operation == "BatchGetRepositoryScanningConfiguration") return batch_get_repository_scanning_configuration(call);
  if (operation == "StartImageScan") return start_image_scan(call);
  if (operation == "DescribeImageScanFindings") return describe_image_scan_findings(call);
  return fail(ErrorCode::kUnsupported, "berth does not implement " + operation + " yet");
}

Result<json> Api::get_authorization_token(const Call& call) {
  const auto token = s_.identity.issue_token(call.caller);
  return json{{"authorizationData",
               json::array({{{"authorizationToken", crypto::base64("AWS:" + token.token)},
                             {"expiresAt", static_cast<double>(token.expires_at_ms) / 1000.0},
                             {"proxyEndpoint", "http://" + host_of(call.request)}}})}};
}

Result<json> Api::create_repository(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto name, required_string(call.input, "repositoryName"));
  if (name.size() < 2) return tl::unexpected(invalid("repositoryName must be 2 to 256 characters"));
  BERTH_TRY(auto settings, repository_settings(call.input));
  auto created = s_.repositories.create(name, settings.dump());
  if (!created && created.error().code == ErrorCode::kNameInvalid) {
    return tl::unexpected(invalid("Invalid parameter at 'repositoryName' failed to satisfy constraint: " +
                                  created.error().message));
  }
  if (!created) return tl::unexpected(created.error());
  return json{{"repository", repository_shape(*created, call.request)}};
}

Result<json> Api::describe_repositories(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  json out = json::array();
  auto names = call.input.find("repositoryNames");
  const bool by_name = names != call.input.end() && !names->is_null();
  size_t max_results = 100;
  if (auto mr = call.input.find("maxResults"); mr != call.input.end() && !mr->is_null()) {
    if (by_name) return tl::unexpected(invalid("maxResults cannot be used with repositoryNames"));
    if (!mr->is_number_integer() || mr->get<int64_t>() < 1 || mr->get<int64_t>() > 1000) {
      return tl::unexpected(invalid("maxResults must be between 1 and 1000"));
    }
    max_results = mr->get<size_t>();
  }
  if (by_name) {
    if (!names->is_array() || names->empty() || names->size() > 100) {
      return tl::unexpected(invalid("repositoryNames must list 1 to 100 names"));
    }
    for (const auto& n : *names) {
      if (!n.is_string()) return tl::unexpected(invalid("repositoryNames must be strings"));
      auto repo = s_.repositories.get(n.get<std::string>());
      if (!repo && repo.error().code == ErrorCode::kNameUnknown) {
        return fail(ErrorCode::kNameUnknown, "The repository with name '" + n.get<std::string>() +
                                                 "' does not exist in the registry with id '" +
                                                 s_.identity.account_id() + "'");
      }
      if (!repo) return tl::unexpected(repo.error());
      out.push_back(repository_shape(*repo, call.request));
    }
    return json{{"repositories", out}};
  }
  BERTH_TRY(auto after, page_after(call.input));
  BERTH_TRY(auto list, s_.repositories.list(after, max_results + 1));
  const bool more = list.size() > max_results;
  if (more) list.resize(max_results);
  for (const auto& name : list) {
    auto repo = s_.repositories.get(name);
    if (repo) out.push_back(repository_shape(*repo, call.request));  // deleted meanwhile: skip
  }
  json result = {{"repositories", out}};
  if (more) result["nextToken"] = crypto::base64(list.back());
  return result;
}

Result<json> Api::delete_repository(const Call& call) {
  BERTH_TRY_VOID(check_registry_id(call.input, s_.identity.account_id()));
  BERTH_TRY(auto name, required_string(call.input, "repositoryName"));
  bool force = false;
  if (auto f = call.input.find("force"); f != call.input.end() && !f->is_null()) {
    if (!f->is_boolean()) return tl::unexpected(invalid("force must be a boolean"));
    force = f->get<bool>();
  }
  auto repo = s_.repositories.get(name);
  if (!repo && repo.error().code == ErrorCode::kNameUnknown) {
    return fail(ErrorCode::kNameUnknown, "The repository with name '" + name +
                                             "' does not exist in the registry with id '" + s_.identity.account_id() +
                                             "'");
  }
  if (!repo) return tl::unexpected(repo.error());
  BERTH_TRY_VOID(s_.repositories.remove(name, force));
  return json{{"repository", repository_shape(*repo, call.request)}};
}

}  // namespace berth::ecr
