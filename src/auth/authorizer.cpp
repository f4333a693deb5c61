#include "auth/authorizer.h"

#include <cctype>
#include <ctime>
#include <memory>
#include <vector>

#include "core/log.h"
#include "iam/evaluator.h"
#include "iam/policy.h"

#include <nlohmann/json.hpp>

namespace berth::auth {
namespace {

// Stored policies were validated when they were put; one that no longer parses (a newer
// grammar, a hand-edited database) is logged and makes the request denied: ignoring it
// could drop a Deny and so allow more than its author meant.
constexpr size_t kMaxIdentityPolicyChars = 1 << 20;

std::string iso8601(int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

nlohmann::json json_null() { return nullptr; }

std::string to_lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_root_arn(const std::string& arn) { return arn.size() > 5 && arn.compare(arn.size() - 5, 5, ":root") == 0; }

}  // namespace

std::string Authorizer::repository_arn(const std::string& repository) const {
  return "arn:aws:ecr:" + region_ + ":" + identity_.account_id() + ":repository/" + repository;
}

// A stored policy that no longer parses is logged and recorded, not skipped.
void Authorizer::parse_into(Loaded& out, const std::string& text, iam::PolicyKind kind, size_t max_chars,
                            const std::string& name) {
  auto parsed = iam::parse_policy(text, kind, max_chars);
  if (!parsed) {
    log::get("auth")->warn("{} no longer parses: {}", name, parsed.error().message);
    out.unparsable = true;
    return;
  }
  parsed->name = name;
  out.policies.push_back(std::make_shared<const iam::Policy>(std::move(*parsed)));
}

Result<Authorizer::LoadedPtr> Authorizer::cached(const std::optional<uint64_t>& version, const std::string& key,
                                                 const std::function<Result<Loaded>()>& load) const {
  if (version) {
    if (auto hit = cache_.get(*version, key)) return *hit;
  }
  BERTH_TRY(auto loaded, load());
  auto ptr = std::make_shared<const Loaded>(std::move(loaded));
  if (version) cache_.put(*version, key, ptr);
  return LoadedPtr(ptr);
}

Result<Authorizer::LoadedPtr> Authorizer::identity_policies(const std::optional<uint64_t>& version,
                                                            const std::string& arn) const {
  return cached(version, "identity:" + arn, [&]() -> Result<Loaded> {
    Loaded out;
    BERTH_TRY(auto policies, meta_.list_principal_policies(arn));
    for (const auto& p : policies) {
      parse_into(out, p.document, iam::PolicyKind::kIdentity, kMaxIdentityPolicyChars,
                                "inline policy " + p.name + " of " + arn);
    }
    return out;
  });
}

Result<Authorizer::LoadedPtr> Authorizer::repository(const std::optional<uint64_t>& version,
                                                     const std::string& name) const {
  return cached(version, "repository:" + name, [&]() -> Result<Loaded> {
    Loaded out;
    auto repo = meta_.get_repository(name);
    if (!repo && repo.error().code == ErrorCode::kNameUnknown) return out;  // the handler says NAME_UNKNOWN
    if (!repo) return tl::unexpected(repo.error());
    const auto settings = nlohmann::json::parse(repo->settings_json, nullptr, false);
    if (settings.is_object() && settings.contains("tags") && settings["tags"].is_array()) {
      for (const auto& t : settings["tags"]) {
        if (t.is_object() && t.value("Key", json_null()).is_string() && t.value("Value", json_null()).is_string()) {
          out.tags.emplace_back(t["Key"].get<std::string>(), t["Value"].get<std::string>());
        }
      }
    }
    auto text = meta_.get_repository_policy(name);
    if (!text && text.error().code == ErrorCode::kNameUnknown) return out;  // deleted meanwhile
    if (!text) return tl::unexpected(text.error());
    if (text->has_value()) {
      parse_into(out, **text, iam::PolicyKind::kResource, iam::kMaxRepositoryPolicyChars,
                                "repository policy");
    }
    return out;
  });
}

Result<Authorizer::LoadedPtr> Authorizer::registry_policy(const std::optional<uint64_t>& version) const {
  return cached(version, "registry", [&]() -> Result<Loaded> {
    Loaded out;
    BERTH_TRY(auto text, meta_.get_setting(store::kRegistryPolicySetting));
    if (text) {
      parse_into(out, *text, iam::PolicyKind::kResource, iam::kMaxRepositoryPolicyChars,
                                "registry policy");
    }
    return out;
  });
}

std::optional<uint64_t> Authorizer::reads_version() const {
  auto v = meta_.data_version();
  return v ? std::optional<uint64_t>(*v) : std::nullopt;
}

Result<void> Authorizer::authorize(const AccessRequest& request) const {
  iam::RequestContext context;
  context.action = request.action;
  context.resource = !request.resource.empty()      ? request.resource
                     : !request.repository.empty() ? repository_arn(request.repository)
                                                    : repository_arn("*");
  context.anonymous = request.caller == nullptr;
  if (request.caller) {
    context.principal_arn = request.caller->principal_arn;
    context.principal_account = request.caller->account_id;
  }
  context.keys["aws:currenttime"] = {iso8601(clock_.now_ms())};
  context.keys["aws:securetransport"] = {"false"};  // berth serves plain HTTP (TLS terminates in front, if at all)
  if (!request.source_ip.empty()) context.keys["aws:sourceip"] = {request.source_ip};

  for (const auto& [k, v] : request.request_tags) context.keys["aws:requesttag/" + to_lower(k)].push_back(v);
  for (const auto& [k, v] : request.request_tags) context.keys["aws:tagkeys"].push_back(k);
  for (const auto& k : request.tag_keys) context.keys["aws:tagkeys"].push_back(k);

  // One version for the whole decision, read before anything is loaded (or when the
  // caller was identified, earlier in the same request).
  std::optional<uint64_t> v = request.data_version;
  if (!v && request.caller) v = request.caller->data_version;
  if (!v) v = reads_version();
  iam::AuthorizationInput input;
  // Resource "*" (GetAuthorizationToken) belongs to no registry: as in AWS, where each
  // account asks its own, the caller's account alone decides.
  input.resource_account =
      !request.resource_account.empty()            ? request.resource_account
      : request.resource == "*" && request.caller ? request.caller->account_id
                                                  : identity_.account_id();
  bool unparsable = false;
  LoadedPtr identity, repo, registry;
  if (request.caller) {
    input.caller_account = request.caller->account_id;
    input.caller_is_root = is_root_arn(request.caller->principal_arn);
    if (!input.caller_is_root) {
      BERTH_TRY(identity, identity_policies(v, request.caller->policies_of()));
      for (const auto& p : identity->policies) input.identity_policies.push_back(p.get());
      unparsable |= identity->unparsable;
    }
  }
  if (!request.repository.empty()) {
    BERTH_TRY(repo, repository(v, request.repository));
    if (!repo->policies.empty()) input.repository_policy = repo->policies.front().get();
    unparsable |= repo->unparsable;
    for (const auto& [k, val] : repo->tags) context.keys["aws:resourcetag/" + to_lower(k)] = {val};
  }
  if (request.resource_policy) input.repository_policy = request.resource_policy;
  BERTH_TRY(registry, registry_policy(v));
  if (!registry->policies.empty()) input.registry_policy = registry->policies.front().get();
  unparsable |= registry->unparsable;
  const auto decision = iam::authorize(input, context);
  if (decision.verdict == iam::Verdict::kAllow && !unparsable) return {};
  if (decision.verdict == iam::Verdict::kAllow) {
    return fail(ErrorCode::kDenied, "User: " + (context.anonymous ? std::string("anonymous") : context.principal_arn) +
                                        " is not authorized to perform: " + context.action + " on resource: " +
                                        context.resource + " because a policy that applies cannot be read");
  }
  return fail(ErrorCode::kDenied, iam::access_denied_message(context, decision));
}

}  // namespace berth::auth
